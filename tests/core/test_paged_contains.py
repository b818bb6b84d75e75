"""``core.paged.contains``: a list's search finds the text anywhere, whatever its case, and a
``%``, ``_`` or ``\\`` in it is a character, not a wildcard."""

from __future__ import annotations

import sqlalchemy as sa

from indunet.core.paged import contains


def test_wildcards_in_the_search_are_characters() -> None:
    engine = sa.create_engine("sqlite://")
    t = sa.Table("t", sa.MetaData(), sa.Column("name", sa.String(40)))
    t.metadata.create_all(engine)
    names = ["50% load", "500 load", "a_b", "axb", "back\\slash", "Pump-1"]
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"name": n} for n in names])

        def found(q: str) -> list[str]:
            return sorted(conn.execute(sa.select(t.c.name).where(contains(t.c.name, q))).scalars())

        assert found("50%") == ["50% load"]
        assert found("a_b") == ["a_b"]
        assert found("k\\s") == ["back\\slash"]
        assert found("pump") == ["Pump-1"]
        assert found("") == sorted(names)
