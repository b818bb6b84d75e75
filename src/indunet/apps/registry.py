"""The registry of installed apps and models: install (checked manifest, every test vector
passed in the sandbox, then one row), immutable versions, the catalogue, subscriptions and
metering.

A version is installed once: the same id and version again is 409 ``apps_version_exists``,
whatever its content (publish a new version instead). Nothing is stored until every test
vector has passed; a failing one is 400 ``apps_test_failed`` naming the app, its version,
the test and what differed.
"""

from __future__ import annotations

import hashlib
import math
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core.errors import Conflict, InvalidInput, NotFound

from .manifest import Manifest, check, coerce
from .sandbox import AppFailed, Pool
from .tables import packages, subscriptions, usage

SOURCES = ("builtin", "file", "entrypoint")


def _failed(m: Manifest, test: int, problem: str) -> InvalidInput:
    return InvalidInput(
        f"{m.id} {m.version}: test vector {test} failed: {problem}",
        reason="apps_test_failed",
        params={"app": m.id, "version": m.version, "test": test, "problem": problem[:300]},
    )


def parameters_of(m: Manifest, given: Any) -> dict[str, Any]:
    """The call's parameters: each given one checked against its declaration, the rest at
    their defaults; an unknown or out-of-bounds one is 400 ``apps_parameter``."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InvalidInput("parameters are an object", reason="apps_parameter",
                           params={"app": m.id, "version": m.version, "name": "-",
                                   "problem": "not an object"})  # fmt: skip
    declared = {p.name: p for p in m.parameters}
    out = {p.name: p.default for p in m.parameters}
    for name, value in given.items():
        p = declared.get(name)
        try:
            if p is None:
                raise ValueError("no such parameter")
            out[name] = coerce(p.type, value, p.minimum, p.maximum)
        except ValueError as exc:
            raise InvalidInput(
                f"{m.id} {m.version}: parameter {str(name)[:40]}: {exc}",
                reason="apps_parameter",
                params={"app": m.id, "version": m.version, "name": str(name)[:40],
                        "problem": str(exc)},
            ) from None  # fmt: skip
    return out


def inputs_of(m: Manifest, given: Any) -> dict[str, Any]:
    """The call's inputs: exactly the declared ones, each of its type; else 400
    ``apps_input``."""
    declared = {p.name: p for p in m.inputs}
    if not isinstance(given, dict) or set(given) != set(declared):
        raise InvalidInput(
            f"{m.id} {m.version}: inputs are exactly {sorted(declared)}",
            reason="apps_input",
            params={"app": m.id, "version": m.version, "name": ", ".join(sorted(declared)),
                    "problem": "missing or unknown inputs"},
        )  # fmt: skip
    out: dict[str, Any] = {}
    for name, value in given.items():
        p = declared[name]
        try:
            out[name] = coerce(p.type, value)
            if p.type == "series" and not all(
                isinstance(x, int | float | str | bool | None) for x in value
            ):
                raise ValueError("a series holds numbers, texts, booleans or nulls")
        except ValueError as exc:
            raise InvalidInput(
                f"{m.id} {m.version}: input {name}: {exc}",
                reason="apps_input",
                params={"app": m.id, "version": m.version, "name": name, "problem": str(exc)},
            ) from None
    return out


def _close(want: Any, got: Any, tolerance: float) -> bool:
    if isinstance(want, bool) or want is None or isinstance(want, str):
        return bool(want == got)
    if isinstance(want, int | float):
        return (
            isinstance(got, int | float)
            and not isinstance(got, bool)
            and math.isclose(float(want), float(got), rel_tol=tolerance, abs_tol=tolerance)
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(want) == len(got)
            and all(_close(a, b, tolerance) for a, b in zip(want, got, strict=True))
        )
    if isinstance(want, dict):
        return isinstance(got, dict) and all(
            k in got and _close(v, got[k], tolerance) for k, v in want.items()
        )
    return False


def run_tests(pool: Pool, m: Manifest) -> None:
    """Run every test vector in the sandbox; the first failure is refused."""
    for i, t in enumerate(m.tests):
        inputs = inputs_of(m, t["inputs"])
        params = parameters_of(m, t.get("parameters"))
        try:
            got = pool.call(m.entry, inputs, params)
        except AppFailed as exc:
            raise _failed(m, i, f"{exc.kind}: {exc}") from None
        for name, want in t["outputs"].items():
            if name not in got:
                raise _failed(m, i, f"no output {name}")
            if not _close(want, got[name], float(t.get("tolerance", 0.0))):
                raise _failed(m, i, f"{name} is {str(got[name])[:80]}, expected {str(want)[:80]}")


def install(engine: sa.Engine, pool: Pool, raw: Any, source: str, actor: str) -> Manifest:
    """Check, test and store a version; the manifest."""
    if source not in SOURCES:
        raise ValueError(source)
    m = check(raw)
    with engine.connect() as conn:
        if _exists(conn, m.id, m.version):
            raise Conflict(
                f"{m.id} {m.version} is installed; versions are immutable, publish a new one",
                reason="apps_version_exists",
                params={"app": m.id, "version": m.version},
            )
    run_tests(pool, m)
    text = orjson.dumps(m.as_dict(), option=orjson.OPT_SORT_KEYS).decode()
    major, minor, patch = m.key[1]
    with engine.begin() as conn:
        if _exists(conn, m.id, m.version):  # installed meanwhile by another caller
            raise Conflict(f"{m.id} {m.version} is installed", reason="apps_version_exists",
                           params={"app": m.id, "version": m.version})  # fmt: skip
        conn.execute(
            packages.insert().values(
                id=m.id,
                version=m.version,
                major=major,
                minor=minor,
                patch=patch,
                kind=m.kind,
                owner=m.owner,
                title_zh=m.title["zh-CN"][:200],
                title_en=m.title["en"][:200],
                manifest=text,
                digest=hashlib.sha256(text.encode()).hexdigest(),
                source=source,
                installed=time.time(),
                installed_by=actor[:200],
            )
        )
    return m


def _exists(conn: sa.Connection, app: str, version: str) -> bool:
    return (
        conn.execute(
            sa.select(packages.c.id).where(packages.c.id == app, packages.c.version == version)
        ).first()
        is not None
    )


def get(conn: sa.Connection, app: str, version: str | None = None) -> Manifest:
    """A version (the latest when none is named), or 404 ``apps_unknown``."""
    q = sa.select(packages.c.manifest).where(packages.c.id == app)
    if version is not None:
        q = q.where(packages.c.version == version)
    q = q.order_by(packages.c.major.desc(), packages.c.minor.desc(), packages.c.patch.desc())
    text = conn.execute(q.limit(1)).scalar()
    if text is None:
        raise NotFound(
            f"no app {app[:120]}" + (f" {version[:20]}" if version else ""),
            reason="apps_unknown",
            params={"app": app[:120], "version": (version or "")[:20]},
        )
    return check(orjson.loads(text))


def versions(conn: sa.Connection, app: str) -> list[str]:
    return list(
        conn.execute(
            sa.select(packages.c.version)
            .where(packages.c.id == app)
            .order_by(packages.c.major, packages.c.minor, packages.c.patch)
        ).scalars()
    )


def subscribe(conn: sa.Connection, enterprise_id: int, app: str, pinned: str | None) -> None:
    """Subscribe an enterprise to an app (pinned to a version, or following the latest)."""
    get(conn, app, pinned)  # 404 unless that version exists
    where = sa.and_(subscriptions.c.enterprise_id == enterprise_id, subscriptions.c.app == app)
    if conn.execute(sa.select(subscriptions.c.app).where(where)).first() is None:
        conn.execute(subscriptions.insert().values(enterprise_id=enterprise_id, app=app,
                                                   pinned=pinned, since=time.time()))  # fmt: skip
    else:
        conn.execute(subscriptions.update().where(where).values(pinned=pinned))


def version_for(conn: sa.Connection, enterprise_id: int | None, app: str) -> str | None:
    """The version an enterprise's calls use: its pin, else the latest (None)."""
    if enterprise_id is None:
        return None
    return conn.execute(
        sa.select(subscriptions.c.pinned).where(
            subscriptions.c.enterprise_id == enterprise_id, subscriptions.c.app == app
        )
    ).scalar()


def meter(
    conn: sa.Connection,
    m: Manifest,
    enterprise_id: int | None,
    *,
    ok: bool,
    cpu_s: float,
    bytes_in: int,
    bytes_out: int,
    now: float | None = None,
) -> None:
    """Count a call."""
    day = datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime("%Y-%m-%d")
    key = {"app": m.id, "version": m.version, "enterprise_id": enterprise_id or 0, "day": day}
    where = sa.and_(*(usage.c[k] == v for k, v in key.items()))
    moved = conn.execute(
        usage.update()
        .where(where)
        .values(
            calls=usage.c.calls + 1,
            failures=usage.c.failures + (0 if ok else 1),
            cpu_s=usage.c.cpu_s + cpu_s,
            bytes_in=usage.c.bytes_in + bytes_in,
            bytes_out=usage.c.bytes_out + bytes_out,
        )
    ).rowcount
    if not moved:
        conn.execute(usage.insert().values(**key, calls=1, failures=0 if ok else 1, cpu_s=cpu_s,
                                           bytes_in=bytes_in, bytes_out=bytes_out))  # fmt: skip


def catalogue(conn: sa.Connection, q: str = "") -> list[dict[str, Any]]:
    """Every app's latest version, searched by id or title."""
    rows = (
        conn.execute(
            sa.select(
                packages.c.id,
                packages.c.version,
                packages.c.major,
                packages.c.minor,
                packages.c.patch,
                packages.c.title_zh,
                packages.c.title_en,
                packages.c.kind,
                packages.c.owner,
            )
        )
        .mappings()
        .all()
    )
    latest: dict[str, Any] = {}
    for r in rows:
        have = latest.get(r["id"])
        if have is None or (r["major"], r["minor"], r["patch"]) > (
            have["major"],
            have["minor"],
            have["patch"],
        ):
            latest[r["id"]] = r
    needle = q.lower()
    return [
        {k: r[k] for k in ("id", "version", "title_zh", "title_en", "kind", "owner")}
        for name, r in sorted(latest.items())
        if not needle
        or needle in name
        or needle in r["title_zh"].lower()
        or needle in r["title_en"].lower()
    ]
