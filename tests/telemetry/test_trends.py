"""Fleet figures over time: devices online replayed from the status history and alarms per
bucket, counted by the database, scoped to the enterprises asked for."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import sqlalchemy as sa

from indunet import core, telemetry
from indunet.devices.tables import status_history
from indunet.telemetry.alarmtables import alarms

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR


def change(device: str, enterprise: int, status: str, at_ms: int) -> dict[str, object]:
    return {"device_id": device, "enterprise_id": enterprise, "status": status, "at": at_ms / 1000}


def test_online_series_replays_changes_per_bucket_and_per_enterprise(engine: sa.Engine) -> None:
    rows = [
        change("a1", 1, "online", T0 - 5 * HOUR),  # online before the window
        change("a2", 1, "online", T0 - 2 * HOUR),
        change("a2", 1, "offline", T0 - HOUR),  # offline before the window
        change("a2", 1, "online", T0 + HOUR + 10),  # back in the second bucket
        change("a1", 1, "offline", T0 + 2 * HOUR + 5),  # gone in the third
        change("b1", 2, "online", T0 + 30),  # another enterprise's
    ]
    with engine.begin() as conn:
        conn.execute(status_history.insert(), rows)
    series = telemetry.trends.online_series(engine, [1], T0, T0 + 4 * HOUR, HOUR)
    assert series == [[T0, 1], [T0 + HOUR, 2], [T0 + 2 * HOUR, 1], [T0 + 3 * HOUR, 1]]
    everyone = telemetry.trends.online_series(engine, None, T0, T0 + 4 * HOUR, HOUR)
    assert [n for _, n in everyone] == [2, 3, 2, 2]
    assert [n for _, n in telemetry.trends.online_series(engine, [], T0, T0 + HOUR, HOUR)] == [0]


def test_alarms_per_bucket_by_severity_and_top_devices(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        a = core.create_enterprise(
            conn, uscc=core.make_uscc("91350100M0001000"), name="a", actor="t"
        )

    def alarm(i: int, device: str, severity: str, at_ms: int, enterprise: int) -> dict[str, object]:
        return {
            "rule_id": i,
            "rule_name": "r",
            "enterprise_id": enterprise,
            "device_id": device,
            "severity": severity,
            "state": "closed",
            "message": "m",
            "value": {},
            "occurrences": 1,
            "raised_at": datetime.fromtimestamp(at_ms / 1000, UTC),
        }

    with engine.begin() as conn:
        conn.execute(
            alarms.insert(),
            [
                alarm(1, "p1", "critical", T0 + 10, a.id),
                alarm(2, "p1", "critical", T0 + HOUR - 1, a.id),
                alarm(3, "p2", "minor", T0 + HOUR, a.id),
                alarm(4, "p2", "minor", T0 + 3 * HOUR, a.id),  # after the window
                alarm(5, "x9", "major", T0 + 10, a.id + 1),  # another enterprise's
            ],
        )
    series = telemetry.trends.alarm_series(engine, [a.id], T0, T0 + 2 * HOUR, HOUR)
    assert series["critical"] == [[T0, 2], [T0 + HOUR, 0]]
    assert series["minor"] == [[T0, 0], [T0 + HOUR, 1]]
    assert series["major"] == [[T0, 0], [T0 + HOUR, 0]]
    assert telemetry.trends.top_devices(engine, [a.id], T0) == [["p1", 2], ["p2", 2]]
    assert telemetry.trends.top_devices(engine, None, T0, 1) == [["p1", 2]]


def test_memo_reuses_a_figure_until_it_expires() -> None:
    memo = telemetry.trends.Memo(ttl=60.0, size=2)
    calls: list[str] = []

    def compute(key: str) -> str:
        calls.append(key)
        return key.upper()

    assert memo.get("a", lambda: compute("a")) == "A"
    assert memo.get("a", lambda: compute("a")) == "A"
    memo.get("b", lambda: compute("b"))
    memo.get("c", lambda: compute("c"))  # "a" is dropped: two keys at most
    memo.get("a", lambda: compute("a"))
    assert calls == ["a", "b", "c", "a"]
    expired = telemetry.trends.Memo(ttl=-1.0)
    expired.get("k", lambda: compute("k"))
    expired.get("k", lambda: compute("k"))
    assert calls[-2:] == ["k", "k"]


def alarm_reference(
    raised: list[tuple[int, str, str, int]], scope: list[int] | None, start: int, end: int
) -> tuple[dict[str, list[list[int]]], list[list[object]]]:
    """Alarms per bucket and severity, and the top devices, counted here one alarm at a time."""
    series = {s: [[b, 0] for b in range(start, end, HOUR)] for s in SEVERITIES}
    per_device: dict[str, int] = {}
    for enterprise, device, severity, at in raised:
        if scope is not None and enterprise not in scope:
            continue
        if start <= at < end:
            series[severity][(at - start) // HOUR][1] += 1
        if at >= start:
            per_device[device] = per_device.get(device, 0) + 1
    top = sorted(per_device.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return series, [[d, n] for d, n in top]


SEVERITIES = ("critical", "major", "minor", "warning")


def test_alarm_figures_match_counting_each_alarm(engine: sa.Engine) -> None:
    rnd = random.Random(4)
    edges = [T0 + k * HOUR for k in range(-1, 8)]
    raised = [
        (
            rnd.choice([1, 2, 3]),
            f"d{rnd.randint(0, 30)}",
            rnd.choice(SEVERITIES),
            rnd.choice(edges) + rnd.choice([-1, 0, 0, 1])
            if i % 4 == 0
            else T0 - HOUR + rnd.randrange(9 * HOUR),
        )
        for i in range(600)
    ]
    with engine.begin() as conn:
        conn.execute(
            alarms.insert(),
            [
                {
                    "rule_id": i,
                    "rule_name": "r",
                    "enterprise_id": e,
                    "device_id": d,
                    "severity": s,
                    "state": "closed",
                    "message": "m",
                    "value": {},
                    "occurrences": 1,
                    "raised_at": datetime.fromtimestamp(at / 1000, UTC),
                }
                for i, (e, d, s, at) in enumerate(raised)
            ],
        )
    start, end = T0, T0 + 6 * HOUR
    for scope in (None, [2], [1, 3], []):
        series, top = alarm_reference(raised, scope, start, end)
        assert telemetry.trends.alarm_series(engine, scope, start, end, HOUR) == series
        assert telemetry.trends.top_devices(engine, scope, start) == top
