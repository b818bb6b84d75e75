"""Security's descriptor: the security situational awareness platform (安全态势感知平台)."""

from pathlib import Path

from indunet.core.plugins import Page, Section, Subsystem

SUBSYSTEM = Subsystem(
    name="security",
    summary="security situational awareness: assets, the OT sensor, events, detection, "
    "vulnerabilities, cases, threat sharing",
    migrations=Path(__file__).parent / "migrations" / "versions",
    tables=("indunet.security.detecttables",),
    api=("indunet.web.api.security_events:router", "indunet.web.api.security_rules:router"),
    console=("indunet.web.console.security_detect:router",),
    sections=(
        Section(
            "/security",
            "nav.security",
            "security.intro",
            (
                Page("/security/rules", "security.tab.rules"),
                Page("/security/attack", "security.tab.attack"),
                Page("/security/baseline", "security.tab.baseline"),
            ),
            order=60,  # after identifiers and platform, before administration
        ),
    ),
    services="indunet.security.service:from_state",
    metrics="indunet.security.service:metric_lines",
    role="platform",
)
