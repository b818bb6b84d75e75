"""A node under a parent keeps its prefix identity, so the prefix key works at the node too.

The prefix credential ``300:0.NA/<prefix>`` lives at the parent, in the prefix handle's
HS_ADMIN and HS_SECKEY. A node started with ``--parent`` and ``--parent-key-file`` holds a
copy of that identity: the record ``0.NA/<prefix>`` on the node with the HS_ADMIN (index 100,
every right, naming ``300:0.NA/<prefix>``) and the HS_SECKEY (index 300, the scrypt hash of
the key, readable by admins only), written as the operator (history, audit, change feed). With it the node authorises writes under its prefix made with
the prefix key, as the parent does (``ids.admin``: the admins of ``0.NA/P`` manage ``P/…``).

The copy is derived from the key file, not fetched: the parent keeps only a hash, and the
key is checked at the parent before it is trusted (``check_at_parent``: a read of
``0.NA/<prefix>`` with the key, which the parent refuses with 401 when the key is not its
current one). ``Enrolment`` does that at start (after the announcement) and then every
``CHECK_S`` seconds, re-reading the key file each time:

- the parent takes the key: the node's copy is written if it does not hold that key yet
  (a new key file takes effect without a restart);
- the parent refuses it (a rotation or revocation there): the node removes its HS_SECKEY,
  so the old key stops working at the node within ``CHECK_S``; the same key is not sent
  again until the file changes (so the parent does not count a failed login each minute);
- the parent cannot be reached: the copy is kept as it is (the node stays writable while
  its parent is down) and the next check tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from enum import Enum
from pathlib import Path

import httpx

from indunet.core import audit, hash_secret, verify_secret
from indunet.ids import changes, history
from indunet.ids.admin import ALL_RIGHTS, OPERATOR
from indunet.ids.node import Node
from indunet.ids.prefixes import ADMIN_KEY_INDEX, ADMIN_VALUE_INDEX, admin_username
from indunet.ids.syntax import handle as hdl
from indunet.ids.values import ADMIN_TYPE, SECKEY_TYPE, HandleValue, now_timestamp

CHECK_S = 60.0
TIMEOUT = 10.0
#: Largest key file read (a key is a line of text).
MAX_KEY_FILE = 4096

log = logging.getLogger(__name__)


class Verdict(Enum):
    """What the parent said of a key."""

    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"


def check_at_parent(
    parent: str, prefix: str, secret: str, *, client: httpx.Client | None = None
) -> Verdict:
    """Whether ``parent`` takes ``secret`` as the key of ``0.NA/<prefix>`` now."""
    url = f"{parent.rstrip('/')}/api/handles/0.NA/{prefix}"
    auth = (admin_username(prefix).replace(":", "%3A", 1), secret)
    http = client or httpx.Client(timeout=TIMEOUT)
    try:
        resp = http.get(url, params={"publicOnly": "false"}, auth=auth)
    except httpx.HTTPError:
        return Verdict.UNREACHABLE
    finally:
        if client is None:
            http.close()
    if resp.status_code == 200:
        return Verdict.ACCEPTED
    if resp.status_code in (401, 403):
        return Verdict.REFUSED
    return Verdict.UNREACHABLE  # 429, 5xx: ask again later


def _stored_key(node: Node, prefix: str) -> str | None:
    rec = node.record(f"0.NA/{prefix}")
    for v in rec.values if rec else ():
        if v.index == ADMIN_KEY_INDEX and v.type == SECKEY_TYPE and isinstance(v.value, str):
            return v.value
    return None


def _identity_values(prefix: str, secret: str) -> list[HandleValue]:
    ts = now_timestamp()
    admin = {"handle": f"0.NA/{prefix}", "index": ADMIN_KEY_INDEX, "permissions": ALL_RIGHTS}
    return [
        HandleValue(ADMIN_VALUE_INDEX, ADMIN_TYPE, "admin", admin, 86_400, ts),
        HandleValue(
            ADMIN_KEY_INDEX, SECKEY_TYPE, "string", hash_secret(secret), 86_400, ts, "1100"
        ),
    ]


def _write(node: Node, prefix: str, secret: str | None) -> None:
    """Store (``secret`` given) or strip (``None``) the node's copy of ``0.NA/<prefix>``.

    The copy is written to the node's store directly, not through ``Node.put``: the prefix
    handle's routing prefix is the parent's, so the node does not serve it (a resolution of
    ``0.NA/<prefix>`` at the node still goes to the parent); it only holds the identity.
    """
    h = hdl.parse(f"0.NA/{prefix}")
    with node.engine.begin() as conn:
        existing = node.store.get_for_update(conn, h.key)
        if secret is not None:
            values = _identity_values(prefix, secret)
            action = "handle.create" if existing is None else "handle.modify"
            if existing is None:
                node.store.insert(conn, h.key, h.text, h.routing_prefix, values)
            else:
                node.store.replace(conn, h.key, values)
        else:
            if existing is None:
                return
            values = [v for v in existing.values if v.type != SECKEY_TYPE]
            node.store.replace(conn, h.key, values)
            action = "handle.remove_values"
        history.record(
            conn,
            node=node.name,
            hkey=h.key,
            handle=h.text,
            action=action,
            actor=OPERATOR.actor,
            before=existing.values if existing else None,
        )
        audit.record(conn, OPERATOR.actor, action, h.text, {"node": node.name, "via": "enrolment"})
        changes.note(conn, node.name, [h.key])
    node.answers.drop(h.key)


def enrol(node: Node, prefix: str, secret: str) -> bool:
    """Hold the prefix identity with ``secret`` on ``node``; ``False`` if it held it already."""
    stored = _stored_key(node, prefix)
    if stored is not None and verify_secret(secret, stored):
        return False
    _write(node, prefix, secret)
    return True


def withdraw(node: Node, prefix: str) -> bool:
    """Remove the prefix key from ``node``; ``False`` if it held none."""
    if _stored_key(node, prefix) is None:
        return False
    _write(node, prefix, None)
    return True


def read_key(path: Path) -> str:
    """The key in ``path`` (its text without surrounding white space, as ``announce`` reads
    it), or ``""`` if it cannot be read or is larger than ``MAX_KEY_FILE``."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_KEY_FILE + 1)
    except OSError:
        return ""
    if len(raw) > MAX_KEY_FILE:
        return ""
    return raw.decode("utf-8", "replace").strip()


class Enrolment:
    """Keeps ``node``'s copy of its prefix identity in step with the parent (a ``Service``)."""

    def __init__(
        self,
        node: Node,
        parent: str,
        prefix: str,
        key_file: Path,
        *,
        every: float = CHECK_S,
        client: httpx.Client | None = None,
    ) -> None:
        self.node, self.parent, self.prefix, self.key_file = node, parent, prefix, key_file
        self.every, self.client = every, client
        self._refused: str | None = None  # digest of the key the parent last refused
        self._task: asyncio.Task[None] | None = None

    def check(self) -> Verdict:
        """One check: read the key file, ask the parent, enrol or withdraw."""
        secret = read_key(self.key_file)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        if not secret or digest == self._refused:
            return Verdict.REFUSED
        verdict = check_at_parent(self.parent, self.prefix, secret, client=self.client)
        if verdict is Verdict.ACCEPTED:
            self._refused = None
            if enrol(self.node, self.prefix, secret):
                log.info("node %s holds the key of 0.NA/%s", self.node.name, self.prefix)
        elif verdict is Verdict.REFUSED:
            self._refused = digest
            if withdraw(self.node, self.prefix):
                log.warning(
                    "the parent %s refused the key of 0.NA/%s: removed it from node %s",
                    self.parent,
                    self.prefix,
                    self.node.name,
                )
        return verdict

    async def start(self) -> None:
        """Check every ``every`` seconds, off the event loop (the first check ran at start)."""
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await asyncio.to_thread(self.check)
            except Exception:  # a failed check must not end the loop; the next one retries
                log.exception("checking the prefix key of 0.NA/%s failed", self.prefix)

    async def stop(self) -> None:
        """Stop checking."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


__all__ = [
    "CHECK_S",
    "Enrolment",
    "Verdict",
    "check_at_parent",
    "enrol",
    "read_key",
    "withdraw",
]
