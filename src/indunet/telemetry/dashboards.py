"""User-arranged dashboards: a named layout of widgets per enterprise, in ``tel_dashboards``.

A layout is ``{"widgets": [...]}``, drawn in order on a 12-column grid; each widget has a
``type`` (``WIDGET_TYPES``), a ``title`` and a ``width`` (``WIDTHS``), and the fields of its
type: ``chart`` a device, 1 to 4 numeric points and a range; ``gauge`` a device, one numeric
point, a minimum and a maximum; ``latest`` a device and up to 20 points (none: all);
``alarms`` an optional device and a number of rows; ``locations`` up to 50 devices; ``text``
a text. ``check_layout`` refuses anything else (unknown types or fields, sizes over the
``LIMITS``) and checks every device against the dashboard's enterprise: a device of another
enterprise is ``NotFound``, exactly like one that does not exist.

Who may do what is ``core.access``: everyone who may see the enterprise sees its dashboards
(readers included); platform admins and the enterprise's admins create, change and delete
them, audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import InvalidInput, NotFound, User, access, audit, get_enterprise_by_id
from indunet.devices import Device, ThingModel
from indunet.telemetry.boardtables import dashboards as table

WIDGET_TYPES = ("chart", "gauge", "latest", "alarms", "locations", "text")
WIDTHS = (3, 4, 6, 8, 12)
RANGES = ("1h", "24h", "7d")
NUMERIC = ("number", "integer", "boolean")


@dataclass(frozen=True, slots=True)
class BoardLimits:
    """How big a dashboard may be."""

    widgets: int = 24
    layout_bytes: int = 64 * 1024
    name: int = 100
    title: int = 100
    text: int = 2000
    chart_points: int = 4
    latest_points: int = 20
    location_devices: int = 50
    alarm_rows: int = 50


LIMITS = BoardLimits()
#: The fields each widget type may carry besides ``type``, ``title`` and ``width``.
FIELDS = {
    "chart": {"device", "points", "range"},
    "gauge": {"device", "point", "min", "max"},
    "latest": {"device", "points"},
    "alarms": {"device", "rows"},
    "locations": {"devices"},
    "text": {"text"},
}

DeviceOf = Callable[[str], Device | None]
ModelOf = Callable[[str], ThingModel | None]


@dataclass(frozen=True, slots=True)
class Dashboard:
    """One dashboard: its enterprise, name and checked layout."""

    id: int
    enterprise_id: int
    name: str
    layout: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def widgets(self) -> list[dict[str, Any]]:
        """The widgets in drawing order."""
        found: list[dict[str, Any]] = self.layout.get("widgets", [])
        return found

    def devices(self) -> set[str]:
        """Every device id the widgets name."""
        out: set[str] = set()
        for w in self.widgets:
            if w.get("device"):
                out.add(w["device"])
            out.update(w.get("devices", ()))
        return out


def _bad(message: str, reason: str, **params: Any) -> InvalidInput:
    return InvalidInput(message, reason=reason, params=params)


def check_name(name: Any) -> str:
    """A dashboard's name, stripped: 1 to 100 characters."""
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > LIMITS.name:
        raise _bad(
            f"a dashboard name has 1 to {LIMITS.name} characters",
            "board_name",
            max=LIMITS.name,
        )
    return text


def _text(w: dict[str, Any], key: str, n: int, limit: int, *, required: bool = False) -> str:
    value = w.get(key, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise _bad(
            f"widget {n}: {key} must be text of {'1' if required else '0'} to {limit} characters",
            "widget_text",
            n=n,
            field=key,
            max=limit,
        )
    return value.strip()


def _number(w: dict[str, Any], key: str, n: int) -> float:
    value = w.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise _bad(f"widget {n}: {key} must be a number", "widget_number", n=n, field=key)
    if abs(value) > 1e15:
        raise _bad(f"widget {n}: {key} must be a number", "widget_number", n=n, field=key)
    return float(value)


class LayoutChecker:
    """Checks a layout against the limits and the devices of one enterprise."""

    def __init__(self, enterprise_id: int, device_of: DeviceOf, model_of: ModelOf) -> None:
        self.enterprise_id = enterprise_id
        self.device_of = device_of
        self.model_of = model_of

    def device(self, value: Any, n: int) -> str:
        """A device id of the enterprise, or ``NotFound`` (another's looks missing)."""
        if not isinstance(value, str) or not value or len(value) > 63:
            raise _bad(f"widget {n}: name a device", "widget_device", n=n)
        d = self.device_of(value)
        if d is None or d.enterprise_id != self.enterprise_id:
            raise NotFound(f"no device {value!r}", reason="board_device", params={"device": value})
        return value

    def points(self, device: str, value: Any, n: int, most: int, *, numeric: bool) -> list[str]:
        """Point names of the device's model (numeric ones for charts and gauges)."""
        if not isinstance(value, list) or len(value) > most:
            raise _bad(f"widget {n}: at most {most} points", "widget_points", n=n, max=most)
        model = self.model_of(device)
        known = model.points if model is not None else {}
        out: list[str] = []
        for p in value:
            point = known.get(p) if isinstance(p, str) else None
            if point is None or (numeric and point.type not in NUMERIC):
                raise _bad(
                    f"widget {n}: device {device} has no {'numeric ' if numeric else ''}"
                    f"point {str(p)[:64]!r}",
                    "widget_point",
                    n=n,
                    device=device,
                    point=str(p)[:64],
                )
            if p not in out:
                out.append(p)
        return out

    def widget(self, w: Any, n: int) -> dict[str, Any]:
        """One widget, checked and normalised (fields in a fixed shape)."""
        if not isinstance(w, dict):
            raise _bad(f"widget {n} must be an object", "widget_shape", n=n)
        kind = w.get("type")
        if kind not in FIELDS:
            raise _bad(
                f"widget {n}: unknown type {str(kind)[:32]!r}; use {', '.join(WIDGET_TYPES)}",
                "widget_type",
                n=n,
                type=str(kind)[:32],
            )
        extra = set(w) - FIELDS[kind] - {"type", "title", "width"}
        if extra:
            field = sorted(str(k)[:32] for k in extra)[0]
            raise _bad(f"widget {n}: unknown field {field!r}", "widget_field", n=n, field=field)
        width = w.get("width", 6)
        if isinstance(width, bool) or width not in WIDTHS:
            widths = ", ".join(map(str, WIDTHS))
            raise _bad(
                f"widget {n}: width must be one of {widths}", "widget_width", n=n, widths=widths
            )
        out: dict[str, Any] = {"type": kind, "title": _text(w, "title", n, LIMITS.title)}
        out["width"] = int(width)
        if kind == "text":
            out["text"] = _text(w, "text", n, LIMITS.text, required=True)
        elif kind == "locations":
            devices = w.get("devices")
            if not isinstance(devices, list) or not 1 <= len(devices) <= LIMITS.location_devices:
                raise _bad(
                    f"widget {n}: 1 to {LIMITS.location_devices} devices",
                    "widget_devices",
                    n=n,
                    max=LIMITS.location_devices,
                )
            out["devices"] = list(dict.fromkeys(self.device(d, n) for d in devices))
        elif kind == "alarms":
            if w.get("device"):
                out["device"] = self.device(w["device"], n)
            rows = w.get("rows", 10)
            if isinstance(rows, bool) or not isinstance(rows, int):
                rows = 0
            if not 1 <= rows <= LIMITS.alarm_rows:
                raise _bad(
                    f"widget {n}: rows from 1 to {LIMITS.alarm_rows}",
                    "widget_rows",
                    n=n,
                    max=LIMITS.alarm_rows,
                )
            out["rows"] = rows
        else:
            device = out["device"] = self.device(w.get("device"), n)
            if kind == "chart":
                points = self.points(device, w.get("points"), n, LIMITS.chart_points, numeric=True)
                if not points:
                    raise _bad(f"widget {n}: choose a point", "widget_points", n=n, max=4)
                out["points"] = points
                span = w.get("range", "24h")
                if span not in RANGES:
                    raise _bad(
                        f"widget {n}: range must be one of {', '.join(RANGES)}",
                        "widget_range",
                        n=n,
                        ranges=", ".join(RANGES),
                    )
                out["range"] = span
            elif kind == "gauge":
                (out["point"],) = self.points(device, [w.get("point")], n, 1, numeric=True)
                low, high = _number(w, "min", n), _number(w, "max", n)
                if low >= high:
                    raise _bad(f"widget {n}: min must be below max", "widget_bounds", n=n)
                out["min"], out["max"] = low, high
            else:  # latest
                most = LIMITS.latest_points
                out["points"] = self.points(device, w.get("points", []), n, most, numeric=False)
        return out

    def layout(self, layout: Any) -> dict[str, Any]:
        """The whole layout, checked; ``InvalidInput`` or ``NotFound`` names the first problem."""
        if isinstance(layout, str):
            if len(layout.encode()) > LIMITS.layout_bytes:
                raise _bad("the layout is too large", "layout_size", max=LIMITS.layout_bytes)
            try:
                layout = json.loads(layout)
            except (json.JSONDecodeError, RecursionError):
                raise _bad("the layout is not JSON", "layout_json") from None
        if not isinstance(layout, dict) or not isinstance(layout.get("widgets"), list):
            raise _bad('a layout is {"widgets": [...]}', "layout_shape")
        if set(layout) - {"widgets"}:
            raise _bad('a layout is {"widgets": [...]}', "layout_shape")
        widgets = layout["widgets"]
        if len(widgets) > LIMITS.widgets:
            raise _bad(
                f"a dashboard has at most {LIMITS.widgets} widgets",
                "layout_widgets",
                max=LIMITS.widgets,
            )
        return {"widgets": [self.widget(w, i + 1) for i, w in enumerate(widgets)]}


def _aware(v: datetime) -> datetime:
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v


def _board(row: Any) -> Dashboard:
    m = dict(row._mapping)
    layout = m["layout"] if isinstance(m["layout"], dict) else {"widgets": []}
    return Dashboard(
        id=m["id"],
        enterprise_id=m["enterprise_id"],
        name=m["name"],
        layout=layout,
        created_by=m["created_by"],
        created_at=_aware(m["created_at"]),
        updated_at=_aware(m["updated_at"]),
    )


class Dashboards:
    """Dashboards of every enterprise, for users as ``core.access`` allows (blocking calls:
    routes run them in a thread)."""

    def __init__(self, engine: sa.Engine, device_of: DeviceOf, model_of: ModelOf) -> None:
        self.engine = engine
        self.device_of = device_of
        self.model_of = model_of

    def checker(self, enterprise_id: int) -> LayoutChecker:
        """A layout checker for the enterprise's devices."""
        return LayoutChecker(enterprise_id, self.device_of, self.model_of)

    def get(self, user: User, board_id: int) -> Dashboard:
        """A dashboard ``user`` may see, or ``NotFound``."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == board_id)).first()
        if row is None or not access.can_see(user, row.enterprise_id):
            raise NotFound(
                f"no dashboard {board_id}", reason="board_missing", params={"id": board_id}
            )
        return _board(row)

    def page(
        self,
        user: User,
        *,
        q: str = "",
        like: str = "%",
        offset: int = 0,
        limit: int = 20,
        sort: str = "name",
        desc: bool = False,
        enterprise_id: int | None = None,
    ) -> tuple[list[Dashboard], int]:
        """One page of the dashboards ``user`` may see, and how many match in all."""
        where: list[sa.ColumnElement[bool]] = []
        scoped = access.scope(user, enterprise_id)
        if scoped is not None:
            where.append(table.c.enterprise_id == scoped)
        if q:
            where.append(table.c.name.like(like, escape="\\"))
        column = table.c.updated_at if sort == "updated" else table.c.name
        order = [column.desc() if desc else column.asc(), table.c.id]
        listing = sa.select(table).where(*where).order_by(*order).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(table).where(*where)
        with self.engine.connect() as conn:
            total = int(conn.execute(count).scalar_one())
            return [_board(r) for r in conn.execute(listing)], total

    def create(
        self, user: User, name: str, enterprise_id: int | None, layout: Any = None
    ) -> Dashboard:
        """A new dashboard of the enterprise (an admin's own, or one a platform admin names)."""
        eid = access.change_scope(user, enterprise_id, "make dashboards")
        if eid is None:
            raise _bad("choose the enterprise of the dashboard", "board_enterprise")
        checked = self.checker(eid).layout(layout if layout is not None else {"widgets": []})
        name = check_name(name)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            get_enterprise_by_id(conn, eid)  # a platform admin may name one that is not there
            new_id = conn.execute(
                table.insert()
                .values(
                    enterprise_id=eid,
                    name=name,
                    layout=checked,
                    created_by=user.username,
                    created_at=now,
                    updated_at=now,
                )
                .returning(table.c.id)
            ).scalar_one()
            audit.record(
                conn, user.actor, "dashboard.create", f"dashboard:{new_id}", {"name": name}
            )
        return self.get(user, int(new_id))

    def save(self, user: User, board_id: int, name: str, layout: Any) -> Dashboard:
        """Replace the dashboard's name and layout (checked whole; nothing written on error)."""
        board = self.get(user, board_id)
        access.check_change(user, board.enterprise_id, f"dashboard {board_id}")
        checked = self.checker(board.enterprise_id).layout(layout)
        name = check_name(name)
        with self.engine.begin() as conn:
            conn.execute(
                table.update()
                .where(table.c.id == board_id)
                .values(name=name, layout=checked, updated_at=datetime.now(UTC))
            )
            audit.record(
                conn,
                user.actor,
                "dashboard.update",
                f"dashboard:{board_id}",
                {"name": name, "widgets": len(checked["widgets"])},
            )
        return self.get(user, board_id)

    def delete(self, user: User, board_id: int) -> None:
        """Delete the dashboard (audited)."""
        board = self.get(user, board_id)
        access.check_change(user, board.enterprise_id, f"dashboard {board_id}")
        with self.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.id == board_id))
            audit.record(
                conn, user.actor, "dashboard.delete", f"dashboard:{board_id}", {"name": board.name}
            )
