"""Evidence files of cases: uploaded in a stream, bounded, hashed, kept private.

An upload is checked (may the user work on the case?) before a byte is read, written to a
private temporary file (0600 in a 0700 directory, ``core.files``) while its SHA-256 is
computed, refused with 413 as soon as it passes ``MAX_EVIDENCE`` (the partial file removed),
and only then renamed into place and recorded, with its name, size, declared type and digest.
Downloads go to whoever may see the case (another tenant: 404) and are always served as an
attachment of type ``application/octet-stream`` (never inline, never as HTML).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import sqlalchemy as sa

from indunet.core import Conflict, IndunetError, NotFound, User, access, audit
from indunet.core.files import FILE_MODE, private_dir
from indunet.security.casetables import evidence

from .model import Evidence
from .rows import changed, evidence_of
from .store import Cases

MAX_EVIDENCE = 20 * 1024 * 1024
MAX_FILES = 200
"""Evidence files one case may hold."""
_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


class EvidenceTooLarge(IndunetError):
    """The evidence file is over the limit; nothing was kept."""

    code = "payload_too_large"
    status = 413


def clean_name(name: str) -> str:
    """A file name safe to show and to send back: no directories, no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip().lstrip(".")
    return (base or "evidence")[:200]


def clean_type(media_type: str) -> str:
    """The declared media type if it reads as one, else ``application/octet-stream``."""
    kind = media_type.split(";", 1)[0].strip().lower()
    return kind if _TYPE.match(kind) else "application/octet-stream"


class EvidenceFiles:
    """Evidence files of cases, under ``root`` (the data directory's ``security/evidence``)."""

    def __init__(self, cases: Cases, root: Path, limit: int = MAX_EVIDENCE) -> None:
        self.cases = cases
        self.root = root
        self.limit = limit

    def _may_add(self, user: User, case_id: int) -> int | None:
        with self.cases.engine.connect() as conn:
            case = self.cases.row(conn, user, case_id)
            access.check_change(user, case.enterprise_id, f"case {case_id}", users_too=True)
            n = conn.execute(
                sa.select(sa.func.count())
                .select_from(evidence)
                .where(evidence.c.case_id == case_id)
            ).scalar_one()
        if n >= MAX_FILES:
            raise Conflict(
                f"case {case_id} has {MAX_FILES} evidence files already",
                reason="case_full",
                params={"what": "evidence", "limit": str(MAX_FILES)},
            )
        return case.enterprise_id

    async def upload(
        self,
        user: User,
        case_id: int,
        name: str,
        media_type: str,
        chunks: AsyncIterator[bytes],
    ) -> Evidence:
        """Keep the file ``chunks`` brings as evidence of the case."""
        await asyncio.to_thread(self._may_add, user, case_id)
        name, media_type = clean_name(name), clean_type(media_type)
        await asyncio.to_thread(private_dir, self.root)
        stored = uuid.uuid4().hex
        part = self.root / f"{stored}.part"
        fd = await asyncio.to_thread(
            os.open,
            part,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
            FILE_MODE,
        )
        digest = hashlib.sha256()
        size = 0
        try:
            try:
                os.fchmod(fd, FILE_MODE)
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.limit:
                        raise EvidenceTooLarge(
                            f"the file is over {self.limit:,} bytes",
                            reason="evidence_too_large",
                            params={"limit": str(self.limit)},
                        )
                    digest.update(chunk)
                    await asyncio.to_thread(os.write, fd, chunk)
                await asyncio.to_thread(os.fsync, fd)
            finally:
                os.close(fd)
            if size == 0:
                from indunet.core import InvalidInput

                raise InvalidInput("the file is empty", reason="evidence_empty")
            await asyncio.to_thread(os.replace, part, self.root / stored)
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        try:
            return await asyncio.to_thread(
                self._record, user, case_id, name, media_type, size, digest.hexdigest(), stored
            )
        except BaseException:
            with contextlib.suppress(OSError):
                (self.root / stored).unlink()
            raise

    def _record(
        self,
        user: User,
        case_id: int,
        name: str,
        media_type: str,
        size: int,
        sha256: str,
        stored: str,
    ) -> Evidence:
        actor = f"user:{user.username}"
        now = self.cases.clock()
        with self.cases.engine.begin() as conn:
            case = self.cases.row(conn, user, case_id)  # it may have gone meanwhile
            access.check_change(user, case.enterprise_id, f"case {case_id}", users_too=True)
            ev_id = conn.execute(
                evidence.insert()
                .values(
                    case_id=case_id,
                    name=name,
                    media_type=media_type,
                    size=size,
                    sha256=sha256,
                    stored=stored,
                    uploaded_by=actor,
                    at=now,
                )
                .returning(evidence.c.id)
            ).scalar_one()
            changed(conn, case_id, actor, "evidence", None, name, now, size=size, sha256=sha256)
            audit.record(
                conn,
                actor,
                "security.case.evidence.add",
                f"case {case_id}",
                {"name": name, "size": size, "sha256": sha256},
                enterprise_id=case.enterprise_id,
            )
            return evidence_of(
                conn.execute(sa.select(evidence).where(evidence.c.id == ev_id)).one()
            )

    def list(self, user: User, case_id: int) -> list[Evidence]:
        """The case's evidence files, oldest first."""
        with self.cases.engine.connect() as conn:
            self.cases.row(conn, user, case_id)
            q = sa.select(evidence).where(evidence.c.case_id == case_id).order_by(evidence.c.id)
            return [evidence_of(r) for r in conn.execute(q)]

    def open(self, user: User, case_id: int, evidence_id: int) -> tuple[Evidence, Path]:
        """An evidence file's record and path, for someone who may see the case."""
        with self.cases.engine.connect() as conn:
            self.cases.row(conn, user, case_id)
            row = conn.execute(
                sa.select(evidence).where(
                    evidence.c.id == evidence_id, evidence.c.case_id == case_id
                )
            ).first()
        if row is None:
            raise NotFound(f"no evidence {evidence_id} in case {case_id}")
        found = evidence_of(row)
        path = self.root / found.stored
        if not path.is_file():
            raise NotFound(f"the file of evidence {evidence_id} is missing")
        return found, path
