"""The regulation subsystem's descriptor: enterprise grading (分类分级) and notices (通报处置)."""

from pathlib import Path

from indunet.core.plugins import Page, Section, Subsystem

SUBSYSTEM = Subsystem(
    name="regulation",
    summary="enterprise security grading and notices with their disposal, across instances",
    migrations=Path(__file__).parent / "migrations" / "versions",
    tables=("indunet.regulation.tables",),
    api=("indunet.web.api.regulation:router",),
    console=(
        "indunet.web.console.regulation:router",
        "indunet.web.console.regulation_mine:router",
    ),
    sections=(
        Section(
            "/regulation",
            "nav.regulation",
            "regulation.intro_section",
            (
                Page("/regulation", "regulation.tab.overview", overseers_only=True),
                Page("/regulation/enterprises", "regulation.tab.enterprises", overseers_only=True),
                Page("/regulation/gradings", "regulation.tab.gradings", overseers_only=True),
                Page("/regulation/notices", "regulation.tab.notices", overseers_only=True),
                Page("/regulation/mine", "regulation.tab.mine"),
            ),
            order=75,  # after the federation
        ),
    ),
    services="indunet.regulation.service:from_state",
    metrics="indunet.regulation.service:metric_lines",
    role="platform",
)
