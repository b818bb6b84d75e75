"""Core's descriptor: accounts and enterprises (its schema is applied before every other)."""

from indunet.core.plugins import Subsystem

SUBSYSTEM = Subsystem(
    name="core",
    summary="settings, database, enterprises, users, roles, tokens, audit, events",
    tables=("indunet.core.tables",),
    cli=(
        ("enterprise", "indunet.cli.admin:enterprise_app"),
        ("user", "indunet.cli.admin:user_app"),
        ("token", "indunet.cli.admin:token_app"),
    ),
)
