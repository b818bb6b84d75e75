"""Enterprise names on console pages are read for the rows shown and a bounded chooser, never
for every enterprise (a platform with 100,000 enterprises read them all on each device page)."""

from __future__ import annotations

import pytest

from indunet import core
from indunet.core import Role
from indunet.web import AppState
from indunet.web.console import fleet


def test_names_are_those_asked_for_plus_a_bounded_chooser(
    state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    with state.engine.begin() as conn:
        made = [
            core.create_enterprise(
                conn, uscc=core.make_uscc(f"9135020{i}MA3ABCDE"), name=name, actor="t"
            )
            for i, name in enumerate(["丙企业", "甲企业", "乙企业"])
        ]
        admin = core.create_user(
            conn, username="root2", password="a-long-password", role=Role.PLATFORM_ADMIN, actor="t"
        )
        member = core.create_user(
            conn,
            username="member",
            password="a-long-password",
            role=Role.ENTERPRISE_USER,
            actor="t",
            enterprise_id=made[0].id,
        )
    monkeypatch.setattr(fleet, "CHOICES_MAX", 1)
    by_name = sorted(made, key=lambda e: e.name)
    assert fleet.enterprise_names(state, admin) == {by_name[0].id: by_name[0].name}
    asked = fleet.enterprise_names(state, admin, [made[1].id, None, 99_999])
    assert asked == {by_name[0].id: by_name[0].name, made[1].id: made[1].name}
    # An enterprise user is told its own enterprise's name only, whatever a page asks for.
    assert fleet.enterprise_names(state, member, [made[1].id, made[2].id]) == {
        made[0].id: made[0].name
    }
    with state.engine.connect() as conn:
        assert core.enterprises.regions(conn) == []
