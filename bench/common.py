"""What every benchmark shares: free ports, server processes, load runs, statistics, results.

Benchmarks are scripts (``python bench/<name>.py``); they import this module from their own
folder. Everything they start listens on 127.0.0.1 only and is stopped when the script ends.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
PYTHON = sys.executable
HOST = "127.0.0.1"


# -- processes -------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bind port 0 and let it go)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def indunet_command(*args: str) -> list[str]:
    """The ``indunet`` CLI of this interpreter's environment."""
    script = Path(PYTHON).parent / "indunet"
    if script.exists():
        return [str(script), *args]
    return [PYTHON, "-c", "from indunet.cli import main; main()", *args]


@dataclass
class Server:
    """A server process started by a benchmark, with its log file."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Stop the process: SIGTERM, then SIGKILL after 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_server(
    name: str,
    cmd: Sequence[str],
    port: int,
    workdir: Path,
    *,
    ready_path: str = "/",
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Server:
    """Start ``cmd`` and wait until ``http://127.0.0.1:port{ready_path}`` answers."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=workdir,
        )
    server = Server(name, f"http://{HOST}:{port}", proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            httpx.get(server.url + ready_path, timeout=1.0)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not answer on port {port} within {timeout} s")


@contextmanager
def workspace(prefix: str) -> Iterator[Path]:
    """A temporary directory removed afterwards (kept with BENCH_KEEP=1)."""
    path = Path(tempfile.mkdtemp(prefix=f"indunet-bench-{prefix}-"))
    try:
        yield path
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(path, ignore_errors=True)


# -- noise from other processes -------------------------------------------------------------
def _busy_jiffies() -> tuple[int, int]:
    """Busy and total CPU time of the whole machine, in clock ticks (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def _pid_ticks(pid: int) -> int:
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(parts[11]) + int(parts[12])  # utime + stime


class CpuMeter:
    """How much CPU *other* processes used while we measured, in cores.

    The machine is shared (2 cores): this reads the machine's busy time and subtracts the
    benchmark's own processes (this one, its finished children such as the load generator,
    and the servers given by pid). Rounds are labelled with it, and ``quiet()`` waits for it.
    """

    def __init__(self, pids: Sequence[int] = (), names: Sequence[str] = ()) -> None:
        self.pids = list(pids)
        self.names = set(names)  # e.g. "postgres": the database server works for us too
        self.hz = os.sysconf("SC_CLK_TCK")

    def _named(self) -> list[int]:
        out = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if (d / "comm").read_text().strip() in self.names:
                        out.append(int(d.name))
                except OSError:
                    continue
        return out

    def _ours(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        pids = self.pids + (self._named() if self.names else [])
        ticks = sum(_pid_ticks(p) for p in pids)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + ticks / self.hz

    def start(self) -> None:
        """Begin a measurement window."""
        self._t0, self._busy0, self._ours0 = time.monotonic(), _busy_jiffies()[0], self._ours()

    def foreign_cores(self) -> float:
        """Cores used by other processes since ``start``."""
        wall = max(time.monotonic() - self._t0, 1e-3)
        busy = (_busy_jiffies()[0] - self._busy0) / self.hz
        return max(0.0, (busy - (self._ours() - self._ours0)) / wall)

    def quiet(self, limit: float = 0.3, patience: float = 10.0) -> float:
        """Wait (at most ``patience`` s) until other processes use under ``limit`` cores."""
        deadline = time.monotonic() + patience
        while True:
            self.start()
            time.sleep(0.5)
            load = self.foreign_cores()
            if load < limit or time.monotonic() > deadline:
                return load


def measured(
    meter: CpuMeter, fn: Callable[[], dict[str, Any]], *, limit: float = 0.5, tries: int = 3
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``fn`` after waiting for quiet; redo it (up to ``tries``) while other processes
    took more than ``limit`` cores during it. Returns the kept result and the discarded ones,
    each labelled with ``foreign_cores``."""
    discarded: list[dict[str, Any]] = []
    for attempt in range(tries):
        meter.quiet()
        meter.start()
        res = fn()
        res["foreign_cores"] = round(meter.foreign_cores(), 3)
        if res["foreign_cores"] <= limit or attempt == tries - 1:
            return res, discarded
        say(f"    (other processes took {res['foreign_cores']:.2f} cores: measuring again)")
        discarded.append(res)
    raise AssertionError("unreachable")


# -- load ------------------------------------------------------------------------------------
def have_wrk() -> bool:
    """Whether Debian's ``wrk`` is installed (and not disabled with BENCH_NO_WRK=1)."""
    return os.environ.get("BENCH_NO_WRK") != "1" and shutil.which("wrk") is not None


_WRK_LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  io.write(string.format("BENCH %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def max_throughput(
    url: str, paths_file: Path, *, connections: int, seconds: float, tool: str
) -> dict[str, Any]:
    """Closed-loop load for ``seconds``: requests per second and latency, from a second process.

    ``tool`` is ``wrk`` (C, one thread) or ``python`` (bench/loadgen.py, asyncio + uvloop).
    """
    if tool == "wrk":
        lua = paths_file.with_suffix(".lua")
        lua.write_text(_WRK_LUA % paths_file)
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "5s",
                "-s",
                str(lua),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        )
        line = next(x for x in out.stdout.splitlines() if x.startswith("BENCH "))
        reqs, dur_us, errors, status_errors, p50, p99, mx = (int(x) for x in line.split()[1:])
        return {
            "tool": "wrk",
            "requests": reqs,
            "rps": reqs / (dur_us / 1e6),
            "errors": errors + status_errors,
            "p50_ms": p50 / 1000,
            "p99_ms": p99 / 1000,
            "max_ms": mx / 1000,
        }
    return _loadgen(
        "max", url, paths_file, ["--connections", str(connections), "--seconds", str(seconds)]
    )


def fixed_rate(
    url: str, paths_file: Path, *, rate: float, connections: int, seconds: float
) -> dict[str, Any]:
    """Open-loop load at ``rate`` requests per second; latency from each request's intended start."""
    return _loadgen(
        "rate",
        url,
        paths_file,
        [
            "--rate",
            str(rate),
            "--connections",
            str(connections),
            "--seconds",
            str(seconds),
        ],
    )


def _loadgen(mode: str, url: str, paths_file: Path, extra: list[str]) -> dict[str, Any]:
    cmd = [PYTHON, str(BENCH / "loadgen.py"), mode, url, str(paths_file), *extra]
    seconds = float(extra[extra.index("--seconds") + 1])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


# -- statistics ------------------------------------------------------------------------------
def median(xs: Sequence[float]) -> float:
    """The median (0 for no data)."""
    return statistics.median(xs) if xs else 0.0


def percentile(sorted_xs: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1) of sorted data, nearest rank."""
    if not sorted_xs:
        return 0.0
    i = min(len(sorted_xs) - 1, max(0, int(q * len(sorted_xs) + 0.999999) - 1))
    return sorted_xs[i]


def latency_summary(ms: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max of latencies in milliseconds."""
    s = sorted(ms)
    return {
        "n": len(s),
        "p50_ms": percentile(s, 0.50),
        "p90_ms": percentile(s, 0.90),
        "p99_ms": percentile(s, 0.99),
        "max_ms": s[-1] if s else 0.0,
    }


# -- results ---------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "speed_ref_ms": speed_reference(),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def speed_reference() -> float:
    """Milliseconds for a fixed pure-Python loop (median of 5): how fast the machine ran today.

    Absolute latency targets depend on it; a shared virtual machine varies by 2x over a day.
    """
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        times.append((time.perf_counter() - t0) * 1000)
    return round(median(times), 1)


def save(name: str, result: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` with the date and machine, and return its path."""
    RESULTS.mkdir(exist_ok=True)
    result = {
        "benchmark": name,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": " ".join(["python", *[_rel(a) for a in sys.argv]]),
        **result,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path


def _rel(arg: str) -> str:
    if "://" in arg or not Path(arg).exists():
        return arg
    try:
        return str(Path(arg).resolve().relative_to(BENCH.parent))
    except ValueError:
        return arg


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def say(msg: str) -> None:
    """Print a progress line at once."""
    print(msg, flush=True)


class RawClient:
    """A minimal blocking HTTP/1.1 keep-alive client for latency samples (one request at a time).

    It adds little of its own to each sample (a ``sendall`` and a ``recv`` or two), so the
    figure is mostly the server's.
    """

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("benchmarks only talk to 127.0.0.1")
        self.addr = (host, int(port))
        self.host = f"{host}:{port}".encode()
        self.sock = self._connect()
        self.buf = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.addr, timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def reconnect(self) -> None:
        """A fresh connection (the server closes idle keep-alive connections after 5 s)."""
        self.sock.close()
        self.sock = self._connect()
        self.buf = b""

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path``; return the status and body."""
        self.sock.sendall(
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + self.host + b"\r\n\r\n"
        )
        while b"\r\n\r\n" not in self.buf:
            self._read()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            self.buf = rest
            self._read()
            rest = self.buf
        self.buf = rest[length:]
        return int(head[9:12]), rest[:length]

    def _read(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


# A benchmark stopped with SIGTERM still stops its servers and drops its schemas.
signal.signal(signal.SIGTERM, _terminate)
