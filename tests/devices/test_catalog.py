"""The model registry: immutable versions, owners, the library, and other processes' writes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import sqlalchemy as sa

from indunet import core
from indunet.core import Conflict, NotFound, PermissionDenied
from indunet.devices import ModelInvalid, ModelRegistry, library_documents


def doc(version: str = "1.0.0", model_id: str = "acme:press", **points: Any) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/2022/wot/td/v1.1"],
        "@type": "tm:ThingModel",
        "indunet:modelId": model_id,
        "title": "Press",
        "version": {"model": version},
        "properties": points or {"force": {"type": "number", "unit": "kN", "readOnly": True}},
    }


def count_rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM dev_models")).scalar_one())


def test_add_get_export_and_the_audit_log(engine: sa.Engine):
    reg = ModelRegistry(engine)
    m = reg.add(doc(), actor="user:alice")
    assert reg.get("acme:press") == m
    assert reg.export("acme:press", "1.0.0") == doc()
    with engine.connect() as conn:
        entry = core.audit.entries(conn, limit=1)[0]
    assert (entry.actor, entry.action, entry.target) == (
        "user:alice",
        "model.create",
        "model:acme:press@1.0.0",
    )


def test_same_content_is_a_no_op_and_other_content_is_refused(engine: sa.Engine):
    reg = ModelRegistry(engine)
    reg.add(doc(), actor="t")
    reordered = dict(reversed(list(doc().items())))
    reg.add(reordered, actor="t")
    assert count_rows(engine) == 1
    changed = doc(force={"type": "number", "unit": "t", "readOnly": True})
    with pytest.raises(Conflict) as exc:
        reg.add(changed, actor="t")
    assert "acme:press@1.0.0 already exists with different content" in exc.value.message
    assert "e.g. 1.0.1" in exc.value.message
    assert reg.export("acme:press")["properties"]["force"]["unit"] == "kN"


def test_an_invalid_model_changes_nothing(engine: sa.Engine):
    reg = ModelRegistry(engine)
    bad = doc()
    bad["properties"]["force"]["minimum"] = 10
    bad["properties"]["force"]["maximum"] = 1
    with pytest.raises(ModelInvalid):
        reg.add(bad, actor="t")
    assert count_rows(engine) == 0 and reg.list() == []


def test_latest_is_by_semantic_version_not_text(engine: sa.Engine):
    reg = ModelRegistry(engine)
    for v in ("1.9.0", "1.10.0", "1.2.0"):
        reg.add(doc(v), actor="t")
    assert reg.versions("acme:press") == ["1.2.0", "1.9.0", "1.10.0"]
    assert reg.get("acme:press").version == "1.10.0"
    assert reg.get("acme:press", "1.9.0").version == "1.9.0"
    assert [m.ref for m in reg.list()] == ["acme:press@1.10.0"]
    assert len(reg.list(all_versions=True)) == 3


def test_missing_models_are_not_found(engine: sa.Engine):
    reg = ModelRegistry(engine)
    with pytest.raises(NotFound, match="no model acme:nope"):
        reg.get("acme:nope")
    reg.add(doc(), actor="t")
    with pytest.raises(NotFound, match=r"no model acme:press@2\.0\.0"):
        reg.export("acme:press", "2.0.0")


def test_owners_and_the_reserved_library_namespace(engine: sa.Engine, enterprise: core.Enterprise):
    reg = ModelRegistry(engine)
    reg.add(doc(), enterprise_id=enterprise.id, actor="t")
    with pytest.raises(PermissionDenied, match="belongs to another owner"):
        reg.add(doc("1.1.0"), actor="t")  # the platform cannot take over an enterprise's id
    reg.add(doc("1.1.0"), enterprise_id=enterprise.id, actor="t")
    assert reg.owner("acme:press") == enterprise.id
    with pytest.raises(PermissionDenied, match="reserved for the Indunet library"):
        reg.add(doc(model_id="indunet:press"), enterprise_id=enterprise.id, actor="t")


def test_install_library_is_idempotent(engine: sa.Engine):
    reg = ModelRegistry(engine)
    assert len(reg.install_library("system")) == 5
    assert reg.install_library("system") == []
    assert count_rows(engine) == 5
    assert reg.export("indunet:excavator") == next(
        d for d in library_documents() if d["indunet:modelId"] == "indunet:excavator"
    )


def test_another_process_sees_new_versions(engine: sa.Engine):
    here, there = ModelRegistry(engine), ModelRegistry(engine)
    there.add(doc(), actor="t")
    assert here.get("acme:press").version == "1.0.0"
    there.add(doc("1.1.0"), actor="t")
    assert here.versions("acme:press") == ["1.0.0", "1.1.0"]
    changed = copy.deepcopy(doc("1.1.0"))
    changed["title"] = "Other"
    with pytest.raises(Conflict):
        here.add(changed, actor="t")
