"""The alert store keeps alerts durably, bounds them, publishes the severe ones, promotes
those at the promotion level into cases, and merges a new alert into an open case of the
same enterprise by each kind of shared observable — never into a closed case or another
enterprise's."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from tests.security.cases.helpers import T0, Clock, alert

from indunet import core
from indunet.core import Event, InMemoryEventBus, User
from indunet.security import SecurityEvent
from indunet.security.cases import AlertFilter, AlertStore, CaseFilter, find_alerts, get_alert
from indunet.security.cases.alertstore import MAX_EVIDENCE_BYTES
from indunet.security.casetables import alerts


def _event(i: int, text: str = "") -> SecurityEvent:
    return SecurityEvent(
        id=f"ev-{i}", ts=T0.timestamp() + i, source="zeek", kind="net.connection", message=text
    )


async def test_alerts_are_kept_with_everything_an_analyst_needs(
    store: AlertStore, enterprise: core.Enterprise, users: dict[str, User]
) -> None:
    a = alert(enterprise.id, level=5, events=(_event(1), _event(2)), count=9, group="src")
    await store.raise_alerts([a])
    await store.raise_alerts([a])  # the same alert again: kept once
    got = get_alert(store.engine, users["eu"], a.id)
    assert (got.rule, got.rule_version, got.level, got.count, got.group) == (
        "ics.write_from_new_host",
        1,
        5,
        9,
        "src",
    )
    assert got.techniques == ("T0855",) and got.assets == (7,)
    assert (got.src_ip, got.dst_ip) == ("10.0.0.9", "10.0.0.20")
    assert [e["id"] for e in got.events] == ["ev-1", "ev-2"]
    assert got.ts == T0 and got.case_id is None  # level 5 is under the promotion level
    assert store.stats.written == 1 and store.stats.duplicates == 1
    with pytest.raises(core.NotFound):
        get_alert(store.engine, users["ob"], a.id)


async def test_evidence_events_are_bounded(
    store: AlertStore, enterprise: core.Enterprise, users: dict[str, User]
) -> None:
    events = tuple(_event(i, "x" * 1900) for i in range(200))
    a = alert(enterprise.id, level=3, events=events)
    await store.raise_alerts([a])
    got = get_alert(store.engine, users["pa"], a.id)
    assert 0 < len(got.events) < 200
    assert len(str(got.events)) < MAX_EVIDENCE_BYTES * 1.2
    assert got.detail["events_left_out"] == 200 - len(got.events)


async def test_the_writer_task_batches_and_returns_after_the_commit(
    store: AlertStore, enterprise: core.Enterprise
) -> None:
    await store.start()
    try:
        batches = [[alert(enterprise.id, level=2, src_ip=f"10.1.0.{i}")] for i in range(30)]
        await asyncio.gather(*(store.raise_alerts(b) for b in batches))
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar() == 30
    finally:
        await store.stop()


async def test_retention_and_the_row_cap_prune_free_alerts_only(
    store: AlertStore, enterprise: core.Enterprise, clock: Clock
) -> None:
    old = [alert(enterprise.id, at=T0 - timedelta(days=100), level=3) for _ in range(3)]
    kept_by_case = alert(enterprise.id, at=T0 - timedelta(days=100), level=14)
    await store.raise_alerts([*old, kept_by_case])
    assert store.stats.pruned == 3  # the first write prunes; then at most once a minute
    new = [alert(enterprise.id, at=T0 + timedelta(minutes=i), level=3) for i in range(5)]
    await store.raise_alerts(new)
    store.max_rows = 4
    assert store.prune() == 2  # two over the cap, oldest first
    with store.engine.connect() as conn:
        left = set(conn.execute(sa.select(alerts.c.id)).scalars())
    assert left == {kept_by_case.id, new[2].id, new[3].id, new[4].id}


async def test_severe_alerts_are_published_on_the_bus(
    engine: sa.Engine, enterprise: core.Enterprise, clock: Clock
) -> None:
    bus = InMemoryEventBus()
    seen: list[Event] = []

    async def got(e: Event) -> None:
        seen.append(e)

    bus.subscribe("security.alert", got)
    store = AlertStore(engine, bus, clock=clock, publish_level=10)
    await store.raise_alerts([alert(enterprise.id, level=9), alert(enterprise.id, level=13)])
    assert len(seen) == 1
    assert seen[0].enterprise_id == enterprise.id and seen[0].data["level"] == 13
    assert seen[0].data["case_id"] is not None


async def test_an_alert_at_the_promotion_level_makes_a_case(
    store: AlertStore, enterprise: core.Enterprise, users: dict[str, User]
) -> None:
    await store.raise_alerts([alert(enterprise.id, level=11), alert(enterprise.id, level=13)])
    found, total = store.cases.find(users["eu"], CaseFilter())
    assert total == 1
    case = found[0]
    assert (case.severity, case.status, case.alerts, case.tlp) == ("critical", "new", 1, "AMBER")
    assert store.cases.history(users["eu"], case.id)[0].what == "created"


@pytest.mark.parametrize(
    ("shared", "expect"),
    [
        ({"assets": (7,), "src_ip": "10.9.9.9", "techniques": ("T0801",)}, "asset 7"),
        ({"assets": (99,), "src_ip": "10.0.0.9", "techniques": ("T0801",)}, "ip 10.0.0.9"),
        ({"assets": (99,), "src_ip": "10.9.9.9", "techniques": ("T0855",)}, "technique T0855"),
    ],
)
async def test_a_new_alert_merges_by_each_observable(
    store: AlertStore,
    enterprise: core.Enterprise,
    users: dict[str, User],
    shared: dict[str, object],
    expect: str,
) -> None:
    first = alert(enterprise.id)
    second = alert(enterprise.id, at=T0 + timedelta(hours=3), **shared)
    await store.raise_alerts([first])
    await store.raise_alerts([second])
    found, total = store.cases.find(users["pa"], CaseFilter())
    assert total == 1 and found[0].alerts == 2
    merged = [h for h in store.cases.history(users["pa"], found[0].id) if h.what == "merged"]
    assert len(merged) == 1
    assert merged[0].new == second.id and merged[0].detail["shares"] == [expect]
    assert get_alert(store.engine, users["pa"], second.id).case_id == found[0].id


async def test_no_merge_without_a_shared_observable_or_past_the_window(
    store: AlertStore, enterprise: core.Enterprise, users: dict[str, User]
) -> None:
    await store.raise_alerts([alert(enterprise.id)])
    unrelated = alert(enterprise.id, assets=(8,), src_ip="10.7.7.7", techniques=("T0801",))
    late = alert(enterprise.id, at=T0 + timedelta(hours=25))
    await store.raise_alerts([unrelated])
    await store.raise_alerts([late])
    assert store.cases.find(users["pa"], CaseFilter())[1] == 3


async def test_no_merge_into_a_closed_case_or_another_enterprises(
    store: AlertStore,
    enterprise: core.Enterprise,
    other: core.Enterprise,
    users: dict[str, User],
) -> None:
    await store.raise_alerts([alert(enterprise.id)])
    (case,), _ = store.cases.find(users["pa"], CaseFilter())
    await store.raise_alerts([alert(other.id, at=T0 + timedelta(hours=1))])
    assert store.cases.find(users["pa"], CaseFilter(enterprise_id=other.id))[1] == 1
    store.cases.set_status(users["eu"], case.id, "resolved", "false_positive")
    await store.raise_alerts([alert(enterprise.id, at=T0 + timedelta(hours=2))])
    assert store.cases.find(users["pa"], CaseFilter(enterprise_id=enterprise.id))[1] == 2
    assert store.cases.get(users["pa"], case.id).alerts == 1


async def test_promote_by_hand_once(
    store: AlertStore, enterprise: core.Enterprise, users: dict[str, User]
) -> None:
    a = alert(enterprise.id, level=4)
    await store.raise_alerts([a])
    with pytest.raises(core.NotFound):
        store.cases.promote(users["ob"], a.id)
    with pytest.raises(core.PermissionDenied):
        store.cases.promote(users["reg"], a.id)
    case_id = store.cases.promote(users["eu"], a.id)
    assert store.cases.get(users["eu"], case_id).severity == "low"
    with pytest.raises(core.Conflict) as err:
        store.cases.promote(users["eu"], a.id)
    assert err.value.reason == "alert_in_case"


async def test_alert_search_filters_and_pages(
    store: AlertStore, enterprise: core.Enterprise, other: core.Enterprise, users: dict[str, User]
) -> None:
    batch = [
        alert(enterprise.id, at=T0 + timedelta(minutes=i), level=i % 10, src_ip=f"10.2.0.{i}")
        for i in range(25)
    ]
    batch.append(alert(other.id, level=3, rule="other.rule", techniques=("T0801",)))
    await store.raise_alerts(batch)
    page, total = find_alerts(store.engine, users["eu"], AlertFilter(), limit=10)
    assert total == 25 and len(page) == 10 and page[0].ts > page[-1].ts
    assert find_alerts(store.engine, users["eu"], AlertFilter(min_level=8))[1] == 4
    assert find_alerts(store.engine, users["eu"], AlertFilter(ip="10.2.0.3"))[1] == 1
    assert find_alerts(store.engine, users["eu"], AlertFilter(technique="t0801"))[1] == 0
    assert find_alerts(store.engine, users["pa"], AlertFilter(technique="T0801"))[1] == 1
    since = AlertFilter(since=T0 + timedelta(minutes=20))
    assert find_alerts(store.engine, users["eu"], since)[1] == 5
    with pytest.raises(core.InvalidInput):
        find_alerts(store.engine, users["eu"], AlertFilter(ip="not-an-ip"))
