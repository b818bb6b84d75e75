"""The event-loop checks of tests/slow_callbacks.py bite: SQL run on the loop by Indunet code is
seen, the same SQL from a worker thread or from test code is not, and debug mode is on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.slow_callbacks import _SRC, forget_sql_on_loop, sql_on_loop


def indunet_coroutine(name: str) -> Any:
    """An ``async def`` whose code says it lives under src/indunet, as a route's would."""
    source = f"async def {name}(engine):\n    with engine.connect() as c:\n        c.execute(sa.text('SELECT 1'))\n"
    scope: dict[str, Any] = {"sa": sa}
    exec(compile(source, str(Path(_SRC) / "web" / "fake_route.py"), "exec"), scope)
    return scope[name]


async def test_sql_from_an_indunet_coroutine_on_the_loop_is_seen(engine: sa.Engine) -> None:
    blocking = indunet_coroutine("blocking_route")
    await blocking(engine)
    seen = sql_on_loop()
    forget_sql_on_loop()  # provoked on purpose: do not fail this test for it
    assert len(seen) == 1 and seen[0].startswith("blocking_route (") and seen[0].endswith("SELECT")


async def test_sql_in_a_worker_thread_or_from_test_code_is_not(engine: sa.Engine) -> None:
    def query() -> None:
        with engine.connect() as c:
            c.execute(sa.text("SELECT 1"))

    await asyncio.to_thread(query)
    query()  # test code may block its own loop
    assert sql_on_loop() == []


async def test_test_loops_run_in_debug_mode() -> None:
    assert asyncio.get_running_loop().get_debug()


@pytest.mark.slow_callbacks_ok("checks that the marker also turns debug mode off")
async def test_the_opt_out_marker_turns_debug_mode_off() -> None:
    assert not asyncio.get_running_loop().get_debug()
