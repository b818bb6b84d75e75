"""Core's descriptor: accounts and enterprises (its schema is applied before every other)."""

from indunet.core.plugins import Page, Section, Subsystem

SUBSYSTEM = Subsystem(
    name="core",
    summary="settings, database, enterprises, users, roles, tokens, audit, events, signals",
    tables=("indunet.core.tables",),
    services="indunet.core.signals:service",
    metrics="indunet.core.signals:metric_lines",
    console=(
        "indunet.web.console.account:router",
        "indunet.web.console.users:router",
        "indunet.web.console.audit:router",
        "indunet.web.console.registration:router",
    ),
    api=("indunet.web.api.registrations:router", "indunet.web.api.enterprise_review:router"),
    sections=(
        Section(
            "/admin",
            "nav.admin",
            "admin.intro",
            (
                Page("/admin/account", "admin.tab.account"),
                Page("/admin/users", "admin.tab.users"),
                Page("/admin/audit", "admin.tab.audit"),
            ),
            order=90,
        ),
    ),
    cli=(
        ("enterprise", "indunet.cli.admin:enterprise_app"),
        ("user", "indunet.cli.admin:user_app"),
        ("token", "indunet.cli.admin:token_app"),
    ),
)
