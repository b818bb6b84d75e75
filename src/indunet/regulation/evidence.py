"""Evidence files (证明材料) of self-assessments, obligations and disposal reports.

A file's type is read from its first bytes (PNG, JPEG or PDF, as ``core.documents`` judges
a business licence), never from its name; an empty file, another type or one over
``MAX_BYTES`` is refused and nothing is stored. A file is known by its SHA-256 and belongs to
one enterprise; its content is kept in parts of ``PART`` bytes, each of which travels in one
federation message, so the authorities above the enterprise hold the same file.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import sqlalchemy as sa

from indunet.core import audit
from indunet.core.documents import sniff
from indunet.core.errors import IndunetError, InvalidInput, NotFound

from .replicate import EVIDENCE, MAX_EVIDENCE, PART, Link, row_of
from .tables import evidence, evidence_parts

MAX_NAME = 200


MAX_BYTES = MAX_EVIDENCE
"""Largest evidence file accepted, in bytes (the bound the messages carrying it check)."""


class EvidenceTooLarge(IndunetError):
    code = "payload_too_large"
    status = 413


def check(data: bytes) -> str:
    """The media type of an acceptable evidence file; else a clear refusal."""
    if not data:
        raise InvalidInput("the evidence file is empty", reason="regulation_evidence_empty")
    if len(data) > MAX_BYTES:
        raise EvidenceTooLarge(
            f"an evidence file has at most {MAX_BYTES:,} bytes",
            reason="regulation_evidence_too_large",
            params={"max_mib": MAX_BYTES // (1024 * 1024)},
        )
    try:
        return sniff(data)
    except InvalidInput:
        raise InvalidInput(
            "evidence is a PNG or JPEG image or a PDF file (judged by its content)",
            reason="regulation_evidence_type",
        ) from None


def upload(
    conn: sa.Connection, link: Link, ent: dict[str, Any], actor: str, name: str, data: bytes
) -> dict[str, Any]:
    """Store an evidence file of ``ent`` (the same file again is the same record)."""
    media = check(data)
    name = (name or "evidence").strip()[:MAX_NAME] or "evidence"
    sha = hashlib.sha256(data).hexdigest()
    have = conn.execute(sa.select(evidence).where(evidence.c.sha256 == sha)).first()
    if have is not None:
        if have.uscc != ent["uscc"]:
            # the same bytes as another enterprise's file: not theirs to reuse or learn of
            raise InvalidInput(
                "this file cannot be used as this enterprise's evidence",
                reason="regulation_evidence_taken",
            )
        return row_of(evidence, have._mapping)
    parts = [data[i : i + PART] for i in range(0, len(data), PART)]
    meta = {
        "sha256": sha,
        "uscc": ent["uscc"],
        "name": name,
        "media_type": media,
        "size": len(data),
        "parts": len(parts),
        "uploaded_by": actor[:200],
        "uploaded": time.time(),
    }
    conn.execute(evidence.insert().values(**meta))
    conn.execute(
        evidence_parts.insert(), [{"sha256": sha, "n": n, "data": p} for n, p in enumerate(parts)]
    )
    audit.record(
        conn,
        actor,
        "regulation.evidence",
        f"evidence {sha[:16]} of {ent['uscc']}",
        {"name": name, "size": len(data), "sha256": sha, "media_type": media},
        enterprise_id=ent["tenant_id"],
    )
    for n, p in enumerate(parts):
        body = {"meta": meta, "n": n, "data": base64.b64encode(p).decode()}
        link.changed(conn, EVIDENCE, body, ent)
    return meta


def info(conn: sa.Connection, sha: str) -> dict[str, Any]:
    row = conn.execute(sa.select(evidence).where(evidence.c.sha256 == sha[:64])).first()
    if row is None:
        raise NotFound(
            f"no evidence file {sha[:64]}",
            reason="regulation_evidence_unknown",
            params={"sha256": sha[:64]},
        )
    return row_of(evidence, row._mapping)


def content(conn: sa.Connection, sha: str) -> bytes | None:
    """The whole file, or None while parts are still on their way."""
    meta = info(conn, sha)
    parts = (
        conn.execute(
            sa.select(evidence_parts.c.data)
            .where(evidence_parts.c.sha256 == meta["sha256"])
            .order_by(evidence_parts.c.n)
        )
        .scalars()
        .all()
    )
    if len(parts) != meta["parts"]:
        return None
    data = b"".join(parts)
    return data if hashlib.sha256(data).hexdigest() == meta["sha256"] else None
