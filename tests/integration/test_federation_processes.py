"""Two federated instances as separate processes on loopback: a province and an enterprise,
given their identities and enrolled with the CLI, the enterprise reporting its state many
times a second. The province is killed (SIGKILL) mid-flow and started again, then the
enterprise: every message the enterprise queued is applied at the province exactly once, in
order, and nothing waits in the outbox at the end."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from tests.integration.servers import group

from indunet.federation.tables import inbox, links, outbox, peers, received


def cli(data: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "indunet", "federation", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def db(data: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{data / 'indunet.db'}")


def until(what: str, test: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def counts(province: Path, factory: Path) -> tuple[int, int, int, int, int]:
    """(queued at the enterprise, still pending there, applied at the province, distinct
    ids applied, the province's last number from the enterprise)."""
    with db(factory).connect() as conn:
        queued = conn.execute(sa.select(links.c.next_seq).where(links.c.recipient == "gd")).scalar()
        pending = conn.execute(sa.select(sa.func.count()).where(outbox.c.acked.is_(False))).scalar()
    with db(province).connect() as conn:
        applied = conn.execute(
            sa.select(sa.func.count()).where(received.c.sender == "acme")
        ).scalar()
        distinct = conn.execute(
            sa.select(sa.func.count(sa.distinct(received.c.id))).where(received.c.sender == "acme")
        ).scalar()
        last = conn.execute(sa.select(inbox.c.last_seq).where(inbox.c.sender == "acme")).scalar()
    return (
        int(queued or 0),
        int(pending or 0),
        int(applied or 0),
        int(distinct or 0),
        int(last or 0),
    )


def test_a_province_killed_mid_flow_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path,
) -> None:
    with group(tmp_path) as g:
        province = g.prepare("gd", "up")
        factory = g.prepare("acme", "up", env={"INDUNET_FEDERATION_STATUS_S": "0.05"})
        assert "gd (province)" in cli(
            province.data_dir, "init", "--name", "gd", "--level", "province",
            "--url", province.url, "--title", "广东省",
        )  # fmt: skip
        cli(
            factory.data_dir,
            "init",
            "--name",
            "acme",
            "--level",
            "enterprise",
            "--url",
            factory.url,
        )
        province.start()
        token = cli(province.data_dir, "token", "--level", "enterprise", "--note", "acme")
        assert "joined gd" in cli(
            factory.data_dir, "join", "--parent", province.url, "--token", token
        )
        factory.start()

        # the province hears from its child (its version and contact, over the API too)
        password = province.admin_password
        assert password, province.output
        api = httpx.Client(base_url=province.url, timeout=10.0)
        login = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
        api.headers["Authorization"] = f"Bearer {login.json()['token']}"

        def child() -> dict[str, object]:
            view = api.get("/api/v1/federation").json()
            (peer,) = view["peers"]
            return peer

        # its identifier, with its key, resolves through the Handle API
        record = api.get("/api/handles/88.100/inst-gd").json()
        key = [v["data"]["value"] for v in record["values"] if v["type"] == "HS_PUBKEY"]
        assert key == [api.get("/api/v1/federation").json()["identity"]["key"]]

        # and through pyhandle, an independent Handle client, resolving over the same API
        from pyhandle.handleclient import PyHandleClient

        reader = PyHandleClient("rest").instantiate_for_read_access(
            handle_server_url=province.url, HTTPS_verify=False
        )
        assert reader.get_value_from_handle("88.100/inst-gd", "HS_PUBKEY") == key[0]
        assert reader.get_value_from_handle("88.100/inst-gd", "URL") == province.url
        until("the child's first report", lambda: child()["version"])
        assert child()["role"] == "child" and child()["level"] == "enterprise"
        until(
            "a few hundred messages applied",
            lambda: counts(province.data_dir, factory.data_dir)[2] > 200,
        )

        province.kill()  # SIGKILL while the child keeps queueing and sending
        time.sleep(3)
        assert counts(province.data_dir, factory.data_dir)[1] > 0  # waiting in the outbox
        province.start()
        factory.kill()  # and the child crashes too, mid-delivery
        factory.start()
        time.sleep(2)
        factory.stop()
        # started again reporting once an hour: what was queued must all arrive
        factory.env["INDUNET_FEDERATION_STATUS_S"] = "3600"
        factory.start()
        until(
            "the outbox empty",
            lambda: (
                counts(province.data_dir, factory.data_dir)[1] == 0
                and counts(province.data_dir, factory.data_dir)[2] > 0
            ),
        )
        factory.stop()
        queued, pending, applied, distinct, last = counts(province.data_dir, factory.data_dir)
        with db(factory.data_dir).connect() as conn:
            acked = conn.execute(sa.select(links.c.acked_seq)).scalar()
        with db(province.data_dir).connect() as conn:
            seqs = [r[0] for r in conn.execute(sa.select(received.c.seq).order_by(received.c.seq))]
            status = conn.execute(sa.select(peers.c.status).where(peers.c.name == "acme")).scalar()
        assert pending == 0 and status == "active"
        assert applied == distinct == last == queued == acked, (queued, applied, distinct, last)
        assert seqs == list(range(1, queued + 1))  # each once, none missing
        assert "child" in cli(province.data_dir, "children")
