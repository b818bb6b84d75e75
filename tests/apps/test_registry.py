"""The registry: a version is installed only when every test vector passes in the sandbox,
once (immutable); calls' inputs and parameters are checked against the manifest; usage is
metered; an enterprise pins a version or follows the latest."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from indunet.apps import registry, tables
from indunet.apps.sandbox import Pool
from indunet.core.errors import Conflict, InvalidInput, NotFound

SCALE: dict[str, Any] = {
    "id": "acme.scale",
    "version": "1.0.0",
    "kind": "python",
    "owner": "platform",
    "licence": "MIT",
    "title": {"zh-CN": "比例换算", "en": "Scale"},
    "description": {"zh-CN": "乘以系数", "en": "Multiply by a factor"},
    "entry": "tests.apps.hostile_apps:scale",
    "inputs": [{"name": "x", "type": "series", "unit": "kW"}],
    "outputs": [{"name": "y", "type": "series", "unit": "kW"}],
    "parameters": [{"name": "k", "type": "number", "default": 1, "min": 0, "max": 10}],
    "applies_to": {"points": ["power"]},
    "tests": [
        {"inputs": {"x": [1, 2]}, "parameters": {"k": 2}, "outputs": {"y": [2, 4]}},
        {"inputs": {"x": [0.1]}, "outputs": {"y": [0.1]}, "tolerance": 1e-12},
    ],
}


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    p = Pool(size=1)
    yield p
    p.close()


@pytest.fixture
def engine() -> sa.Engine:
    e = sa.create_engine("sqlite://")
    tables.metadata.create_all(e)
    return e


def count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(tables.packages)).scalar_one()
        )


def test_install_once_then_versions_are_immutable(engine: sa.Engine, pool: Pool) -> None:
    m = registry.install(engine, pool, SCALE, "file", "user:root")
    assert (m.id, m.version) == ("acme.scale", "1.0.0")
    with pytest.raises(Conflict) as again:
        registry.install(engine, pool, {**SCALE, "description": {"zh-CN": "改", "en": "x"}},
                         "file", "user:root")  # fmt: skip
    assert again.value.reason == "apps_version_exists"
    registry.install(engine, pool, {**SCALE, "version": "1.10.0"}, "file", "user:root")
    registry.install(engine, pool, {**SCALE, "version": "1.9.3"}, "file", "user:root")
    with engine.begin() as conn:
        assert registry.get(conn, "acme.scale").version == "1.10.0"  # by number, not text
        assert registry.versions(conn, "acme.scale") == ["1.0.0", "1.9.3", "1.10.0"]
        registry.subscribe(conn, 7, "acme.scale", "1.0.0")
        assert registry.version_for(conn, 7, "acme.scale") == "1.0.0"
        assert registry.version_for(conn, 8, "acme.scale") is None
        with pytest.raises(NotFound):
            registry.subscribe(conn, 7, "acme.scale", "2.0.0")
        assert [a["id"] for a in registry.catalogue(conn, "比例")] == ["acme.scale"]


@pytest.mark.parametrize(
    ("tests", "words"),
    [
        ([{"inputs": {"x": [1]}, "outputs": {"y": [5]}}], "y is [1], expected [5]"),
        ([{"inputs": {"x": [1]}, "outputs": {"z": 1}}], "no output z"),
        ([{"inputs": {"x": [1]}, "parameters": {"k": 99}, "outputs": {"y": [99]}}], "maximum"),
        ([{"inputs": {}, "outputs": {"y": []}}], "inputs are exactly"),
    ],
)
def test_a_failing_test_vector_stores_nothing(
    engine: sa.Engine, pool: Pool, tests: list[dict[str, Any]], words: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        registry.install(engine, pool, {**SCALE, "tests": tests}, "file", "user:root")
    assert words in refused.value.message, refused.value.message
    assert count(engine) == 0


def test_an_app_that_fails_its_tests_in_the_sandbox_is_refused(
    engine: sa.Engine, pool: Pool
) -> None:
    for entry, words in (("raises", "raised: ValueError"), ("loops", "timeout")):
        raw = copy.deepcopy(SCALE)
        raw["entry"] = f"tests.apps.hostile_apps:{entry}"
        with pytest.raises(InvalidInput) as refused:
            registry.install(engine, pool, raw, "file", "user:root")
        assert refused.value.reason == "apps_test_failed" and words in refused.value.message
    assert count(engine) == 0


def test_calls_inputs_and_parameters_are_checked(engine: sa.Engine, pool: Pool) -> None:
    m = registry.install(engine, pool, SCALE, "file", "user:root")
    assert registry.parameters_of(m, {}) == {"k": 1}
    for given, reason in (({"k": -1}, "apps_parameter"), ({"q": 1}, "apps_parameter")):
        with pytest.raises(InvalidInput) as e:
            registry.parameters_of(m, given)
        assert e.value.reason == reason
    for given in ({"x": "1,2"}, {"x": [[1]]}, {"x": [1], "extra": 2}, {}):
        with pytest.raises(InvalidInput) as e:
            registry.inputs_of(m, given)
        assert e.value.reason == "apps_input"
    with engine.begin() as conn:
        registry.meter(conn, m, 7, ok=True, cpu_s=0.01, bytes_in=10, bytes_out=20, now=0)
        registry.meter(conn, m, 7, ok=False, cpu_s=0.02, bytes_in=5, bytes_out=0, now=60)
        row = conn.execute(sa.select(tables.usage)).mappings().one()
    assert (row["calls"], row["failures"], row["bytes_in"], row["day"]) == (2, 1, 15, "1970-01-01")


def test_the_built_in_apps_install_through_the_sandbox_and_answer(
    engine: sa.Engine, pool: Pool
) -> None:
    from indunet.apps.builtin.calls import MANIFESTS

    for raw in MANIFESTS:
        m = registry.install(engine, pool, raw, "builtin", "system:apps")
        assert m.owner == "platform"
    with engine.connect() as conn:
        imr = registry.get(conn, "indunet.spc_imr")
    params = registry.parameters_of(imr, {"rules": "nelson"})
    # a shift after ten steady points: the individuals beyond 3σ are named
    values = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0, 9.9, 10.2, 14.0, 14.2]
    got = pool.call(imr.entry, registry.inputs_of(imr, {"values": values}), params)
    assert got["beyond"] == [10, 11] and any(r["rule"] for r in got["rules"])
