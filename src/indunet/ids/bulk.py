"""Bulk registration of identifiers from a CSV or JSON Lines file: idempotent and resumable.

File formats (UTF-8, a byte-order mark is allowed; the suffix decides the format):

``.csv``
    The header row is ``handle`` followed by one column per value, written ``TYPE`` or
    ``TYPE:INDEX``, e.g. ``handle,URL:1,TEMPLATE:3,model:2001,serial:2002``. Each non-empty cell
    becomes a string value of that type at that index. Columns without an index get 1, 2, 3, …,
    skipping the indexes other columns name. A row may have fewer cells than the header (the
    missing ones are empty), not more. Blank lines are skipped.
``.jsonl`` / ``.ndjson``
    One JSON object per line, ``{"handle": "88.100.1/CNC-1", "values": [...]}``, the values
    in Handle.Net REST API shape (``{"index": 1, "type": "URL", "data": {"format": "string",
    "value": "…"}}``). Blank lines are skipped.

Every row is checked as a single registration is: identifier syntax, values, that this node
holds the prefix, the prefix's data templates, and the ADD_HANDLE right on the prefix. A row
without HS_ADMIN gets the default admin ``Node.put`` would give it. Bad rows are reported with
their line number and reason; good rows are registered.

A row whose identifier exists with the same values (timestamps aside; the record's HS_ADMIN
values are compared only if the row has some) counts as unchanged, so running a file again
registers nothing new. Different values are an error unless ``overwrite``.

Progress is kept in ``ids_bulk_jobs``, keyed by the file's SHA-256, and updated in the same
transaction as each batch of inserts: after a crash, running the same file again resumes at
the first line of the batch that was not committed.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from indunet.core import IndunetError, InvalidInput, audit, verify_secret
from indunet.ids import changes, history, schemekeys
from indunet.ids.admin import Perm, Principal, authorize, check_platform_record, hash_seckeys
from indunet.ids.answers import Referral
from indunet.ids.bulkfiles import Row, file_kind, rows, scan
from indunet.ids.bulkjobs import DONE, RUNNING, BulkReport, Job, save_job, start_job
from indunet.ids.node import LOCAL, Node, default_admin
from indunet.ids.owners import prefix_owner
from indunet.ids.store import decode_values, encode_values
from indunet.ids.syntax import handle as hdl
from indunet.ids.values import ADMIN_TYPE, SECKEY_TYPE, HandleValue, now_timestamp
from indunet.ids.values import parse_values as _parse_values

Progress = Callable[[int, int], None]
_ADMIN_INDEX = 100  # where Node.put puts a default HS_ADMIN when that index is free


@dataclass(slots=True)
class _Ready:
    """A row that passed every check: what to store."""

    line: int
    h: hdl.Handle
    key: str
    prefix: str
    values: list[HandleValue]


class _Checker:
    """Checks rows like a single registration, remembering per-prefix answers."""

    def __init__(self, node: Node, principal: Principal) -> None:
        self.node, self.principal = node, principal
        self.ts = now_timestamp()
        self._routes: dict[str, IndunetError | None] = {}
        self._rights: dict[str, IndunetError | None] = {}
        self._admins: dict[str, HandleValue] = {}

    def prefix_values(self, prefix: str) -> list[HandleValue] | None:
        """The values of ``0.NA/<prefix>`` if this node holds it."""
        rec = self.node.store.get(hdl.prefix_handle_key(prefix))
        return rec.values if rec else None

    def _route(self, h: hdl.Handle) -> IndunetError | None:
        if h.routing_prefix not in self._routes:
            route = self.node.route(h)
            problem: IndunetError | None = None
            if isinstance(route, Referral):
                sites = ", ".join(s.url for s in route.sites)
                problem = InvalidInput(
                    f"prefix {route.prefix} is delegated to {sites}; write there",
                    reason="prefix_delegated",
                    params={"prefix": route.prefix, "sites": sites},
                )
            elif route is not LOCAL:
                problem = InvalidInput(
                    f"node {self.node.name} does not serve prefix {h.routing_prefix}",
                    reason="node_not_responsible",
                    params={"node": self.node.name, "prefix": h.routing_prefix},
                )
            self._routes[h.routing_prefix] = problem
        return self._routes[h.routing_prefix]

    def _right(self, h: hdl.Handle, prefix: str) -> IndunetError | None:
        if prefix not in self._rights:
            problem: IndunetError | None = None
            try:
                authorize(
                    self.principal,
                    Perm.ADD_HANDLE,
                    target=f"{prefix}/…",
                    routing_prefix=prefix,
                    record=None,
                    prefix_record=self.prefix_values(prefix),
                    groups=self.node.admin_groups(),
                )
            except IndunetError as exc:
                problem = exc
            self._rights[prefix] = problem
        return self._rights[prefix]

    def __call__(self, row: Row) -> _Ready:
        """Validate ``row``; raise ``IndunetError`` naming what is wrong."""
        if row.problem:
            raise InvalidInput(
                row.problem, reason="bulk_row_unreadable", params={"problem": row.problem}
            )
        h = hdl.parse(row.handle)
        schemekeys.check_suffix(h.suffix)
        if h.is_prefix_handle:
            raise InvalidInput(
                "prefix handles are allocated with 'indunet id prefix add', not here",
                reason="bulk_prefix_handle",
            )
        check_platform_record(self.principal, h.suffix, h.text)
        problem = self._route(h)
        if problem is not None:
            raise problem
        prefix = hdl.normalise_prefix(h.prefix)
        values = row.values if row.values is not None else _parse_values(row.raw, timestamp=self.ts)
        self.node.templates.validate(prefix, values)
        right = self._right(h, prefix)
        if right is not None:
            raise right
        return _Ready(row.line, h, h.key, prefix, values)

    def final(self, ready: _Ready) -> list[HandleValue]:
        """The values to store for a new record: seckeys hashed, default HS_ADMIN added."""
        values = hash_seckeys(ready.values)
        if any(v.type == ADMIN_TYPE for v in values):
            return values
        if any(v.index == _ADMIN_INDEX for v in values):
            return [*values, default_admin(self.principal, ready.h, values, self.ts)]
        admin = self._admins.get(ready.prefix)
        if admin is None:
            admin = default_admin(self.principal, ready.h, (), self.ts)
            self._admins[ready.prefix] = admin
        return [*values, admin]

    def replacement(self, ready: _Ready, stored: list[HandleValue]) -> list[HandleValue]:
        """The values that overwrite ``stored``, checking the rights an overwrite needs."""
        prefix_record = self.prefix_values(ready.prefix)
        perms = [Perm.MODIFY_VALUE]
        new = hash_seckeys(ready.values)
        has_admin = any(v.type == ADMIN_TYPE for v in new)
        if has_admin and _admins(new) != _admins(stored):
            perms.append(Perm.MODIFY_ADMIN)
        groups = self.node.admin_groups()
        for perm in perms:
            authorize(
                self.principal,
                perm,
                target=ready.h.text,
                routing_prefix=ready.prefix,
                record=stored,
                prefix_record=prefix_record,
                groups=groups,
            )
        if has_admin:
            return new
        used = {v.index for v in new}
        kept = [v for v in stored if v.type == ADMIN_TYPE and v.index not in used]
        return [*new, *kept]


def _admins(values: list[HandleValue]) -> list[tuple[int, str]]:
    return sorted((v.index, repr(v.value)) for v in values if v.type == ADMIN_TYPE)


def same_values(new: list[HandleValue], stored: list[HandleValue]) -> bool:
    """True if ``stored`` holds exactly ``new`` (timestamps aside; admins only if ``new`` has)."""
    if not any(v.type == ADMIN_TYPE for v in new):
        stored = [v for v in stored if v.type != ADMIN_TYPE]
    if len(new) != len(stored):
        return False
    old = {v.index: v for v in stored}
    for v in new:
        o = old.get(v.index)
        if o is None or (v.type, v.format, v.ttl, v.permissions) != (
            o.type,
            o.format,
            o.ttl,
            o.permissions,
        ):
            return False
        if v.type == SECKEY_TYPE and isinstance(o.value, str) and o.value.startswith("scrypt$"):
            if not isinstance(v.value, str) or not verify_secret(v.value, o.value):
                return False
        elif v.value != o.value:
            return False
    return True


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep the collector off the objects that existed before the import.

    An import makes hundreds of thousands of short-lived objects; without this, each full
    collection walks the whole application heap again (about a fifth of the import's time).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def import_file(
    node: Node,
    path: Path,
    principal: Principal,
    *,
    overwrite: bool = False,
    batch_size: int = 5000,
    progress: Progress | None = None,
    source: str | None = None,
    enterprise_id: int | None = None,
) -> BulkReport:
    """Register every good row of ``path`` on ``node``; see the module docstring for formats.

    ``source`` names the file in the job table and audit log (default: the path);
    ``enterprise_id`` is the enterprise the job is listed to.
    """
    if batch_size < 1:
        raise InvalidInput("batch size must be at least 1")
    job = begin(node, path, principal, source=source, enterprise_id=enterprise_id)
    return run(
        node,
        path,
        principal,
        job,
        overwrite=overwrite,
        batch_size=batch_size,
        progress=progress,
        source=source,
    )


def begin(
    node: Node,
    path: Path,
    principal: Principal,
    *,
    source: str | None = None,
    enterprise_id: int | None = None,
) -> Job:
    """Check the file as a whole (format, header, size) and start its job, or find the
    running job of the same file and actor to resume; nothing is registered yet."""
    node.store.check_writable()  # a disaster-recovery copy takes no import
    kind = file_kind(path)
    digest, total = scan(path, kind)
    return start_job(node, digest, source or str(path), total, principal.actor, enterprise_id)


def run(
    node: Node,
    path: Path,
    principal: Principal,
    job: Job,
    *,
    overwrite: bool = False,
    batch_size: int = 5000,
    progress: Progress | None = None,
    source: str | None = None,
) -> BulkReport:
    """Register the rows of ``path`` from ``job``'s next line on (see ``begin``)."""
    kind = file_kind(path)
    start = job.next_line
    if progress is not None:
        progress(job.done, job.total)
    check = _Checker(node, principal)
    batch: list[Row] = []
    with _frozen_heap():
        for row in rows(path, kind, check.ts):
            if row.line < start:
                continue
            batch.append(row)
            if len(batch) >= batch_size:
                _write_batch(node, principal, check, job, batch, overwrite, source or str(path))
                batch = []
                if progress is not None:
                    progress(job.done, job.total)
        _write_batch(node, principal, check, job, batch, overwrite, source or str(path), last=True)
    if progress is not None:
        progress(job.done, job.total)
    return job.report()


def _write_batch(
    node: Node,
    principal: Principal,
    check: _Checker,
    job: Job,
    batch: list[Row],
    overwrite: bool,
    source: str,
    *,
    last: bool = False,
) -> None:
    """Check, compare and store one batch, and move the job on, in one transaction."""
    ready: dict[str, _Ready] = {}
    results: list[tuple[Row, _Ready | None, IndunetError | None]] = []
    for row in batch:
        try:
            results.append((row, check(row), None))
        except IndunetError as exc:
            results.append((row, None, exc))
    inserts: list[tuple[str, str, str, str]] = []
    replaced: list[str] = []
    entries: list[history.Written] = []
    with node.engine.begin() as conn:
        keys = [r.key for _, r, _ in results if r is not None]
        existing = node.store.existing(conn, keys) if keys else {}
        for row, r, problem in results:
            if r is None:
                assert problem is not None
                job.fail(
                    row.line, row.handle, problem.message, problem.reason or "", problem.params
                )
                continue
            key = r.key
            first = ready.get(key)
            if first is not None:
                if same_values(r.values, first.values):
                    job.unchanged += 1
                else:
                    job.fail(
                        r.line,
                        r.h.text,
                        f"also on line {first.line} with other values",
                        "bulk_duplicate_row",
                        {"line": first.line},
                    )
                continue
            ready[key] = r
            stored_json = existing.get(key)
            if stored_json is None:
                inserts.append((key, r.h.text, r.prefix, encode_values(check.final(r))))
                entries.append(history.Written(key, r.h.text, None))
                job.registered += 1
                continue
            stored = decode_values(stored_json)
            if same_values(r.values, stored):
                job.unchanged += 1
            elif not overwrite:
                job.fail(
                    r.line,
                    r.h.text,
                    f"handle {r.h.text} already exists with other values (use overwrite)",
                    "bulk_exists",
                    {"handle": r.h.text},
                )
            else:
                try:
                    final = check.replacement(r, stored)
                except IndunetError as exc:
                    job.fail(r.line, r.h.text, exc.message, exc.reason or "", exc.params)
                    continue
                node.store.replace(conn, key, final)
                replaced.append(key)
                entries.append(history.Written(key, r.h.text, stored))
                job.registered += 1
        node.store.insert_many(conn, inserts)
        history.record_many(conn, node=node.name, actor=principal.actor, written=entries)
        written = len(inserts) + len(replaced)
        if written:
            audit.record(
                conn,
                principal.actor,
                "handle.bulk",
                source[:300],
                {
                    "node": node.name,
                    "job": job.id,
                    "count": written,
                    "created": len(inserts),
                    "replaced": len(replaced),
                    "lines": [batch[0].line, batch[-1].line],
                },
                enterprise_id=_owner(conn, {r.prefix for r in ready.values()}),
            )
        changes.note(conn, node.name, [*(i[0] for i in inserts), *replaced])
        if batch:
            job.next_line = batch[-1].line + 1
        save_job(conn, job, DONE if last else RUNNING)
    node.stats.registrations += written
    created: dict[str, int] = {}
    for _, _, prefix, _ in inserts:
        created[prefix] = created.get(prefix, 0) + 1
    for prefix, n in created.items():
        node.stats.daily.registered(prefix, n)
    for key in [*(i[0] for i in inserts), *replaced]:
        node.answers.drop(key)
        if node.caches is not None:
            node.caches.forget(key)


def _owner(conn: sa.Connection, prefixes: set[str]) -> int | None:
    """The one enterprise owning every prefix of a batch (its audit entry is theirs), else
    ``None`` (overseers read it)."""
    owners = {prefix_owner(conn, p) for p in prefixes}
    return owners.pop() if len(owners) == 1 else None
