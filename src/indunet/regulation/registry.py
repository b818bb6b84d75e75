"""The enterprises under this instance's supervision (监管对象), by USCC.

An enterprise is hosted here (a tenant of this instance: ``tenant_id``) or lives at an
instance below (``instance``), reached through one of this instance's children (``via``). A
hosted enterprise's profile is its tenant's real-name data plus its type (联网工业企业,
平台企业, 标识解析企业) and its asset inventory's products; a remote one's arrives in a
``regulation.profile`` message and is kept the same way. Jurisdiction is this table: a
regulator here may address exactly the enterprises in it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from indunet.core.errors import InvalidInput, NotFound
from indunet.core.paged import contains, page_of_rows
from indunet.core.uscc import validate_uscc

from .rules import TYPES
from .tables import enterprises, products

MAX_PRODUCTS = 500
"""Products kept per enterprise (an inventory's distinct vendor/product pairs, the first by
name)."""
REGION = re.compile(r"^\d{6}$")
INDUSTRY = re.compile(r"^[A-T](\d{2,4})?$")
"""A GB/T 4754-2017 code: a section letter, then 2 to 4 digits (``C``, ``C26``, ``C2614``)."""
STATES = ("none", "draft", "submitted", "returned", "confirmed")


def _text(value: Any, what: str, most: int) -> str:
    if not isinstance(value, str) or len(value) > most:
        raise InvalidInput(
            f"{what} is a text of at most {most} characters",
            reason="regulation_field",
            params={"field": what, "max": most},
        )
    return value.strip()


def profile_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """An enterprise's profile checked: USCC, name, type, region, industry."""
    uscc = validate_uscc(_text(raw.get("uscc"), "uscc", 18))
    name = _text(raw.get("name"), "name", 200)
    if not name:
        raise InvalidInput(
            "the enterprise has a name",
            reason="regulation_field",
            params={"field": "name", "max": 200},
        )
    etype = raw.get("etype")
    if etype not in TYPES:
        raise InvalidInput(
            f"enterprise type must be one of {', '.join(TYPES)}",
            reason="regulation_type",
            params={"types": ", ".join(TYPES)},
        )
    region = _text(raw.get("region", ""), "region", 6)
    if region and not REGION.match(region):
        raise InvalidInput("region is a six-digit GB/T 2260 code", reason="regulation_region")
    industry = _text(raw.get("industry", ""), "industry", 8).upper()
    if industry and not INDUSTRY.match(industry):
        raise InvalidInput(
            "industry is a GB/T 4754 code (C, C26, C2614)", reason="regulation_industry"
        )
    return {"uscc": uscc, "name": name, "etype": etype, "region": region, "industry": industry}


def product_pairs(raw: Any) -> list[tuple[str, str]]:
    """Vendor/product pairs, lower-cased, de-duplicated, at most ``MAX_PRODUCTS``."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_PRODUCTS:
        raise InvalidInput(
            f"products are a list of at most {MAX_PRODUCTS} [vendor, product] pairs",
            reason="regulation_products",
        )
    out: set[tuple[str, str]] = set()
    for p in raw:
        if (
            not isinstance(p, list | tuple)
            or len(p) != 2
            or not all(isinstance(x, str) and 0 < len(x.strip()) <= 100 for x in p)
        ):
            raise InvalidInput(
                "a product is a [vendor, product] pair of texts of 1 to 100 characters",
                reason="regulation_products",
            )
        out.add((p[0].strip().lower(), p[1].strip().lower()))
    return sorted(out)[:MAX_PRODUCTS]


def upsert(
    conn: sa.Connection,
    fields: dict[str, Any],
    *,
    tenant_id: int | None = None,
    instance: str | None = None,
    via: str | None = None,
    items: Sequence[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Add or update an enterprise (its level and grading state stay); its row."""
    now = time.time()
    where = enterprises.c.uscc == fields["uscc"]
    values = {**fields, "tenant_id": tenant_id, "instance": instance, "via": via, "updated": now}
    if conn.execute(sa.select(enterprises.c.uscc).where(where)).first() is None:
        conn.execute(enterprises.insert().values(**values, level=0, grading_state="none"))
    else:
        conn.execute(enterprises.update().where(where).values(**values))
    if items is not None:
        conn.execute(products.delete().where(products.c.uscc == fields["uscc"]))
        if items:
            conn.execute(
                products.insert(),
                [{"uscc": fields["uscc"], "vendor": v, "product": p} for v, p in items],
            )
    return get(conn, fields["uscc"])


def get(conn: sa.Connection, uscc: str) -> dict[str, Any]:
    """An enterprise under supervision, or 404 naming it."""
    row = conn.execute(sa.select(enterprises).where(enterprises.c.uscc == uscc)).first()
    if row is None:
        raise NotFound(
            f"no enterprise {uscc[:18]} under this instance's supervision",
            reason="regulation_enterprise_unknown",
            params={"uscc": uscc[:18]},
        )
    return dict(row._mapping)


def of_tenant(conn: sa.Connection, tenant_id: int) -> dict[str, Any] | None:
    """The hosted enterprise of a tenant, if it has a profile."""
    row = conn.execute(sa.select(enterprises).where(enterprises.c.tenant_id == tenant_id)).first()
    return None if row is None else dict(row._mapping)


def set_grading(conn: sa.Connection, uscc: str, state: str, level: int | None) -> None:
    """Record an enterprise's grading state (and its confirmed level, when one is set)."""
    values: dict[str, Any] = {"grading_state": state, "updated": time.time()}
    if level is not None:
        values["level"] = level
    conn.execute(enterprises.update().where(enterprises.c.uscc == uscc).values(**values))


def filters(
    *,
    q: str = "",
    etype: str = "",
    level: int | None = None,
    region: str = "",
    industry: str = "",
    state: str = "",
    tenant_id: int | None = None,
) -> list[sa.ColumnElement[bool]]:
    """The conditions of a listing (a region or industry code matches by its prefix)."""
    where: list[sa.ColumnElement[bool]] = []
    if q:
        where.append(
            sa.or_(
                contains(enterprises.c.name, q),
                contains(enterprises.c.uscc, q),
            )
        )
    if etype:
        where.append(enterprises.c.etype == etype)
    if level is not None:
        where.append(enterprises.c.level == level)
    if region:
        where.append(enterprises.c.region.startswith(region.rstrip("0") or region))
    if industry:
        where.append(enterprises.c.industry.startswith(industry.upper()))
    if state:
        where.append(enterprises.c.grading_state == state)
    if tenant_id is not None:
        where.append(enterprises.c.tenant_id == tenant_id)
    return where


def page(
    conn: sa.Connection, where: Sequence[sa.ColumnElement[bool]], offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of enterprises by name, and how many match."""
    return page_of_rows(
        conn,
        enterprises,
        [enterprises],
        where,
        [enterprises.c.name, enterprises.c.uscc],
        offset=offset,
        limit=limit,
        scan=True,
    )


def matching_products(conn: sa.Connection, wanted: Iterable[tuple[str, str]]) -> set[str]:
    """Enterprises whose inventory holds any of ``wanted`` (vendor, product); an empty
    vendor matches any vendor."""
    conds = [
        sa.and_(products.c.product == p, products.c.vendor == v) if v else products.c.product == p
        for v, p in wanted
    ]
    if not conds:
        return set()
    return set(conn.execute(sa.select(products.c.uscc).where(sa.or_(*conds))).scalars())


def as_message(row: dict[str, Any], items: Sequence[tuple[str, str]] | None) -> dict[str, Any]:
    """A profile as it travels up (``regulation.profile``)."""
    body: dict[str, Any] = {k: row[k] for k in ("uscc", "name", "etype", "region", "industry")}
    if items is not None:
        body["products"] = [list(x) for x in items]
    return body


def products_of(conn: sa.Connection, uscc: str) -> list[tuple[str, str]]:
    return [
        (str(r.vendor), str(r.product))
        for r in conn.execute(
            sa.select(products.c.vendor, products.c.product)
            .where(products.c.uscc == uscc)
            .order_by(products.c.vendor, products.c.product)
        )
    ]
