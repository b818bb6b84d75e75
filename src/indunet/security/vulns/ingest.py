"""Reading CSAF documents from files: one upload, a directory as CISA publishes it, a local ROLIE feed.

Layouts read:

- **one file** (`load_bytes`): an upload, at most `Limits.max_bytes` (8 MiB).
- **a directory** (`scan_directory`) laid out as CISA's repository is: ``<base>/YYYY/*.json``,
  with ``<base>/changes.csv`` (``path,timestamp`` lines, newest first). With a previous sync time
  only files changed after it are read; a file that changes.csv lists but that is not there is an
  error naming it. Paths in changes.csv are taken relative to the base; CISA writes them from its
  repository root (``csaf_files/OT/white/2024/x.json``), so when that path is not found the last
  two parts (``2024/x.json``) are tried. A path that would leave the base is refused.
- **a local ROLIE feed** (`feed_paths`): a feed JSON whose entries name their document by a
  ``self`` link or ``content.src``; each is read from the feed's directory by its last two path
  parts. Remote URLs are never fetched here (no network access in ingest; an operator syncs the
  files, e.g. ``git clone https://github.com/cisagov/CSAF``, and points ``INDUNET_CSAF_DIR`` at them).

Each document is checked against the CSAF 2.0 schema; a file that fails (too large, not JSON,
schema problems) yields a `FileError` naming the file and the JSON paths of its first problems,
nothing of it is returned, and the rest goes on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import orjson

from indunet.security.vulns.document import Advisory, read_advisory
from indunet.security.vulns.schema import problems


@dataclass(frozen=True)
class Limits:
    """Bounds on what ingest reads."""

    max_bytes: int = 8 * 1024 * 1024  # one document
    max_files: int = 20_000  # one directory sync or feed
    max_changes_bytes: int = 16 * 1024 * 1024  # changes.csv


LIMITS = Limits()


@dataclass(frozen=True)
class Loaded:
    """A document that passed: where it came from, its digest and what it says."""

    name: str
    sha256: str
    advisory: Advisory
    document: dict[str, object]


@dataclass(frozen=True)
class FileError:
    """A file not taken, and why: ``reason`` is stable (``too_large``, ``not_json``, ``schema``,
    ``missing``, ``outside``), ``problems`` the JSON paths and messages of the first problems."""

    name: str
    reason: str
    problems: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for a person."""
        detail = "; ".join(self.problems)
        return f"{self.name}: {self.reason}" + (f" ({detail})" if detail else "")


@dataclass
class Scan:
    """What one pass over a directory or feed found."""

    loaded: list[Loaded] = field(default_factory=list)
    failed: list[FileError] = field(default_factory=list)
    listed: int = 0  # files considered
    newest: datetime | None = None  # newest changes.csv time seen (the next `since`)


def load_bytes(name: str, data: bytes, limits: Limits = LIMITS) -> Loaded | FileError:
    """Check and read one document's bytes."""
    if len(data) > limits.max_bytes:
        return FileError(name, "too_large", (f"{len(data)} bytes > {limits.max_bytes}",))
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return FileError(name, "not_json", (str(exc)[:200],))
    if not isinstance(document, dict):
        return FileError(name, "schema", ("$: not an object",))
    found = problems(document)
    if found:
        return FileError(name, "schema", tuple(f"{p.path}: {p.message}" for p in found))
    advisory = read_advisory(document)
    return Loaded(name, hashlib.sha256(data).hexdigest(), advisory, document)


def load_file(path: Path, name: str, limits: Limits = LIMITS) -> Loaded | FileError:
    """Check and read one file (its size is checked before it is read)."""
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            return FileError(name, "too_large", (f"{size} bytes > {limits.max_bytes}",))
        data = path.read_bytes()
    except FileNotFoundError:
        return FileError(name, "missing")
    except OSError as exc:
        return FileError(name, "unreadable", (exc.strerror or type(exc).__name__,))
    return load_bytes(name, data, limits)


def scan_directory(base: Path, since: datetime | None = None, limits: Limits = LIMITS) -> Scan:
    """Read a CISA-style directory: changes.csv when present (only entries after `since`), else
    every ``YYYY/*.json``."""
    scan = Scan()
    changes = base / "changes.csv"
    if changes.is_file():
        entries = list(_changes(changes, limits))
        newest = max((t for _, t in entries if t is not None), default=None)
        scan.newest = newest
        todo = [(p, t) for p, t in entries if since is None or t is None or t > since]
        seen: set[str] = set()
        for rel, _ in todo:
            if rel in seen:
                continue
            seen.add(rel)
            if scan.listed >= limits.max_files:
                scan.failed.append(
                    FileError(rel, "too_many", (f"more than {limits.max_files} files",))
                )
                break
            scan.listed += 1
            path = _inside(base, rel)
            if path is None:
                scan.failed.append(FileError(rel, "outside"))
                continue
            _add(scan, load_file(path, rel, limits))
        return scan
    for path in _year_files(base, limits, scan):
        _add(scan, load_file(path, path.relative_to(base).as_posix(), limits))
    return scan


def feed_paths(feed: Path, limits: Limits = LIMITS) -> tuple[list[str], list[FileError]]:
    """The documents a local ROLIE feed lists, as paths relative to the feed's directory."""
    name = feed.name
    try:
        if feed.stat().st_size > limits.max_changes_bytes:
            return [], [FileError(name, "too_large")]
        data = orjson.loads(feed.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        return [], [FileError(name, "not_json", (str(exc)[:200],))]
    entries = data.get("feed", {}).get("entry", []) if isinstance(data, dict) else []
    out: list[str] = []
    errors: list[FileError] = []
    for entry in entries if isinstance(entries, list) else []:
        href = _entry_href(entry)
        if href is None:
            errors.append(
                FileError(str(entry.get("id") if isinstance(entry, dict) else "?"), "no_link")
            )
            continue
        parts = PurePosixPath(href.split("?", 1)[0]).parts
        out.append("/".join(parts[-2:]))
    return out[: limits.max_files], errors


def scan_feed(feed: Path, limits: Limits = LIMITS) -> Scan:
    """Read every document a local ROLIE feed lists (from the feed's directory, never the network)."""
    scan = Scan()
    paths, errors = feed_paths(feed, limits)
    scan.failed.extend(errors)
    for rel in paths:
        scan.listed += 1
        path = _inside(feed.parent, rel)
        if path is None:
            scan.failed.append(FileError(rel, "outside"))
            continue
        _add(scan, load_file(path, rel, limits))
    return scan


def _entry_href(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return None
    for link in entry.get("link") or []:
        if (
            isinstance(link, dict)
            and link.get("rel") == "self"
            and isinstance(link.get("href"), str)
        ):
            return str(link["href"])
    content = entry.get("content")
    if isinstance(content, dict) and isinstance(content.get("src"), str):
        return str(content["src"])
    return None


def _add(scan: Scan, result: Loaded | FileError) -> None:
    if isinstance(result, FileError):
        scan.failed.append(result)
    else:
        scan.loaded.append(result)


def _changes(path: Path, limits: Limits) -> Iterator[tuple[str, datetime | None]]:
    if path.stat().st_size > limits.max_changes_bytes:
        raise ValueError(f"changes.csv is larger than {limits.max_changes_bytes} bytes")
    text = path.read_text(encoding="utf-8", errors="replace")
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0].strip():
            continue
        when = _time(row[1]) if len(row) > 1 else None
        yield row[0].strip(), when


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def _inside(base: Path, rel: str) -> Path | None:
    """The file `rel` names under `base` (trying its last two parts), or None if it would leave."""
    if "\x00" in rel or rel.startswith(("/", "\\")) or ".." in PurePosixPath(rel).parts:
        return None
    root = base.resolve()
    candidates = [rel]
    parts = PurePosixPath(rel).parts
    if len(parts) > 2:
        candidates.append("/".join(parts[-2:]))
    chosen: Path | None = None
    for candidate in candidates:
        path = (root / candidate).resolve()
        if not path.is_relative_to(root):
            return None
        if chosen is None:
            chosen = path
        if path.is_file():
            return path
    return chosen if len(candidates) == 1 else (root / candidates[-1])


def _year_files(base: Path, limits: Limits, scan: Scan) -> Iterator[Path]:
    root = base.resolve()
    for year in sorted(os.listdir(root)) if root.is_dir() else ():
        folder = root / year
        if not (year.isdigit() and len(year) == 4 and folder.is_dir()):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json"):
                continue
            if scan.listed >= limits.max_files:
                scan.failed.append(
                    FileError(
                        f"{year}/{name}", "too_many", (f"more than {limits.max_files} files",)
                    )
                )
                return
            scan.listed += 1
            yield folder / name
