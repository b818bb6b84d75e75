"""The identifier resolution system's descriptor: what it plugs into the composition root."""

from pathlib import Path

from indunet.core.plugins import Page, Section, Subsystem

SUBSYSTEM = Subsystem(
    name="ids",
    summary="identifier resolution (标识解析): nodes, records, templates, prefixes, bulk",
    migrations=Path(__file__).parent / "migrations" / "versions",
    tables=(
        "indunet.ids.tables",
        "indunet.ids.store",
        "indunet.ids.complainttables",
        "indunet.ids.childtables",
    ),
    services="indunet.ids.services:service",
    api=(
        "indunet.web.api.native:router",
        "indunet.web.api.bulk:router",
        "indunet.web.api.active:router",
        "indunet.web.api.complaints:router",
        "indunet.web.api.licence:router",
        "indunet.web.api.records:router",
        "indunet.web.api.children:router",
        "indunet.web.api.replication:router",
        "indunet.web.api.prefix_governance:router",
    ),
    console=(
        "indunet.web.console.identifiers:router",
        "indunet.web.console.data_templates:router",
        "indunet.web.console.enterprises:router",
        "indunet.web.console.prefixes:router",
        "indunet.web.console.nodes:router",
        "indunet.web.console.handles:router",
        "indunet.web.console.idsbulk:router",
        "indunet.web.console.idsstats:router",
        "indunet.web.console.records:router",
        "indunet.web.console.complaints:router",
        "indunet.web.console.children:router",
        "indunet.web.console.prefix_applications:router",
    ),
    sections=(
        Section(
            "/ids",
            "nav.ids",
            "ids.intro",
            (
                Page("/ids/resolve", "ids.tab.resolve"),
                Page("/ids/handles", "ids.tab.handles"),
                Page("/ids/register", "ids.tab.register"),
                Page("/ids/bulk", "ids.tab.bulk"),
                Page("/ids/templates", "ids.tab.templates"),
                Page("/ids/stats", "ids.tab.stats"),
                Page("/ids/records", "ids.tab.records"),
                Page("/ids/enterprises", "ids.tab.enterprises"),
                Page("/ids/prefixes", "ids.tab.prefixes"),
                Page("/ids/prefix-applications", "ids.tab.prefix_applications"),
                Page("/ids/nodes", "ids.tab.nodes"),
                Page("/ids/complaints", "ids.tab.complaints"),
                Page("/ids/children", "ids.tab.children"),
            ),
        ),
    ),
    metrics="indunet.web.api.metrics:ids_lines",
    mount="indunet.web.api.handle_mount:mount",
    cli=(("id", "indunet.cli.ids:app"),),
)
