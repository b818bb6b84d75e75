"""A private ``nats-server`` with JetStream for the backbone's fault tests.

Each server gets a free port on 127.0.0.1 and its own store directory, so a test can kill it
(``kill``: SIGKILL, as a crashed process), hang it (``pause``), start it again on the same
port and directory (its streams and consumers come back) or on an empty one (``wipe``: a new
node), or stop it for good. Start waits until the port answers, bounded in time;
``nats_server(...)`` always ends the process, and should the test process itself die the
server gets SIGTERM too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.servers import _die_with_this_process, free_port

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def have_binary() -> bool:
    """Whether a ``nats-server`` binary is installed."""
    return os.access(NATS_SERVER, os.X_OK)


def need_binary() -> None:
    """Skip (or, under INDUNET_REQUIRE_SERVICES=1, fail) without a ``nats-server`` binary."""
    if have_binary():
        return
    msg = f"the nats-server binary is not installed ({NATS_SERVER})"
    if os.environ.get("INDUNET_REQUIRE_SERVICES") == "1":
        pytest.fail(msg + " and INDUNET_REQUIRE_SERVICES=1")
    pytest.skip(msg)


class NatsServer:
    """One ``nats-server -js`` process that can be killed and started again in place."""

    def __init__(self, home: Path, port: int = 0) -> None:
        self.home = home
        self.port = port or free_port()
        self.store = home / "jetstream"
        self.log = home / "nats.log"
        self.proc: subprocess.Popen[bytes] | None = None
        home.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        """The client URL."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> NatsServer:
        """Start the server and wait until it accepts connections (JetStream included)."""
        if self.running:
            return self
        args = [NATS_SERVER, "-js", "-sd", str(self.store), "-a", "127.0.0.1"]
        args += ["-p", str(self.port), "-l", str(self.log)]
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_this_process,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited at start: {self.output[-2000:]}")
            if "Server is ready" in self.output:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", self.port), 0.2),
                ):
                    return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"nats-server did not start within {timeout:g} s: {self.output[-2000:]}")

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing is flushed beyond what JetStream already synced."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()
        self.proc.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def pause(self) -> None:
        """SIGSTOP: the server hangs (connections stay open, nothing answers)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after ``pause``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def wipe(self) -> None:
        """Forget every stream and consumer (the server must be down): a new, empty node."""
        assert not self.running, "wipe a stopped server only"
        shutil.rmtree(self.store, ignore_errors=True)

    @property
    def output(self) -> str:
        """The server's log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextlib.contextmanager
def nats_server(home: Path, *, started: bool = True, port: int = 0) -> Iterator[NatsServer]:
    """A private server (started unless ``started=False``), always ended at exit."""
    server = NatsServer(home, port)
    try:
        if started:
            server.start()
        yield server
    finally:
        server.kill()  # SIGKILL ends a paused (SIGSTOP) server too
