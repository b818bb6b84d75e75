"""Stored detection settings: custom rule files (uploaded by platform admins for the whole
installation, each change a new version), rules switched on or off, and each enterprise's
named lists (allowed masters, allowed function codes…). Every change is audited.

A rule file is checked against the built-in rules and the other stored files before anything
is written (``RuleError``: 400 naming file, rule and line); the set the engine runs is built
by ``ruleset`` from what is stored.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import InvalidInput, NotFound, User, access, audit
from indunet.security import detecttables as t

from .conditions import NamedList
from .rules import MAX_LIST, RuleError, RuleFile, RuleSet, builtin_files, load_ruleset, read_file

log = logging.getLogger(__name__)
FILE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,90}\.ya?ml")
LIST_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_FILES = 100


def _now() -> datetime:
    return datetime.now(UTC)


def _actor(user: User) -> str:
    return f"user:{user.username}"


class RuleStore:
    """Custom rule files, rule switches and named lists in the database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.load_errors = 0

    # reading ---------------------------------------------------------------------------

    def custom_files(self) -> list[RuleFile]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.rule_files).order_by(t.rule_files.c.name)).all()
        return [read_file(r.name, r.text) for r in rows]

    def states(self) -> dict[str, bool]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.rule_states.c.rule_id, t.rule_states.c.enabled))
            return {r.rule_id: r.enabled for r in rows}

    def ruleset(self) -> RuleSet:
        """Built-in and stored rules with the stored switches. A stored set that no longer
        loads (a bundle update dropped a technique) leaves the built-in rules running and is
        logged and counted, never half-loaded."""
        builtins = builtin_files()
        try:
            files = builtins + self.custom_files()
            rs = load_ruleset(files)
        except RuleError:
            log.exception("stored rule files do not load; running the built-in rules only")
            self.load_errors += 1
            rs = load_ruleset(builtins)
        return switched(rs, self.states())

    def file_versions(self, name: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.rule_versions)
                .where(t.rule_versions.c.name == name)
                .order_by(t.rule_versions.c.version.desc())
                .limit(100)
            ).all()
        return [dict(r._mapping) for r in rows]

    def lists(self) -> dict[int, dict[str, NamedList]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.lists)).all()
        out: dict[int, dict[str, NamedList]] = {}
        for r in rows:
            out.setdefault(r.enterprise_id, {})[r.name] = NamedList.of(r.items)
        return out

    def enterprise_lists(self, user: User, enterprise_id: int | None) -> list[dict[str, Any]]:
        eid = access.scope(user, enterprise_id)
        with self.engine.connect() as conn:
            q = sa.select(t.lists).order_by(t.lists.c.enterprise_id, t.lists.c.name)
            if eid is not None:
                q = q.where(t.lists.c.enterprise_id == eid)
            return [dict(r._mapping) for r in conn.execute(q.limit(500))]

    # changing --------------------------------------------------------------------------

    def put_file(self, user: User, name: str, text: str) -> int:
        """Add or replace the rule file ``name``; its new version. Checked whole first."""
        if not FILE_NAME.fullmatch(name):
            raise InvalidInput(
                f"{name!r}: a rule file's name is a-z, 0-9, '.', '_', '-' ending in .yml",
                reason="security_rule_file_name",
                params={"file": name[:100]},
            )
        new = read_file(name, text)
        others = [f for f in self.custom_files() if f.name != name]
        if len(others) >= MAX_FILES:
            raise InvalidInput(
                f"at most {MAX_FILES} rule files",
                reason="security_rule_files_count",
                params={"max": MAX_FILES},
            )
        load_ruleset([*builtin_files(), *others, new])
        with self.engine.begin() as conn:
            current = conn.execute(
                sa.select(t.rule_files.c.version).where(t.rule_files.c.name == name)
            ).scalar()
            last = conn.execute(
                sa.select(sa.func.max(t.rule_versions.c.version)).where(
                    t.rule_versions.c.name == name
                )
            ).scalar()
            version = int(last or 0) + 1
            values = {
                "version": version,
                "text": text,
                "updated_by": user.username,
                "updated_at": _now(),
            }
            if current is None:
                conn.execute(sa.insert(t.rule_files).values(name=name, **values))
            else:
                conn.execute(
                    sa.update(t.rule_files).where(t.rule_files.c.name == name).values(**values)
                )
            conn.execute(
                sa.insert(t.rule_versions).values(
                    name=name,
                    version=version,
                    text=text,
                    created_by=user.username,
                    created_at=_now(),
                )
            )
            audit.record(
                conn,
                _actor(user),
                "security.rule_file.put",
                name,
                {"version": version, "rules": [r.id for r in new.rules]},
                enterprise_id=None,
            )
        return version

    def delete_file(self, user: User, name: str) -> None:
        with self.engine.begin() as conn:
            gone = conn.execute(sa.delete(t.rule_files).where(t.rule_files.c.name == name))
            if not gone.rowcount:
                raise NotFound(f"no rule file {name}")
            last = conn.execute(
                sa.select(sa.func.max(t.rule_versions.c.version)).where(
                    t.rule_versions.c.name == name
                )
            ).scalar()
            conn.execute(
                sa.insert(t.rule_versions).values(
                    name=name,
                    version=int(last or 0) + 1,
                    text="",
                    created_by=user.username,
                    created_at=_now(),
                )
            )
            audit.record(conn, _actor(user), "security.rule_file.delete", name, enterprise_id=None)

    def set_enabled(self, user: User, ruleset: RuleSet, rule_id: str, enabled: bool) -> None:
        if ruleset.get(rule_id) is None:
            raise NotFound(f"no rule {rule_id}")
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t.rule_states).where(t.rule_states.c.rule_id == rule_id))
            conn.execute(
                sa.insert(t.rule_states).values(
                    rule_id=rule_id, enabled=enabled, updated_by=user.username, updated_at=_now()
                )
            )
            action = "security.rule.enable" if enabled else "security.rule.disable"
            audit.record(conn, _actor(user), action, rule_id, enterprise_id=None)

    def put_list(self, user: User, enterprise_id: int, name: str, items: Sequence[Any]) -> None:
        """Replace the enterprise's list ``name`` (empty: remove it)."""
        access.check_change(user, enterprise_id, f"enterprise {enterprise_id}")
        if not LIST_NAME.fullmatch(name):
            raise InvalidInput(
                f"{name!r}: a list's name is a-z, 0-9 and _",
                reason="security_list_name",
                params={"name": name[:64]},
            )
        if len(items) > MAX_LIST or not all(
            isinstance(i, str | int | float) and not isinstance(i, bool) and len(str(i)) <= 100
            for i in items
        ):
            raise InvalidInput(
                f"a list holds at most {MAX_LIST:,} plain values of 100 characters at most",
                reason="security_list_items",
                params={"max": MAX_LIST},
            )
        with self.engine.begin() as conn:
            conn.execute(
                sa.delete(t.lists).where(
                    t.lists.c.enterprise_id == enterprise_id, t.lists.c.name == name
                )
            )
            if items:
                conn.execute(
                    sa.insert(t.lists).values(
                        enterprise_id=enterprise_id,
                        name=name,
                        items=list(items),
                        updated_by=user.username,
                        updated_at=_now(),
                    )
                )
            audit.record(
                conn,
                _actor(user),
                "security.list.put",
                f"{name}",
                {"items": len(items)},
                enterprise_id=enterprise_id,
            )


def switched(rs: RuleSet, states: Mapping[str, bool]) -> RuleSet:
    """``rs`` with the stored on/off switches applied."""
    rules = tuple(
        dataclasses.replace(r, enabled=states[r.id]) if r.id in states else r for r in rs.rules
    )
    return RuleSet(rules, rs.lists, rs.files)
