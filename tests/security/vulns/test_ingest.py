"""Reading CSAF documents: schema failures named, CISA directories with changes.csv, feeds, limits."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from tests.security.vulns.samples import CSAF, real

from indunet.security.vulns.ingest import (
    FileError,
    Limits,
    Loaded,
    load_bytes,
    scan_directory,
    scan_feed,
)
from indunet.security.vulns.schema import problems


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    base = tmp_path / "white"
    shutil.copytree(CSAF, base, ignore=shutil.ignore_patterns("README.md"))
    return base


def test_every_vendored_advisory_passes_the_schema() -> None:
    for path in sorted(CSAF.glob("*/*.json")):
        assert problems(orjson.loads(path.read_bytes())) == [], path.name


def test_schema_failure_names_the_file_and_json_paths() -> None:
    doc = real("2021/icsa-21-068-05")
    del doc["document"]["title"]
    doc["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseScore"] = "high"
    doc["product_tree"]["branches"][0]["category"] = "maker"
    result = load_bytes("bad.json", orjson.dumps(doc))
    assert isinstance(result, FileError) and result.reason == "schema"
    text = result.describe()
    assert text.startswith("bad.json: schema")
    assert "$.document: 'title' is a required property" in text
    assert "$.vulnerabilities[0].scores[0].cvss_v3" in text
    assert "$.product_tree.branches[0].category" in text


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"{not json", "not_json"), (b"[1, 2]", "schema"), (b"{}", "schema")],
)
def test_not_a_document(data: bytes, reason: str) -> None:
    result = load_bytes("x.json", data)
    assert isinstance(result, FileError) and result.reason == reason


def test_size_is_bounded_before_parsing() -> None:
    result = load_bytes("big.json", b" " * 101, Limits(max_bytes=100))
    assert isinstance(result, FileError) and result.reason == "too_large"


def test_a_good_file_is_read() -> None:
    result = load_bytes("ok.json", (CSAF / "2022/icsa-22-132-11.json").read_bytes())
    assert isinstance(result, Loaded)
    assert result.advisory.tracking_id == "ICSA-22-132-11" and len(result.sha256) == 64


def test_directory_sync_reads_everything_then_only_changes(tree: Path) -> None:
    first = scan_directory(tree)
    assert len(first.loaded) == 14 and first.failed == [] and first.listed == 14
    assert first.newest == datetime(2024, 10, 8, tzinfo=UTC)
    again = scan_directory(tree, first.newest)
    assert again.loaded == [] and again.listed == 0
    # a revised document appears in changes.csv with a newer time: only it is read
    lines = (tree / "changes.csv").read_text().splitlines()
    lines.insert(0, "csaf_files/OT/white/2021/icsa-21-068-05.json,2024-11-01T00:00:00.000000Z")
    (tree / "changes.csv").write_text("\n".join(lines) + "\n")
    third = scan_directory(tree, first.newest)
    assert [x.advisory.tracking_id for x in third.loaded] == ["ICSA-21-068-05"]


def test_a_listed_file_that_is_missing_is_an_error_named(tree: Path) -> None:
    (tree / "2022/icsa-22-132-11.json").unlink()
    scan = scan_directory(tree)
    assert [(f.name, f.reason) for f in scan.failed] == [
        ("csaf_files/OT/white/2022/icsa-22-132-11.json", "missing")
    ]
    assert len(scan.loaded) == 13


def test_a_bad_file_is_counted_and_the_rest_goes_on(tree: Path) -> None:
    (tree / "2017/icsa-17-061-01.json").write_text('{"document": {}}')
    scan = scan_directory(tree)
    assert len(scan.loaded) == 13
    [bad] = scan.failed
    assert bad.name.endswith("2017/icsa-17-061-01.json") and bad.reason == "schema"
    assert any(p.startswith("$.document:") for p in bad.problems)


def test_paths_leaving_the_base_are_refused(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.json").write_text("{}")
    (tree / "changes.csv").write_text(
        "../secret.json,2025-01-01T00:00:00Z\n/etc/passwd,2025-01-01T00:00:00Z\n"
    )
    scan = scan_directory(tree)
    assert sorted(f.reason for f in scan.failed) == ["outside", "outside"]
    assert scan.loaded == []


def test_without_changes_csv_every_year_folder_is_read(tree: Path) -> None:
    (tree / "changes.csv").unlink()
    (tree / "notes").mkdir()
    (tree / "notes/x.json").write_text("{}")
    scan = scan_directory(tree)
    assert len(scan.loaded) == 14 and scan.failed == []


def test_file_count_is_bounded(tree: Path) -> None:
    scan = scan_directory(tree, limits=Limits(max_files=3))
    assert len(scan.loaded) == 3
    assert scan.failed[-1].reason == "too_many"


def test_local_rolie_feed(tree: Path) -> None:
    entries = [
        {
            "id": "ICSA-22-132-11",
            "link": [{"rel": "self", "href": "https://example.org/white/2022/icsa-22-132-11.json"}],
        },
        {
            "id": "ICSA-21-068-05",
            "content": {"src": "https://example.org/white/2021/icsa-21-068-05.json"},
        },
        {"id": "X", "link": []},
    ]
    (tree / "feed.json").write_bytes(orjson.dumps({"feed": {"entry": entries}}))
    scan = scan_feed(tree / "feed.json")
    assert sorted(x.advisory.tracking_id for x in scan.loaded) == [
        "ICSA-21-068-05",
        "ICSA-22-132-11",
    ]
    assert [(f.name, f.reason) for f in scan.failed] == [("X", "no_link")]


def test_schema_references_resolve_locally_and_nothing_is_fetched() -> None:
    from referencing.exceptions import NoSuchResource, Unresolvable

    from indunet.security.vulns.schema import validator

    registry = validator()._resolver._registry  # type: ignore[attr-defined]
    for uri in (
        "https://www.first.org/cvss/cvss-v2.0.json",
        "https://www.first.org/cvss/cvss-v3.1.json",
    ):
        assert registry.contents(uri)["title"].startswith(
            "JSON Schema for Common Vulnerability Scoring"
        )
    with pytest.raises((NoSuchResource, Unresolvable)):
        registry.get_or_retrieve("https://example.org/not-vendored.json")
