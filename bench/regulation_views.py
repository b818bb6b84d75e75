"""The province view over 10,000 enterprises: the regulation API's overview, statistics and
lists, over HTTP from a running ``indunet up``, against a trivial route of the same server.

    python bench/regulation_views.py [--quick] [--enterprises N] [--rounds R] [--per-round K]
                                     [--no-pg] [--database-url postgresql://…]

Issue 13's target: "A province view over 10,000 enterprises (grading state, notices, overdue
counts) answers in under 300 ms" - here: each view's p50 under 300 ms (p95 quoted too).

The data directory is a province instance's (``indunet federation init --level province``,
named ``fj``) with a regulator (``indunet user add --role regulator``), on embedded SQLite and,
when PostgreSQL answers (``--database-url``, else ``INDUNET_BENCH_DATABASE_URL``, else
``postgresql://postgres@127.0.0.1:5432/test``), in a fresh schema dropped at the end. Into its
regulation tables go, in bulk (Core ``executemany``, no service: this measures reading), rows
with the values ``regulation.grading`` and ``regulation.notices`` write:

* 10,000 enterprises (``--quick``: 1,000) of Fujian (35xxxx, by city, weighted by size), each
  living at its own enterprise instance reached through its city's instance; 85 % industrial,
  8 % platform, 7 % identifier enterprises; GB/T 4754 industries by type;
* one grading each (scored by ``rules.score`` from random answers under the shipped edition):
  about 62 % confirmed, 14 % submitted, 14 % draft, 6 % returned, and 4 % confirmed earlier
  and re-grading now (their level stays, their state is the new grading's);
* the obligations a confirmed level sets (``rules.duties``: 5, 9 or 13), completed mostly in
  time, some overdue; completed evaluations and risk assessments with their next one, some
  evaluations with rectification items;
* 50 notices over 180 days, each to a selection (a city, an industry, a type and level, the
  whole province, a list), deadlines by severity, recipients in every state by the notice's
  age, late ones escalated by their city to ``fj`` (nine in ten).

No deadline falls within an hour before to two hours after the data were made, so the
answers are fixed for the run: the overview and the two lists' totals are checked against
counts made here from the same rows.

Then the server is started on that data (``indunet up``) and, logged in as the regulator
(an API token), each route is asked ``--per-round`` times in each of ``--rounds`` rounds, the
routes in a rotated order each round (after three warm-up requests each), one request at a
time over one keep-alive connection; the figure is the time until the whole answer arrived
on loopback. Baseline, in the same rounds: ``GET /api/v1/regulation/editions`` (the rule
editions known here: authentication, one transaction, two small reads), so the ratio shows
what the views add to an authenticated API request. Every round records the CPU other
processes took (``CpuMeter``) and the load average.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    CpuMeter,
    free_port,
    indunet_command,
    latency_summary,
    machine,
    median,
    percentile,
    save,
    say,
    start_server,
    verdict,
    workspace,
)
from indunet.core import Settings, make_uscc
from indunet.core.uscc import ALPHABET
from indunet.regulation import rules
from indunet.regulation.tables import (
    enterprises,
    gradings,
    notices,
    obligations,
    recipients,
)
from indunet.web import open_database

TARGET_P50_MS = 300.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
PROVINCE = "fj"
REGULATOR = "regulator"
PASSWORD = "Bench-Regulator-Pass-9"
DAY = 86_400.0
MONTH = 30 * DAY
HOUR = 3_600.0
QUIET_BEFORE, QUIET_AFTER = 1 * HOUR, 2 * HOUR
"""No deadline falls this long before or after the data were made (answers fixed for a run)."""
CHUNK = 5_000

#: city (GB/T 2260, 4 digits) -> instance, name, weight (enterprises), counties
CITIES: dict[str, tuple[str, str, int, tuple[str, ...]]] = {
    "3501": ("fj-fz", "福州", 20, ("350102", "350103", "350104", "350111", "350121", "350181")),
    "3502": ("fj-xm", "厦门", 18, ("350203", "350205", "350206", "350211", "350212", "350213")),
    "3503": ("fj-pt", "莆田", 7, ("350302", "350303", "350304", "350305", "350322")),
    "3504": ("fj-sm", "三明", 5, ("350404", "350405", "350421", "350481")),
    "3505": ("fj-qz", "泉州", 24, ("350502", "350503", "350504", "350505", "350521", "350582")),
    "3506": ("fj-zz", "漳州", 10, ("350602", "350603", "350622", "350681")),
    "3507": ("fj-np", "南平", 4, ("350702", "350703", "350781")),
    "3508": ("fj-ly", "龙岩", 6, ("350802", "350803", "350821")),
    "3509": ("fj-nd", "宁德", 6, ("350902", "350921", "350981", "350982")),
}
#: GB/T 4754-2017 classes by enterprise type, with a word for the name
INDUSTRIES: dict[str, tuple[tuple[str, str], ...]] = {
    "industrial": (
        ("C1371", "食品"),
        ("C1711", "纺织"),
        ("C1810", "服饰"),
        ("C1951", "鞋业"),
        ("C2614", "化工"),
        ("C2922", "塑料"),
        ("C3041", "陶瓷"),
        ("C3311", "金属制品"),
        ("C3421", "机床"),
        ("C3511", "矿山机械"),
        ("C3825", "电气"),
        ("C3849", "储能"),
        ("C3971", "电子元件"),
        ("C3984", "通信设备"),
        ("D4411", "电力"),
    ),
    "platform": (("I6432", "工业互联网平台"), ("I6513", "工业软件"), ("I6531", "信息系统集成")),
    "identifier": (("I6450", "标识解析"), ("I6540", "数据服务")),
}
STATE_MIX = (("confirmed", 62), ("submitted", 14), ("draft", 14), ("returned", 6), ("again", 4))
KINDS_MIX = (("vulnerability", 6), ("risk", 3), ("incident", 1))
SEVERITY_MIX = (("critical", 1), ("high", 3), ("medium", 4), ("low", 2))

ROUTES: tuple[tuple[str, str], ...] = (
    ("baseline: rule editions", "/api/v1/regulation/editions"),
    ("overview", "/api/v1/regulation"),
    ("stats by city", "/api/v1/regulation/stats?by=region&digits=4"),
    ("enterprises submitted", "/api/v1/regulation/enterprises?grading_state=submitted&limit=50"),
    ("recipients overdue", "/api/v1/regulation/recipients?overdue=true&limit=50"),
)
BASELINE = ROUTES[0][0]


# -- the data --------------------------------------------------------------------------------
def _pick(rnd: random.Random, mix: tuple[tuple[str, int], ...]) -> str:
    return rnd.choices([k for k, _ in mix], [w for _, w in mix])[0]


def _quiet(t: float, now: float) -> float:
    """``t`` moved out of the quiet window around ``now`` (3 hours later)."""
    return t + 3 * HOUR if now - QUIET_BEFORE <= t <= now + QUIET_AFTER else t


REGULATOR_ACTS = (
    "grading.confirm",
    "grading.return",
    "notice.issue",
    "notice.close",
    "notice.return",
)


def _history(*steps: tuple[float, str, str | None]) -> list[dict[str, Any]]:
    """A record's history as ``grading._save`` appends it (who, when, what, the state before)."""
    return [
        {
            "at": at,
            "by": "user:regulator" if action in REGULATOR_ACTS else "user:ent-admin",
            "action": action,
            "state": state,
        }
        for at, action, state in steps
    ]


def _json(data: dict[str, Any]) -> str:
    return orjson.dumps(data).decode()


def _uscc(region: str, i: int) -> str:
    body = "".join(ALPHABET[(i // 31**k) % 31] for k in reversed(range(6)))
    return str(make_uscc(f"91{region}MA{body}"))


def _answers(rnd: random.Random, table: dict[str, Any], etype: str) -> dict[str, str]:
    out = {}
    for f in table["types"][etype]["factors"]:
        opts = [o["value"] for o in f["options"]]
        # the lower options are the common ones: a key-sector, large, deeply networked,
        # critical enterprise is rare
        weights = [1 + 2 * k for k in range(len(opts))]
        if f["id"] == "cii":
            weights = [1, 30]
        out[f["id"]] = rnd.choices(opts, weights)[0]
    return out


class Province:
    """Every row of the province's regulation tables, and the counts the views must answer."""

    def __init__(self, n: int, now: float, seed: int = 13) -> None:
        self.now = now
        self.rnd = random.Random(seed)
        self.table = rules.shipped()
        self.enterprises: list[dict[str, Any]] = []
        self.gradings: list[dict[str, Any]] = []
        self.obligations: list[dict[str, Any]] = []
        self.notices: list[dict[str, Any]] = []
        self.recipients: list[dict[str, Any]] = []
        self._make_enterprises(n)
        self._make_notices(50)

    # enterprises, gradings, obligations
    def _make_enterprises(self, n: int) -> None:
        rnd, now = self.rnd, self.now
        cities = list(CITIES)
        weights = [CITIES[c][2] for c in cities]
        for i in range(n):
            city = rnd.choices(cities, weights)[0]
            instance_of_city, city_name, _, counties = CITIES[city]
            region = rnd.choice(counties)
            etype = _pick(rnd, (("industrial", 85), ("platform", 8), ("identifier", 7)))
            industry, word = rnd.choice(INDUSTRIES[etype])
            uscc = _uscc(region, i)
            suffix = "股份有限公司" if rnd.random() < 0.2 else "有限公司"
            ent = {
                "uscc": uscc,
                "name": f"{city_name}{word}{i:05d}{suffix}",
                "etype": etype,
                "region": region,
                "industry": industry,
                "tenant_id": None,
                "instance": f"ent-{uscc.lower()}",
                "via": instance_of_city,
                "level": 0,
                "grading_state": "none",
                "updated": now - rnd.uniform(1, 900) * DAY,
            }
            self.enterprises.append(ent)
            self._grade(ent)

    def _grading(
        self, ent: dict[str, Any], state: str, start: float, *, level: int | None = None
    ) -> dict[str, Any]:
        rnd = self.rnd
        answers = _answers(rnd, self.table, ent["etype"])
        scoring = rules.score(self.table, ent["etype"], answers)
        steps: list[tuple[float, str, str | None]] = [(start, "grading.draft", None)]
        data: dict[str, Any] = {
            "answers": answers,
            "evidence": [],
            "scoring": scoring.as_dict(),
            "note": "",
            "comments": [],
        }
        at = start
        if state != "draft":
            at += rnd.uniform(1, 20) * DAY
            data["submitted"] = at
            steps.append((at, "grading.submit", "draft"))
        final = 0
        if state in ("returned", "confirmed"):
            at += rnd.uniform(2, 25) * DAY
            if state == "returned":
                text = "请补充资产台账与网络拓扑证明材料"
                data["comments"] = [
                    {"at": at, "by": "user:regulator", "decision": "return", "text": text}
                ]
                steps.append((at, "grading.return", "submitted"))
            else:
                final = scoring.level if level is None else level
                if rnd.random() < 0.05 and level is None:
                    final = max(1, min(3, scoring.level + rnd.choice((-1, 1))))
                text = "" if final == scoring.level else "核查后调整级别"
                data["comments"] = [
                    {"at": at, "by": "user:regulator", "decision": "confirm", "text": text}
                ]
                data["decided"], data["decided_by"] = at, "user:regulator"
                steps.append((at, "grading.confirm", "submitted"))
        at = min(at, self.now - 600)
        data["history"] = _history(*steps)
        row = {
            "uid": uuid.UUID(int=rnd.getrandbits(128)).hex,
            "uscc": ent["uscc"],
            "rev": len(steps),
            "state": state,
            "edition": self.table["edition"],
            "data": _json(data),
            "proposed": scoring.level,
            "level": final,
            "updated": at,
        }
        self.gradings.append(row)
        return row

    def _grade(self, ent: dict[str, Any]) -> None:
        rnd, now = self.rnd, self.now
        state = _pick(rnd, STATE_MIX)
        if state in ("confirmed", "again"):
            g = self._grading(ent, "confirmed", now - rnd.uniform(60, 1100) * DAY)
            ent["level"], ent["grading_state"] = g["level"], "confirmed"
            self._oblige(ent, g)
            if state == "again":  # a new self-assessment after the confirmed one
                later = rnd.choice(("draft", "submitted", "submitted"))
                g2 = self._grading(ent, later, g["updated"] + rnd.uniform(1, 30) * DAY)
                g2["updated"] = max(g2["updated"], g["updated"] + 1)
                ent["grading_state"] = later
        else:
            back = {"submitted": 30, "draft": 60, "returned": 90}[state]
            self._grading(ent, state, now - rnd.uniform(40, 40 + back) * DAY)
            ent["grading_state"] = state

    def _obligation(
        self, ent: dict[str, Any], source: str, kind: str, item: str, set_at: float, due: float,
        data: dict[str, Any],
    ) -> None:  # fmt: skip
        """One obligation; completed (mostly in time) or open; a completed evaluation or risk
        assessment brings the next one (and an evaluation maybe rectification items)."""
        rnd, now = self.rnd, self.now
        due = _quiet(due, now)
        if due < now:
            done = due - rnd.uniform(0, 0.7) * (due - set_at) if rnd.random() < 0.88 else None
            if done is not None and rnd.random() < 0.1:
                done = min(now - HOUR, due + rnd.uniform(1, 30) * DAY)  # completed late
        else:
            done = set_at + rnd.uniform(0, now - set_at) if rnd.random() < 0.35 else None
        steps = [(set_at, "obligation.set", None)]
        findings: list[str] = []
        if done is not None:
            steps.append((done, "obligation.complete", None))
            data = {**data, "note": "已按要求完成", "evidence": []}
            if kind == "evaluation" and rnd.random() < 0.5:
                findings = [f"评测发现问题 {k + 1}：弱口令与未隔离的工控网段" for k in range(1, 4)]
                findings = findings[: rnd.randint(1, 3)]
                data["findings"] = findings
        uid = uuid.UUID(int=rnd.getrandbits(128)).hex
        self.obligations.append(
            {
                "uid": uid,
                "uscc": ent["uscc"],
                "rev": len(steps),
                "kind": kind,
                "item": item,
                "source": source,
                "due": due,
                "done": done,
                "data": _json({**data, "history": _history(*steps)}),
                "updated": done if done is not None else set_at,
            }
        )
        if done is None:
            return
        for text in findings:
            title = {"zh-CN": text, "en": text}
            self._obligation(ent, uid, "rectification", text, done, done + 90 * DAY,
                             {"title": title})  # fmt: skip
        months = data.get("months")
        if kind in ("evaluation", "risk") and isinstance(months, int):
            nxt = {"months": months, "level": data.get("level")}
            self._obligation(ent, source, kind, item, done, done + months * MONTH, nxt)

    def _oblige(self, ent: dict[str, Any], g: dict[str, Any]) -> None:
        """What ``grading._oblige`` sets for the confirmed level, as time went on since."""
        decided, level = g["updated"], g["level"]
        duty = rules.duties(self.table, level)
        for it in duty["protection"]:
            due = decided + duty["protection_days"] * DAY
            data = {"title": it["title"], "level": level}
            self._obligation(ent, g["uid"], "protection", it["id"], decided, due, data)
        for kind, item, key in (
            ("evaluation", "evaluation", "evaluation_months"),
            ("risk", "risk_assessment", "risk_assessment_months"),
        ):
            months = duty[key]
            if months:
                data = {"months": months, "level": level}
                self._obligation(ent, g["uid"], kind, item, decided, decided + months * MONTH, data)

    # notices and recipients
    def _selection(self) -> tuple[str, list[dict[str, Any]]]:
        rnd, ents = self.rnd, self.enterprises
        how = _pick(
            rnd, (("city", 30), ("industry", 20), ("type_level", 20), ("all", 4), ("list", 26))
        )
        if how == "city":
            city = rnd.choice(list(CITIES))
            return f"region {city}", [e for e in ents if e["region"].startswith(city)]
        if how == "industry":
            code = rnd.choice(INDUSTRIES["industrial"])[0][:3]
            return f"industry {code}", [e for e in ents if e["industry"].startswith(code)]
        if how == "type_level":
            etype, level = rnd.choice(rules.TYPES), rnd.choice(rules.LEVELS)
            chosen = [e for e in ents if e["etype"] == etype and e["level"] == level]
            return f"{etype} level {level}", chosen
        if how == "all":
            return "province", ents[:10_000]
        return "list", rnd.sample(ents, min(len(ents), rnd.randint(20, 300)))

    def _make_notices(self, count: int) -> None:
        rnd, now = self.rnd, self.now
        for k in range(count):
            kind, severity = _pick(rnd, KINDS_MIX), _pick(rnd, SEVERITY_MIX)
            sign_s, dispose_s = _deadlines(severity)
            issued = now - rnd.uniform(0.2, 180) * DAY
            while any(
                now - QUIET_BEFORE <= issued + s <= now + QUIET_AFTER for s in (sign_s, dispose_s)
            ):
                issued -= 3 * HOUR
            what, chosen = self._selection()
            if not chosen:
                continue
            uid = uuid.UUID(int=rnd.getrandbits(128)).hex
            issuer = PROVINCE if rnd.random() < 0.85 else "cn"
            self.notices.append(
                {
                    "uid": uid,
                    "issuer": issuer,
                    "issued_by": "user:regulator" if issuer == PROVINCE else "user:cn-regulator",
                    "kind": kind,
                    "severity": severity,
                    "title": f"关于{what}{kind}风险的通报（闽工信网安〔2024〕{k + 1}号）",
                    "body": "请于规定期限内签收并完成处置，报送处置情况及佐证材料。",
                    "issued": issued,
                }
            )
            for ent in sorted(chosen, key=lambda e: e["uscc"]):
                self.recipients.append(self._recipient(uid, ent["uscc"], issued, sign_s, dispose_s))

    def _recipient(
        self, notice: str, uscc: str, issued: float, sign_s: float, dispose_s: float
    ) -> dict[str, Any]:
        rnd, now = self.rnd, self.now
        sign_due, dispose_due = issued + sign_s, issued + dispose_s
        mix: tuple[tuple[str, int], ...]
        if dispose_due < now:
            mix = (("closed", 75), ("reported", 8), ("returned", 3), ("signed", 6), ("sent", 8))
        elif sign_due < now:
            mix = (("closed", 15), ("reported", 25), ("returned", 5), ("signed", 40), ("sent", 15))
        else:
            mix = (("reported", 10), ("signed", 30), ("sent", 60))
        state = _pick(rnd, mix)
        room = now - issued

        def after(t: float, most: float) -> float:
            return min(now - 60, t + rnd.uniform(0.02, 1.0) * max(60.0, min(most, now - t)))

        signed = reported = closed = None
        steps: list[tuple[float, str, str | None]] = [(issued, "notice.issue", None)]
        data: dict[str, Any] = {}
        if state != "sent":
            signed = after(issued, sign_s * 1.3 if rnd.random() < 0.9 else room)
            steps.append((signed, "notice.sign", "sent"))
        if state in ("reported", "returned", "closed"):
            assert signed is not None
            reported = after(signed, dispose_s * 0.9 if rnd.random() < 0.85 else room)
            data["reports"] = [
                {"at": reported, "by": "user:ent-user", "text": "已完成补丁升级", "evidence": []}
            ]
            steps.append((reported, "notice.report", "signed"))
        if state in ("returned", "closed"):
            assert reported is not None
            verdict_at = after(reported, 5 * DAY)
            decision = "close" if state == "closed" else "return"
            data["verdicts"] = [
                {
                    "at": verdict_at,
                    "by": "user:regulator",
                    "decision": decision,
                    "text": "" if decision == "close" else "佐证材料不完整",
                }
            ]
            steps.append((verdict_at, f"notice.{decision}", "reported"))
            if state == "closed":
                closed = verdict_at
        # late for a deadline at some point: the city's instance escalated it (once) to fj
        escalated = None
        if (signed or now) > sign_due:
            escalated, data["escalation"] = sign_due + rnd.uniform(1, 60) * 60, "sign"
        elif (reported or now) > dispose_due:
            escalated, data["escalation"] = dispose_due + rnd.uniform(1, 60) * 60, "dispose"
        if escalated is not None and (escalated >= now or rnd.random() < 0.1):
            escalated = None  # its city's instance has not yet (offline, or not yet run)
            data.pop("escalation", None)
        if escalated is not None:
            steps.append((escalated, "notice.escalate", None))
        steps.sort(key=lambda s: s[0])
        data["history"] = _history(*steps)
        return {
            "notice": notice,
            "uscc": uscc,
            "rev": len(steps),
            "state": state,
            "sign_due": sign_due,
            "dispose_due": dispose_due,
            "signed": signed,
            "reported": reported,
            "closed": closed,
            "escalated": escalated,
            "escalated_to": None if escalated is None else PROVINCE,
            "data": _json(data),
            "updated": max(s[0] for s in steps),
        }

    # what the views must answer
    def expected(self) -> dict[str, Any]:
        now = self.now
        by_level: dict[tuple[str, int], int] = {}
        states: dict[str, int] = {}
        for e in self.enterprises:
            by_level[(e["etype"], e["level"])] = by_level.get((e["etype"], e["level"]), 0) + 1
            states[e["grading_state"]] = states.get(e["grading_state"], 0) + 1
        late_ob = [o for o in self.obligations if o["done"] is None and o["due"] < now]
        open_states = ("sent", "signed", "returned")
        city = {e["uscc"]: e["region"][:4] for e in self.enterprises}
        by_city: dict[str, int] = {}
        for r in self.recipients:
            by_city[city[r["uscc"]]] = by_city.get(city[r["uscc"]], 0) + 1

        def late(r: dict[str, Any]) -> bool:
            return (r["state"] == "sent" and r["sign_due"] < now) or (
                r["state"] in open_states and r["dispose_due"] < now
            )

        return {
            "enterprises": len(self.enterprises),
            "by_type_level": [
                {"etype": t, "level": lv, "count": c} for (t, lv), c in sorted(by_level.items())
            ],
            "grading_states": states,
            "overdue_obligations": len(late_ob),
            "enterprises_with_overdue": len({o["uscc"] for o in late_ob}),
            "open_notices": sum(r["state"] in open_states for r in self.recipients),
            "overdue_notices": sum(late(r) for r in self.recipients),
            "escalated_open": sum(
                r["escalated"] is not None and r["state"] != "closed" for r in self.recipients
            ),
            "submitted": states.get("submitted", 0),
            "by_city": sorted(by_city.items()),
        }

    def load(self, engine: sa.Engine) -> dict[str, int]:
        """Insert every row (Core ``executemany``, ``CHUNK`` rows a statement)."""
        counts = {}
        with engine.begin() as conn:
            for table, rows in (
                (enterprises, self.enterprises),
                (gradings, self.gradings),
                (obligations, self.obligations),
                (notices, self.notices),
                (recipients, self.recipients),
            ):
                for k in range(0, len(rows), CHUNK):
                    conn.execute(table.insert(), rows[k : k + CHUNK])
                counts[table.name] = len(rows)
        if engine.dialect.name == "postgresql":  # what autovacuum does after a bulk load
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in (enterprises, gradings, obligations, notices, recipients):
                    conn.exec_driver_sql(f"VACUUM ANALYZE {table.name}")
        return counts


def _deadlines(severity: str) -> tuple[float, float]:
    from indunet.regulation.notices import DEADLINES

    sign_s, dispose_s = DEADLINES[severity]
    return float(sign_s), float(dispose_s)


# -- the instance ----------------------------------------------------------------------------
@contextmanager
def pg_schema(url: str) -> Iterator[str]:
    """A fresh schema of the PostgreSQL database ``url`` (its URL), dropped afterwards."""
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = f"bench_regulation_{os.getpid()}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def pg_reachable(url: str) -> str | None:
    """None when PostgreSQL answers at ``url``, else why not."""
    try:
        engine = sa.create_engine(
            url.replace("postgresql://", "postgresql+psycopg://", 1),
            connect_args={"connect_timeout": 3},
        )
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"


def prepare(ws: Path, province: Province, database_url: str | None) -> tuple[Path, dict[str, str]]:
    """A province instance's data directory with the regulator and the regulation rows."""
    data = ws / ("pg" if database_url else "sqlite")
    data.mkdir()
    env = {"INDUNET_DATABASE_URL": database_url} if database_url else {}
    full_env = {**os.environ, **env}

    def cli(*args: str) -> None:
        subprocess.run(
            indunet_command(*args, "--data-dir", str(data)),
            check=True,
            capture_output=True,
            cwd=ws,
            env=full_env,
            timeout=300,
        )

    cli("federation", "init", "--name", PROVINCE, "--level", "province",
        "--url", "http://127.0.0.1:8000", "--title", "福建省工业互联网安全监管平台")  # fmt: skip
    pw = ws / "regulator.pw"
    pw.write_text(PASSWORD + "\n")
    pw.chmod(0o600)
    cli("user", "add", REGULATOR, "--role", "regulator", "--password-file", str(pw))
    engine = open_database(Settings(data_dir=data, database_url=database_url))
    try:
        t0 = time.perf_counter()
        counts = province.load(engine)
        say(f"  inserted {counts} in {time.perf_counter() - t0:.1f} s")
    finally:
        engine.dispose()
    return data, env


# -- measuring -------------------------------------------------------------------------------
def check(api: httpx.Client, want: dict[str, Any]) -> list[str]:
    """What the server answers that differs from the counts made from the rows."""
    problems = []
    got = api.get("/api/v1/regulation").json()
    for key, value in want.items():
        if key in got and got[key] != value:
            problems.append(f"overview {key}: {got[key]!r} != {value!r}")
    subm = api.get(ROUTES[3][1]).json()
    if subm["total"] != want["submitted"] or len(subm["items"]) != min(50, want["submitted"]):
        problems.append(f"enterprises submitted: {subm['total']} != {want['submitted']}")
    late = api.get(ROUTES[4][1]).json()
    if late["total"] != want["overdue_notices"] or not all(r["overdue"] for r in late["items"]):
        problems.append(f"recipients overdue: {late['total']} != {want['overdue_notices']}")
    rows = api.get(ROUTES[2][1]).json()["rows"]
    if [(r["key"], r["issued"]) for r in rows] != want["by_city"]:
        problems.append(f"stats by city: {[(r['key'], r['issued']) for r in rows]}")
    return problems


def measure(url: str, token: str, rounds: int, per_round: int, pid: int) -> dict[str, Any]:
    """Interleaved rounds over ``ROUTES``; every sample in ms, per route and round."""
    api = httpx.Client(base_url=url, timeout=60.0, headers={"Authorization": f"Bearer {token}"})
    meter = CpuMeter(pids=[pid], names=["postgres"])
    samples: dict[str, list[list[float]]] = {name: [] for name, _ in ROUTES}
    sizes: dict[str, int] = {}
    for name, path in ROUTES:
        for _ in range(3):
            resp = api.get(path)
            assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
        sizes[name] = len(resp.content)
    loads = []
    for r in range(rounds):
        order = list(ROUTES[r % len(ROUTES) :] + ROUTES[: r % len(ROUTES)])
        if r % 2:
            order.reverse()
        meter.quiet(limit=0.3, patience=5.0)
        meter.start()
        this = {name: [] for name, _ in ROUTES}  # type: dict[str, list[float]]
        for name, path in order:
            for _ in range(per_round):
                t0 = time.perf_counter()
                resp = api.get(path)
                this[name].append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200, (path, resp.status_code)
        foreign = round(meter.foreign_cores(), 3)
        loads.append({"round": r + 1, "foreign_cores": foreign, "load_1m": os.getloadavg()[0]})
        for name in this:
            samples[name].append(this[name])
        base = median(this[BASELINE])
        say(
            f"    round {r + 1}: "
            + ", ".join(f"{n.split(':')[0]} {median(ms):.1f}" for n, ms in this.items())
            + f" ms (p50; baseline {base:.1f}); other processes {foreign:.2f} cores"
        )
    api.close()
    out: dict[str, Any] = {"rounds": loads, "bytes": sizes, "routes": {}}
    for name, path in ROUTES:
        every = sorted(x for rnd in samples[name] for x in rnd)
        s: dict[str, Any] = {**latency_summary(every)}
        s["p95_ms"] = percentile(every, 0.95)
        s["path"] = path
        s["round_p50_ms"] = [median(x) for x in samples[name]]
        s["samples_ms"] = [[round(x, 2) for x in rnd] for rnd in samples[name]]
        out["routes"][name] = s
    base = out["routes"][BASELINE]
    for s in out["routes"].values():
        s["ratio_p50"] = s["p50_ms"] / base["p50_ms"]
        s["ratio_round_median"] = median(
            [a / b for a, b in zip(s["round_p50_ms"], base["round_p50_ms"], strict=True)]
        )
    return out


def run_one(
    ws: Path, province: Province, database_url: str | None, rounds: int, per_round: int
) -> dict[str, Any]:
    label = "postgresql" if database_url else "sqlite"
    say(f"{label}: preparing the province instance")
    data, env = prepare(ws, province, database_url)
    port = free_port()
    env |= {"INDUNET_MQTT_PORT": str(free_port())}
    cmd = indunet_command("up", "--port", str(port), "--data-dir", str(data))
    server = start_server(f"up-{label}", cmd, port, ws, env=env, timeout=180)
    try:
        resp = httpx.post(
            server.url + "/api/v1/auth/token",
            json={"username": REGULATOR, "password": PASSWORD},
            timeout=30,
        )
        resp.raise_for_status()
        token = resp.json()["token"]
        api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
        problems = check(api, province.expected())
        api.close()
        for p in problems:
            say(f"  MISMATCH {p}")
        say(f"  answers checked against the rows: {'ok' if not problems else 'DIFFERENT'}")
        result = measure(server.url, token, rounds, per_round, server.proc.pid)
    finally:
        server.stop()
    result["answers_match"] = not problems
    result["problems"] = problems
    return result


def report(label: str, res: dict[str, Any]) -> bool:
    ok = bool(res["answers_match"])
    say(f"\n{label}: {'route':26} {'p50 ms':>8} {'p95 ms':>8} {'ratio p50':>10}  target p50 < "
        f"{TARGET_P50_MS:.0f} ms")  # fmt: skip
    for name, s in res["routes"].items():
        good = name == BASELINE or s["p50_ms"] < TARGET_P50_MS
        ok &= good
        mark = "" if name == BASELINE else verdict(good)
        say(f"{'':{len(label) + 2}}{name:26} {s['p50_ms']:8.1f} {s['p95_ms']:8.1f} "
            f"{s['ratio_p50']:10.1f}  {mark}")  # fmt: skip
    foreign = [r["foreign_cores"] for r in res["rounds"]]
    say(f"{'':{len(label) + 2}}other processes: median {median(foreign):.2f} cores, "
        f"max {max(foreign):.2f}; load average (1 min) {res['rounds'][-1]['load_1m']:.2f}")  # fmt: skip
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 enterprises")
    parser.add_argument("--enterprises", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=6)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument(
        "--database-url", default=os.environ.get("INDUNET_BENCH_DATABASE_URL", DEFAULT_PG)
    )
    args = parser.parse_args()
    n = args.enterprises or (1_000 if args.quick else 10_000)
    say(f"machine: {machine()}")
    t0 = time.perf_counter()
    province = Province(n, time.time())
    want = province.expected()
    say(
        f"a province of {n:,} enterprises: {len(province.gradings):,} gradings, "
        f"{len(province.obligations):,} obligations ({want['overdue_obligations']:,} overdue), "
        f"{len(province.notices)} notices to {len(province.recipients):,} recipients "
        f"({want['overdue_notices']:,} overdue, {want['escalated_open']:,} escalated and open); "
        f"made in {time.perf_counter() - t0:.1f} s"
    )
    result: dict[str, Any] = {
        "enterprises": n,
        "rows": {
            "gradings": len(province.gradings),
            "obligations": len(province.obligations),
            "notices": len(province.notices),
            "recipients": len(province.recipients),
        },
        "expected": want,
        "target_p50_ms": TARGET_P50_MS,
        "baseline": f"{ROUTES[0][1]} on the same server, same rounds",
    }
    ok = True
    with workspace("regulation") as ws:
        result["sqlite"] = run_one(ws, province, None, args.rounds, args.per_round)
        ok &= report("sqlite", result["sqlite"])
        why = "--no-pg" if args.no_pg else pg_reachable(args.database_url)
        if why is None:
            with pg_schema(args.database_url) as url:
                result["postgresql"] = run_one(ws, province, url, args.rounds, args.per_round)
            ok &= report("postgresql", result["postgresql"])
        else:
            say(f"\npostgresql: skipped ({why})")
            result["postgresql"] = {"skipped": why}
    result["load_1m"] = os.getloadavg()[0]
    path = save("regulation_views", result)
    say(f"saved {path}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
