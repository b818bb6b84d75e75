"""Hosts in Linux network namespaces on one virtual switch, for multi-host tests (root only).

``network(...)`` makes one namespace per host name, each with one interface (``eth0``) on a
bridge that lives in a namespace of its own (the switch), and an address ``10.a.b.<n>/24``.
The test process reaches every host through one more interface on the switch (address
``.1``, in the test's own namespace). ``Network.run`` starts a command inside a host's
namespace (``ip netns exec``); ``cut``/``heal`` drop, silently and both ways, the traffic
between two hosts (each host's neighbour entry of the other points at a MAC nobody has: a
firewall's DROP, since this machine has neither iptables nor tc); ``close`` ends every
process started here and deletes every namespace and interface, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from tests.integration.servers import _die_with_this_process

STOP_TIMEOUT = 10.0
NOWHERE_MAC = "02:00:00:00:00:01"  # locally administered; no interface on the switch has it


class NetnsUnavailable(RuntimeError):
    """This process may not make network namespaces (not root, no ``ip``, no kernel support)."""


def ip(*args: str, ns: str | None = None) -> str:
    """Run ``ip <args>`` (in namespace ``ns``); its output, or ``RuntimeError`` naming the call."""
    cmd = ["ip", *args] if ns is None else ["ip", "-n", ns, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def _free_subnet() -> str:
    """``10.a.b`` with a /24 no interface of this host has an address in."""
    taken = ip("-4", "-o", "addr")
    for _ in range(50):
        net = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
        if f" {net}." not in taken:
            return net
    raise NetnsUnavailable("no free 10.x.y.0/24 subnet for the test network")


class Proc:
    """A process running in a host's namespace, in a session of its own (killed as a group)."""

    def __init__(
        self, name: str, popen: subprocess.Popen[bytes], log: Path, service: bool = False
    ) -> None:
        self.name = name
        self.popen = popen
        self.log = log
        self.service = service

    @property
    def alive(self) -> bool:
        """The process is running."""
        return self.popen.poll() is None

    @property
    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the process and everything it started."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """End it at once, as a crash would (SIGKILL to the group)."""
        if self.alive:
            self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end in time."""
        if self.alive:
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        # its children (e.g. postgres under runuser) may outlive it: end the group
        self.signal_group(signal.SIGKILL)


class Network:
    """Namespaces named ``<tag>-<host>`` on one bridge; see the module docstring."""

    def __init__(self, hosts: Sequence[str], logs: Path) -> None:
        self.tag = "in" + uuid.uuid4().hex[:6]
        self.subnet = _free_subnet()
        self.logs = logs
        self.addr: dict[str, str] = {}
        self.procs: list[Proc] = []
        self.stop_times: dict[str, float] = {}  # seconds each process took to stop
        self._made: list[str] = []  # namespaces made so far, to delete
        self._root_if: str | None = None
        self._hosts = list(hosts)

    def ns(self, host: str) -> str:
        """The namespace of ``host``."""
        return f"{self.tag}-{host}"

    def _make(self) -> None:
        switch = f"{self.tag}-sw"
        ip("netns", "add", switch)
        self._made.append(switch)
        ip("link", "add", "br0", "type", "bridge", ns=switch)
        ip("link", "set", "br0", "up", ns=switch)
        # the test's own way in: one end here, the other on the switch
        self._root_if = f"{self.tag}r"
        ip("link", "add", self._root_if, "type", "veth", "peer", "name", "p0", "netns", switch)
        ip("link", "set", "p0", "master", "br0", "up", ns=switch)
        ip("addr", "add", f"{self.subnet}.1/24", "dev", self._root_if)
        ip("link", "set", self._root_if, "up")
        for n, host in enumerate(self._hosts, start=10):
            ns = self.ns(host)
            ip("netns", "add", ns)
            self._made.append(ns)
            port = f"p{n}"
            ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port,
               "netns", switch)  # fmt: skip
            ip("link", "set", port, "master", "br0", "up", ns=switch)
            ip("link", "set", "lo", "up", ns=ns)
            self.addr[host] = f"{self.subnet}.{n}"
            ip("addr", "add", f"{self.addr[host]}/24", "dev", "eth0", ns=ns)
            ip("link", "set", "eth0", "up", ns=ns)

    def run(
        self,
        host: str,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        service: bool = False,
    ) -> Proc:
        """Start ``argv`` in ``host``'s namespace, its output in ``<logs>/<name>.log``.

        A ``service`` (a database, a message server) is stopped after every other process.
        """
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(host), *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=_die_with_this_process,
            )
        proc = Proc(name, popen, log, service)
        self.procs.append(proc)
        return proc

    def mac(self, host: str) -> str:
        """The MAC address of ``host``'s interface."""
        return ip("-br", "link", "show", "eth0", ns=self.ns(host)).split()[2]

    def cut(self, a: str, b: str) -> None:
        """Drop all traffic between hosts ``a`` and ``b``, both ways, without a word."""
        for here, there in ((a, b), (b, a)):
            ip("neigh", "replace", self.addr[there], "lladdr", NOWHERE_MAC, "nud", "permanent",
               "dev", "eth0", ns=self.ns(here))  # fmt: skip

    def heal(self, a: str, b: str) -> None:
        """Undo ``cut``: the hosts find each other again (ARP)."""
        for here, there in ((a, b), (b, a)):
            ip("neigh", "del", self.addr[there], "dev", "eth0", ns=self.ns(here))

    def close(self) -> None:
        """End every process started here, then delete the interfaces and namespaces."""
        for proc in sorted(reversed(self.procs), key=lambda p: p.service):
            began = time.monotonic()
            proc.stop()
            self.stop_times[proc.name] = time.monotonic() - began
        for ns in reversed(self._made):
            with contextlib.suppress(RuntimeError):
                ip("netns", "delete", ns)  # deletes its veths, and so their peers
        if self._root_if is not None:
            with contextlib.suppress(RuntimeError):
                ip("link", "delete", self._root_if)  # gone with the switch, normally
        self._made.clear()


@contextlib.contextmanager
def network(hosts: Sequence[str], logs: Path) -> Iterator[Network]:
    """A ``Network`` of ``hosts``, closed on exit whatever happens; ``NetnsUnavailable`` if
    this process may not make one (then nothing is left behind)."""
    if os.geteuid() != 0:
        raise NetnsUnavailable(
            f"network namespaces need root (this test runs as uid {os.geteuid()})"
        )
    net = Network(hosts, logs)
    try:
        try:
            net._make()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            raise NetnsUnavailable(f"cannot build the test network: {exc}") from exc
        yield net
    finally:
        net.close()


def wait_until(check: Callable[[], object], within: float, what: str, every: float = 0.2) -> None:
    """Poll ``check()`` until truthy, or ``AssertionError`` naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        try:
            if check():
                return
        except Exception:  # not ready yet: try again
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        time.sleep(every)
