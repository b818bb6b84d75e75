"""Devices online over time from the deltas the database keeps (migration d0003), against a
replay of the whole history written here: random changes in and around the window, written
in any order (repeated statuses, an ``offline`` first row, changes on bucket edges, ties),
then some rows and whole devices deleted; every enterprise and one enterprise at a time."""

from __future__ import annotations

import random
from collections.abc import Collection

import sqlalchemy as sa

from indunet import devices
from indunet.devices.lifecycle import StatusChange, record_changes
from indunet.devices.tables import status_history

HOUR = 3_600_000
T0 = 1_714_550_400_000  # a round hour
STEP = 15 * 60_000
END = T0 + 6 * HOUR


def reference(
    rows: list[tuple[int, str, int, str, float]], scope: Collection[int] | None
) -> list[list[int]]:
    """Devices whose last change (by time, then row id) before each bucket's end is online."""
    out = []
    for b in range(T0, END, STEP):
        edge = min(b + STEP, END) / 1000
        last: dict[tuple[str, int], tuple[float, int, str]] = {}
        for row_id, device, enterprise, status, at in rows:
            if at < edge and (scope is None or enterprise in scope):
                key = (device, enterprise)
                if key not in last or (at, row_id) > last[key][:2]:
                    last[key] = (at, row_id, status)
        out.append([b, sum(1 for _, _, s in last.values() if s == "online")])
    return out


def stored(engine: sa.Engine) -> list[tuple[int, str, int, str, float]]:
    c = status_history.c
    q = sa.select(c.id, c.device_id, c.enterprise_id, c.status, c.at)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]


def random_changes(rnd: random.Random, n_devices: int) -> list[StatusChange]:
    edges = [(T0 + k * STEP) / 1000 for k in range(-8, 30)]
    changes = []
    for i in range(n_devices):
        device, enterprise = f"d{i}", 1 + i % 3
        status = rnd.choice(["online", "offline"])  # some devices begin offline
        for _ in range(rnd.randint(0, 9)):
            if rnd.random() < 0.2:
                at = rnd.choice(edges)  # exactly on a bucket's edge
            else:
                at = (T0 - 2 * HOUR + rnd.random() * 10 * HOUR) / 1000
            changes.append(StatusChange(device, enterprise, status, at))
            if rnd.random() < 0.8:  # and sometimes the same status again
                status = "offline" if status == "online" else "online"
    rnd.shuffle(changes)  # written in any order
    return changes


def check(engine: sa.Engine) -> None:
    rows = stored(engine)
    for scope in (None, [1], [2, 3], []):
        got = devices.online_series(engine, scope, T0, END, STEP)
        assert got == reference(rows, scope), scope


def test_online_series_matches_a_replay_of_the_history(engine: sa.Engine) -> None:
    rnd = random.Random(9)
    for _ in range(3):
        changes = random_changes(rnd, 40)
        with engine.begin() as conn:
            for k in range(0, len(changes), 7):  # several writes, several rows each
                record_changes(conn, changes[k : k + 7])
        check(engine)
        ids = [r[0] for r in stored(engine)]
        with engine.begin() as conn:  # single rows, then whole devices, deleted
            conn.execute(status_history.delete().where(status_history.c.id.in_(ids[::5])))
            conn.execute(status_history.delete().where(status_history.c.device_id == "d7"))
        check(engine)
        with engine.begin() as conn:
            conn.execute(status_history.delete())


def test_a_device_back_online_inside_the_window_counts_again(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        record_changes(
            conn,
            [
                StatusChange("m1", 1, "online", (T0 - HOUR) / 1000),
                StatusChange("m1", 1, "offline", (T0 + HOUR) / 1000),  # on the first end
                StatusChange("m1", 1, "online", (T0 + 2 * HOUR + 1) / 1000),
                StatusChange("m2", 2, "offline", (T0 + 10) / 1000),  # never was online
            ],
        )
    got = devices.online_series(engine, [1], T0, T0 + 3 * HOUR, HOUR)
    assert got == [[T0, 1], [T0 + HOUR, 0], [T0 + 2 * HOUR, 1]]  # online until the end
    everyone = devices.online_series(engine, None, T0, T0 + 3 * HOUR, HOUR)
    assert [n for _, n in everyone] == [1, 0, 1]
