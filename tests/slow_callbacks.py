"""Tests fail when code under test blocks the event loop.

``tests/conftest.py`` imports the hooks and fixture below. Two checks, both per test:

* **SQL on the loop.** A SQLAlchemy listener sees every statement. One executed on the thread
  that runs an event loop, whose nearest coroutine on the stack is Indunet code (an ``async``
  route, a pipeline task, a connector), is a database call blocking the loop: the test fails
  naming the coroutine. (Sync routes and ``asyncio.to_thread``/``run_in_threadpool`` run on
  worker threads and pass; test code that calls the database directly is its own business.)
  This is exact and does not depend on timing, so it catches the millisecond-long queries
  that hurt under load but no timer would see in a test.
* **Slow callbacks.** Every test loop runs in asyncio debug mode (pytest-asyncio's
  ``asyncio_debug``), which logs each callback or task step that held the loop for longer than
  ``loop.slow_callback_duration`` as ``Executing <handle> took X seconds``. A step of
  ``SLOW_CALLBACK_S`` or longer fails the test, except steps of the test's own task and of
  async fixtures: with ``httpx.ASGITransport`` the app runs inside the test's task, whose
  steps also hold the test's own synchronous scaffolding (password hashing for new users,
  template compilation), which took up to 2 s on the shared 2-core machine under load.
  ``SLOW_CALLBACK_S`` is 1.5 s: on the shared 2-core machine under load, other steps
  reached 0.675 s (a thread-pool result callback, so the loop itself was starved, not
  blocked), and in a full run (two xdist workers, Chromium and the servers under test on 2
  cores) a time-sliced MQTT client read step of the test process took 1.118 s of wall time
  (``BrokerClient._readable``, which yields every 10 ms of its own work); 0.25 s would flake.
  Blocking database calls are the SQL check's job; this check is for steps that block for
  seconds.
  ``INDUNET_SLOW_CALLBACK_S`` overrides it (``0`` turns this check off).

A test with a legitimately blocking step (start-up work done on purpose inside the loop), or
one that measures memory (debug mode keeps a traceback per callback), opts out of both checks
and of debug mode with ``@pytest.mark.slow_callbacks_ok("why")``. ``INDUNET_ASYNCIO_DEBUG=0``
turns debug mode off for a whole run.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import sqlalchemy as sa

SLOW_CALLBACK_S = float(os.environ.get("INDUNET_SLOW_CALLBACK_S", "1.5"))
MARKER = "slow_callbacks_ok"
_TOOK = re.compile(r"^Executing (?P<what>.*) took (?P<seconds>[0-9.]+) seconds$", re.S)
#: Steps that are the test's scaffolding, not the code under test (see the module docstring).
_SCAFFOLDING = re.compile(
    r"coro=<test_|_asyncgen_fixture_wrapper|_async_fixture_wrapper|_wrap_async|shutdown_asyncgens"
)
_SRC = str(Path(__file__).resolve().parent.parent / "src" / "indunet")
_COROUTINE = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_on_loop: list[str] = []  # where SQL ran on the loop during the current test


def pytest_configure(config: pytest.Config) -> None:
    """Turn on asyncio debug mode for every test loop, and register the opt-out marker."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(reason): this test may block its event loop (tests/slow_callbacks.py)",
    )
    debug_off = os.environ.get("INDUNET_ASYNCIO_DEBUG") == "0"
    if config.getoption("asyncio_debug", None) is None and not debug_off:
        config.option.asyncio_debug = True
    sa.event.listen(sa.Engine, "before_cursor_execute", _before_execute)


def _before_execute(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
    if asyncio._get_running_loop() is None:
        return
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_flags & _COROUTINE:
            if code.co_filename.startswith(_SRC):
                where = f"{code.co_qualname} ({code.co_filename}:{frame.f_lineno})"
                _on_loop.append(f"{where}: {statement.split(None, 1)[0]}")
            return
        frame = frame.f_back


class _SlowSteps(logging.Handler):
    """Keeps the ``Executing … took …`` records of the asyncio logger."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.steps: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        m = _TOOK.match(record.getMessage())
        if m and not _SCAFFOLDING.search(m.group("what")):
            self.steps.append((float(m.group("seconds")), m.group("what")))


@pytest.fixture(autouse=True)
def slow_callbacks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if Indunet code ran SQL on its loop or a step held the loop too long."""
    if request.node.get_closest_marker(MARKER) is not None:
        # Also without debug mode (which keeps a traceback per callback: memory tests need
        # that off). The test's loop is made after autouse fixtures, so this reaches it.
        debug = request.config.option.asyncio_debug
        request.config.option.asyncio_debug = False
        yield
        request.config.option.asyncio_debug = debug
        return
    handler = _SlowSteps()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    _on_loop.clear()
    try:
        yield
    finally:
        logger.removeHandler(handler)
    problems = sorted(set(_on_loop))
    _on_loop.clear()
    if SLOW_CALLBACK_S > 0:
        problems += [
            f"{s:.3f} s: {what[:300]}"
            for s, what in sorted(handler.steps, reverse=True)
            if s >= SLOW_CALLBACK_S
        ]
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        pytest.fail(
            "the event loop was blocked (run blocking calls with asyncio.to_thread, or make "
            f"the route a plain def):\n{lines}",
            pytrace=False,
        )


def sql_on_loop() -> list[str]:
    """Where Indunet coroutines ran SQL on the loop so far in this test (for tests of the check)."""
    return list(_on_loop)


def forget_sql_on_loop() -> None:
    """Drop what ``sql_on_loop`` saw (for tests of the check that provoke it on purpose)."""
    _on_loop.clear()
