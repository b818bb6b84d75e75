"""Subsystems plug in through one descriptor each, and the composition root iterates them.

The checks here keep docs/contributing/adding-a-subsystem.md true: every reference of every
descriptor loads to the right kind of thing, every table module is in the import contracts,
every package is a subsystem (or one of the few that are not), and a new subsystem plugged in
with nothing but a descriptor gets its routes, console page, section, service and metrics.
"""

from __future__ import annotations

import gc
import logging
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from fastapi import APIRouter, FastAPI

from indunet.core import Settings
from indunet.core.plugins import Page, Section, Subsystem, load, loader
from indunet.web import AppState, build_state, create_app, subsystems
from indunet.web.console import i18n, sections

ROOT = Path(__file__).parents[2]
SRC = ROOT / "src" / "indunet"
#: Packages that are not subsystems: the composition root, the command line, and the
#: virtual factory (equipment that speaks protocols; it plugs into nothing).
NOT_SUBSYSTEMS = {"web", "cli", "sim"}


def test_every_reference_of_every_descriptor_loads_to_the_right_kind() -> None:
    for sub in subsystems.SUBSYSTEMS:
        for ref in (*sub.api, *sub.console):
            assert isinstance(load(ref), APIRouter), ref
        for ref in filter(None, (sub.services, sub.metrics, sub.mount)):
            loader(ref)
        for name, ref in sub.cli:
            assert isinstance(load(ref), typer.Typer), (name, ref)
        if sub.migrations is not None:
            assert sub.migrations.is_dir() and any(sub.migrations.glob("*.py")), sub.name
        assert sub.role in ("always", "platform"), sub.name


def test_names_paths_and_commands_are_unique() -> None:
    names = [s.name for s in subsystems.SUBSYSTEMS]
    commands = [c for s in subsystems.SUBSYSTEMS for c, _ in s.cli]
    paths = [sec.path for sec in subsystems.sections()]
    for listing in (names, commands, paths):
        assert len(listing) == len(set(listing)), listing


def test_every_package_is_a_subsystem_or_named_as_not_one() -> None:
    packages = {p.parent.name for p in SRC.glob("*/__init__.py")}
    plugged = {s.name for s in subsystems.SUBSYSTEMS}
    assert packages - plugged - NOT_SUBSYSTEMS == set(), "add a descriptor to web/subsystems.py"
    for name in packages & plugged:
        assert (SRC / name / "subsystem.py").is_file(), f"{name} keeps its descriptor there"


def test_the_import_contracts_protect_every_subsystems_tables() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    public_api = next(
        c for c in contracts["contracts"] if c["name"].startswith("Subsystems use each other")
    )
    tables = {t for s in subsystems.SUBSYSTEMS for t in s.tables}
    assert set(public_api["forbidden_modules"]) == tables


def test_console_sections_and_tabs_come_from_the_descriptors_and_have_catalogue_texts() -> None:
    for locale in i18n.LOCALES:  # the main catalogue and the area files together
        catalogue = i18n.catalogue(locale)
        for sec in subsystems.sections():
            keys = [sec.title, sec.intro, *(p.label for p in sec.pages)]
            assert [k for k in keys if k not in catalogue] == [], locale
    assert sections.IDS_PAGES[0] == ("/ids/resolve", "ids.tab.resolve")
    assert [s.path for s in sections.SECTIONS][:2] == ["/ids", "/platform"]


def test_the_composition_root_names_no_subsystem_router() -> None:
    """Routers and pages reach the app only through descriptors."""
    for module in ("app.py", "console/__init__.py"):
        text = (SRC / "web" / module).read_text(encoding="utf-8")
        for sub in subsystems.SUBSYSTEMS:
            for ref in (*sub.api, *sub.console):
                name = ref.split(":")[0].rsplit(".", 1)[1]
                assert f"import {name}" not in text and f" {name}," not in text, (module, ref)


# -- a new subsystem, plugged in with nothing but a descriptor -------------------------------

TOY = """
from fastapi import APIRouter, FastAPI
from starlette.responses import PlainTextResponse

api = APIRouter()
pages = APIRouter()
EVENTS = []


@api.get("/toy/ping")
def ping() -> dict:
    return {"pong": True}


@pages.get("/toy")
def page() -> PlainTextResponse:
    return PlainTextResponse("toy page")


class Service:
    def __init__(self, fail_stop=False):
        self.fail_stop = fail_stop

    async def start(self):
        EVENTS.append("start")

    async def stop(self):
        EVENTS.append("stop")
        if self.fail_stop:
            raise RuntimeError("toy stop failed")


def build(state):
    return Service(fail_stop=state.settings.port == 8123)


def metrics(state):
    return ["# TYPE toy_things gauge", "toy_things 3"]
"""


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Subsystem]:
    (tmp_path / "toy_subsystem.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path))
    descriptor = Subsystem(
        name="toy",
        summary="a subsystem that exists only in this test",
        api=("toy_subsystem:api",),
        console=("toy_subsystem:pages",),
        sections=(Section("/toy", "nav.ids", "ids.intro", (Page("/toy", "ids.tab.resolve"),)),),
        services="toy_subsystem:build",
        metrics="toy_subsystem:metrics",
    )
    monkeypatch.setattr(subsystems, "SUBSYSTEMS", (*subsystems.SUBSYSTEMS, descriptor))
    yield descriptor
    sys.modules.pop("toy_subsystem", None)


def node_app(tmp_path: Path, port: int = 8000) -> tuple[AppState, FastAPI]:
    """An identifier node's state and app (built before the event loop runs the test)."""
    state = build_state(Settings(data_dir=tmp_path / "data", port=port), platform=False)
    return state, create_app(state)


@pytest.fixture
def toy_app(toy: Subsystem, tmp_path: Path) -> tuple[AppState, FastAPI]:
    return node_app(tmp_path)


@pytest.fixture
def failing_toy_app(toy: Subsystem, tmp_path: Path) -> tuple[AppState, FastAPI]:
    return node_app(tmp_path, port=8123)  # the toy's service fails to stop on this port


async def test_a_new_subsystem_needs_only_its_descriptor(
    toy_app: tuple[AppState, FastAPI],
) -> None:
    state, app = toy_app
    assert "toy" in state.services and "platform" not in state.services
    toy_module = sys.modules["toy_subsystem"]
    async with app.router.lifespan_context(app):
        assert toy_module.EVENTS == ["start"]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/api/v1/toy/ping")).json() == {"pong": True}
            assert (await c.get("/toy")).text == "toy page"
            assert "toy_things 3" in (await c.get("/metrics")).text
            assert "/api/v1/toy/ping" in (await c.get("/openapi.json")).json()["paths"]
    assert toy_module.EVENTS == ["start", "stop"]
    assert "/toy" in [s.path for s in subsystems.sections()]


async def test_a_service_that_fails_to_stop_is_logged_and_the_rest_still_stop(
    failing_toy_app: tuple[AppState, FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    state, app = failing_toy_app
    with caplog.at_level(logging.ERROR, logger="indunet.web.app"):
        async with app.router.lifespan_context(app):
            pass
    assert "stopping the toy services failed" in caplog.text
    assert state.hierarchy.front is not None  # the hierarchy closed after, without raising


@pytest.fixture
def plain_app(tmp_path: Path) -> FastAPI:
    return node_app(tmp_path)[1]


async def test_the_app_leaves_the_garbage_collector_alone(plain_app: FastAPI) -> None:
    """gc.freeze and thresholds are the process entry point's (cli.serve), not the app's."""
    before = gc.get_threshold(), gc.get_freeze_count()
    app = plain_app
    async with app.router.lifespan_context(app):
        pass
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
