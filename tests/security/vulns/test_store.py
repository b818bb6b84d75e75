"""Advisories stored and matched in the database: states, dismissal across re-matching, isolation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from tests.security.vulns.samples import CSAF, real
from tests.telemetry.fleet import audit_actions, make_user, other_enterprise

from indunet import core
from indunet.core import InvalidInput, NotFound, PermissionDenied
from indunet.security import AssetFacts, Vulnerabilities


class Inventory:
    """A stand-in for the asset inventory: a dict of assets and the lister matching calls."""

    def __init__(self) -> None:
        self.assets: dict[int, AssetFacts] = {}

    def __call__(self, ids: Sequence[int] | None) -> list[AssetFacts]:
        if ids is None:
            return list(self.assets.values())
        return [self.assets[i] for i in ids if i in self.assets]


@pytest.fixture
def world(engine: sa.Engine, enterprise: core.Enterprise, tmp_path: Path):  # type: ignore[no-untyped-def]
    other = other_enterprise(engine)
    inventory = Inventory()
    inventory.assets[1] = AssetFacts(1, enterprise.id, "西门子", "SIMATIC CP 443-1 RNA", "V1.5.17")
    inventory.assets[2] = AssetFacts(2, other.id, "Siemens AG", "LOGO! 8 BM", "8.3")
    inventory.assets[3] = AssetFacts(3, enterprise.id, "三菱电机", "Q12DCCPU-V", "1.0")
    vulns = Vulnerabilities(engine, CSAF, inventory)
    admin = make_user(engine, "root", core.Role.PLATFORM_ADMIN)
    mine = make_user(engine, "boss", core.Role.ENTERPRISE_ADMIN, enterprise.id)
    theirs = make_user(engine, "them", core.Role.ENTERPRISE_ADMIN, other.id)
    reader = make_user(engine, "reader", core.Role.ENTERPRISE_USER, enterprise.id)
    return vulns, inventory, admin, mine, theirs, reader, enterprise, other


def test_sync_stores_and_matches_then_is_incremental(world) -> None:  # type: ignore[no-untyped-def]
    vulns, _, admin, mine, theirs, *_ = world
    report = vulns.sync(admin)
    assert (report.read, report.stored, report.failed) == (14, 14, [])
    assert report.matches is not None and report.matches.inserted >= 3
    again = vulns.sync(admin)
    assert (again.read, again.stored) == (0, 0)
    items, total = vulns.advisories(q="icsa-22-132")
    assert total == 1 and items[0]["tracking_id"] == "ICSA-22-132-11"
    own, _n = vulns.matches(mine)
    assert {m["asset_id"] for m in own} == {1, 3}
    states = {(m["asset_id"], m["cve"]): m["state"] for m in own}
    assert states[(1, "CVE-2022-27640")] == "confirmed"
    assert {s for (a, _), s in states.items() if a == 3} == {"needs_review"}
    their, _ = vulns.matches(theirs)
    assert {m["asset_id"] for m in their} == {2}
    with pytest.raises(NotFound):
        vulns.match(theirs, own[0]["id"])
    with pytest.raises(NotFound):
        vulns.matches(theirs, enterprise_id=own[0]["enterprise_id"])


def test_dismissal_survives_rematch_and_is_audited(world, engine: sa.Engine) -> None:  # type: ignore[no-untyped-def]
    vulns, inventory, admin, mine, theirs, reader, *_ = world
    vulns.sync(admin)
    [m] = [m for m in vulns.matches(mine, asset_id=1)[0] if m["cve"] == "CVE-2022-27640"]
    with pytest.raises(InvalidInput):
        vulns.set_state(mine, m["id"], "dismissed", "  ")
    with pytest.raises(PermissionDenied):
        vulns.set_state(reader, m["id"], "dismissed", "not reachable")
    with pytest.raises(NotFound):
        vulns.set_state(theirs, m["id"], "dismissed", "mine now")
    with pytest.raises(InvalidInput):
        vulns.set_state(mine, m["id"], "gone", "x")
    done = vulns.set_state(mine, m["id"], "dismissed", "cell is air-gapped")
    assert (done["state"], done["reason"], done["decided_by"]) == (
        "dismissed",
        "cell is air-gapped",
        "boss",
    )
    assert "security.vuln_match_state" in audit_actions(engine)
    # the asset changes (still affected) and the advisory is re-imported: the dismissal stays
    vulns.matching.rematch_assets([1])
    inventory.assets[1] = AssetFacts(
        1, m["enterprise_id"], "Siemens", "SIMATIC CP 443-1 RNA", "V1.5.16"
    )
    vulns.matching.rematch_assets([1])
    vulns.matching.rematch_advisories([m["advisory_id"]])
    after = vulns.match(mine, m["id"])
    assert after["state"] == "dismissed" and after["why"]["version"]["asset"] == "V1.5.16"
    # firmware updated past the fix: the undecided matches go, the decided one is kept
    inventory.assets[1] = AssetFacts(
        1, m["enterprise_id"], "Siemens", "SIMATIC CP 443-1 RNA", "V1.5.18"
    )
    result = vulns.matching.rematch_assets([1])
    assert result.kept >= 1
    assert vulns.match(mine, m["id"])["state"] == "dismissed"


def test_summary_by_severity(world) -> None:  # type: ignore[no-untyped-def]
    vulns, _, admin, mine, *_ = world
    vulns.sync(admin)
    rows = {r["severity"]: r for r in vulns.summary(mine)}
    assert rows["high"]["assets"] >= 1 and rows["critical"]["assets"] >= 1
    assert list(rows) == ["critical", "high", "medium", "low", "none"]


def test_only_platform_admins_import(world) -> None:  # type: ignore[no-untyped-def]
    vulns, _, admin, mine, *_ = world
    data = (CSAF / "2022/icsa-22-132-11.json").read_bytes()
    with pytest.raises(PermissionDenied):
        vulns.import_bytes(mine, "x.json", data)
    report = vulns.import_bytes(admin, "x.json", data)
    assert report.stored == 1
    assert vulns.import_bytes(admin, "x.json", data).unchanged == 1


def test_a_restricted_advisory_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    vulns, _, admin, *_ = world
    doc = real("2022/icsa-22-132-11")
    doc["document"]["distribution"]["tlp"]["label"] = "AMBER"
    with pytest.raises(InvalidInput) as caught:
        vulns.import_bytes(admin, "amber.json", orjson.dumps(doc))
    assert caught.value.reason == "vuln_tlp_refused"
    assert vulns.advisories()[1] == 0


def test_a_bad_upload_names_the_json_path(world) -> None:  # type: ignore[no-untyped-def]
    vulns, _, admin, *_ = world
    doc = real("2022/icsa-22-132-11")
    doc["document"]["category"] = 7
    with pytest.raises(InvalidInput) as caught:
        vulns.import_bytes(admin, "bad.json", orjson.dumps(doc))
    assert caught.value.reason == "vuln_bad_document"
    assert "$.document.category" in caught.value.params["problems"]
    assert vulns.advisories()[1] == 0


def test_sync_without_a_directory(engine: sa.Engine) -> None:
    vulns = Vulnerabilities(engine, None)
    with pytest.raises(InvalidInput) as caught:
        vulns.sync(make_user(engine, "root", core.Role.PLATFORM_ADMIN))
    assert caught.value.reason == "vuln_no_directory"
