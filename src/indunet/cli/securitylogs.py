"""``indunet logs ingest``: ship log files (Zeek, Suricata EVE, syslog) to a running
Indunet over HTTP (``POST /api/v1/security/logs``), in batches of whole lines.

Each batch is at most ``--batch-bytes``; a Zeek TSV file's header lines are sent again in
front of each batch so every batch reads on its own, and bad lines are reported with their
line number in the file. A full queue (503) is waited out (``Retry-After``) and the batch
sent again. ``--follow`` keeps reading what is appended (a file replaced or truncated is read
from its start).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from indunet.core.settings import DEFAULT_PORT
from indunet.security.ingest import FORMATS

app = typer.Typer(
    rich_markup_mode=None,
    help="Security logs: ship Zeek, Suricata EVE and syslog files to Indunet.",
    no_args_is_help=True,
)
BATCH_BYTES = 1024 * 1024
MAX_BATCH_BYTES = 8 * 1024 * 1024 - 64 * 1024
Post = Callable[[bytes, str], dict[str, Any]]


@dataclass
class Totals:
    lines: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    bad: list[tuple[str, int, str]] = field(default_factory=list)


def _batches(data: bytes, limit: int) -> Iterator[tuple[bytes, int]]:
    """Whole lines of ``data`` in runs of at most ``limit`` bytes (a longer line alone),
    with how many lines each holds; a last line without its newline is left out (the
    caller keeps it for later)."""
    start = 0
    end = data.rfind(b"\n") + 1
    while start < end:
        cut = data.rfind(b"\n", start, start + limit) + 1
        if cut <= start:  # one line over the limit: send it alone, the server counts it
            cut = data.index(b"\n", start) + 1
        chunk = data[start:cut]
        yield chunk, chunk.count(b"\n")
        start = cut


def ship_bytes(
    data: bytes,
    name: str,
    fmt: str,
    post: Post,
    totals: Totals,
    *,
    first_line: int = 1,
    header: bytes = b"",
    limit: int = BATCH_BYTES,
) -> int:
    """Post the whole lines of ``data`` (line ``first_line`` on); how many bytes went."""
    sent = 0
    line = first_line
    for chunk, count in _batches(data, limit):
        head = header if header and not chunk.startswith(b"#") else b""
        skip = head.count(b"\n")
        answer = post(head + chunk, name)
        totals.lines += count
        totals.events += int(answer.get("events", 0))
        totals.accepted += int(answer.get("accepted", 0))
        totals.duplicates += int(answer.get("duplicates", 0))
        for err in answer.get("errors", []):
            totals.bad.append((name, line + int(err["line"]) - 1 - skip, str(err["error"])))
        line += count
        sent += len(chunk)
    return sent


def zeek_header(path: Path) -> bytes:
    """The ``#`` lines a Zeek TSV file starts with."""
    out = b""
    with path.open("rb") as f:
        for raw in f:
            if not raw.startswith(b"#") or len(out) > 64 * 1024:
                break
            out += raw
    return out


def http_post(url: str, token: str, fmt: str, timeout: float = 60.0) -> Post:
    """A ``Post`` sending to ``url``'s ``/api/v1/security/logs``, waiting out 503s."""
    client = httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
        timeout=timeout,
    )

    def post(body: bytes, name: str) -> dict[str, Any]:
        while True:
            r = client.post(
                "/api/v1/security/logs", params={"format": fmt, "name": name}, content=body
            )
            if r.status_code == 503:
                time.sleep(float(r.headers.get("retry-after", "5")))
                continue
            if r.status_code != 200:
                raise typer.BadParameter(
                    f"{name}: the server answered {r.status_code}: {r.text[:300]}"
                )
            answer: dict[str, Any] = r.json()
            return answer

    return post


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file())
    return [path]


READ = 16 * 1024 * 1024


def _ship_file(
    f: Path,
    mark: tuple[int, int, int],
    fmt: str,
    post: Post,
    totals: Totals,
    follow: bool,
    limit: int,
) -> tuple[int, int, int]:
    """Send what ``f`` holds past ``mark``; the new mark."""
    ino, offset, line = mark
    header = zeek_header(f) if fmt == "zeek" else b""
    with f.open("rb") as fh:
        fh.seek(offset)
        while True:
            data = fh.read(READ)
            if not data:
                return ino, offset, line
            more = fh.read(1)
            if more:
                fh.seek(-1, os.SEEK_CUR)
            elif not follow and not data.endswith(b"\n"):
                data += b"\n"  # the last line of a finished file
            sent = ship_bytes(
                data,
                f.name,
                fmt,
                post,
                totals,
                first_line=line,
                header=header,
                limit=limit,
            )
            if sent == 0 and more:  # a line longer than READ: skip it, as the server would
                sent = len(data)
                totals.bad.append((f.name, line, f"over {READ:,} bytes"))
            line += data[:sent].count(b"\n")
            offset += min(sent, len(data))
            fh.seek(offset)
            if not more:
                return ino, offset, line


@app.callback()
def logs() -> None:
    """Security logs: ship Zeek, Suricata EVE and syslog files to Indunet."""


@app.command("ingest")
def ingest(
    path: Annotated[Path, typer.Argument(help="A log file, or a directory of them")],
    format: Annotated[str, typer.Option("--format", help="zeek, zeek-json, eve or syslog")],
    url: Annotated[
        str, typer.Option(help="The running Indunet")
    ] = f"http://127.0.0.1:{DEFAULT_PORT}",
    token_file: Annotated[Path | None, typer.Option(help="File holding an API token")] = None,
    follow: Annotated[bool, typer.Option(help="Keep sending what is appended")] = False,
    batch_bytes: Annotated[int, typer.Option(min=4096, max=MAX_BATCH_BYTES)] = BATCH_BYTES,
) -> None:
    """Send log lines to Indunet's security event hub; bad lines are listed by number."""
    if format not in FORMATS:
        raise typer.BadParameter(f"--format {format!r}: one of {', '.join(FORMATS)}")
    if token_file is None:
        raise typer.BadParameter(
            "--token-file is needed (an API token of a platform or enterprise admin)"
        )
    token = token_file.read_text().strip()
    post = http_post(url, token, format)
    totals = Totals()
    marks: dict[Path, tuple[int, int, int]] = {}  # inode, offset, next line
    while True:
        for f in _files(path):
            try:
                st = os.stat(f)
            except FileNotFoundError:
                continue
            ino, offset, line = marks.get(f, (st.st_ino, 0, 1))
            if ino != st.st_ino or st.st_size < offset:
                ino, offset, line = st.st_ino, 0, 1
            if st.st_size == offset:
                continue
            marks[f] = _ship_file(f, (ino, offset, line), format, post, totals, follow, batch_bytes)
        if not follow:
            break
        time.sleep(1.0)
    for name, number, error in totals.bad[:200]:
        typer.echo(f"{name}, line {number}: {error}", err=True)
    typer.echo(
        f"{totals.lines} lines: {totals.events} events, {totals.accepted} queued, "
        f"{totals.duplicates} already seen, {len(totals.bad)} bad lines"
    )
