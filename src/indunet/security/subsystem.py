"""Security's descriptor: the security situational awareness platform (安全态势感知平台)."""

from pathlib import Path

from indunet.core.plugins import Page, Section, Subsystem

SUBSYSTEM = Subsystem(
    name="security",
    summary="security situational awareness: assets, the OT sensor, events, detection, "
    "vulnerabilities, cases, threat sharing",
    migrations=Path(__file__).parent / "migrations" / "versions",
    tables=("indunet.security.eventtables",),
    api=("indunet.web.api.security_events:router", "indunet.web.api.security_ingest:router"),
    console=("indunet.web.console.security_events:router",),
    sections=(
        Section(
            "/security",
            "nav.security",
            "security.intro",
            (Page("/security/events", "security.tab.events"),),
            order=60,
        ),
    ),
    services="indunet.security.service:from_state",
    metrics="indunet.security.service:metric_lines",
    cli=(("logs", "indunet.cli.securitylogs:app"),),
    role="platform",
)
