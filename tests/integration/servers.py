"""Real Indunet server processes for integration tests: `indunet up` and `indunet node`.

Each server gets a free port, its own data directory (unless one is shared on purpose), and
its output in a log file. Start waits until the HTTP API answers, bounded in time; stop always
ends the process (SIGTERM, then SIGKILL). Use ``group(...)`` so that a failing test still stops
every process it started; should the test process itself die, its servers get SIGTERM too.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_PASSWORD = re.compile(r"^\s*password:\s*(\S+)\s*$", re.MULTILINE)


def _die_with_this_process() -> None:
    """In the child: get SIGTERM if the test process dies (Linux), so no server outlives it."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``indunet`` process listening on 127.0.0.1."""

    def __init__(
        self,
        args: list[str],
        data_dir: Path,
        log: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ):
        self.args = args
        # Each server gets its own embedded MQTT port too: two servers (or a demo running on
        # the machine) must not fight over the default 11883.
        # Credentials over plain HTTP from loopback: the development allowance, as the
        # tests' clients speak HTTP (an env given may set INDUNET_PLAIN_HTTP_AUTH=refuse).
        self.env = {
            "INDUNET_MQTT_PORT": str(free_port()),
            "INDUNET_PLAIN_HTTP_AUTH": "loopback",
            **(env or {}),
        }
        self.data_dir = data_dir
        self.log = log
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the server (https when it was started with ``--self-signed``)."""
        scheme = "https" if "--self-signed" in self.args else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def admin_password(self) -> str | None:
        """The platform admin password printed on first start, if this start printed one."""
        m = _PASSWORD.search(self.output)
        return m.group(1) if m else None

    def start(self, timeout: float = START_TIMEOUT) -> Server:
        """Start the process and wait until its API answers."""
        cmd = [
            sys.executable,
            "-m",
            "indunet",
            *self.args,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env = {k: v for k, v in env.items() if not k.startswith("INDUNET_")} | self.env
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_this_process,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(self.args)} exited with {self.proc.returncode}:\n{self.output}"
                )
            try:
                probe = httpx.get(self.url + "/api/v1/nodes", timeout=1.0, verify=False)
                if probe.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{' '.join(self.args)} did not answer in {timeout}s:\n{self.output}")

    def stop(self) -> None:
        """End the process: SIGTERM, then SIGKILL if it does not exit in time."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(STOP_TIMEOUT)

    def kill(self) -> None:
        """End the process at once, as a crash would (SIGKILL)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(STOP_TIMEOUT)

    @property
    def alive(self) -> bool:
        """The process is running."""
        return self.proc is not None and self.proc.poll() is None


class ServerGroup:
    """Servers started by one test; ``stop_all`` ends every one of them."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.servers: list[Server] = []

    def prepare(
        self,
        name: str,
        *args: str,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Server:
        """A server not started yet: its port, data directory and ``INDUNET_*`` env can be set."""
        data = data_dir or self.base / name
        data.mkdir(parents=True, exist_ok=True)
        server = Server(list(args), data, self.base / f"{name}.log", env=env)
        self.servers.append(server)
        return server

    def start(
        self,
        name: str,
        *args: str,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Server:
        """Start ``indunet <args>`` (e.g. ``up`` or ``node --role root``) and wait for it."""
        return self.prepare(name, *args, data_dir=data_dir, env=env).start()

    def stop_all(self) -> None:
        """Stop every server of the group."""
        for server in self.servers:
            server.stop()


@contextlib.contextmanager
def group(base: Path) -> Iterator[ServerGroup]:
    """A ``ServerGroup`` whose servers are stopped on exit, whatever happens."""
    g = ServerGroup(base)
    try:
        yield g
    finally:
        g.stop_all()
