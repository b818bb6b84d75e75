"""Review documents: the business licence (营业执照) an enterprise submits for real-name review.

The file's type is read from its first bytes, never from its name or the client's content
type: a PNG (its 8-byte signature and an ``IHDR`` chunk first), a JPEG (``FF D8 FF``) or a PDF
(``%PDF-1.`` or ``%PDF-2.``). Anything else, a renamed executable included, is refused with
400 ``document_type``; an empty file with 400 ``document_empty``; one over ``MAX_BYTES``
(5 MiB) with 413 ``document_too_large`` (callers read at most ``MAX_BYTES + 1`` bytes, so a
larger upload is never held whole).

The content is kept in the database, one row per enterprise and kind (a new upload replaces
the old), never as a file named after what the uploader sent, and is served only to those who
review it and to the enterprise's own admins (``core.access.check_change``: platform admins
and the enterprise's admins; regulators and enterprise users are refused). Uploads are audited
(``enterprise.document``) with the size and SHA-256, never the content.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

import sqlalchemy as sa

from indunet.core import audit
from indunet.core.errors import IndunetError, InvalidInput, NotFound
from indunet.core.tables import documents

#: The only kind of document so far: the business licence.
LICENCE = "licence"
KINDS = (LICENCE,)
#: Largest document accepted, in bytes.
MAX_BYTES = 5 * 1024 * 1024
#: File name extension of each accepted type (for the download's name).
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "application/pdf": "pdf"}
_PNG = b"\x89PNG\r\n\x1a\n"


class DocumentTooLarge(IndunetError):
    """The document is over ``MAX_BYTES``; nothing was stored."""

    code = "document_too_large"
    status = 413


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What is known of a stored document, without its content."""

    enterprise_id: int
    kind: str
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime

    @property
    def extension(self) -> str:
        """The file name extension of its type (``png``, ``jpg``, ``pdf``)."""
        return EXTENSIONS.get(self.media_type, "bin")


def sniff(data: bytes) -> str:
    """The media type of ``data`` read from its first bytes, or 400 ``document_type``."""
    if data.startswith(_PNG) and data[12:16] == b"IHDR":
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"%PDF-1.", b"%PDF-2.")):
        return "application/pdf"
    raise InvalidInput(
        "the business licence must be a PNG or JPEG image or a PDF file "
        "(judged by its content, not its name)",
        reason="document_type",
    )


def check(data: bytes) -> str:
    """Check a document's size and type; return its media type."""
    if not data:
        raise InvalidInput("the document is empty", reason="document_empty")
    if len(data) > MAX_BYTES:
        raise DocumentTooLarge(
            f"a document may have at most {MAX_BYTES:,} bytes",
            reason="document_too_large",
            params={"max_mib": MAX_BYTES // (1024 * 1024)},
        )
    return sniff(data)


def _info(m: sa.RowMapping) -> DocumentInfo:
    at = m["uploaded_at"]
    return DocumentInfo(
        enterprise_id=int(m["enterprise_id"]),
        kind=str(m["kind"]),
        media_type=str(m["media_type"]),
        size=int(m["size"]),
        sha256=str(m["sha256"]),
        uploaded_by=str(m["uploaded_by"]),
        uploaded_at=at.replace(tzinfo=UTC) if at.tzinfo is None else at,
    )


def store(
    conn: sa.Connection, enterprise_id: int, data: bytes, *, actor: str, kind: str = LICENCE
) -> DocumentInfo:
    """Check and keep ``data`` as the enterprise's ``kind`` document (replacing one kept
    before), in ``conn``'s transaction; audited."""
    media_type = check(data)
    digest = hashlib.sha256(data).hexdigest()
    values = {
        "media_type": media_type,
        "size": len(data),
        "sha256": digest,
        "content": data,
        "uploaded_by": actor[:200],
        "uploaded_at": datetime.now(UTC),
    }
    where = (documents.c.enterprise_id == enterprise_id, documents.c.kind == kind)
    if conn.execute(sa.select(documents.c.kind).where(*where)).first():
        conn.execute(documents.update().where(*where).values(**values))
    else:
        conn.execute(documents.insert().values(enterprise_id=enterprise_id, kind=kind, **values))
    audit.record(
        conn,
        actor,
        "enterprise.document",
        f"enterprise:{enterprise_id}",
        {"kind": kind, "media_type": media_type, "size": len(data), "sha256": digest},
        enterprise_id=enterprise_id,
    )
    found = info(conn, enterprise_id, kind)
    if found is None:  # written just above in this transaction
        _missing(kind)
    return found


def info(conn: sa.Connection, enterprise_id: int, kind: str = LICENCE) -> DocumentInfo | None:
    """What is kept of the enterprise's ``kind`` document, without its content, or ``None``."""
    cols = [c for c in documents.c if c.name != "content"]
    row = conn.execute(
        sa.select(*cols).where(documents.c.enterprise_id == enterprise_id, documents.c.kind == kind)
    ).first()
    return _info(row._mapping) if row is not None else None


def content(
    conn: sa.Connection, enterprise_id: int, kind: str = LICENCE
) -> tuple[DocumentInfo, bytes]:
    """The enterprise's ``kind`` document and its bytes, or 404 ``document_not_found``.
    The caller checks who may read it."""
    row = conn.execute(
        sa.select(documents).where(
            documents.c.enterprise_id == enterprise_id, documents.c.kind == kind
        )
    ).first()
    if row is None:
        _missing(kind)
    return _info(row._mapping), bytes(row._mapping["content"])


def _missing(kind: str) -> NoReturn:
    raise NotFound(
        f"no {kind} document was submitted", reason="document_not_found", params={"kind": kind}
    )
