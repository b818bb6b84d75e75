"""Security's descriptor: the security situational awareness platform (安全态势感知平台)."""

from pathlib import Path

from indunet.core.plugins import Page, Section, Subsystem

SUBSYSTEM = Subsystem(
    name="security",
    summary="security situational awareness: assets, the OT sensor, events, detection, "
    "vulnerabilities, cases, threat sharing",
    migrations=Path(__file__).parent / "migrations" / "versions",
    tables=(
        "indunet.security.assettables",
        "indunet.security.casetables",
        "indunet.security.detecttables",
        "indunet.security.eventtables",
        "indunet.security.sharingtables",
        "indunet.security.vulntables",
    ),
    api=(
        "indunet.web.api.security_events:router",
        "indunet.web.api.security_ingest:router",
        "indunet.web.api.security_assets:router",
        "indunet.web.api.security_rules:router",
        "indunet.web.api.security_cases:router",
        "indunet.web.api.security_vulns:router",
    ),
    console=(
        "indunet.web.console.security_overview:router",
        "indunet.web.console.security_assets:router",
        "indunet.web.console.security_events:router",
        "indunet.web.console.security_detect:router",
        "indunet.web.console.security_cases:router",
        "indunet.web.console.security_sharing:router",
        "indunet.web.console.security_vulns:router",
    ),
    sections=(
        Section(
            "/security",
            "nav.security",
            "security.intro",
            (
                Page("/security", "security.tab.overview"),
                Page("/security/assets", "security.tab.assets"),
                Page("/security/zones", "security.tab.zones"),
                Page("/security/events", "security.tab.events"),
                Page("/security/alerts", "security.tab.alerts"),
                Page("/security/cases", "security.tab.cases"),
                Page("/security/vulnerabilities", "security.tab.vulnerabilities"),
                Page("/security/attack", "security.tab.attack"),
                Page("/security/rules", "security.tab.rules"),
                Page("/security/baseline", "security.tab.baseline"),
                Page("/security/sharing", "security.tab.sharing"),
            ),
            order=60,  # after identifiers and the platform (tests/web/test_subsystems.py)
        ),
    ),
    services="indunet.security.service:from_state",
    metrics="indunet.security.service:metric_lines",
    mount="indunet.web.api.taxii:mount",
    cli=(("sensor", "indunet.cli.sensor:app"), ("logs", "indunet.cli.securitylogs:app")),
    role="platform",
)
