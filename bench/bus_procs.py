"""The processes of ``bus_ingest.py``: a producer, an Indunet worker, a bare consumer.

Each runs on its own (``python bench/bus_procs.py <role> …``), prints one JSON line with
what it measured and exits, so producer, workers and baseline never share a core's Python:

- ``produce``: ``telemetry.Pipeline(bus.BusWriter)`` fed like a connector feeds it (one
  submission of 100 samples per gateway of 10 devices and tick, ``--gateways`` at a time);
  with ``--rate`` it runs open-loop instead (submission *k* at ``start + k / rate``), each
  sample's value being its submission's due time (for the latency measurement).
- ``worker``: ``bus.BusWorker`` (shard ``i/n``) into a ``Pipeline(PostgresStore, …, None)``,
  wired as ``web/platform.py`` wires a worker; it measures from the moment ``--warm``
  samples are stored (every series id learned) until ``--expect`` are.
- ``bare``: the baseline, nats-py pull consumers on the same partitions decoding the same
  envelopes with orjson and writing them with psycopg ``COPY`` (binary) into a plain table
  keyed ``(series, ts)``, 10,000 samples a transaction, acknowledged after the commit.

CPU: the process's own (``getrusage``), its PostgreSQL backends' (``/proc/<pid>/stat`` of the
backends carrying its ``application_name``) and the NATS server's, over the same window.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import os
import resource
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from indunet import bus
from indunet.devices import Point, ThingModel
from indunet.telemetry import DeadLetters, DiskBuffer, Pipeline, PostgresStore, Sample

POINTS = [f"p{i}" for i in range(10)]
MODEL = ThingModel(
    id="bench:meter",
    version="1.0.0",
    title={"en": "Meter"},
    points={p: Point(p, "number") for p in POINTS},
)
FETCH = 64  # envelopes a fetch, as BusWorker's default
BARE_BATCH = 10_000  # samples a transaction, as the pipeline's max_batch
HZ = os.sysconf("SC_CLK_TCK")
SHARD_IDS = 100_000_000  # the bare consumers' series ids: a range per shard


# -- data --------------------------------------------------------------------------------------
def device_ids(n: int) -> list[str]:
    """The bench's device ids."""
    return [f"m{i:06d}" for i in range(n)]


def gateway_samples(devices: Sequence[str], ts: int, value: float) -> list[Sample]:
    """One gateway's submission: every point of ``devices`` at ``ts``."""
    return [Sample(d, p, ts, value) for d in devices for p in POINTS]


# -- CPU ---------------------------------------------------------------------------------------
def own_cpu() -> float:
    """CPU seconds of this process, every thread."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pid_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` so far (0 when it is gone)."""
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / HZ


def nats_pid(port: int) -> int | None:
    """The nats-server listening on ``port`` (its command line names the port), if any."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().strip() != "nats-server":
                continue
            args = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(port).encode() in args or (port == 4222 and b"-p" not in args):
            return int(d.name)
    return None


class Meter:
    """CPU of this process, of its PostgreSQL backends and of NATS, read at marks."""

    def __init__(self, pg_url: str | None, app: str, nats_port: int) -> None:
        import psycopg

        self.app = app
        self.conn = psycopg.connect(pg_url, autocommit=True) if pg_url else None
        self.nats = nats_pid(nats_port)

    def read(self) -> dict[str, float]:
        """Wall clock, and CPU seconds so far of us, our backends and NATS."""
        pg = 0.0
        if self.conn is not None:
            pids = self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (self.app,)
            ).fetchall()
            pg = sum(pid_cpu(p) for (p,) in pids)
        return {
            "t": time.time(),
            "cpu": own_cpu(),
            "pg_cpu": pg,
            "nats_cpu": pid_cpu(self.nats) if self.nats else 0.0,
        }

    def close(self) -> None:
        """Close the query connection."""
        if self.conn is not None:
            self.conn.close()


def window(a: dict[str, float], b: dict[str, float], samples: int) -> dict[str, Any]:
    """Rates over the window between marks ``a`` and ``b`` for ``samples`` samples."""
    wall = max(b["t"] - a["t"], 1e-6)
    cpu = max(b["cpu"] - a["cpu"], 1e-6)
    return {
        "samples": samples,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "pg_cpu_s": round(b["pg_cpu"] - a["pg_cpu"], 3),
        "nats_cpu_s": round(b["nats_cpu"] - a["nats_cpu"], 3),
        "points_per_s": round(samples / wall),
        "points_per_cpu_s": round(samples / cpu),
        "t0": a["t"],
        "t1": b["t"],
    }


# -- shared setup ------------------------------------------------------------------------------
def backbone(args: argparse.Namespace, role: str) -> bus.Backbone:
    """The backbone as every role configures it (same names and limits)."""
    names = bus.Names(args.prefix, args.partitions)
    limits = bus.StreamLimits(
        max_bytes=args.max_bytes, max_age_s=3600.0, events_max_bytes=8 * 1024**2
    )
    return bus.Backbone([args.nats], names, limits, client_name=f"bench-{role}")


def letters(args: argparse.Namespace) -> DeadLetters:
    """Dead letters in the run's migrated SQLite database (none are expected)."""
    import sqlalchemy as sa

    return DeadLetters(sa.create_engine(f"sqlite:///{args.letters}"))


def pg_url(url: str, schema: str, app: str) -> str:
    """``url`` with ``schema`` on the search path and ``app`` as application_name."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}&application_name={app}"


def open_store(url: str, app: str) -> PostgresStore:
    """The store on ``url``, its connections named ``app`` (newer stores take the name as
    an argument and would otherwise override the URL's)."""
    if "application_name" in inspect.signature(PostgresStore).parameters:
        return PostgresStore(url, application_name=app)  # type: ignore[call-arg]
    return PostgresStore(url)


def emit(doc: dict[str, Any], out: str | None = None) -> None:
    """The process's answer: one JSON line on stdout, or the file ``out``."""
    if out:
        Path(out).write_bytes(orjson.dumps(doc))
        return
    sys.stdout.write(orjson.dumps(doc).decode() + "\n")
    sys.stdout.flush()


# -- producer ----------------------------------------------------------------------------------
async def produce(args: argparse.Namespace) -> dict[str, Any]:
    """Publish ``--ticks`` ticks of every device through Pipeline(BusWriter)."""
    bb = backbone(args, "producer")
    await bb.start()
    if not await bb.wait_ready(10):
        raise SystemExit("NATS did not answer within 10 s")
    writer = bus.BusWriter(bb, lambda _device: 1, source="bench")
    writer.bind(asyncio.get_running_loop())
    work = Path(args.work)
    pipeline = Pipeline(
        writer,
        {d: MODEL for d in device_ids(args.devices)}.get,
        letters(args),
        DiskBuffer(work / f"buffer-{os.getpid()}.db", 256 * 1024**2),
    )
    await pipeline.start()
    devices = device_ids(args.devices)
    gateways = [devices[i : i + 10] for i in range(0, len(devices), 10)]
    meter = Meter(None, "", int(args.nats.rsplit(":", 1)[1]))
    latencies: list[float] = []
    start = meter.read()
    if args.rate:
        submitted = await _open_loop(pipeline, gateways, args, latencies)
    else:
        submitted = await _closed_loop(pipeline, gateways, args)
    end = meter.read()
    for _ in range(1200):  # 60 s for batches JetStream did not take (in the disk buffer)
        if pipeline.settled():
            break
        await asyncio.sleep(0.05)
    out = window(start, end, submitted)
    out.update(
        envelopes=writer.stats.batches,
        points_per_envelope=round(writer.stats.samples / max(writer.stats.batches, 1), 1),
        published=writer.stats.samples,
        failures=writer.stats.failures,
        buffered=pipeline.counts.buffered_total,
        settled=pipeline.settled(),
        dead=sum(pipeline.counts.dead.values()),
        submit_p50_ms=_pct(latencies, 0.5),
        submit_p99_ms=_pct(latencies, 0.99),
    )
    meter.close()
    await pipeline.stop()
    await bb.close()
    return out


async def _closed_loop(
    pipeline: Pipeline, gateways: list[list[str]], args: argparse.Namespace
) -> int:
    """Every gateway submits its ticks one after the other, ``--gateways`` at a time."""
    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for g in gateways:
        queue.put_nowait(g)
    base = args.t0

    async def gateway() -> int:
        n = 0
        while not queue.empty():
            devices = queue.get_nowait()
            for tick in range(args.ticks):
                batch = gateway_samples(devices, base + tick * 1000, float(tick % 1000))
                await pipeline.submit(batch, source="bench")
                n += len(batch)
        return n

    counts = await asyncio.gather(*(gateway() for _ in range(min(args.gateways, len(gateways)))))
    return sum(counts)


async def _open_loop(
    pipeline: Pipeline, gateways: list[list[str]], args: argparse.Namespace, waits: list[float]
) -> int:
    """Submission *k* is due at ``start + k / (rate / 100)``; its samples carry that time."""
    per_s = args.rate / 100
    total = int(per_s * args.seconds)
    start = time.time() + 0.2
    tasks: list[asyncio.Task[None]] = []
    interval_ms = max(1, int(1000 * len(gateways) / per_s))  # one tick of every gateway

    async def one(devices: list[str], ts: int, due: float) -> None:
        await pipeline.submit(gateway_samples(devices, ts, due), source="bench")
        waits.append((time.time() - due) * 1000)

    for k in range(total):
        due = start + k / per_s
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tick, g = divmod(k, len(gateways))
        ts = args.t0 + tick * interval_ms
        tasks.append(asyncio.create_task(one(gateways[g], ts, due)))
    await asyncio.gather(*tasks)
    return total * 100


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(q * len(s)))], 2)


# -- Indunet worker ----------------------------------------------------------------------------
class TimedPipeline(Pipeline):
    """The worker's pipeline, noting for each stored envelope how long ago its samples'
    submissions were due (their value is that time, in the latency run)."""

    lags: list[tuple[float, float]]

    async def ingest(self, samples: Sequence[Sample], *, source: str) -> Any:
        receipt = await super().ingest(samples, source=source)
        now = time.time()
        self.lags.extend((v, round((now - v) * 1000, 2)) for v in {s[3] for s in samples})
        return receipt


async def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Store the shard's partitions; measure from ``--warm`` stored samples to ``--expect``."""
    index, count = (int(x) for x in args.shard.split("/"))
    app = f"{args.app}-{index}"
    bb = backbone(args, f"worker-{index}")
    await bb.start()
    if not await bb.wait_ready(10):
        raise SystemExit("NATS did not answer within 10 s")
    store = await asyncio.to_thread(open_store, pg_url(args.database_url, args.schema, app), app)
    lookup = {d: MODEL for d in device_ids(args.devices)}.get
    cls = TimedPipeline if args.latency else Pipeline
    pipeline = cls(store, lookup, letters(args), None)
    if isinstance(pipeline, TimedPipeline):
        pipeline.lags = []
    await pipeline.start()
    partitions = bus.owned(index, count, args.partitions)
    w = bus.BusWorker(bb, pipeline, partitions)
    meter = await asyncio.to_thread(Meter, args.database_url, app, int(args.nats.rsplit(":", 1)[1]))
    first = await asyncio.to_thread(meter.read)
    await w.start()
    if args.latency:
        emit({"ready": True})  # the orchestrator starts the producer now
    warm = None
    deadline = time.monotonic() + args.timeout
    while w.stats.samples < args.expect and time.monotonic() < deadline:
        if warm is None and w.stats.samples >= args.warm:
            warm, warm_n = await asyncio.to_thread(meter.read), w.stats.samples
        await asyncio.sleep(0.01)
    end, end_n = await asyncio.to_thread(meter.read), w.stats.samples
    if warm is None:
        warm, warm_n = end, end_n
    out = {
        "shard": args.shard,
        "partitions": partitions,
        "cold": window(first, warm, warm_n),
        "steady": window(warm, end, end_n - warm_n),
        "stored": end_n,
        "expected": args.expect,
        "envelopes": w.stats.envelopes,
        "retried": w.stats.retried,
        "undecodable": w.stats.undecodable,
        "poison": w.stats.poison,
        "store_failures": pipeline.counts.store_failures,
        "store_batches": pipeline.counts.batches,
        "store_write_s": round(pipeline.counts.write_seconds, 3),
        "dead": sum(pipeline.counts.dead.values()),
    }
    if isinstance(pipeline, TimedPipeline):
        out["lags"] = pipeline.lags  # (submission due, ms from due to stored)
    async with asyncio.timeout(30):  # a hung shutdown must not hang the benchmark
        await w.stop()
        await pipeline.stop()
        await asyncio.to_thread(store.close)
        await asyncio.to_thread(meter.close)
        await bb.close()
    return out


# -- the bare baseline -------------------------------------------------------------------------
class BareTable:
    """One psycopg connection writing rows by binary COPY, one transaction a call."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS bare_samples"
            " (series int, ts bigint, v float8, q smallint, PRIMARY KEY (series, ts))"
        )
        self.conn.commit()
        self.lock = threading.Lock()

    def write(self, rows: list[tuple[int, int, float, int]]) -> None:
        """COPY ``rows`` and commit."""
        with self.lock, self.conn.cursor() as cur:
            with cur.copy("COPY bare_samples FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(["int4", "int8", "float8", "int2"])
                for row in rows:
                    cp.write_row(row)
            self.conn.commit()


async def bare(args: argparse.Namespace) -> dict[str, Any]:
    """nats-py pull consumers + orjson + COPY: the least a worker must do."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    index, count = (int(x) for x in args.shard.split("/"))
    app = f"{args.app}-{index}"
    names = bus.Names(args.prefix, args.partitions)
    nc = await nats.connect(args.nats)
    js = nc.jetstream(timeout=5)
    table = await asyncio.to_thread(BareTable, pg_url(args.database_url, args.schema, app))
    ids: dict[tuple[str, str], int] = {}
    stored = 0
    gate = asyncio.Lock()

    async def partition(p: int) -> None:
        nonlocal stored
        sub = await js.pull_subscribe(
            names.partition_filter(p),
            durable=f"bare-p{p}",
            stream=names.telemetry_stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=60,
                max_ack_pending=FETCH * 4,
                max_deliver=-1,
            ),
        )
        while True:
            try:
                msgs = await sub.fetch(FETCH, timeout=1.0)
            except TimeoutError:
                continue
            rows: list[tuple[int, int, float, int]] = []
            held: list[Any] = []
            for m in msgs:
                d, pts, ts, vs, qs = orjson.loads(m.data)["c"]
                for key in zip(d, pts, strict=True):
                    if key not in ids:  # series ids of one shard never meet another's
                        ids[key] = len(ids) + 1 + index * SHARD_IDS
                rows += zip([ids[k] for k in zip(d, pts, strict=True)], ts, vs, qs, strict=True)
                held.append(m)
                if len(rows) >= BARE_BATCH or m is msgs[-1]:
                    async with gate:
                        await asyncio.to_thread(table.write, rows)
                    for h in held:
                        await h.ack()
                    stored += len(rows)
                    rows, held = [], []

    meter = await asyncio.to_thread(Meter, args.database_url, app, int(args.nats.rsplit(":", 1)[1]))
    first = await asyncio.to_thread(meter.read)
    tasks = [asyncio.create_task(partition(p)) for p in bus.owned(index, count, args.partitions)]
    warm = None
    deadline = time.monotonic() + args.timeout
    while stored < args.expect and time.monotonic() < deadline:
        for t in tasks:
            if t.done():  # a failed consumer fails the run (nothing is measured quietly)
                t.result()
        if warm is None and stored >= args.warm:
            warm, warm_n = await asyncio.to_thread(meter.read), stored
        await asyncio.sleep(0.01)
    end, end_n = await asyncio.to_thread(meter.read), stored
    if warm is None:
        warm, warm_n = end, end_n
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
    await asyncio.to_thread(meter.close)
    await asyncio.to_thread(table.conn.close)
    await nc.close()
    return {
        "shard": args.shard,
        "cold": window(first, warm, warm_n),
        "steady": window(warm, end, end_n - warm_n),
        "stored": end_n,
        "expected": args.expect,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("role", choices=["produce", "worker", "bare"])
    ap.add_argument("--nats", default="nats://127.0.0.1:4222")
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--max-bytes", type=int, default=256 * 1024**2)
    ap.add_argument("--letters", required=True, help="the migrated SQLite database")
    ap.add_argument("--work", default=".")
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--ticks", type=int, default=50)
    ap.add_argument("--t0", type=int, default=int(time.time() * 1000) - 3_600_000)
    ap.add_argument("--gateways", type=int, default=200, help="concurrent submitters")
    ap.add_argument("--rate", type=float, default=0.0, help="points/s, open loop")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--database-url")
    ap.add_argument("--schema")
    ap.add_argument("--app", default="benchbus")
    ap.add_argument("--shard", default="0/1")
    ap.add_argument("--warm", type=int, default=0)
    ap.add_argument("--expect", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--out", help="write the answer to this file instead of stdout")
    ap.add_argument("--switch-interval", type=float, default=0.0, help="sys.setswitchinterval")
    args = ap.parse_args()
    role = {"produce": produce, "worker": worker, "bare": bare}[args.role]
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    try:
        import uvloop  # what ``indunet`` processes run on (uvicorn[standard])
    except ImportError:
        emit(asyncio.run(role(args)), args.out)
    else:
        emit(uvloop.run(role(args)), args.out)


if __name__ == "__main__":
    main()
