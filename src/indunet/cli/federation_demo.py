"""``indunet demo --federation``: the demo as a national instance with two enterprise
instances enrolled under it, each its own ``indunet up`` process on this machine.

The demo's own process is the national instance (``cn``). Each enterprise gets a data
directory under ``<data dir>/federation/<name>``, free ports on 127.0.0.1 (HTTP and its
embedded MQTT endpoint) and an identity; once the national console answers, it is issued a
one-time token, joins, and starts, reporting its state at once and then every minute. The
children end with the demo (SIGTERM when its process ends, on Linux; and at exit).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from indunet.cli import context
from indunet.federation import Federation, Refused, destinations, enrolment, identity

log = logging.getLogger(__name__)
NATIONAL = ("cn", "国家工业互联网安全监测平台（演示）")
CHILDREN = (
    ("xm-machine", "厦门示例机床有限公司（演示）"),
    ("qz-textile", "泉州示例纺织有限公司（演示）"),
)
#: Each demo enterprise's tenant (USCC, region, GB/T 4754 industry), type and, for one, the
#: self-assessment it has submitted for review (so the national console has one to review).
TENANTS = {
    "xm-machine": ("91350203MA00000010", "350203", "C3421", "industrial", True),
    "qz-textile": ("91350503MA00000020", "350503", "C1711", "industrial", False),
}
DEMO_ANSWERS = {
    "sector": "key",
    "scale": "medium",
    "networking": "deep",
    "incident_impact": "notable",
    "cii": "no",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def national_identity(engine: sa.Engine, url: str) -> None:
    """The demo's own identity (kept from an earlier run)."""
    if identity.load(engine) is None:
        identity.init(engine, NATIONAL[0], "national", url, title=NATIONAL[1])


def start_children(engine: sa.Engine, url: str, data_dir: Path) -> threading.Thread:
    """Enrol and start the enterprise instances once ``url`` answers (in a thread)."""
    thread = threading.Thread(
        target=_children, args=(engine, url, data_dir), name="federation-demo", daemon=True
    )
    thread.start()
    return thread


def _children(engine: sa.Engine, url: str, data_dir: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/api/v1/nodes", timeout=1.0).status_code == 200:
                break
        time.sleep(0.3)
    procs: list[subprocess.Popen[bytes]] = []
    atexit.register(_stop, procs)
    for name, title in CHILDREN:
        try:
            procs.append(_child(engine, url, data_dir / "federation" / name, name, title))
        except (Refused, OSError, RuntimeError) as exc:
            log.warning("the demo's enterprise instance %s did not start: %s", name, exc)
    # this thread lives as long as the children: a child's parent-death signal follows the
    # thread that started it, not the process
    for p in procs:
        p.wait()


def _child(
    engine: sa.Engine, url: str, data: Path, name: str, title: str
) -> subprocess.Popen[bytes]:
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    port = _free_port()
    child = context.database(context.settings(data, "127.0.0.1", port))
    me = identity.load(child)
    if me is None:
        me = identity.init(child, name, "enterprise", f"http://127.0.0.1:{port}", title=title)
    else:  # a port of its own again: the address the national instance sends to follows
        port = int(me.url.rsplit(":", 1)[1])
    joined = any(p["role"] == "parent" for p in Federation(child).overview()["peers"])
    if not joined:
        token = enrolment.issue_token(engine, "enterprise", title)
        asyncio.run(enrolment.join(child, me, url, token, destinations.check))
        _supervised(child, name, title)
    child.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INDUNET_")}
    env |= {"INDUNET_MQTT_PORT": str(_free_port()), "INDUNET_PLAIN_HTTP_AUTH": "loopback"}
    log_file = (data / "instance.log").open("ab")
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "indunet", "up", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data)],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=env,
        preexec_fn=_die_with_parent,
    )  # fmt: skip
    print(f"Federation:   {title} ({name}) at http://127.0.0.1:{port}/, enrolled", flush=True)
    return proc


def _supervised(child: sa.Engine, name: str, title: str) -> None:
    """The demo enterprise's tenant, under supervision with its type (the profile waits in
    the outbox for the instance to start), and for one of them a submitted self-assessment."""
    from indunet.core import Role, User, create_enterprise
    from indunet.core.uscc import make_uscc
    from indunet.regulation import Regulation

    first16, region, industry, etype, grade = TENANTS[name]
    uscc = make_uscc(first16[:16])
    with child.begin() as conn:
        tenant = create_enterprise(
            conn,
            uscc=uscc,
            name=title,
            actor="system:demo",
            region=region,
            industry_code=industry,
            verified=True,
        )
    operator = User(0, "demo", Role.PLATFORM_ADMIN, None)
    reg = Regulation(child, Federation(child))
    reg.set_profile(operator, tenant.id, etype)
    if grade:
        started = reg.start_grading(operator, uscc, DEMO_ANSWERS, [], "演示自评")
        reg.submit_grading(operator, started["uid"])


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(10)
