"""Joining a parent: one-time tokens, the child's request, the parent's answer.

The parent's administrator issues a token for a level (``issue_token``: shown once; only its
SHA-256 is kept; valid ``TOKEN_TTL_S`` by default, used once). The child sends the token with
its name, level, title, address and public key, and proves it holds the private key: its
signature over ``INDUNET-FED-ENROL-1``, the token, name, level, address and key, a line each
(``proof_bytes``). The parent checks the token (known, unexpired, unused, issued for that
level), that the child ranks below it, that the name is free, that the address passes the
destination policy and that the proof verifies; then records the child as an active peer and
answers with its own name, level, title, address and public key, which the child records as
its parent. Each refusal names its reason; nothing is recorded on a refusal.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import sqlalchemy as sa

from indunet.core import audit
from indunet.core.signing import KeyRefused, PublicKey, parse_public

from .envelope import Refused
from .identity import RANK, Identity, checked_level, checked_name
from .outbox import backlog
from .tables import peers, tokens

TOKEN_TTL_S = 86_400.0
ENROL_PATH = "/api/v1/federation/enrol"
_SCHEME = b"INDUNET-FED-ENROL-1"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(engine: sa.Engine, level: str, note: str = "", ttl_s: float = TOKEN_TTL_S) -> str:
    """A new one-time enrolment token for a child of ``level`` (shown once)."""
    level = checked_level(level)
    token = "fed1." + secrets.token_urlsafe(32)
    now = time.time()
    with engine.begin() as conn:
        conn.execute(
            tokens.insert().values(
                digest=_digest(token),
                level=level,
                note=note[:200],
                created=now,
                expires=now + ttl_s,
            )
        )
    return token


def proof_bytes(token: str, name: str, level: str, url: str, key: PublicKey) -> bytes:
    return b"\n".join(
        (_SCHEME, token.encode(), name.encode(), level.encode(), url.encode(), key.encode())
    )


def request_of(me: Identity, token: str) -> dict[str, Any]:
    """What a child sends its parent to enrol."""
    public = me.public
    proof = me.key.sign(proof_bytes(token, me.name, me.level, me.url, public))
    return {
        "token": token,
        "name": me.name,
        "level": me.level,
        "title": me.title,
        "url": me.url,
        "key": public.text(),
        "proof": base64.b64encode(proof).decode(),
    }


def answer_of(me: Identity) -> dict[str, Any]:
    return {
        "name": me.name,
        "level": me.level,
        "title": me.title,
        "url": me.url,
        "key": me.public.text(),
    }


def _key(text: Any) -> PublicKey:
    if not isinstance(text, str) or not 0 < len(text) <= 400:
        raise Refused("key must be base64 HS_PUBKEY bytes", "federation_key")
    try:
        return parse_public(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, KeyRefused):
        raise Refused("key is not an Ed25519 or SM2 public key", "federation_key") from None


def accept(
    engine: sa.Engine,
    me: Identity,
    data: Any,
    check_url: Callable[[str], None],
    now: float | None = None,
) -> dict[str, Any]:
    """Enrol the child ``data`` describes; this instance's answer. ``Refused`` otherwise."""
    if not isinstance(data, dict):
        raise Refused("an enrolment request is a JSON object", "federation_enrol_shape")
    token = data.get("token")
    if not isinstance(token, str) or not 8 <= len(token) <= 200:
        raise Refused("token is missing", "federation_token")
    name, level = checked_name(data.get("name")), checked_level(data.get("level"))
    title, url = data.get("title") or name, data.get("url")
    if not isinstance(title, str) or len(title) > 200:
        raise Refused("title is text of at most 200 characters", "federation_enrol_shape")
    if not isinstance(url, str) or len(url) > 500:
        raise Refused("url is the child's http(s) address", "federation_url")
    key = _key(data.get("key"))
    try:
        proof = base64.b64decode(data.get("proof") or "", validate=True)
    except (binascii.Error, ValueError):
        proof = b""
    if not key.verify(proof_bytes(token, name, level, url, key), proof):
        raise Refused("the proof is not signed by the key sent", "federation_signature")
    if RANK[level] >= RANK[me.level]:
        raise Refused(
            f"a {level} instance cannot be a child of a {me.level} one", "federation_level"
        )
    now = time.time() if now is None else now
    with engine.connect() as conn:  # the token first: nobody else gets an address looked up
        _token_row(conn, token, level, now)
    check_url(url)
    with engine.begin() as conn:
        row = _token_row(conn, token, level, now, lock=True)
        if conn.execute(sa.select(peers.c.name).where(peers.c.name == name)).first():
            raise Refused(f"an instance named {name!r} is enrolled here", "federation_name_taken")
        if name == me.name:
            raise Refused("that is this instance's own name", "federation_name_taken")
        conn.execute(
            tokens.update().where(tokens.c.digest == row.digest).values(used_by=name, used_at=now)
        )
        _add_peer(conn, "child", name, level, title, key, url, now)
    return answer_of(me)


def _add_peer(
    conn: sa.Connection,
    role: str,
    name: str,
    level: str,
    title: str,
    key: PublicKey,
    url: str,
    now: float,
) -> None:
    conn.execute(
        peers.insert().values(
            name=name,
            role=role,
            level=level,
            title=title,
            algorithm=key.algorithm,
            public_key=key.encode(),
            url=url.rstrip("/"),
            status="active",
            enrolled=now,
        )
    )


def _token_row(conn: sa.Connection, token: str, level: str, now: float, lock: bool = False) -> Any:
    """The token's row if it may enrol a ``level`` instance now; ``Refused`` otherwise."""
    query = sa.select(tokens).where(tokens.c.digest == _digest(token))
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None or row.expires <= now:
        raise Refused("the enrolment token is unknown or expired", "federation_token")
    if row.used_by is not None:
        raise Refused("the enrolment token was used already", "federation_token_used")
    if row.level != level:
        raise Refused(
            f"the token is for a {row.level} instance, not a {level} one", "federation_level"
        )
    return row


def record_parent(engine: sa.Engine, me: Identity, answer: Any) -> str:
    """Record the parent a join was answered by; its name."""
    if not isinstance(answer, dict):
        raise Refused("the parent's answer is not a JSON object", "federation_enrol_shape")
    name, level = checked_name(answer.get("name")), checked_level(answer.get("level"))
    key, url = _key(answer.get("key")), answer.get("url")
    if not isinstance(url, str) or len(url) > 500:
        raise Refused("the parent's url is missing", "federation_url")
    if RANK[level] <= RANK[me.level]:
        raise Refused(f"a {level} instance cannot be a {me.level} one's parent", "federation_level")
    title = str(answer.get("title") or name)[:200]
    with engine.begin() as conn:
        if conn.execute(sa.select(peers.c.name).where(peers.c.role == "parent")).first():
            raise Refused("this instance has a parent already", "federation_parent_exists")
        _add_peer(conn, "parent", name, level, title, key, url, time.time())
    return name


async def join(
    engine: sa.Engine,
    me: Identity,
    parent_url: str,
    token: str,
    check_url: Callable[[str], None],
    client: httpx.AsyncClient | None = None,
) -> str:
    """Enrol at the parent at ``parent_url`` with ``token``; the parent's name."""
    await asyncio.to_thread(check_url, parent_url)
    own = client is None
    client = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
    try:
        answer = await client.post(parent_url.rstrip("/") + ENROL_PATH, json=request_of(me, token))
    finally:
        if own:
            await client.aclose()
    if answer.status_code != 200:
        try:
            reason = answer.json().get("reason") or str(answer.status_code)
        except ValueError:
            reason = str(answer.status_code)
        raise Refused(f"the parent refused the enrolment: {answer.text[:300]}", str(reason))
    return await asyncio.to_thread(record_parent, engine, me, answer.json())


def remove(engine: sa.Engine, name: str, actor: str) -> int:
    """Remove a child: its messages are refused from now on (``federation_sender_removed``,
    which is how it learns), its history and what waits for it are kept; how many messages
    to it were still waiting (they stay, unsent, for the record)."""
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(peers.c.role, peers.c.status).where(peers.c.name == name)
        ).first()
        if row is None or row.role != "child" or row.status != "active":
            raise Refused(f"{name[:63]!r} is no active child", "federation_peer_unknown")
        conn.execute(peers.update().where(peers.c.name == name).values(status="removed"))
        waiting = backlog(conn).get(name, 0)
        audit.record(
            conn,
            actor,
            "federation.remove",
            f"instance {name}",
            {"waiting": waiting},
            enterprise_id=None,
        )
    return waiting
