"""The vulnerability part of the security service: importing advisories and keeping matches.

Who may do what (the routes call these, and nothing else):

- importing (an uploaded file, or a sync of the operator's directory) needs a platform admin:
  advisories are shared by every enterprise;
- the directory is the one the operator configures (``INDUNET_CSAF_DIR``); a path is never taken
  from a request;
- everything else reads or changes matches through `store` (the access rule).

A directory sync remembers the newest ``changes.csv`` time it read (table security_vuln_syncs),
so the next sync reads only files changed since.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from indunet.core import InvalidInput, PermissionDenied, User, audit
from indunet.core.users import Role
from indunet.security.vulns import store as matches_store
from indunet.security.vulns.ingest import FileError, Loaded, Scan, load_bytes, scan_directory
from indunet.security.vulns.matching import AssetLister, Matching, Rematched, no_assets
from indunet.security.vulns.store import check_tlp, store
from indunet.security.vulntables import syncs

log = logging.getLogger(__name__)
ENV_DIR = "INDUNET_CSAF_DIR"


@dataclass
class ImportReport:
    """What an import did: files read, advisories stored or unchanged, files refused (named)."""

    read: int = 0
    stored: int = 0
    unchanged: int = 0
    failed: list[FileError] = field(default_factory=list)
    matches: Rematched | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "read": self.read,
            "stored": self.stored,
            "unchanged": self.unchanged,
            "failed": [
                {"file": f.name, "reason": f.reason, "problems": list(f.problems)}
                for f in self.failed
            ],
            "matches": None if self.matches is None else self.matches.__dict__,
        }


class Vulnerabilities:
    """Advisories in, matches kept current."""

    def __init__(
        self, engine: sa.Engine, csaf_dir: Path | None = None, list_assets: AssetLister = no_assets
    ) -> None:
        self.engine = engine
        self.csaf_dir = csaf_dir
        self.matching = Matching(engine, list_assets)

    async def start(self) -> None:
        """Nothing runs in the background."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def advisories(
        self, q: str = "", severity: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of advisories (public: any signed-in user)."""
        with self.engine.connect() as conn:
            return matches_store.list_advisories(
                conn, q=q, severity=severity, offset=offset, limit=limit
            )

    def matches(self, user: User, **filters: Any) -> tuple[list[dict[str, Any]], int]:
        """One page of the matches `user` may see (filters: enterprise_id, asset_id, severity,
        state, q, offset, limit)."""
        with self.engine.connect() as conn:
            return matches_store.list_matches(conn, user, **filters)

    def match(self, user: User, match_id: int) -> dict[str, Any]:
        """One match `user` may see."""
        with self.engine.connect() as conn:
            return matches_store.get_match(conn, user, match_id)

    def set_state(self, user: User, match_id: int, state: str, reason: str) -> dict[str, Any]:
        """A person sets a match's state (audited; kept across re-matching)."""
        with self.engine.begin() as conn:
            return matches_store.set_state(conn, user, match_id, state, reason)

    def summary(self, user: User, enterprise_id: int | None = None) -> list[dict[str, Any]]:
        """Open vulnerabilities by severity, with affected assets."""
        with self.engine.connect() as conn:
            return matches_store.open_by_severity(conn, user, enterprise_id)

    def import_bytes(self, user: User, name: str, data: bytes) -> ImportReport:
        """Import one uploaded document (platform admins); a bad one is a clear 400."""
        _check_admin(user)
        result = load_bytes(name, data)
        if isinstance(result, FileError):
            raise InvalidInput(
                result.describe(),
                reason="vuln_bad_document",
                params={
                    "file": result.name,
                    "problems": "; ".join(result.problems) or result.reason,
                },
            )
        check_tlp(result.advisory, name)
        return self._store([result], user, "upload", ImportReport(read=1))

    def sync(self, user: User) -> ImportReport:
        """Read the operator's directory (only what changed since the last sync)."""
        _check_admin(user)
        base = self.csaf_dir
        if base is None or not base.is_dir():
            raise InvalidInput(
                f"no CSAF directory is configured ({ENV_DIR})",
                reason="vuln_no_directory",
                params={"setting": ENV_DIR},
            )
        key = str(base)[:300]
        with self.engine.connect() as conn:
            since = conn.execute(sa.select(syncs.c.newest).where(syncs.c.source == key)).scalar()
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        try:
            scan: Scan = scan_directory(base, since)
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"{base}: {exc}", reason="vuln_sync_failed", params={"problem": str(exc)[:200]}
            ) from exc
        report = ImportReport(read=scan.listed, failed=list(scan.failed))
        public: list[Loaded] = []
        for item in scan.loaded:
            try:
                check_tlp(item.advisory, item.name)
            except InvalidInput:
                report.failed.append(FileError(item.name, "tlp", (str(item.advisory.tlp),)))
                continue
            public.append(item)
        report = self._store(public, user, "sync", report)
        with self.engine.begin() as conn:
            conn.execute(syncs.delete().where(syncs.c.source == key))
            conn.execute(
                syncs.insert().values(
                    source=key, newest=scan.newest or since, synced_at=datetime.now(UTC)
                )
            )
        return report

    def _store(
        self, loaded: list[Loaded], user: User, source: str, report: ImportReport
    ) -> ImportReport:
        with self.engine.begin() as conn:
            done = store(conn, loaded, user.username, source)
            audit.record(
                conn,
                f"user:{user.username}",
                "security.vuln_import",
                source,
                {
                    "stored": len(done.changed),
                    "unchanged": done.unchanged,
                    "failed": len(report.failed),
                },
                enterprise_id=None,
            )
        report.stored = len(done.changed)
        report.unchanged = done.unchanged
        if done.changed:
            report.matches = self.matching.rematch_advisories(done.changed)
        return report


def _check_admin(user: User) -> None:
    if user.role is not Role.PLATFORM_ADMIN:
        raise PermissionDenied(
            f"{user.username} ({user.role}) may not import advisories; that needs a platform admin",
            reason="vuln_import_admin_only",
        )


def from_env(engine: sa.Engine) -> Vulnerabilities:
    """The part as the security service runs it: the directory from ``INDUNET_CSAF_DIR``."""
    raw = os.environ.get(ENV_DIR, "").strip()
    return Vulnerabilities(engine, Path(raw) if raw else None)
