"""Prefix applications, their review, terms and renewal (ids.applications, ids.terms): a
verified enterprise applies, an operator approves (the prefix is allocated with a term) or
rejects with a reason; a lapsed prefix resolves but takes no writes until renewed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from tests.conftest import USCC_B

from indunet import core, ids
from indunet.core import Conflict, InvalidInput, NotFound, PermissionDenied
from indunet.ids import applications, prefixes, terms
from indunet.ids.errors import InvalidHandle, NotAuthorized, NotResponsible
from indunet.ids.tables import prefixes as prefix_table
from indunet.web import AppState

OPS = "user:ops"
URL = [{"index": 1, "type": "URL", "data": {"format": "string", "value": "https://a.example"}}]


def _apply(state: AppState, ent: core.Enterprise, prefix: str = "88.100.7") -> int:
    return applications.apply(
        state.hierarchy.front, ent, prefix, "产品追溯", actor="user:ent-admin"
    ).id


def _approve(state: AppState, app_id: int, days: int = 365) -> applications.PrefixApplication:
    return applications.review(
        state.hierarchy.nodes, app_id, approve=True, reason="", actor=OPS, term_days=days
    )


def _audit(state: AppState) -> list[str]:
    with state.engine.connect() as conn:
        return [e.action for e in core.audit.entries(conn, limit=100)]


def test_an_approved_application_allocates_the_prefix_for_one_term(
    state: AppState, enterprise: core.Enterprise
) -> None:
    app_id = _apply(state, enterprise)
    assert applications.get_application(state.engine, app_id).state == "pending"
    with pytest.raises(NotFound):  # not allocated until approved
        prefixes.allocation_of(state.engine, "88.100.7")
    done = _approve(state, app_id, days=30)
    assert done.state == "approved" and done.reviewed_by == OPS
    alloc = prefixes.allocation_of(state.engine, "88.100.7")
    assert alloc.enterprise_id == enterprise.id and alloc.expires_at is not None
    left = alloc.expires_at - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < left <= timedelta(days=30)
    assert done.expires_at == alloc.expires_at
    assert state.hierarchy.front.record("0.NA/88.100.7") is not None
    assert {"prefix.apply", "prefix.allocate", "prefix.approve"} <= set(_audit(state))
    with pytest.raises(Conflict) as again:  # reviewed once only
        _approve(state, app_id)
    assert again.value.reason == "prefix_application_state"


def test_a_rejection_needs_a_reason_and_allocates_nothing(
    state: AppState, enterprise: core.Enterprise
) -> None:
    app_id = _apply(state, enterprise)
    nodes = state.hierarchy.nodes
    with pytest.raises(InvalidInput) as bare:
        applications.review(nodes, app_id, approve=False, reason=" ", actor=OPS, term_days=1)
    assert bare.value.reason == "prefix_application_text"
    assert applications.get_application(state.engine, app_id).state == "pending"
    done = applications.review(
        nodes, app_id, approve=False, reason="用途不清楚", actor=OPS, term_days=1
    )
    assert (done.state, done.reason) == ("rejected", "用途不清楚")
    with pytest.raises(NotFound):
        prefixes.allocation_of(state.engine, "88.100.7")
    assert "prefix.reject" in _audit(state)
    # rejected: the enterprise may apply again
    assert applications.get_application(state.engine, _apply(state, enterprise)).state == "pending"


def test_only_verified_enterprises_apply(state: AppState) -> None:
    with state.engine.begin() as conn:
        ent = core.create_enterprise(conn, uscc=USCC_B, name="待审企业", actor="t")
    with pytest.raises(PermissionDenied) as refused:
        _apply(state, ent)
    assert refused.value.reason == "enterprise_unverified"
    assert applications.page_applications(state.engine)[1] == 0


def test_verification_withdrawn_before_review_refuses_the_approval(
    state: AppState, enterprise: core.Enterprise
) -> None:
    app_id = _apply(state, enterprise)
    with state.engine.begin() as conn:
        core.set_verified(conn, enterprise.uscc, verified=False, actor="t")
    with pytest.raises(PermissionDenied):
        _approve(state, app_id)
    assert applications.get_application(state.engine, app_id).state == "pending"
    with pytest.raises(NotFound):
        prefixes.allocation_of(state.engine, "88.100.7")


@pytest.mark.parametrize(
    ("prefix", "purpose", "error", "reason"),
    [
        ("88.100.7", "", InvalidInput, "prefix_application_text"),
        ("88.100.7", "x" * 501, InvalidInput, "prefix_application_text"),
        ("88.100.7", "a\x00b", InvalidInput, "prefix_application_text"),
        ("88.200.7", "ok", NotResponsible, "prefix_not_child"),
        ("88.100.7.1", "ok", NotResponsible, "prefix_not_child"),
        ("88.100.1", "ok", Conflict, "prefix_allocated"),
        ("", "ok", InvalidHandle, "prefix_empty"),
    ],
)
def test_hostile_applications_are_refused_and_write_nothing(
    state: AppState,
    enterprise: core.Enterprise,
    allocation: ids.Allocation,
    prefix: str,
    purpose: str,
    error: type[Exception],
    reason: str,
) -> None:
    with pytest.raises(error) as refused:
        applications.apply(state.hierarchy.front, enterprise, prefix, purpose, actor="t")
    assert getattr(refused.value, "reason", None) == reason
    assert applications.page_applications(state.engine)[1] == 0


def test_one_pending_application_per_prefix(state: AppState, enterprise: core.Enterprise) -> None:
    _apply(state, enterprise)
    with pytest.raises(Conflict) as twice:
        _apply(state, enterprise)
    assert twice.value.reason == "prefix_application_pending"


def test_a_lapsed_prefix_resolves_but_takes_no_writes_until_renewed(
    state: AppState, enterprise: core.Enterprise
) -> None:
    _approve(state, _apply(state, enterprise), days=30)
    front = state.hierarchy.front
    admin = ids.Principal(actor="t", prefixes=None)
    front.put("88.100.7/pump-1", URL, admin)
    with state.engine.begin() as conn:  # the term ended yesterday
        conn.execute(
            prefix_table.update()
            .where(prefix_table.c.prefix == "88.100.7")
            .values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )
    prefixes.load_revoked(state.engine, state.hierarchy.nodes.values())
    assert prefixes.allocation_of(state.engine, "88.100.7").lapsed
    assert front.record("88.100.7/pump-1") is not None  # still there, still resolvable
    for write in (
        lambda: front.put("88.100.7/pump-2", URL, admin),
        lambda: front.put("88.100.7/pump-1", URL, admin),
        lambda: front.delete("88.100.7/pump-1", admin),
        lambda: front.put("0.NA/88.100.7.5", [], admin),  # a prefix below it
    ):
        with pytest.raises(NotAuthorized) as refused:
            write()
        assert refused.value.reason == "prefix_lapsed"
        assert refused.value.status == 403
    assert front.record("88.100.7/pump-2") is None
    renewal = applications.apply_renewal(
        state.engine, enterprise, "88.100.7", "继续使用", actor="user:ent-admin"
    )
    done = _approve(state, renewal.id, days=30)
    assert done.expires_at is not None
    assert done.expires_at - datetime.now(UTC) > timedelta(days=29)  # counted from now
    assert not prefixes.allocation_of(state.engine, "88.100.7").lapsed
    front.put("88.100.7/pump-2", URL, admin)  # writable at once in this process
    assert "prefix.renew" in _audit(state)


def test_a_renewal_extends_from_the_end_of_the_term(
    state: AppState, enterprise: core.Enterprise
) -> None:
    first = _approve(state, _apply(state, enterprise), days=30).expires_at
    assert first is not None
    renewal = applications.apply_renewal(state.engine, enterprise, "88.100.7", "", actor="t")
    second = _approve(state, renewal.id, days=30).expires_at
    assert second == first + timedelta(days=30)


def test_renewals_of_what_cannot_be_renewed_are_refused(
    state: AppState, enterprise: core.Enterprise, allocation: ids.Allocation
) -> None:
    with pytest.raises(Conflict) as no_term:  # allocated directly, without a term
        applications.apply_renewal(state.engine, enterprise, "88.100.1", "", actor="t")
    assert no_term.value.reason == "prefix_no_term"
    with pytest.raises(NotFound):
        applications.apply_renewal(state.engine, enterprise, "88.100.99", "", actor="t")
    with state.engine.begin() as conn:
        other = core.create_enterprise(conn, uscc=USCC_B, name="乙", actor="t", verified=True)
    _approve(state, _apply(state, enterprise))
    with pytest.raises(NotFound):  # another enterprise's prefix looks missing
        applications.apply_renewal(state.engine, other, "88.100.7", "", actor="t")
    renewal = applications.apply_renewal(state.engine, enterprise, "88.100.7", "", actor="t")
    prefixes.revoke(state.hierarchy.nodes, "88.100.7", reason="违规", actor=OPS)
    with pytest.raises(Conflict) as revoked:
        _approve(state, renewal.id)
    assert revoked.value.reason == "prefix_revoked"
    with pytest.raises(Conflict):
        applications.apply_renewal(state.engine, enterprise, "88.100.7", "", actor="t")


def test_terms_walk_up_to_the_lapsed_prefix() -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    future = datetime.now(UTC) + timedelta(days=1)
    assert terms.lapse_of({"88.100.7": past}, "88.100.7.3.1") == ("88.100.7", past)
    assert terms.lapse_of({"88.100.7": future}, "88.100.7") is None
    assert terms.lapse_of({"88.100.7": past}, "88.100.70") is None
    assert terms.new_term_end(past, 10) > datetime.now(UTC) + timedelta(days=9)
    assert terms.new_term_end(future, 10) == future + timedelta(days=10)


def test_applications_page_search_and_filters(state: AppState, enterprise: core.Enterprise) -> None:
    for n in range(5):
        _apply(state, enterprise, f"88.100.{10 + n}")
    _approve(state, 1)
    page, total = applications.page_applications(state.engine, limit=2)
    assert total == 5 and [a.id for a in page] == [5, 4]
    assert applications.page_applications(state.engine, state="approved")[1] == 1
    found, n = applications.page_applications(state.engine, like="%100.12%")
    assert n == 1 and found[0].prefix == "88.100.12"
    assert applications.page_applications(state.engine, enterprise_id=enterprise.id + 1)[1] == 0
    with state.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(prefix_table)).scalar_one()
    assert count == 1
