"""Four federated instances as separate processes on loopback: the nation ``cn``, the province
``fj`` and two enterprises ``xm`` and ``qz`` below it, given identities and enrolled with the
CLI. An enterprise is graded through the whole workflow (self-assessment with evidence,
returned with comments, resubmitted, confirmed; its obligations reach the nation); the nation
issues a notice that reaches both enterprises through the province; one signs and reports in
time and is closed, the other goes overdue and the province escalates it to the nation. The
province is killed (SIGKILL) twice mid-flow and started again. Every count is checked at the
end: each record at each instance once, every message applied exactly once, nothing left in
any outbox."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from tests.integration.servers import Server, group

from indunet.core.uscc import make_uscc
from indunet.federation.tables import inbox, links, outbox, received

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
XM = make_uscc("9135020300000001")
QZ = make_uscc("9135050300000002")
ANSWERS = {
    "sector": "key",
    "scale": "large",
    "networking": "deep",
    "incident_impact": "severe",
    "cii": "no",
}
PASSWORD = "Enterprise-admin-1"


def indunet(data: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "indunet", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def db(data: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{data / 'indunet.db'}")


def until(what: str, test: Any, timeout: float = 90.0) -> Any:
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        got = test()
        if got:
            print(f"{time.monotonic() - start:6.1f} s  {what}")
            return got
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def client(server: Server, username: str = "admin", password: str | None = None) -> httpx.Client:
    api = httpx.Client(base_url=server.url, timeout=15.0)
    secret = password or server.admin_password
    assert secret, server.output
    login = api.post("/api/v1/auth/token", json={"username": username, "password": secret})
    assert login.status_code == 200, login.text
    api.headers["Authorization"] = f"Bearer {login.json()['token']}"
    return api


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, (resp.status_code, resp.text)
    return resp.json()


def together(*calls: Callable[[], object]) -> None:
    """Run ``calls`` side by side (each waits on a process of its own); the first failure
    is raised."""
    with ThreadPoolExecutor(len(calls)) as pool:
        for future in [pool.submit(c) for c in calls]:
            future.result()


def rows(data: Path, sql: str) -> list[dict[str, Any]]:
    with db(data).connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql)).mappings()]


def test_four_instances_grade_notify_escalate_and_survive_kill_9(tmp_path: Path) -> None:
    with group(tmp_path) as g:
        fast = {"INDUNET_FEDERATION_STATUS_S": "0.3", "INDUNET_REGULATION_CHECK_S": "0.5"}
        cn = g.prepare("cn", "up", env=fast)
        fj = g.prepare("fj", "up", env=fast)
        xm = g.prepare("xm", "up", env=fast)
        qz = g.prepare("qz", "up", env=fast)
        # what each instance needs before it starts, the four side by side (each CLI call
        # is its own interpreter start)
        secret = tmp_path / "password"
        secret.write_text(PASSWORD)

        def prepared(s: Server, name: str, level: str, firm: tuple[str, str, str] | None) -> None:
            indunet(s.data_dir, "federation", "init", "--name", name, "--level", level,
                    "--url", s.url)  # fmt: skip
            if firm is not None:
                uscc, title, region = firm
                indunet(s.data_dir, "enterprise", "add", "--uscc", uscc, "--name", title,
                        "--region", region, "--industry-code", "C1711")  # fmt: skip
                indunet(s.data_dir, "user", "add", "boss", "--role", "enterprise_admin",
                        "--password-file", str(secret), "--enterprise", uscc)  # fmt: skip

        together(
            lambda: prepared(cn, "cn", "national", None),
            lambda: prepared(fj, "fj", "province", None),
            lambda: prepared(xm, "xm", "enterprise", (XM, "厦门精密机械有限公司", "350203")),
            lambda: prepared(qz, "qz", "enterprise", (QZ, "泉州纺织有限公司", "350503")),
        )
        cn.start()
        nation = client(cn)  # tokens over the API, as an administrator would issue them

        def token(api: httpx.Client, level: str) -> str:
            return str(
                ok(api.post("/api/v1/federation/tokens", json={"level": level}), 201)["token"]
            )

        indunet(fj.data_dir, "federation", "join", "--parent", cn.url,
                "--token", token(nation, "province"))  # fmt: skip
        fj.start()
        province = client(fj)
        tokens = {s.data_dir: token(province, "enterprise") for s in (xm, qz)}

        def joined(s: Server) -> None:
            indunet(s.data_dir, "federation", "join", "--parent", fj.url,
                    "--token", tokens[s.data_dir])  # fmt: skip

        together(lambda: joined(xm), lambda: joined(qz))
        for s in (xm, qz):  # servers start from this thread: their parent-death signal
            s.start()  # follows the thread that started them
        boss_xm, boss_qz = client(xm, "boss", PASSWORD), client(qz, "boss", PASSWORD)

        # both enterprises put themselves under supervision; the nation hears of them
        for api in (boss_xm, boss_qz):
            ok(api.put("/api/v1/regulation/profile", json={"etype": "industrial"}))
        until(
            "both enterprises known to the nation",
            lambda: ok(nation.get("/api/v1/regulation"))["enterprises"] == 2,
        )

        # 自主定级 with evidence → returned with comments → resubmitted → confirmed
        sha = ok(
            boss_xm.post(f"/api/v1/regulation/evidence?uscc={XM}&name=self.png", content=PNG),
            201,
        )["sha256"]
        g1 = ok(
            boss_xm.post(
                "/api/v1/regulation/gradings",
                json={"enterprise_uscc": XM, "answers": ANSWERS, "evidence": [sha]},
            ),
            201,
        )
        assert (g1["state"], g1["proposed"]) == ("draft", 3)
        uid = g1["uid"]
        ok(boss_xm.post(f"/api/v1/regulation/gradings/{uid}/submit"))
        until(
            "the province's review queue",
            lambda: (
                ok(province.get("/api/v1/regulation/gradings?grading_state=submitted"))["total"]
                == 1
            ),
        )
        refused = province.post(f"/api/v1/regulation/gradings/{uid}/review",
                                json={"decision": "return"})  # fmt: skip
        assert refused.json()["reason"] == "regulation_comment_required"
        ok(
            province.post(
                f"/api/v1/regulation/gradings/{uid}/review",
                json={"decision": "return", "comment": "请补充联网设备清单"},
            )
        )
        until(
            "the returned grading at the enterprise",
            lambda: ok(boss_xm.get(f"/api/v1/regulation/gradings/{uid}"))["state"] == "returned",
        )
        ok(
            boss_xm.put(
                f"/api/v1/regulation/gradings/{uid}",
                json={"answers": ANSWERS, "evidence": [sha], "note": "已补充"},
            )
        )
        ok(boss_xm.post(f"/api/v1/regulation/gradings/{uid}/submit"))
        fj.kill()  # the resubmission may be on its way
        time.sleep(1.5)
        fj.start()
        province = client(fj)
        until(
            "the resubmission at the province",
            lambda: ok(province.get(f"/api/v1/regulation/gradings/{uid}"))["state"] == "submitted",
        )
        confirmed = ok(
            province.post(f"/api/v1/regulation/gradings/{uid}/review", json={"decision": "confirm"})
        )
        assert (confirmed["state"], confirmed["level"]) == ("confirmed", 3)

        def obligations_at_nation() -> bool:
            page = ok(nation.get(f"/api/v1/regulation/obligations?uscc={XM}&open=true"))
            return bool(page["total"] == 13)

        until("the obligations at the nation", obligations_at_nation)
        seen = ok(boss_xm.get(f"/api/v1/regulation/enterprises/{XM}"))
        assert (seen["enterprise"]["level"], len(seen["obligations"])) == (3, 13)

        # the nation's notice reaches both enterprises through the province
        notice = ok(
            nation.post(
                "/api/v1/regulation/notices",
                json={
                    "kind": "vulnerability",
                    "severity": "high",
                    "title": "某型PLC远程代码执行漏洞",
                    "body": "请于期限内升级固件并报告",
                    "select": {"etype": "industrial", "region": "35"},
                    "sign_within_s": 15,
                    "dispose_within_s": 60,
                },
            ),
            201,
        )
        nid = notice["uid"]
        assert notice["recipients"] == 2
        for api in (boss_xm, boss_qz):
            until(
                "the notice at an enterprise",
                lambda api=api: ok(api.get("/api/v1/regulation/notices"))["total"] == 1,
            )
        ok(boss_xm.post(f"/api/v1/regulation/notices/{nid}/recipients/{XM}/sign"))
        report_sha = ok(
            boss_xm.post(f"/api/v1/regulation/evidence?uscc={XM}&name=patch.png",
                         content=PNG + b"patched"),
            201,
        )["sha256"]  # fmt: skip
        ok(
            boss_xm.post(
                f"/api/v1/regulation/notices/{nid}/recipients/{XM}/report",
                json={"text": "已升级全部PLC固件", "evidence": [report_sha]},
            )
        )
        fj.kill()  # the report on its way up, the status reports flowing
        time.sleep(2)
        fj.start()
        province = client(fj)

        def at_nation(uscc: str) -> dict[str, Any]:
            page = ok(nation.get(f"/api/v1/regulation/recipients?notice={nid}&uscc={uscc}"))
            return dict(page["items"][0]) if page["items"] else {}

        until("the report at the nation", lambda: at_nation(XM).get("state") == "reported")
        ok(
            nation.post(
                f"/api/v1/regulation/notices/{nid}/recipients/{XM}/verify",
                json={"decision": "close", "text": "核验通过"},
            )
        )
        until(
            "the silent enterprise escalated to the nation",
            lambda: at_nation(QZ).get("escalated_to") == "cn",
        )
        until(
            "the verdict at the enterprise",
            lambda: (
                ok(boss_xm.get(f"/api/v1/regulation/recipients?notice={nid}"))["items"][0]["state"]
                == "closed"
            ),
        )
        mine = ok(boss_qz.get(f"/api/v1/regulation/recipients?notice={nid}"))["items"][0]
        until(
            "the escalation seen by the late enterprise",
            lambda: (
                ok(boss_qz.get(f"/api/v1/regulation/recipients?notice={nid}"))["items"][0][
                    "escalated_to"
                ]
                == "cn"
            ),
        )
        assert mine["state"] == "sent"

        # every outbox empty, then every count exact
        servers = {"cn": cn, "fj": fj, "xm": xm, "qz": qz}

        def drained() -> bool:
            return all(
                rows(s.data_dir, "SELECT count(*) AS n FROM fed_outbox WHERE acked = 0")[0]["n"]
                == 0
                for s in servers.values()
            )

        for s in servers.values():  # started again reporting once an hour, so the
            s.stop()  # outboxes can drain to nothing
            s.env["INDUNET_FEDERATION_STATUS_S"] = "3600"
        for s in servers.values():
            s.start()
        until("every outbox drained", drained)
        for s in servers.values():
            s.stop()

    for name, s in servers.items():
        with db(s.data_dir).connect() as conn:
            sent = dict(conn.execute(sa.select(links.c.recipient, links.c.next_seq)).all())
            acked = dict(conn.execute(sa.select(links.c.recipient, links.c.acked_seq)).all())
            assert sent == acked, (name, sent, acked)
            pending = conn.execute(
                sa.select(sa.func.count()).where(outbox.c.acked.is_(False))
            ).scalar()
            assert pending == 0
        for peer, to in sent.items():  # what each sent, each peer applied once, in order
            with db(servers[peer].data_dir).connect() as conn:
                seqs = [
                    r[0]
                    for r in conn.execute(
                        sa.select(received.c.seq)
                        .where(received.c.sender == name)
                        .order_by(received.c.seq)
                    )
                ]
                last = conn.execute(
                    sa.select(inbox.c.last_seq).where(inbox.c.sender == name)
                ).scalar()
                refused = conn.execute(
                    sa.select(received.c.outcome).where(
                        received.c.sender == name, received.c.outcome != "applied"
                    )
                ).all()
            assert seqs == list(range(1, to + 1)) and last == to, (name, peer)
            assert refused == [], (name, peer, refused)

    expect = {"cn": 2, "fj": 2, "xm": 1, "qz": 1}
    for name, n in expect.items():
        d = servers[name].data_dir
        assert rows(d, "SELECT count(*) AS n FROM reg_recipients")[0]["n"] == n, name
        assert rows(d, "SELECT count(*) AS n FROM reg_notices")[0]["n"] == 1, name
    for name in ("cn", "fj", "xm"):
        d = servers[name].data_dir
        (g_row,) = rows(d, "SELECT state, level, rev FROM reg_gradings")
        assert (g_row["state"], g_row["level"]) == ("confirmed", 3), name
        assert (
            rows(d, f"SELECT count(*) AS n FROM reg_obligations WHERE uscc = '{XM}'")[0]["n"] == 13
        ), name
        assert rows(d, "SELECT count(*) AS n FROM reg_evidence")[0]["n"] == 2, name
    assert rows(qz.data_dir, "SELECT count(*) AS n FROM reg_gradings")[0]["n"] == 0
    for name in ("cn", "fj", "qz"):  # escalated exactly once, by the province, to the nation
        (r,) = rows(servers[name].data_dir,
                    f"SELECT data, escalated_to FROM reg_recipients WHERE uscc = '{QZ}'")  # fmt: skip
        import orjson

        steps = [h["action"] for h in orjson.loads(r["data"])["history"]]
        assert steps.count("notice.escalate") == 1 and r["escalated_to"] == "cn", (name, steps)
    (x,) = rows(cn.data_dir, f"SELECT state, reported, dispose_due FROM reg_recipients "
                             f"WHERE uscc = '{XM}'")  # fmt: skip
    assert x["state"] == "closed" and x["reported"] <= x["dispose_due"]
