"""The scaled installation on several hosts survives a crashed worker, a restarted NATS and a
connector cut off from NATS: every sample it acknowledged is stored exactly once.

Each host is a network namespace on one virtual switch (``netns.py``; root only, else the
test is skipped). In them run a NATS server with JetStream, a PostgreSQL instance reached
by address, one api, one connector and two workers (shares 0/2 and 1/2), each started with
the command and environment of its systemd unit in ``deploy/`` (``units.py``), and the
virtual factory (``indunet sim``: Modbus and OPC UA equipment the connector polls).
HTTP devices post sequence-numbered batches to the api the whole time. Meanwhile worker 1
is killed with SIGKILL and started again, NATS is killed with SIGKILL and started again on
the same store, and the connector's host is cut off from NATS (packets dropped both ways).

Counted in the end, in PostgreSQL's tables: every row of every batch the api answered 200
is stored; every sample the connector's pipeline accepted (its metrics) is stored; none is
counted twice (the per-minute rollups, which add up what each write inserts, agree with
the rows).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography.fernet import Fernet
from tests.conftest import REQUIRE_SERVICES
from tests.integration import units
from tests.integration.netns import NetnsUnavailable, Network, Proc, network, wait_until

from indunet import bus, core

pytestmark = pytest.mark.integration

HOSTS = ("nats", "db", "api", "worker0", "worker1", "connector", "factory")
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
PG_BIN = Path("/usr/local/bin")
USCC = core.make_uscc("91350200MA3K7LL0")
HTTP_DEVICES = 4
RATE = 40  # rows a second per HTTP device
HTTP_BATCH = 20  # rows per POST
SIM_DEVICES = 4  # the factory's mix of 4: an OPC UA CNC machine, two Modbus devices, one MQTT
PARTITION_S = 30.0  # the connector cut off from NATS (twice the 15 s a silent drop takes to notice)
RECOVER_S = 30.0  # at most, for the connector to publish again once the cut is healed
START_S = 60.0  # at most, for a process to answer
SETTLE_S = 90.0  # at most, for everything acknowledged to reach PostgreSQL at the end
BUDGET_S = 240.0  # the whole test
STOP_S = 8.0  # at most, for a part to stop on SIGTERM with NATS gone (its unit allows 60)
INITDB_ARGS = ("-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
PASSWORD = re.compile(r"^\s*password:\s*(\S+)\s*$", re.MULTILINE)


def _missing_binaries() -> list[str]:
    need = [NATS_SERVER, *(str(PG_BIN / b) for b in ("initdb", "postgres")), "/usr/sbin/runuser"]
    out = [b for b in need if not os.access(b, os.X_OK)]
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        out.append("the OS user postgres")
    return out


def _tcp_open(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=1):
        return True


def metrics(url: str) -> dict[str, float]:
    """A process's ``/metrics`` as ``{"name{labels}": value}``."""
    text = httpx.get(url + "/metrics", timeout=5).text
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


@dataclass
class Installation:
    """The hosts and what runs on them."""

    net: Network
    home: Path
    shared: dict[str, str]
    procs: dict[str, Proc] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, str] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://{self.net.addr[self.hosts[name]]}:{self.ports[name]}"

    # --- NATS and PostgreSQL ---
    def start_nats(self) -> None:
        store = self.home / "nats-store"
        store.mkdir(exist_ok=True)
        argv = [NATS_SERVER, "-js", "-sd", str(store), "-a", "0.0.0.0", "-p", "4222", "-n", "n1"]
        self.procs["nats"] = self.net.run("nats", "nats", argv, service=True)
        addr = self.net.addr["nats"]
        wait_until(lambda: _tcp_open(addr, 4222), 15, "nats-server to listen")

    def start_postgres(self, pgdir: Path) -> None:
        pg = pwd.getpwnam("postgres")
        data = pgdir / "data"
        as_pg = ["runuser", "-u", "postgres", "--"]
        initdb = [*as_pg, str(PG_BIN / "initdb"), "-D", str(data), *INITDB_ARGS]
        with (self.home / "initdb.log").open("wb") as log:
            done = subprocess.run(initdb, stdout=log, stderr=subprocess.STDOUT, timeout=60)
        assert done.returncode == 0, (self.home / "initdb.log").read_text()
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {self.net.subnet}.0/24 trust\n")
        os.chown(data / "pg_hba.conf", pg.pw_uid, pg.pw_gid)
        addr = self.net.addr["db"]
        argv = [*as_pg, str(PG_BIN / "postgres"), "-D", str(data), "-c", "max_connections=200"]
        argv += ["-c", f"listen_addresses={addr}", "-c", f"unix_socket_directories={pgdir}"]
        self.procs["db"] = self.net.run("db", "postgres", argv, service=True)
        wait_until(lambda: self.sql("SELECT 1", db="postgres"), 30, "PostgreSQL to answer")
        self.sql("CREATE DATABASE indunet", db="postgres")

    def sql(self, query: str, params: Any = None, db: str = "indunet") -> list[tuple[Any, ...]]:
        import psycopg

        addr = self.net.addr["db"]
        with psycopg.connect(host=addr, user="postgres", dbname=db, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    # --- Indunet processes, as their units run them ---
    def start(self, host: str, template: str, instance: str, wait: bool = True) -> Proc:
        unit = units.Unit.load(template, instance)
        data = self.home / unit.name
        data.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("INDUNET_")}
        # as systemd does: the EnvironmentFile's settings override the unit's Environment=
        env |= {"PYTHONUNBUFFERED": "1"} | unit.env | self.shared
        env["INDUNET_DATA_DIR"] = str(data)  # the unit's /var/lib/indunet/<part>-<instance>
        self.ports[unit.name] = int(unit.env["INDUNET_PORT"])
        self.hosts[unit.name] = host
        proc = self.net.run(host, unit.name, unit.command(), env, cwd=self.home)
        self.procs[unit.name] = proc
        if wait:
            self.wait_ready(unit.name)
        return proc

    def wait_ready(self, name: str) -> None:
        proc, url = self.procs[name], self.url(name)

        def answers() -> bool:
            if not proc.alive:
                raise RuntimeError(f"{name} exited:\n{proc.output[-3000:]}")
            return httpx.get(url + "/api/v1/nodes", timeout=2).status_code == 200

        deadline = time.monotonic() + START_S
        while True:
            try:
                if answers():
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{name} did not answer in {START_S:g} s:\n{proc.output[-3000:]}"
                )
            time.sleep(0.2)


@dataclass
class HttpDevice:
    """Posts numbered batches at ``RATE`` rows a second; failed batches are posted again."""

    device_id: str
    secret: str
    url: str
    base: int
    ok: set[int] = field(default_factory=set)
    retry: list[int] = field(default_factory=list)
    failures: int = 0
    dead: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    give_up_at: float = float("inf")

    def body(self, batch: int) -> bytes:
        first = batch * HTTP_BATCH
        rows = [
            {"device": self.device_id, "point": "humidity", "ts": self.base + n, "value": n % 100}
            for n in range(first, first + HTTP_BATCH)
        ]
        return orjson.dumps({"samples": rows})

    def run(self) -> None:
        headers = {"Authorization": f"Device {self.device_id}:{self.secret}"}
        headers["Content-Type"] = "application/json"
        start, fresh = time.monotonic(), itertools.count()
        with httpx.Client(base_url=self.url, headers=headers, timeout=10.0) as http:
            while not self.stop.is_set() or (self.retry and time.monotonic() < self.give_up_at):
                if self.retry:
                    batch = self.retry.pop(0)
                else:
                    batch = next(fresh)
                    delay = start + batch * HTTP_BATCH / RATE - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                try:
                    resp = http.post("/api/v1/telemetry", content=self.body(batch))
                except httpx.TransportError:
                    resp = None
                if resp is not None and resp.is_success:
                    self.ok.add(batch)
                    self.dead += int(resp.json().get("dead_lettered", 0))
                else:
                    self.failures += 1
                    self.retry.append(batch)
                    time.sleep(0.2)


@contextlib.contextmanager
def postgres_dir() -> Iterator[Path]:
    """A directory the ``postgres`` user owns (the test's tmp_path is root's, mode 0700)."""
    pg = pwd.getpwnam("postgres")
    path = Path(tempfile.mkdtemp(prefix="indunet-multihost-pg-"))
    os.chown(path, pg.pw_uid, pg.pw_gid)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def http_device_ids() -> list[str]:
    """Ids of the HTTP devices: half of them on each worker's partitions (the share 0/2 takes
    the even partitions, 1/2 the odd ones)."""
    partitions = int(units.env_file()["INDUNET_BUS_PARTITIONS"])
    ids = (f"gw-{n}" for n in itertools.count())
    out: list[str] = []
    for worker in (0, 1):
        mine = (d for d in ids if bus.partition_of(d, partitions) % 2 == worker)
        out += itertools.islice(mine, HTTP_DEVICES // 2)
    return out


def stored_counts(inst: Installation, devices: list[str]) -> dict[str, tuple[int, int, int]]:
    """Per device: stored rows, rows a rollup should count, and what the rollups counted."""
    rows = inst.sql(
        """SELECT s.device, count(*),
                  count(*) FILTER (WHERE t.num IS NOT NULL AND t.q & 3 <> 2)
           FROM tel_series s JOIN tel_samples t ON t.series = s.id
           WHERE s.device = ANY(%s) GROUP BY s.device""",
        (devices,),
    )
    rolled = dict(
        inst.sql(
            """SELECT s.device, sum(r.cnt)::bigint FROM tel_series s
               JOIN tel_rollup_1m r ON r.series = s.id
               WHERE s.device = ANY(%s) GROUP BY s.device""",
            (devices,),
        )
    )
    return {d: (n, countable, int(rolled.get(d) or 0)) for d, n, countable in rows}


@pytest.mark.parametrize(
    ("template", "instance", "role", "shard"),
    [
        ("indunet-api", "0", "api", "0/1"),
        ("indunet-connector", "1-2", "connector", "1/2"),
        ("indunet-worker", "2-3", "worker", "2/3"),
    ],
)
def test_each_unit_with_the_env_example_makes_valid_settings(
    template: str, instance: str, role: str, shard: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = units.Unit.load(template, instance)
    shared = units.env_file()
    assert not set(shared) & set(unit.env), "the env file would override the unit's role"
    for key in [k for k in os.environ if k.startswith("INDUNET_")]:
        monkeypatch.delenv(key)
    for key, value in (unit.env | shared).items():
        monkeypatch.setenv(key, value)
    settings = core.Settings()
    assert (settings.role, settings.shard) == (role, shard)
    assert settings.bus_url and len(settings.bus_url.split(",")) == 3
    assert settings.bus_replicas == 3
    assert "sslmode=verify-full" in (settings.database_url or "")
    assert str(settings.data_dir).startswith("/var/lib/indunet/")
    assert unit.command()[1:] == ["-m", "indunet", "up"]


def test_acknowledged_samples_are_stored_once_through_crashes_and_a_partition(
    tmp_path: Path,
) -> None:
    t0 = time.monotonic()
    if os.geteuid() != 0:
        pytest.skip(f"network namespaces need root (this test runs as uid {os.geteuid()})")
    missing = _missing_binaries()
    if missing:  # a service this test runs itself: as for the others (tests/conftest.py)
        msg = f"missing {', '.join(missing)}"
        if REQUIRE_SERVICES:
            pytest.fail(msg + " and INDUNET_REQUIRE_SERVICES=1")
        pytest.skip(msg)
    with contextlib.ExitStack() as stack:
        pgdir = stack.enter_context(postgres_dir())  # removed after the network is closed
        try:
            net = stack.enter_context(network(HOSTS, tmp_path))
        except NetnsUnavailable as exc:
            pytest.skip(str(exc))
        run(net, tmp_path, pgdir, t0)
        ended = time.monotonic()
    print(
        f"\nmulti-host test: {time.monotonic() - t0:.1f} s in all, "
        f"{time.monotonic() - ended:.1f} s of it to stop everything "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in net.stop_times.items() if v > 1)})"
    )
    assert time.monotonic() - t0 < BUDGET_S


def run(net: Network, home: Path, pgdir: Path, t0: float) -> None:
    # --- the installation: the env example's settings, pointed at this network ---
    shared = units.env_file()
    pg_url = f"postgresql://postgres@{net.addr['db']}:5432/indunet"
    here = {
        "INDUNET_BUS_URL": f"nats://{net.addr['nats']}:4222",
        "INDUNET_DATABASE_URL": pg_url,
        "INDUNET_TELEMETRY_URL": pg_url,
        "INDUNET_BUS_REPLICAS": "1",  # one NATS server here
        "INDUNET_BUS_CONNECTORS": "1",  # one connector here
        "INDUNET_BUS_MAX_BYTES": str(64 * 1024**2),
        "INDUNET_SECRET_KEY": Fernet.generate_key().decode(),
        "INDUNET_PUBLIC_URL": f"http://{net.addr['api']}:8000",
    }
    assert set(here) <= set(shared), "the env example lacks a setting the installation needs"
    shared |= here
    shared.pop("SSL_CERT_FILE")  # no TLS on the test network
    shared.pop("INDUNET_MQTT_URL")  # no broker: the connector's embedded endpoint (its unit's)
    inst = Installation(net, home, shared)
    inst.start_postgres(pgdir)
    inst.start_nats()
    # the api first: on an empty database it makes the tables and the administrator
    inst.start("api", "indunet-api", "0")
    inst.start("worker0", "indunet-worker", "0-2", wait=False)
    inst.start("worker1", "indunet-worker", "1-2", wait=False)
    inst.start("connector", "indunet-connector", "0-1", wait=False)
    for name in ("indunet-worker@0-2", "indunet-worker@1-2", "indunet-connector@0-1"):
        inst.wait_ready(name)
    api_url = inst.url("indunet-api@0")
    password = PASSWORD.search(inst.procs["indunet-api@0"].output)
    assert password, inst.procs["indunet-api@0"].output
    api = httpx.Client(base_url=api_url, timeout=10.0)
    resp = api.post("/api/v1/auth/token", json={"username": "admin", "password": password[1]})
    token = resp.json()["token"]
    api.headers["Authorization"] = f"Bearer {token}"
    ent = api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "多主机测试工厂"})
    assert ent.status_code < 300, ent.text
    prefix = api.post("/api/v1/prefixes", json={"prefix": "88.100.9", "enterprise_uscc": USCC})
    assert prefix.status_code < 300, prefix.text
    base = int(time.time() * 1000) - 3_600_000
    senders = []
    for device_id in http_device_ids():
        spec = {"id": device_id, "name": device_id, "model": "indunet:env-sensor"}
        spec |= {"protocol": "http", "enterprise_id": ent.json()["id"]}
        made = api.post("/api/v1/devices", json=spec)
        assert made.status_code == 201, made.text
        senders.append(HttpDevice(spec["id"], made.json()["secret"], api_url, base))

    # --- the virtual factory, registered at the api; the connector polls it ---
    plan = home / "plan.json"
    sim_argv = [sys.executable, "-m", "indunet", "sim", "--devices", str(SIM_DEVICES)]
    sim_argv += ["--no-mqtt", "--host", net.addr["factory"], "--opcua-port", "4840"]
    sim_argv += ["--modbus-port", "5020", "--register", api_url, "--token", token]
    sim_argv += ["--enterprise", USCC, "--plan-out", str(plan)]
    plain = {k: v for k, v in os.environ.items() if not k.startswith("INDUNET_")}
    sim = net.run("factory", "sim", sim_argv, plain, cwd=home)
    wait_until(lambda: "Ctrl-C stops" in sim.output, 40, f"the factory to start:\n{sim.output}")
    polled = [
        d["id"] for d in orjson.loads(plan.read_bytes())["devices"] if d["protocol"] != "mqtt"
    ]
    conn_url = inst.url("indunet-connector@0-1")
    wait_until(
        lambda: metrics(conn_url).get("indunet_ingest_samples_accepted_total", 0) > 0,
        30,
        "the connector to poll the factory",
    )
    threads = [threading.Thread(target=s.run, daemon=True) for s in senders]
    for th in threads:
        th.start()
    timeline: list[str] = [f"running at {time.monotonic() - t0:.0f} s"]
    try:
        # --- a worker crashes and comes back ---
        time.sleep(6)
        assert sum(len(s.ok) for s in senders) > 10, "the HTTP devices did not get going"
        inst.procs["indunet-worker@1-2"].kill()
        time.sleep(3)
        inst.start("worker1", "indunet-worker", "1-2")
        timeline.append(f"worker 1 killed and back at {time.monotonic() - t0:.0f} s")
        # --- NATS crashes and comes back on the same store ---
        time.sleep(5)
        inst.procs["nats"].kill()
        time.sleep(3)
        inst.start_nats()
        timeline.append(f"NATS killed and back at {time.monotonic() - t0:.0f} s")
        # --- the connector's host is cut off from NATS ---
        time.sleep(5)
        before = metrics(conn_url)
        net.cut("connector", "nats")
        time.sleep(PARTITION_S)
        during = metrics(conn_url)
        net.heal("connector", "nats")
        healed = time.monotonic()
        timeline.append(f"connector cut off from NATS for {PARTITION_S:g} s, healed at "
                        f"{healed - t0:.0f} s")  # fmt: skip
        published = 'indunet_bus_published_total{unit="samples"}'
        assert during["indunet_bus_connected"] == 0, "the connector never noticed the cut"
        wait_until(
            lambda: metrics(conn_url)[published] > during[published],
            RECOVER_S,
            "the connector to publish again after the cut healed",
        )
        timeline.append(f"connector publishing again {time.monotonic() - healed:.0f} s later")
        time.sleep(max(0.0, 5 - (time.monotonic() - healed)))
    finally:
        for s in senders:
            s.give_up_at = time.monotonic() + 30
            s.stop.set()
        for th in threads:
            th.join(40)
    sim.stop()  # the polled devices stop producing
    assert all(not th.is_alive() for th in threads), "an HTTP sender did not finish"
    assert all(not s.retry for s in senders), [s.retry[:5] for s in senders]
    buffered = during.get("indunet_ingest_buffered_samples_total", 0) - before.get(
        "indunet_ingest_buffered_samples_total", 0
    )
    assert buffered > 0, "the connector never buffered while cut off: the cut did not bite"

    # --- settle: the connector has published what it accepted; the workers stored it ---
    def connector_settled() -> dict[str, float] | None:
        m = metrics(conn_url)
        done = (
            m["indunet_ingest_samples_accepted_total"] == m["indunet_ingest_samples_stored_total"]
            and m.get("indunet_ingest_buffer_samples", 0) == 0
            and m.get("indunet_ingest_queued_samples", 0) == 0
        )
        return m if done else None

    wait_until(connector_settled, SETTLE_S, "the connector to publish what it accepted")
    time.sleep(2.5)  # a poll in flight when the factory stopped
    final = connector_settled()
    assert final is not None
    accepted = int(final["indunet_ingest_samples_accepted_total"])
    http_ids = [s.device_id for s in senders]

    def all_stored() -> bool:
        got = stored_counts(inst, polled + http_ids)
        http_rows = sum(got.get(d, (0, 0, 0))[0] for d in http_ids)
        polled_rows = sum(got.get(d, (0, 0, 0))[0] for d in polled)
        return http_rows >= sum(len(s.ok) for s in senders) * HTTP_BATCH and polled_rows >= accepted

    with contextlib.suppress(AssertionError):
        wait_until(all_stored, SETTLE_S, "every acknowledged sample in PostgreSQL", every=1.0)
    got = stored_counts(inst, polled + http_ids)
    report = "; ".join(timeline)

    # every HTTP row answered 2xx is stored, once, with its value
    for s in senders:
        ts = [
            r[0] - base
            for r in inst.sql(
                """SELECT t.ts FROM tel_series s JOIN tel_samples t ON t.series = s.id
                   WHERE s.device = %s AND s.point = 'humidity' ORDER BY t.ts""",
                (s.device_id,),
            )
        ]
        want = sorted(n for b in s.ok for n in range(b * HTTP_BATCH, (b + 1) * HTTP_BATCH))
        lost = sorted(set(want) - set(ts))
        assert not lost, f"{s.device_id}: {len(lost)} rows answered 2xx are lost: {lost[:10]}"
        assert ts == want, f"{s.device_id}: rows stored that no 2xx answered"
        assert s.dead == 0
    # every sample the connector accepted from the factory is stored
    polled_rows = sum(got.get(d, (0, 0, 0))[0] for d in polled)
    assert polled_rows == accepted, (
        f"the connector accepted {accepted} samples from the factory; {polled_rows} are stored"
        f" ({report})"
    )
    # none twice: the rollups count what each write inserted
    for device, (_, countable, rolled) in got.items():
        assert rolled == countable, f"{device}: rollups count {rolled} of {countable} rows"
    for name in ("indunet-connector@0-1", "indunet-worker@0-2", "indunet-worker@1-2"):
        m = metrics(inst.url(name))
        dead = {k: v for k, v in m.items() if k.startswith("indunet_ingest_dead_letters") and v}
        assert not dead, f"{name} dead-lettered samples: {dead}"
    w0, w1 = (metrics(inst.url(f"indunet-worker@{i}-2")) for i in (0, 1))
    stored_by = [int(m.get('indunet_bus_consumed_total{outcome="stored"}', 0)) for m in (w0, w1)]
    assert all(stored_by), f"a worker stored nothing (since its start): {stored_by}"
    api_buffered = int(metrics(api_url)["indunet_ingest_buffered_samples_total"])
    http_rows = sum(len(s.ok) for s in senders) * HTTP_BATCH
    # --- with NATS gone, every part still stops promptly on SIGTERM (as systemd stops it) ---
    inst.procs["nats"].kill()
    stop_s = {}
    for name in ("indunet-connector@0-1", "indunet-worker@0-2", "indunet-worker@1-2"):
        began = time.monotonic()
        inst.procs[name].stop()
        stop_s[name] = round(time.monotonic() - began, 1)
    assert all(s < STOP_S for s in stop_s.values()), f"slow to stop without NATS: {stop_s}"
    print(
        f"\n{report}; HTTP: {http_rows} rows answered 2xx "
        f"({sum(s.failures for s in senders)} posts failed and were sent again); "
        f"polled: {accepted} samples accepted by the connector, "
        f"{int(buffered)} buffered on its disk while cut off; "
        f"{api_buffered} samples buffered by the api (NATS restart); "
        f"envelopes stored by worker 0/1 since their start: {stored_by}; "
        f"{time.monotonic() - t0:.0f} s so far; stopped without NATS in {stop_s}"
    )
