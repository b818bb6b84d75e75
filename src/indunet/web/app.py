"""The composition root: builds the database, the identifier nodes and the ASGI app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from indunet import __version__, bus, ids
from indunet.core import EventBus, IndunetError, Settings, make_engine, migrate
from indunet.core.db import unavailable
from indunet.core.plugins import Service, load, loader
from indunet.ids.complaints import Complaints
from indunet.web import console, guards, indicators, linkage, subsystems
from indunet.web.api import docs, metrics
from indunet.web.platform import Role
from indunet.web.state import AppState

log = logging.getLogger(__name__)


def open_database(settings: Settings) -> sa.Engine:
    """Create the engine and apply every subsystem's pending migrations."""
    engine = make_engine(settings)
    migrate(engine, subsystems.migration_dirs())
    return engine


def build_state(
    settings: Settings,
    *,
    hierarchy: ids.Hierarchy | None = None,
    engine: sa.Engine | None = None,
    platform: bool = True,
) -> AppState:
    """Open the database, build the embedded hierarchy unless one is given, and the services
    of every subsystem (``web.subsystems``), none started yet.

    ``platform=False`` gives an identifier node only (``indunet node``): no device registry,
    time-series store or connectors.
    """
    engine = engine or open_database(settings)
    if hierarchy is None:
        hierarchy = ids.embedded(
            engine,
            settings.base_url(),
            max_ttl=settings.cache_max_ttl,
            negative_ttl=settings.negative_ttl,
            cache_size=settings.cache_size,
            timeout=settings.site_timeout,
            site_allow=settings.site_allow,
        )
    state = AppState(
        settings=settings,
        engine=engine,
        hierarchy=hierarchy,
        complaints=Complaints(deadline_days=settings.complaint_deadline_days),
    )
    if platform and settings.bus_url:
        join_backbone(state)
    for sub in subsystems.active(platform):
        if sub.services is not None:
            service: Service | None = loader(sub.services)(state)
            if service is not None:
                state.services[sub.name] = service
    indicators.wire(state)  # subsystems' counts on the federation's status report
    linkage.wire(state)  # sibling subsystems joined (security's alerts up the federation)
    return state


def join_backbone(state: AppState) -> None:
    """The scaled mode's wiring of ``state``: the NATS connection, the event bus every process
    subscribes to, the bus of events handled once per installation (its consumer in the
    lead process only, ``Role.leads``), and cache invalidation for the identifier resolver.
    """
    s = state.settings
    backbone = bus.Backbone.from_settings(s, s.role)
    events = bus.NatsEventBus(backbone)
    once: EventBus = bus.HandledElsewhere(events)
    state.backbone_parts = [events]
    if Role.of(s).leads:
        lead = bus.NatsEventBus(backbone, durable="notify")
        state.backbone_parts.append(lead)
        once = lead
    invalidation = bus.Invalidation(backbone)
    if state.hierarchy.resolver is not None:
        nodes = list(state.hierarchy.nodes.values())
        bus.share_resolver(invalidation, state.hierarchy.resolver, nodes)
    state.backbone_parts.append(invalidation)
    state.bus, state.single_bus, state.invalidation = events, once, invalidation
    state.backbone = backbone


def create_app(state: AppState) -> FastAPI:
    """The ASGI app: Handle API, native API, metrics and the console on one port."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        started: list[tuple[str, Service]] = []
        try:
            for name, service in state.services.items():
                await service.start()
                started.append((name, service))
            yield
        finally:
            for name, service in reversed(started):
                try:
                    await service.stop()
                except Exception:
                    log.exception("stopping the %s services failed", name)
            await state.hierarchy.close()

    app = FastAPI(
        title="Indunet",
        version=__version__,
        description="Identifier resolution (标识解析) and industrial internet platform API",
        lifespan=lifespan,
        docs_url=None,  # web.api.docs serves Swagger UI from the package, not a CDN
        redoc_url=None,
    )
    app.state.indunet = state
    for sub in subsystems.SUBSYSTEMS:  # routes of every subsystem, even if its services
        if sub.mount is not None:  # do not run here: they answer "no platform" themselves
            loader(sub.mount)(app, state)
        for ref in sub.api:
            app.include_router(load(ref), prefix="/api/v1")
    app.include_router(metrics.router)
    app.include_router(docs.router)
    console.mount(app, state)

    @app.exception_handler(IndunetError)
    async def _indunet_error(request: Request, exc: IndunetError) -> Response:
        page = await console.error_page(request, exc)
        if page is not None:
            return page
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=exc.headers())

    @app.exception_handler(sa.exc.OperationalError)
    async def _database_down(request: Request, exc: sa.exc.OperationalError) -> Response:
        log.warning("database error on %s: %s", request.url.path, exc.orig)
        return await _indunet_error(request, unavailable(exc))

    guards.install(app, state)  # outermost: security headers, body limits, CSRF
    return app
