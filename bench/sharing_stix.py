"""Threat sharing: STIX export and import of 1,000 alerts, and one TAXII page.

    PYTHONPATH=src python bench/sharing_stix.py

Each figure is the median of 5 runs on a fresh SQLite database, with its ratio to a baseline
measured in the same run: ``orjson`` parsing and writing the same bundle (the least any
import or export of it costs). The machine's load average is printed with the figures (the
machine may be shared).
"""

import os
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from indunet.core import Settings
from indunet.security.alerts import Alert
from indunet.security.events import SecurityEvent
from indunet.security.sharing import Producer, bundle_bytes, export_objects, import_bundle, query
from indunet.security.sharing import store as sharing_store
from indunet.web import open_database

N = 1_000
RUNS = 5
PRODUCER = Producer("enterprise:1", "Plant A", 1_760_000_000.0)


def alerts() -> list[Alert]:
    out = []
    for i in range(N):
        events = tuple(
            SecurityEvent(
                ts=1_765_000_000.0 + i + k,
                source="sensor",
                kind="ot.transaction",
                protocol="modbus",
                src_ip=f"203.0.{i // 250}.{i % 250 + 1}",
                src_port=40_000 + k,
                dst_ip="192.168.1.10",
                dst_port=502,
                src_mac="aa:bb:cc:00:11:22",
                id=f"e{i}-{k}",
            )
            for k in range(2)
        )
        out.append(
            Alert(
                ts=1_765_000_010.0 + i,
                rule="r",
                rule_version=1,
                level=10,
                title="write",
                enterprise_id=1,
                techniques=("T0855",),
                src_ip=events[0].src_ip,
                dst_ip="192.168.1.10",
                events=events,
                count=2,
                id=f"a{i}",
            )
        )
    return out


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def once(records: list[Alert], body: bytes) -> dict[str, float]:
    """One run of every figure on a fresh database."""
    tmp = Path(tempfile.mkdtemp())
    engine = open_database(Settings(data_dir=tmp))
    with engine.begin() as conn:
        cid = sharing_store.ensure_collection(conn, None, "bench").id

    def page() -> None:
        with engine.connect() as conn:
            query.page(conn, cid, query.Filters(), 1000)

    out = {
        "baseline": timed(lambda: orjson.dumps(orjson.loads(body))),
        "export": timed(lambda: bundle_bytes(export_objects(PRODUCER, records))),
        "import": timed(lambda: import_bundle(engine, cid, body)),
        "reimport": timed(lambda: import_bundle(engine, cid, body)),
        "page": timed(page),
    }
    engine.dispose()
    return out


def main() -> None:
    records = alerts()
    body = bundle_bytes(export_objects(PRODUCER, records))
    count = len(orjson.loads(body)["objects"])
    figures: dict[str, list[float]] = {
        k: [] for k in ("baseline", "export", "import", "reimport", "page")
    }
    for _ in range(RUNS):
        for name, took in once(records, body).items():
            figures[name].append(took)
    base = statistics.median(figures["baseline"])
    print(f"{N:,} alerts -> {count:,} STIX objects, {len(body) / 1e6:.1f} MB bundle")
    print(f"load average: {os.getloadavg()[0]:.2f} (1 min)")
    for name, xs in figures.items():
        med = statistics.median(xs)
        print(f"{name:>9}: {med * 1000:8.1f} ms median of {RUNS}  ({med / base:6.1f}x baseline)")


if __name__ == "__main__":
    main()
