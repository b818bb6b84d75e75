"""Self-registration on a real PostgreSQL: migration cr0001, the login hold, and two processes
applying with the same username at the same moment (the loser gets 409, nothing half-written)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from indunet import core
from indunet.core import registration
from indunet.core.users import EnterpriseNotApproved

pytestmark = pytest.mark.integration
PASSWORD = "Kettle-Spout-42"
FORM = registration.Application(
    name="厦门自助注册机床有限公司",
    uscc=core.make_uscc("91350100MA3PGAP1"),
    contact="王工",
    contact_email="wang@example.cn",
    username="pg-applicant",
    password=PASSWORD,
)


@pytest.fixture
def engine(pg_schema_url: str) -> Iterator[sa.Engine]:
    eng = core.make_engine(core.Settings(database_url=pg_schema_url))
    core.migrate(eng, [])
    yield eng
    eng.dispose()


def test_pending_applicant_is_held_until_approved(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ent = registration.apply(conn, FORM, source="127.0.0.1").enterprise
    with engine.connect() as conn, pytest.raises(EnterpriseNotApproved) as err:
        core.authenticate(conn, FORM.username, PASSWORD)
    assert err.value.reason == "enterprise_pending_review"
    with engine.begin() as conn:
        core.enterprises.review(conn, ent.id, approve=True, reason="", actor="user:admin")
    with engine.connect() as conn:
        assert core.authenticate(conn, FORM.username, PASSWORD).enterprise_id == ent.id


def test_a_race_on_the_same_username_leaves_one_whole_application(engine: sa.Engine) -> None:
    second = dataclasses.replace(FORM, uscc=core.make_uscc("91350100MA3PGAP2"))
    outcome: list[BaseException | None] = []

    def late() -> None:
        try:
            with engine.begin() as conn:
                registration.apply(conn, second, source="127.0.0.2")
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    with engine.begin() as conn:
        registration.apply(conn, FORM, source="127.0.0.1")
        racer = threading.Thread(target=late)
        racer.start()  # it saw no such user yet and blocks on the unique index
        racer.join(timeout=1.0)
        assert racer.is_alive()
    racer.join(timeout=10.0)
    assert len(outcome) == 1 and isinstance(outcome[0], core.Conflict), outcome
    assert outcome[0].reason == "application_conflict"
    with engine.connect() as conn:
        names = [e.name for e in core.list_enterprises(conn)]
        assert conn.execute(sa.text("SELECT count(*) FROM core_users")).scalar_one() == 1
    assert names == [FORM.name]
