"""Enterprise self-registration: one transaction, every refusal writes nothing, and the
applicant is held at login until the enterprise is approved."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from indunet import core
from indunet.core import registration
from indunet.core.registration import Application, Applications
from indunet.core.throttle import Throttle
from indunet.core.users import EnterpriseNotApproved

USCC = "91350100M000100Y43"
OTHER_USCC = core.make_uscc("91110108MA01ABCD")
PASSWORD = "Kettle-Spout-42"
FORM = Application(
    name="厦门自助注册机床有限公司",
    uscc=USCC,
    region="福建",
    contact="王工",
    contact_phone="+86 592-1234567",
    contact_email="wang@example.cn",
    username="xm-admin",
    password=PASSWORD,
)
TABLES = ("core_enterprises", "core_users", "core_audit_log")


def _apply(engine: sa.Engine, form: Application = FORM, **kw: object) -> registration.Applied:
    with engine.begin() as conn:
        return registration.apply(conn, form, source="203.0.113.9", **kw)  # type: ignore[arg-type]


def _counts(rows: Callable[[str], int]) -> tuple[int, ...]:
    return tuple(rows(t) for t in TABLES)


def test_apply_creates_a_pending_enterprise_and_its_admin_audited(
    core_engine: sa.Engine,
) -> None:
    applied = _apply(core_engine)
    ent = applied.enterprise
    assert (ent.review_state, ent.verified, ent.self_registered) == ("pending", False, True)
    assert (ent.contact, ent.contact_phone, ent.contact_email) == (
        "王工",
        "+86 592-1234567",
        "wang@example.cn",
    )
    assert applied.admin.role == core.Role.ENTERPRISE_ADMIN
    assert applied.admin.enterprise_id == ent.id
    with core_engine.connect() as conn:
        actions = {e.action for e in core.audit.entries(conn, actor="source:203.0.113.9")}
    assert {"enterprise.apply", "enterprise.create", "user.create"} <= actions


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"uscc": "91350100M000100Y44"}, "uscc_checksum"),
        ({"uscc": "short"}, "uscc_length"),
        ({"password": "password123"}, "password_common"),
        ({"password": "short"}, "password_length"),
        ({"username": "no spaces allowed"}, "username_invalid"),
        ({"name": "   "}, "enterprise_name_length"),
        ({"name": "x" * 201}, "enterprise_name_length"),
        ({"region": "r" * 101}, "enterprise_field_length"),
        ({"contact": ""}, "application_field_length"),
        ({"contact": "p" * 101}, "application_field_length"),
        ({"contact_phone": "", "contact_email": ""}, "contact_needed"),
        ({"contact_phone": "call me maybe"}, "contact_phone_invalid"),
        ({"contact_phone": "1" * 33}, "application_field_length"),
        ({"contact_email": "not-an-address"}, "contact_email_invalid"),
        ({"contact_email": "a@" + "b" * 250 + ".cn"}, "application_field_length"),
    ],
)
def test_bad_input_is_refused_with_its_reason_and_writes_nothing(
    core_engine: sa.Engine, rows: Callable[[str], int], change: dict[str, str], reason: str
) -> None:
    before = _counts(rows)
    with pytest.raises(core.InvalidInput) as err:
        _apply(core_engine, dataclasses.replace(FORM, **change))
    assert err.value.reason == reason
    assert _counts(rows) == before


def test_a_taken_uscc_or_username_is_409_and_writes_nothing(
    core_engine: sa.Engine, rows: Callable[[str], int]
) -> None:
    _apply(core_engine)
    before = _counts(rows)
    with pytest.raises(core.Conflict) as err:
        _apply(core_engine, dataclasses.replace(FORM, username="someone-else"))
    assert err.value.reason == "enterprise_exists"
    with pytest.raises(core.Conflict) as err:
        _apply(core_engine, dataclasses.replace(FORM, uscc=OTHER_USCC))
    assert err.value.reason == "user_exists"
    assert _counts(rows) == before


def test_the_pending_cap_refuses_with_503_and_writes_nothing(
    core_engine: sa.Engine, rows: Callable[[str], int]
) -> None:
    _apply(core_engine)
    before = _counts(rows)
    with pytest.raises(registration.ApplicationsFull) as err:
        _apply(core_engine, dataclasses.replace(FORM, uscc=OTHER_USCC, username="b"), max_pending=1)
    assert (err.value.status, err.value.reason) == (503, "applications_full")
    assert _counts(rows) == before
    with core_engine.begin() as conn:  # a reviewed application frees its place
        core.enterprises.review(conn, 1, approve=True, reason="", actor="user:admin")
    _apply(core_engine, dataclasses.replace(FORM, uscc=OTHER_USCC, username="b"), max_pending=1)


def _login(engine: sa.Engine, username: str = "xm-admin") -> core.User:
    with engine.connect() as conn:
        return core.authenticate(conn, username, PASSWORD)


def test_the_applicant_logs_in_only_once_approved_and_hears_why_if_rejected(
    core_engine: sa.Engine,
) -> None:
    ent = _apply(core_engine).enterprise
    with pytest.raises(EnterpriseNotApproved) as err:
        _login(core_engine)
    assert (err.value.status, err.value.reason) == (403, "enterprise_pending_review")
    with core_engine.connect() as conn, pytest.raises(core.AuthenticationFailed):
        core.authenticate(conn, "xm-admin", "Wrong-password-1")  # a wrong one says only that
    with core_engine.begin() as conn:
        core.enterprises.review(conn, ent.id, approve=True, reason="", actor="user:admin")
    user = _login(core_engine)
    with core_engine.begin() as conn:
        token = core.issue_token(conn, user, name="api")
    with core_engine.begin() as conn:
        core.enterprises.review(
            conn, ent.id, approve=False, reason="营业执照已过期", actor="user:admin"
        )
    with pytest.raises(EnterpriseNotApproved) as err:
        _login(core_engine)
    assert err.value.reason == "enterprise_rejected"
    assert err.value.params == {"reason": "营业执照已过期"}
    with core_engine.connect() as conn, pytest.raises(core.AuthenticationFailed) as failed:
        core.user_for_token(conn, token)  # tokens issued before stop working too
    assert failed.value.reason == "enterprise_rejected"


def test_an_enterprise_added_by_an_admin_is_not_held(core_engine: sa.Engine) -> None:
    with core_engine.begin() as conn:
        ent = core.create_enterprise(conn, uscc=USCC, name="Acme", actor="user:admin")
        core.create_user(
            conn,
            username="acme",
            password=PASSWORD,
            role=core.Role.ENTERPRISE_ADMIN,
            actor="user:admin",
            enterprise_id=ent.id,
        )
    assert ent.review_state == "pending"
    assert _login(core_engine, "acme").username == "acme"


def test_one_source_gets_five_applications_an_hour(core_engine: sa.Engine) -> None:
    now = [1000.0]
    door = Applications(
        throttle=Throttle(
            {"apply": core.throttle.Backoff(free=4, base=3600, cap=3600, forget_after=3600)},
            clock=lambda: now[0],
        )
    )
    for i in range(5):
        form = dataclasses.replace(
            FORM, uscc=core.make_uscc(f"913501000000{i:04d}"), username=f"u{i}"
        )
        door.apply(core_engine, form, source="198.51.100.1")
    with pytest.raises(registration.TooManyApplications) as err:
        door.apply(core_engine, dataclasses.replace(FORM, username="u9"), source="198.51.100.1")
    assert err.value.status == 429
    assert err.value.headers()["Retry-After"] == "3600"
    door.apply(  # another address is not held
        core_engine,
        dataclasses.replace(FORM, uscc=core.make_uscc("9135010000000098"), username="u8"),
        source="198.51.100.2",
    )
    now[0] += 3601
    door.apply(
        core_engine,
        dataclasses.replace(FORM, uscc=core.make_uscc("9135010000000099"), username="u7"),
        source="198.51.100.1",
    )


def test_malformed_applications_do_not_use_up_the_share(core_engine: sa.Engine) -> None:
    door = Applications()
    for _ in range(10):
        with pytest.raises(core.InvalidInput):
            door.apply(core_engine, dataclasses.replace(FORM, uscc="bad"), source="192.0.2.1")
    assert door.apply(core_engine, FORM, source="192.0.2.1").enterprise.uscc == USCC


def test_parallel_applications_from_one_address_get_five_in_all(core_engine: sa.Engine) -> None:
    door = Applications()

    def one(i: int) -> str:
        form = dataclasses.replace(
            FORM, uscc=core.make_uscc(f"913501000001{i:04d}"), username=f"p{i}"
        )
        try:
            door.apply(core_engine, form, source="198.51.100.7")
        except registration.TooManyApplications:
            return "429"
        return "201"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = sorted(pool.map(one, range(8)))
    assert answers == ["201"] * 5 + ["429"] * 3
