"""The device registry (设备注册): devices, their credentials, identifiers and online status.

Devices live in ``dev_devices`` and, for the ingest hot path, in memory: ``lookup``,
``model_of`` and ``authenticate`` never touch the database for a known device. A device
secret is random and high-entropy, so it is stored as a SHA-256 digest (cheap enough to
check for thousands of MQTT connects). Each device gets the industrial identifier
``<prefix>/dev-<id>``; a failed step undoes the ones before it.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import hmac
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet import core, ids
from indunet.core import Conflict, InvalidInput, NotFound, audit
from indunet.devices import device as dv
from indunet.devices import lifecycle, specs
from indunet.devices.catalog import ModelRegistry
from indunet.devices.connections import SECRET_KEYS
from indunet.devices.csvimport import ImportReport, import_rows
from indunet.devices.device import Device, Status
from indunet.devices.identifiers import ensure_template, handle_of, pick_prefix, record_values
from indunet.devices.models import ThingModel
from indunet.devices.specs import secret_digest
from indunet.devices.tables import devices as table

MISS_TTL = 5.0  # seconds an unknown device id is remembered as unknown
HTTP_SILENT_S = 300.0  # an http device that has not posted for this long is offline
SEEN_STEP = 1.0  # seconds: the resolution of last_seen while data flows or a device stays online


class DeviceRegistry:
    """Devices of every enterprise; identifiers on ``node`` when one is given."""

    def __init__(
        self,
        engine: sa.Engine,
        models: ModelRegistry,
        node: ids.Node | None,
        *,
        platform_url: str | None = None,
        sealer: core.sealed.Sealer | None = None,
    ) -> None:
        self.engine = engine
        self.sealer = sealer or core.sealed.for_engine(engine)
        self.models = models
        self.node = node
        self.platform_url = platform_url.rstrip("/") if platform_url else None
        self._lock = threading.Lock()
        self._devices: dict[str, Device] = {}
        self._digests: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._misses: dict[str, float] = {}
        self._seal_clear_secrets()
        self._changes: builtins.list[lifecycle.StatusChange] = []
        self._mark: tuple[Any, ...] = ()
        #: Called with the id of each device created, changed or deleted here (the scaled
        #: mode tells other processes, whose registries then reload at once).
        self.on_change: builtins.list[Callable[[str], None]] = []
        self.reload_if_changed()

    def _changed(self, device_id: str) -> None:
        for listener in self.on_change:
            listener(device_id)

    def _seal_clear_secrets(self) -> None:
        """Seal connection passwords and keys stored in clear text (before sealing existed)."""
        with self.engine.begin() as conn:
            for did, connection in conn.execute(sa.select(table.c.id, table.c.connection)):
                sealed = self.sealer.seal_fields(connection, SECRET_KEYS)
                if sealed != connection:
                    conn.execute(table.update().where(table.c.id == did).values(connection=sealed))

    def _from_row(self, r: Any) -> Device:
        """A device from its row, connection secrets opened."""
        d = specs.from_row(r)
        if any(self.sealer.is_sealed(d.connection.get(k)) for k in SECRET_KEYS):
            d = dataclasses.replace(
                d, connection=self.sealer.open_fields(d.connection, SECRET_KEYS)
            )
        return d

    # -- memory ----------------------------------------------------------------------------
    def _fingerprint(self) -> tuple[Any, ...]:
        """How many devices there are and when the newest change was made: every create,
        change and delete moves one of them (status flushes do not: statuses live here)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sa.func.count(), sa.func.max(table.c.updated_at))).one()
        return tuple(row)

    def reload_if_changed(self) -> builtins.list[Device] | None:
        """``reload()`` when a device was created, changed or deleted since the last reload
        (by any process), else ``None``: one aggregate query instead of reading every row,
        which took seconds every housekeeping tick at 100,000 devices."""
        mark = self._fingerprint()
        if mark == self._mark:
            return None
        devices = self.reload()
        self._mark = mark
        return devices

    def reload(self) -> builtins.list[Device]:
        """Read every device from the database (statuses not yet flushed are kept).

        Returns them, sorted by id, as ``list()`` would.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(table)).mappings().all()
        with self._lock:
            fresh = {r["id"]: self._from_row(r) for r in rows}
            for did in self._dirty & fresh.keys():
                old = self._devices[did]
                fresh[did] = dataclasses.replace(
                    fresh[did], status=old.status, last_seen=old.last_seen
                )
            self._devices = fresh
            self._digests = {r["id"]: r["secret_digest"] for r in rows}
            self._dirty &= fresh.keys()
            self._misses.clear()
        return sorted(fresh.values(), key=lambda d: d.id)

    def _read_through(self, device_id: str) -> Device | None:
        now = time.monotonic()
        if self._misses.get(device_id, 0.0) > now:
            return None
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(table).where(table.c.id == device_id)).mappings().first()
        with self._lock:
            if r is None:
                if len(self._misses) > 100_000:
                    self._misses.clear()
                self._misses[device_id] = now + MISS_TTL
                return None
            d = self._devices.setdefault(device_id, self._from_row(r))
            self._digests.setdefault(device_id, r["secret_digest"])
            return d

    def lookup(self, device_id: str) -> Device | None:
        """The device with its live status, or None (hot path: memory first)."""
        d = self._devices.get(device_id)
        return d if d is not None else self._read_through(device_id)

    def visible(self, user: core.User, device_id: str) -> Device:
        """The device if ``user`` may see it (``core.access``); else ``NotFound`` naming it,
        whether it is another tenant's or does not exist."""
        d = self.lookup(device_id)
        if d is None or not core.access.can_see(user, d.enterprise_id):
            raise specs.missing(device_id)
        return d

    def model_of(self, device_id: str) -> ThingModel | None:
        """The model version a device is bound to, or None for an unknown device."""
        d = self.lookup(device_id)
        if d is None:
            return None
        try:
            return self.models.get(d.model_id, d.model_version)
        except NotFound:
            return None

    def holds(self, device_id: str) -> bool:
        """Whether the device is in memory now: its lookups and checks read no database
        (an unknown id is read through, so callers on the event loop check this first)."""
        return device_id in self._digests

    def authenticate(self, device_id: str, secret: str) -> bool:
        """Whether ``secret`` is the device's current secret (constant-time comparison)."""
        stored = self._digests.get(device_id)
        if stored is None and self._read_through(device_id) is not None:
            stored = self._digests.get(device_id)
        given = secret_digest(secret)
        return hmac.compare_digest(given, stored or "0" * 64) and stored is not None

    def set_status(self, device_id: str, online: bool, at: float) -> None:
        """Record that a device came online (seen at ``at``) or went offline; see flush_status.

        ``last_seen`` moves in steps of at least ``SEEN_STEP`` seconds while a device stays
        online, so calling this for every message stays cheap.
        """
        d = self._devices.get(device_id)
        if d is None or (
            online
            and d.status == "online"
            and d.last_seen is not None
            and 0 <= at - d.last_seen < SEEN_STEP
        ):
            return
        with self._lock:
            d = self._devices.get(device_id)
            if d is None:
                return
            status: Status = "online" if online else "offline"
            seen = at if online else d.last_seen
            if d.status != status:
                self._changes.append(lifecycle.StatusChange(device_id, d.enterprise_id, status, at))
            if d.status != status or d.last_seen != seen:
                self._devices[device_id] = dataclasses.replace(d, status=status, last_seen=seen)
                self._dirty.add(device_id)

    def saw_data(self, device_ids: Iterable[str], at: float) -> None:
        """Data of these devices arrived at ``at``: ``last_seen`` moves (in memory, in steps of
        ``SEEN_STEP``; ``flush_status`` persists it). Their status stays what their
        connection says: a gateway back-filling history does not bring a meter online."""
        for device_id in device_ids:
            d = self._devices.get(device_id)
            if d is None or (d.last_seen is not None and 0 <= at - d.last_seen < SEEN_STEP):
                continue
            with self._lock:
                d = self._devices.get(device_id)
                if d is not None and (d.last_seen is None or d.last_seen < at):
                    self._devices[device_id] = dataclasses.replace(d, last_seen=at)
                    self._dirty.add(device_id)

    def flush_status(self) -> int:
        """Persist the statuses, and the status history, changed since the last flush, in
        one transaction; return how many devices' rows changed."""
        return self._flush()[0]

    def flush_status_changes(self) -> builtins.list[lifecycle.StatusChange]:
        """``flush_status``, returning the online/offline changes it recorded (the platform
        publishes each as a ``device.status`` event)."""
        return self._flush()[1]

    def _flush(self) -> tuple[int, builtins.list[lifecycle.StatusChange]]:
        with self._lock:
            rows: builtins.list[dict[str, Any]] = [
                {"b_id": did, "b_status": d.status, "b_seen": d.last_seen}
                for did in self._dirty
                if (d := self._devices.get(did)) is not None
            ]
            self._dirty.clear()
            changes, self._changes = self._changes, []
        if not rows and not changes:
            return 0, []
        stmt = (
            table.update()
            .where(table.c.id == sa.bindparam("b_id"))
            .values(status=sa.bindparam("b_status"), last_seen=sa.bindparam("b_seen"))
        )
        try:
            with self.engine.begin() as conn:
                if rows:
                    conn.execute(stmt, rows)
                lifecycle.record_changes(conn, changes)
        except Exception:
            with self._lock:
                self._dirty.update(r["b_id"] for r in rows)
                self._changes[:0] = changes
            raise
        return len(rows), changes

    def expire_silent(self, now: float, *, after: float = HTTP_SILENT_S) -> int:
        """Mark HTTP devices that have posted nothing for ``after`` seconds offline; return how
        many. (MQTT, Modbus and OPC UA devices have connections that say when they go.)

        The offline change is dated at the device's last post, where its data stops.
        """
        expired = 0
        for d in builtins.list(self._devices.values()):
            if d.protocol == "http" and d.status == "online":
                seen = d.last_seen or 0.0
                if seen < now - after:
                    self.set_status(d.id, False, seen or now)
                    expired += 1
        return expired

    def status_history(
        self, device_id: str, *, since: float | None = None, limit: int = 100
    ) -> builtins.list[lifecycle.StatusChange]:
        """The device's online/offline changes, newest first (flushed ones; see flush_status)."""
        d = self.get(device_id)
        return lifecycle.history(self.engine, device_id, d.enterprise_id, since=since, limit=limit)

    def gaps(self, device_id: str, start: int, end: int) -> builtins.list[lifecycle.Gap]:
        """The device's offline stretches overlapping ``[start, end)`` (ms)."""
        d = self.get(device_id)
        return lifecycle.gaps(self.engine, device_id, d.enterprise_id, start, end)

    def pending_purges(self) -> builtins.list[tuple[str, int]]:
        """Deleted devices whose data is still to be purged: (device id, former enterprise)."""
        return lifecycle.pending(self.engine)

    def purge_done(self, device_id: str) -> None:
        """The deleted device's data is gone: drop its history and let the id be reused."""
        lifecycle.finish_purge(self.engine, device_id)

    def statuses(self) -> dict[str, Status]:
        """Every known device's live status."""
        return {did: d.status for did, d in list(self._devices.items())}

    def in_memory(self) -> builtins.list[Device]:
        """Every device as the registry holds it now, live status included, in no order
        (the database is read every few seconds; ``list`` reads it now)."""
        return builtins.list(self._devices.values())

    # -- reading ---------------------------------------------------------------------------
    def get(self, device_id: str) -> Device:
        """One device, or ``NotFound``."""
        d = self.lookup(device_id)
        if d is None:
            raise specs.missing(device_id)
        return d

    def list(
        self,
        enterprise_id: int | None = None,
        status: str | None = None,
        tag: str | None = None,
    ) -> list[Device]:
        """Devices sorted by id, optionally of one enterprise, with a status or a tag."""
        q = sa.select(table).order_by(table.c.id)
        if enterprise_id is not None:
            q = q.where(table.c.enterprise_id == enterprise_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        out: builtins.list[Device] = []
        for r in rows:
            live = self._devices.get(r["id"])
            d = self._from_row(r)
            if live is not None:
                d = dataclasses.replace(d, status=live.status, last_seen=live.last_seen)
            if (status is None or d.status == status) and (tag is None or tag in d.tags):
                out.append(d)
        return out

    # -- writing ---------------------------------------------------------------------------
    def _principal(self, actor: str) -> ids.Principal:
        return ids.Principal(actor=actor, identity=None, prefixes=None)

    def _values(
        self, device_id: str, fields: dict[str, Any], identifier: str
    ) -> builtins.list[dict[str, Any]]:
        return record_values(
            device_id=device_id,
            name=fields["name"],
            model_ref=f"{fields['model_id']}@{fields['model_version']}",
            manufacturer=fields["manufacturer"],
            serial=fields["serial"],
            base_url=self.platform_url,
            identifier=identifier,
        )

    def create(self, enterprise_id: int, spec: dict[str, Any], *, actor: str) -> tuple[Device, str]:
        """Register a device; return it and its secret (shown once, stored as a digest)."""
        with self.engine.connect() as conn:
            core.get_enterprise_by_id(conn, enterprise_id)
        return self._create(enterprise_id, spec, actor)

    def _create(self, enterprise_id: int, spec: dict[str, Any], actor: str) -> tuple[Device, str]:
        if not isinstance(spec, dict):
            raise InvalidInput("a device must be an object")
        specs.known_keys(spec, specs.CREATE_KEYS)
        device_id = dv.check_device_id(spec.get("id"))
        if self.lookup(device_id) is not None:
            raise specs.exists(device_id)
        with self.engine.connect() as conn:
            if lifecycle.purge_pending(conn, device_id):
                raise specs.exists(device_id, purging=True)
        fields = specs.fields(self.models, spec, None, enterprise_id)
        secret = specs.check_secret(spec.get("secret"))
        identifier = ""
        if self.node is not None:
            prefix = pick_prefix(self.node, enterprise_id, spec.get("prefix"))
            identifier = handle_of(prefix, device_id)
            ensure_template(self.node, prefix, actor=actor)
            try:
                self.node.put(
                    identifier,
                    self._values(device_id, fields, identifier),
                    self._principal(actor),
                    overwrite=False,
                )
            except ids.HandleExists:
                raise Conflict(
                    f"identifier {identifier} is already registered; delete it or choose "
                    "another device id",
                    reason="device_identifier_exists",
                    params={"identifier": identifier},
                ) from None
        elif spec.get("prefix"):
            raise InvalidInput(
                "this registry runs without an identifier node; omit prefix",
                reason="device_no_identifier_node",
            )
        now = datetime.now(UTC)
        row = {
            "id": device_id,
            "enterprise_id": enterprise_id,
            **fields,
            "identifier": identifier,
            "secret_digest": secret_digest(secret),
            "status": "unknown",
            "last_seen": None,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(table.insert().values(**self._sealed(row)))
                audit.record(
                    conn,
                    actor,
                    "device.create",
                    f"device:{device_id}",
                    {
                        "enterprise_id": enterprise_id,
                        "model": f"{fields['model_id']}@{fields['model_version']}",
                    },
                    enterprise_id=enterprise_id,
                )
        except Exception as exc:
            self._drop_handle(identifier, actor)
            if isinstance(exc, sa.exc.IntegrityError):
                raise specs.exists(device_id) from None
            raise
        d = specs.from_row(row)
        with self._lock:
            self._devices[device_id] = d
            self._digests[device_id] = row["secret_digest"]
            self._misses.pop(device_id, None)
        self._changed(device_id)
        return d, secret

    def _sealed(self, values: dict[str, Any]) -> dict[str, Any]:
        """Column values with the connection's secrets sealed for storage."""
        return {**values, "connection": self.sealer.seal_fields(values["connection"], SECRET_KEYS)}

    def _drop_handle(self, identifier: str, actor: str) -> None:
        if identifier and self.node is not None:
            with contextlib.suppress(ids.HandleNotFound):
                self.node.delete(identifier, self._principal(actor))

    def update(self, device_id: str, changes: dict[str, Any], *, actor: str) -> Device:
        """Change a device's name, model, protocol, connection, location, tags or maker data."""
        if not isinstance(changes, dict):
            raise InvalidInput("changes must be an object")
        specs.known_keys(changes, specs.UPDATE_KEYS)
        current = self.get(device_id)
        fields = specs.fields(self.models, changes, current, current.enterprise_id)
        record_keys = ("name", "model_id", "model_version", "manufacturer", "serial")
        old = {k: getattr(current, k) for k in record_keys}
        relabel = any(fields[k] != old[k] for k in record_keys)
        if relabel and current.identifier and self.node is not None:
            self.node.put(
                current.identifier,
                self._values(device_id, fields, current.identifier),
                self._principal(actor),
            )
        try:
            with self.engine.begin() as conn:
                res = conn.execute(
                    table.update()
                    .where(table.c.id == device_id)
                    .values(**self._sealed(fields), updated_at=datetime.now(UTC))
                )
                if not res.rowcount:
                    raise specs.missing(device_id)
                audit.record(
                    conn,
                    actor,
                    "device.update",
                    f"device:{device_id}",
                    {"fields": sorted(changes)},
                    enterprise_id=current.enterprise_id,
                )
        except Exception:
            if relabel and current.identifier and self.node is not None:
                self.node.put(
                    current.identifier,
                    self._values(device_id, {**fields, **old}, current.identifier),
                    self._principal(actor),
                )
            raise
        updated = dataclasses.replace(
            current,
            **{k: v for k, v in fields.items() if k != "tags"},
            tags=tuple(fields["tags"]),
        )
        with self._lock:
            live = self._devices.get(device_id, current)
            self._devices[device_id] = dataclasses.replace(
                updated, status=live.status, last_seen=live.last_seen
            )
        self._changed(device_id)
        return self._devices[device_id]

    def delete(self, device_id: str, *, actor: str) -> Device:
        """Remove a device and its identifier; its data waits for a purge (``pending_purges``),
        and its id cannot be registered again until the purge is done."""
        current = self.get(device_id)
        fields = {k: getattr(current, k) for k in ("name", "model_id", "model_version")}
        fields |= {"manufacturer": current.manufacturer, "serial": current.serial}
        self._drop_handle(current.identifier, actor)
        try:
            with self.engine.begin() as conn:
                conn.execute(table.delete().where(table.c.id == device_id))
                lifecycle.mark_deleted(conn, device_id, current.enterprise_id)
                audit.record(
                    conn,
                    actor,
                    "device.delete",
                    f"device:{device_id}",
                    enterprise_id=current.enterprise_id,
                )
        except Exception:
            if current.identifier and self.node is not None:
                self.node.put(
                    current.identifier,
                    self._values(device_id, fields, current.identifier),
                    self._principal(actor),
                )
            raise
        with self._lock:
            self._devices.pop(device_id, None)
            self._digests.pop(device_id, None)
            self._dirty.discard(device_id)
            self._changes = [c for c in self._changes if c.device_id != device_id]
        self._changed(device_id)
        return current

    def rotate_secret(self, device_id: str, *, actor: str, secret: str | None = None) -> str:
        """Issue a new secret; the old one stops working at once."""
        current = self.get(device_id)
        new = specs.check_secret(secret)
        dig = secret_digest(new)
        with self.engine.begin() as conn:
            conn.execute(
                table.update()
                .where(table.c.id == device_id)
                .values(secret_digest=dig, updated_at=datetime.now(UTC))
            )
            audit.record(
                conn,
                actor,
                "device.rotate_secret",
                f"device:{device_id}",
                enterprise_id=current.enterprise_id,
            )
        with self._lock:
            self._digests[device_id] = dig
        self._changed(device_id)
        return new

    def import_csv(self, enterprise_id: int, text: str, *, actor: str) -> ImportReport:
        """Create a device per CSV row; bad rows are reported by line, good rows kept."""
        with self.engine.connect() as conn:
            core.get_enterprise_by_id(conn, enterprise_id)
        report = import_rows(text, lambda spec: self._create(enterprise_id, spec, actor))
        with self.engine.begin() as conn:
            audit.record(
                conn,
                actor,
                "device.import",
                f"enterprise:{enterprise_id}",
                {"total": report.total, "created": report.created, "failed": report.failed},
                enterprise_id=enterprise_id,
            )
        return report
