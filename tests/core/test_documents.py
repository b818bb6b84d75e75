"""Review documents (core.documents): the type is read from the content, sizes are bounded,
an upload replaces the one before and is audited without its content."""

from __future__ import annotations

import struct
import zlib

import pytest
import sqlalchemy as sa
from tests.conftest import USCC_A

from indunet import core
from indunet.core import InvalidInput, documents


def png(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny PNG image (an IHDR, one IDAT, an IEND)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200  # a PE header


@pytest.mark.parametrize(
    ("data", "kind"), [(png(), "image/png"), (JPEG, "image/jpeg"), (PDF, "application/pdf")]
)
def test_the_type_is_read_from_the_content(data: bytes, kind: str) -> None:
    assert documents.check(data) == kind


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (EXE, "document_type"),  # an executable, whatever its name says
        (b"GIF89a" + b"\x00" * 20, "document_type"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "document_type"),  # a signature, no IHDR
        (b"<html><script>alert(1)</script>", "document_type"),
        (b"%PDF", "document_type"),
        (b"", "document_empty"),
    ],
)
def test_other_content_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        documents.check(data)
    assert refused.value.reason == reason


def test_over_five_mib_is_413() -> None:
    with pytest.raises(documents.DocumentTooLarge) as refused:
        documents.check(png() + b"\x00" * documents.MAX_BYTES)
    assert refused.value.status == 413
    assert documents.check(PDF + b" " * (documents.MAX_BYTES - len(PDF))) == "application/pdf"


def test_an_upload_replaces_the_last_and_is_audited_without_content(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ent = core.create_enterprise(conn, uscc=USCC_A, name="甲", actor="t")
        documents.store(conn, ent.id, png(), actor="user:a")
        kept = documents.store(conn, ent.id, PDF, actor="user:b")
    assert (kept.media_type, kept.size, kept.uploaded_by) == ("application/pdf", len(PDF), "user:b")
    with engine.connect() as conn:
        info, data = documents.content(conn, ent.id)
        entries = core.audit.entries(conn, limit=10)
        with pytest.raises(InvalidInput):
            documents.store(conn, ent.id, EXE, actor="user:c")
    assert data == PDF and info.extension == "pdf"
    logged = [e for e in entries if e.action == "enterprise.document"]
    assert len(logged) == 2 and "content" not in logged[0].detail
    assert logged[0].detail["sha256"] == kept.sha256


def test_a_missing_document_is_404(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert documents.info(conn, 12345) is None
        with pytest.raises(core.NotFound):
            documents.content(conn, 12345)
