"""The composition root: builds the database, the identifier nodes and the ASGI app."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from indunet import __version__, devices, ids, telemetry
from indunet.core import IndunetError, Settings, make_engine, migrate
from indunet.web import console, guards
from indunet.web.api import alarms as alarms_api
from indunet.web.api import bulk, handles, ingest, metrics, native
from indunet.web.api import commands as commands_api
from indunet.web.api import devices as devices_api
from indunet.web.api import models as models_api
from indunet.web.api import series as series_api
from indunet.web.platform import build_platform
from indunet.web.state import AppState

MIGRATIONS = [ids.MIGRATIONS, devices.MIGRATIONS, telemetry.MIGRATIONS]


def open_database(settings: Settings) -> sa.Engine:
    """Create the engine and apply every pending migration."""
    engine = make_engine(settings)
    migrate(engine, MIGRATIONS)
    return engine


def build_state(
    settings: Settings,
    *,
    hierarchy: ids.Hierarchy | None = None,
    engine: sa.Engine | None = None,
    platform: bool = True,
) -> AppState:
    """Open the database, build the embedded hierarchy unless one is given, and the platform.

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
    state = AppState(settings=settings, engine=engine, hierarchy=hierarchy)
    if platform:
        state.platform = build_platform(settings, engine, state.bus, hierarchy)
    return state


def create_app(state: AppState) -> FastAPI:
    """The ASGI app: Handle API, native API, metrics and the console on one port."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if state.platform is not None:
            await state.platform.start()
        # Everything built so far lives as long as the process: move it out of the collector's
        # sight, and collect the young generation less often. Ingest allocates a Sample per
        # point; with the default threshold (700) the collector ran every few hundred points
        # and took a third of HTTP batch ingest (bench/telemetry_ingest.py).
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        try:
            yield
        finally:
            if state.platform is not None:
                await state.platform.stop()
            await state.hierarchy.close()

    app = FastAPI(
        title="Indunet",
        version=__version__,
        description="Identifier resolution (标识解析) and industrial internet platform API",
        lifespan=lifespan,
    )
    app.state.indunet = state
    # Handle API first: the hot path must not walk the FastAPI routes.
    app.router.routes[:0] = handles.routes(state)
    app.add_middleware(handles.CachedAnswers, state=state)  # cache hits skip the stack
    app.include_router(native.router, prefix="/api/v1")
    app.include_router(bulk.router, prefix="/api/v1")
    app.include_router(models_api.router, prefix="/api/v1")
    app.include_router(devices_api.router, prefix="/api/v1")
    app.include_router(ingest.router, prefix="/api/v1")
    app.include_router(series_api.router, prefix="/api/v1")
    app.include_router(alarms_api.router, prefix="/api/v1")
    app.include_router(commands_api.router, prefix="/api/v1")
    app.include_router(metrics.router)
    console.mount(app, state)

    @app.exception_handler(IndunetError)
    async def _indunet_error(_request: Request, exc: IndunetError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=exc.headers())

    guards.install(app, state)  # outermost: security headers, body limits, CSRF
    return app
