"""``indunet logs ingest``: files in batches of whole lines, Zeek headers sent again with
each batch, bad lines reported by their number in the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from indunet.cli import securitylogs
from indunet.security.ingest import read_text

SAMPLES = Path(__file__).parent / "samples"


def local_post(seen: list[bytes], fmt: str) -> securitylogs.Post:
    def post(body: bytes, name: str) -> dict[str, Any]:
        seen.append(body)
        events, errors = read_text(fmt, body.decode(), name)
        return {
            "events": len(events),
            "accepted": len(events),
            "duplicates": 0,
            "bad_lines": len(errors),
            "errors": [{"line": e.line, "error": e.error} for e in errors],
        }

    return post


def test_a_zeek_file_in_small_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = (SAMPLES / "modbus_detailed.log").read_text().splitlines()
    data = lines[:8] + [lines[8], lines[9]] * 30 + ["short\tline"] + [lines[8]] * 5
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "modbus_detailed.log"
    log.write_text("\n".join(data))  # no newline at the end: the last line still counts
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    seen: list[bytes] = []
    monkeypatch.setattr(securitylogs, "http_post", lambda url, tok, fmt: local_post(seen, fmt))
    result = CliRunner().invoke(
        securitylogs.app,
        [
            "ingest",
            str(tmp_path / "logs"),
            "--format",
            "zeek",
            "--token-file",
            str(token),
            "--batch-bytes",
            "4096",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(seen) > 2 and all(b.startswith(b"#separator") for b in seen)
    assert "74 lines: 65 events, 65 queued, 0 already seen, 1 bad lines" in result.stdout
    assert "modbus_detailed.log, line 69: 2 values where the #fields header names 21" in (
        result.output
    )


def test_batches_hold_whole_lines() -> None:
    data = b"a\nbb\nccc\n" + b"x" * 50 + b"\nd\npartial"
    batches = list(securitylogs._batches(data, 8))
    assert b"".join(b for b, _ in batches) == data[: data.rfind(b"\n") + 1]
    assert all(b.endswith(b"\n") for b, _ in batches)
    assert sum(n for _, n in batches) == 5


def test_the_command_needs_a_token_and_a_known_format(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(securitylogs.app, ["ingest", str(tmp_path), "--format", "cef"])
    assert r.exit_code != 0 and "one of zeek" in r.output
    r = runner.invoke(securitylogs.app, ["ingest", str(tmp_path), "--format", "eve"])
    assert r.exit_code != 0 and "--token-file" in r.output
