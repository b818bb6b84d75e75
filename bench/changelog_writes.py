"""What the durable change log (``ids.changelog``) costs a write.

Single writes (``Node.put`` of one URL value, as the prefix's admin) and a bulk import
(``ids.import_file`` of a CSV) on one database, in interleaved rounds with the change log
written (as shipped) and with ``changelog.append`` replaced by a no-op (the baseline: what a
write cost before the log). Resolution does not touch the log and is not measured here.

    python bench/changelog_writes.py
    python bench/changelog_writes.py --database-url postgresql://postgres@127.0.0.1:5432/test

PostgreSQL runs in a fresh schema (``bench_<pid>_…``), dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bulk_registration import pg_schemas
from common import median, save, say, workspace
from fixtures import ENTERPRISE_PREFIX, SECRET, USERNAME, allocate, engine_for, node
from indunet import ids
from indunet.ids import changelog


def _writes(secondary: ids.Node, tag: str, n: int) -> float:
    principal = secondary.authenticate(USERNAME, SECRET)
    t0 = time.perf_counter()
    for i in range(n):
        values = [{"index": 1, "type": "URL", "data": f"https://e.example/{tag}/{i}"}]
        secondary.put(f"{ENTERPRISE_PREFIX}/W-{tag}-{i}", values, principal)
    return n / (time.perf_counter() - t0)


def _bulk(secondary: ids.Node, tag: str, rows: int, where: Path) -> float:
    path = where / f"{tag}.csv"
    lines = [f"{ENTERPRISE_PREFIX}/B-{tag}-{i},https://e.example/b/{i}" for i in range(rows)]
    path.write_text("handle,URL\n" + "\n".join(lines) + "\n")
    principal = secondary.authenticate(USERNAME, SECRET)
    t0 = time.perf_counter()
    report = ids.import_file(secondary, path, principal)
    assert report.registered == rows, report
    return rows / (time.perf_counter() - t0)


@contextlib.contextmanager
def _database(url: str | None) -> Iterator[str | None]:
    """``url`` with a fresh schema of its own (``None``: SQLite in the workspace)."""
    if url is None:
        yield None
        return
    with pg_schemas(url, ["log"]) as urls:
        yield urls["log"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--writes", type=int, default=300)
    ap.add_argument("--rows", type=int, default=20_000)
    args = ap.parse_args()
    real = changelog.append
    off: Callable[..., int] = lambda *_a, **_k: 0  # noqa: E731
    rates: dict[str, dict[str, list[float]]] = {
        "with_log": {"put": [], "bulk": []},
        "without_log": {"put": [], "bulk": []},
    }
    with workspace("changelog") as where, _database(args.database_url) as url:
        engine = engine_for(where, url)
        top = node(engine, ids.NodeRole.TOP_LEVEL, "88")
        secondary = node(engine, ids.NodeRole.SECONDARY, "88.100")
        allocate(top, "88.100", SECRET)
        allocate(secondary, ENTERPRISE_PREFIX, SECRET)
        for r in range(args.rounds):
            order = ["with_log", "without_log"] if r % 2 == 0 else ["without_log", "with_log"]
            for mode in order:
                changelog.append = real if mode == "with_log" else off  # type: ignore[assignment]
                try:
                    tag = f"{mode}-{r}"
                    rates[mode]["put"].append(_writes(secondary, tag, args.writes))
                    rates[mode]["bulk"].append(_bulk(secondary, tag, args.rows, where))
                finally:
                    changelog.append = real  # type: ignore[assignment]
            say(
                f"round {r + 1}: put {rates['with_log']['put'][-1]:.0f}/s vs "
                f"{rates['without_log']['put'][-1]:.0f}/s, bulk "
                f"{rates['with_log']['bulk'][-1]:.0f} vs {rates['without_log']['bulk'][-1]:.0f} rows/s"
            )
        engine.dispose()
    result = {
        "database": "postgresql" if args.database_url else "sqlite",
        "command": "python bench/changelog_writes.py"
        + (f" --database-url {args.database_url}" if args.database_url else ""),
        "rounds": rates,
    }
    for what in ("put", "bulk"):
        on, base = median(rates["with_log"][what]), median(rates["without_log"][what])
        result[f"{what}_ratio"] = on / base if base else 0.0
        say(f"{what}: {on:,.0f}/s with the log, {base:,.0f}/s without: ratio {on / base:.2f}")
    save(f"changelog_writes_{result['database']}", result)


if __name__ == "__main__":
    main()
