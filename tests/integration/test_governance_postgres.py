"""Prefix applications, terms and review documents on a real PostgreSQL: migrations ip0001 and
cd0001, the review's row lock, a licence stored as bytea and read back byte for byte, two
reviewers approving the same application at once (one allocation, one 409)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import USCC_A
from tests.core.test_documents import PDF

from indunet import core, ids
from indunet.core import Conflict, documents
from indunet.ids import applications, prefixes
from indunet.ids.errors import NotAuthorized
from indunet.ids.tables import prefixes as prefix_table
from indunet.web import AppState, build_state, open_database

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_state(pg_schema_url: str, tmp_path: Path) -> Iterator[AppState]:
    settings = core.Settings(data_dir=tmp_path / "data", database_url=pg_schema_url)
    engine = open_database(settings)
    yield build_state(settings, engine=engine)
    engine.dispose()


def test_review_race_term_and_licence_on_postgresql(pg_state: AppState) -> None:
    with pg_state.engine.begin() as conn:
        ent = core.create_enterprise(conn, uscc=USCC_A, name="甲", actor="t", verified=True)
        documents.store(conn, ent.id, PDF, actor="t")
    with pg_state.engine.connect() as conn:
        assert documents.content(conn, ent.id)[1] == PDF
    app = applications.apply(pg_state.hierarchy.front, ent, "88.100.7", "追溯", actor="t")
    outcomes: list[str] = []

    def approve() -> None:
        try:
            applications.review(
                pg_state.hierarchy.nodes,
                app.id,
                approve=True,
                reason="",
                actor="ops",
                term_days=30,
            )
            outcomes.append("approved")
        except Conflict as exc:
            outcomes.append(str(exc.reason))

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["approved", "prefix_application_state"]
    alloc = prefixes.allocation_of(pg_state.engine, "88.100.7")
    assert alloc.expires_at is not None and not alloc.lapsed
    with pg_state.engine.begin() as conn:
        conn.execute(prefix_table.update().values(expires_at=datetime.now(UTC) - timedelta(days=1)))
    prefixes.load_revoked(pg_state.engine, pg_state.hierarchy.nodes.values())
    value = [{"index": 1, "type": "URL", "data": "https://a.example"}]
    with pytest.raises(NotAuthorized):
        pg_state.hierarchy.front.put("88.100.7/x", value, ids.Principal(actor="t", prefixes=None))
    renewal = applications.apply_renewal(pg_state.engine, ent, "88.100.7", "", actor="t")
    applications.review(
        pg_state.hierarchy.nodes, renewal.id, approve=True, reason="", actor="ops", term_days=30
    )
    pg_state.hierarchy.front.put("88.100.7/x", value, ids.Principal(actor="t", prefixes=None))
