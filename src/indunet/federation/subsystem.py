"""The federation's descriptor: instances linked national → province → city → enterprise."""

from pathlib import Path

from indunet.core.plugins import Page, Section, Subsystem

SUBSYSTEM = Subsystem(
    name="federation",
    summary="federated instances: enrolment, signed messages through an outbox and an inbox",
    migrations=Path(__file__).parent / "migrations" / "versions",
    tables=("indunet.federation.tables",),
    api=("indunet.web.api.federation:router",),
    console=(
        "indunet.web.console.federation:router",
        "indunet.web.console.federation_aggregate:router",
    ),
    sections=(
        Section(
            "/federation",
            "nav.federation",
            "federation.intro_section",
            (
                Page("/federation", "federation.tab.overview"),
                Page("/federation/aggregate", "federation.tab.aggregate"),
            ),
            order=70,  # after security
        ),
    ),
    services="indunet.federation.service:from_state",
    metrics="indunet.federation.service:metric_lines",
    cli=(("federation", "indunet.cli.federation:app"),),
    role="platform",
)
