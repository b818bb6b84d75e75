"""Benchmark: the in-process cost of one cached resolution through ``CachedAnswers``, the
middleware that answers the front node's cache hits (the hottest path of the Handle API).

No sockets and no HTTP parsing: the ASGI middleware is called directly with the scope a
server would build for ``GET /api/handles/<id>`` and a ``send`` that keeps nothing, rotating
over N identifiers whose answers are cached. What it measures is what the middleware itself
costs per request: the cache lookups, the statistics, the answer's two messages, and
whatever else the path does (noting the resolution for the security platform, since
``core.signals``). Run it against two trees to compare them (``PYTHONPATH=<tree>/src``).
Baseline in the same run: a middleware that sends the same stored bytes from a dict.

    python bench/cached_answer_cost.py [--ids 1000] [--rounds 7] [--requests 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from common import median, save, say, workspace
from indunet import core, ids
from indunet.core import Settings
from indunet.ids import OPERATOR
from indunet.web import build_state
from indunet.web.api.handles import CachedAnswers

PREFIX = "88.100.1"


async def _noop_app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError(f"a miss reached the app: {scope['path']}")


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 50_000),
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
        "http_version": "1.1",
    }


class Stored:
    """The baseline: the same bytes from a dict, the same two ASGI messages."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = self.bodies[scope["path"]]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(body)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _round(app: Any, scopes: list[dict[str, Any]], n: int) -> float:
    """Seconds per request over ``n`` requests."""
    sent = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent
        sent += 1

    k = len(scopes)
    t0 = time.perf_counter()
    for i in range(n):
        await app(scopes[i % k], _receive, send)
    elapsed = time.perf_counter() - t0
    assert sent == 2 * n
    return elapsed / n


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with workspace("cached-answer") as ws:
        state = build_state(Settings(data_dir=ws / "data", port=8000, mqtt_port=0))
        front = state.hierarchy.front
        with state.engine.begin() as conn:
            ent = core.create_enterprise(
                conn, uscc="91350100M000100Y43", name="bench", actor="bench", verified=True
            )
        ids.allocate(front, PREFIX, ent, actor="bench", secret="bench-secret-key-1")
        texts = [f"{PREFIX}/BENCH-{i:06d}" for i in range(args.ids)]
        url = [{"index": 1, "type": "URL", "data": "https://a.example.cn/x"}]
        for t in texts:
            front.put(t, url, OPERATOR)
        for t in texts:  # fill the node's answer cache, as any traffic would
            await front.resolve(t, recurse=False)
        mw = CachedAnswers(_noop_app, state)  # type: ignore[arg-type]
        scopes = [_scope(f"/api/handles/{t}") for t in texts]
        bodies: dict[str, bytes] = {}
        for sc in scopes:  # every answer is a hit; the baseline sends the same bytes
            got: list[bytes] = []

            async def keep(message: dict[str, Any], got: list[bytes] = got) -> None:
                if message["type"] == "http.response.body":
                    got.append(message["body"])

            await mw(sc, _receive, keep)
            bodies[sc["path"]] = got[0]
        base = Stored(bodies)
        rounds: dict[str, list[float]] = {"middleware": [], "baseline": []}
        for r in range(args.rounds):
            for name, app in (
                [("middleware", mw), ("baseline", base)]
                if r % 2 == 0
                else [("baseline", base), ("middleware", mw)]
            ):
                rounds[name].append(await _round(app, scopes, args.requests) * 1e9)
            say(
                f"  round {r + 1}: middleware {rounds['middleware'][-1]:7.0f} ns, "
                f"baseline {rounds['baseline'][-1]:7.0f} ns per request"
            )
        signals = getattr(state, "signals", None)
        state.engine.dispose()
    return {
        "ids": args.ids,
        "requests_per_round": args.requests,
        "middleware_ns": median(rounds["middleware"]),
        "baseline_ns": median(rounds["baseline"]),
        "ratio": median(rounds["middleware"]) / median(rounds["baseline"]),
        "signals_in_this_tree": signals is not None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "rounds": rounds,
        "tree": str(Path(core.__file__).parents[2]),  # the src directory measured
    }


def main() -> None:
    """Run and print the figures."""
    ap = argparse.ArgumentParser(description="in-process cost of a cached Handle resolution")
    ap.add_argument("--ids", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--requests", type=int, default=200_000)
    res = asyncio.run(run(ap.parse_args()))
    path = save("cached_answer_cost", res)
    say(
        f"RESULT cached_answer_cost: middleware {res['middleware_ns']:.0f} ns, baseline "
        f"{res['baseline_ns']:.0f} ns per request (median of {len(res['rounds']['baseline'])} "
        f"rounds), ratio {res['ratio']:.2f}; tree {res['tree']}; load average "
        f"{res['load_average'][0]} on {os.cpu_count()} cores"
    )
    say(f"written {path}")


if __name__ == "__main__":
    main()
