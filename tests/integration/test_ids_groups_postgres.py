"""Admin groups on PostgreSQL: the group records are read on the write's connection, without
locks, in the same scenario as on SQLite (tests/ids/test_groups.py)."""

from __future__ import annotations

import pytest
from tests.ids.test_groups import add_identities, check_group_writes
from tests.integration.test_postgres import pg_state, pg_url  # noqa: F401  (fixtures)

from indunet.web import AppState

pytestmark = pytest.mark.integration


def test_a_group_member_writes_and_an_outsider_is_refused_on_postgresql(
    pg_state: AppState,  # noqa: F811
) -> None:
    node = pg_state.hierarchy.front
    assert node.engine.dialect.name == "postgresql"
    add_identities(node)
    check_group_writes(node)
