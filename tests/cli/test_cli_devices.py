"""``indunet device …`` and ``indunet model …`` on a data directory."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from tests.conftest import USCC_A
from typer.testing import CliRunner, Result

from indunet.cli import app

runner = CliRunner()
PRESS = {
    "@context": ["https://www.w3.org/2022/wot/td/v1.1"],
    "@type": "tm:ThingModel",
    "indunet:modelId": "acme:press",
    "title": "Press",
    "version": {"model": "1.0.0"},
    "properties": {"force": {"type": "number", "unit": "kN", "readOnly": True}},
}


def run(data: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--data-dir", str(data)])


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir with a verified enterprise holding prefix 88.100.1."""
    d = tmp_path / "data"
    assert run(d, "enterprise", "add", "--uscc", USCC_A, "--name", "厦门示例").exit_code == 0
    (tmp_path / "key.txt").write_text("s3cret-key-for-tests\n")
    r = run(
        d, "id", "prefix", "add", "88.100.1", "--enterprise", USCC_A,
        "--secret-key-file", str(tmp_path / "key.txt"),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return d


def add_meter(data: Path, device_id: str = "meter-1", *extra: str) -> Result:
    return run(
        data, "device", "add", device_id, "--name", "1号电表", "--model", "indunet:power-meter",
        "--enterprise", USCC_A, "--host", "127.0.0.1", "--port", "1502", "--tag", "line-1",
        "--serial", "SN-7", *extra,
    )  # fmt: skip


def test_device_add_prints_the_secret_and_id_resolve_shows_the_record(data: Path):
    r = add_meter(data)
    assert r.exit_code == 0, r.output
    assert "registered meter-1 (indunet:power-meter@1.0.0, modbus)" in r.stdout
    assert "identifier: 88.100.1/dev-meter-1" in r.stdout
    secret = next(ln for ln in r.stdout.splitlines() if ln.startswith("secret: "))[8:]
    assert len(secret) >= 32 and "shown only once" in r.stderr
    resolved = run(data, "id", "resolve", "88.100.1/dev-meter-1", "--json")
    assert resolved.exit_code == 0, resolved.output
    values = {v["type"]: v["data"]["value"] for v in json.loads(resolved.stdout)["values"]}
    assert values["device_id"] == "meter-1" and values["serial"] == "SN-7"
    assert values["model"] == "indunet:power-meter@1.0.0" and values["TEMPLATE"] == "device@1"
    table = run(data, "id", "resolve", "88.100.1/dev-meter-1")
    assert table.exit_code == 0 and "SN-7" in table.stdout


def test_device_list_show_and_delete(data: Path):
    assert add_meter(data).exit_code == 0
    assert add_meter(data, "meter-2").exit_code == 0
    listed = run(data, "device", "list", "--json")
    assert [d["id"] for d in json.loads(listed.stdout)] == ["meter-1", "meter-2"]
    table = run(data, "device", "list", "--enterprise", USCC_A)
    assert "meter-2" in table.stdout and "2 device(s)" in table.stderr
    shown = json.loads(run(data, "device", "show", "meter-1").stdout)
    assert shown["connection"] == {"host": "127.0.0.1", "port": 1502, "unit": 1, "timeout": 3.0}
    gone = run(data, "device", "delete", "meter-1")
    assert gone.exit_code == 0 and "deleted meter-1 and 88.100.1/dev-meter-1" in gone.stdout
    missing = run(data, "id", "resolve", "88.100.1/dev-meter-1")
    assert missing.exit_code == 2 and "not registered" in missing.stderr
    again = run(data, "device", "show", "meter-1")
    assert again.exit_code == 2 and "no device 'meter-1'" in again.stderr


def test_device_add_refusals_change_nothing(data: Path, tmp_path: Path):
    bad = run(
        data, "device", "add", "m-1", "--name", "x", "--model", "indunet:power-meter",
        "--enterprise", USCC_A,
    )  # fmt: skip
    assert bad.exit_code == 2 and "needs connection host" in bad.stderr
    conn = add_meter(data, "m-2", "--conn", "baud")
    assert conn.exit_code == 2 and "KEY=VALUE" in conn.stderr
    (tmp_path / "short.txt").write_text("short\n")
    short = add_meter(data, "m-3", "--secret-file", str(tmp_path / "short.txt"))
    assert short.exit_code == 2 and "at least 16" in short.stderr
    nobody = run(
        data, "device", "add", "m-4", "--name", "x", "--model", "indunet:env-sensor",
        "--enterprise", "91350100M000200Y11",
    )  # fmt: skip
    assert nobody.exit_code == 2
    assert json.loads(run(data, "device", "list", "--json").stdout) == []


def test_device_add_with_a_given_secret_prints_none(data: Path, tmp_path: Path):
    (tmp_path / "s.txt").write_text("factory-secret-0001\n")
    r = add_meter(data, "meter-9", "--secret-file", str(tmp_path / "s.txt"))
    assert r.exit_code == 0 and "secret:" not in r.stdout


def test_device_import_writes_secrets_to_a_private_file(data: Path, tmp_path: Path):
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "id,name,model,host\n"
        "m-1,电表,indunet:power-meter,127.0.0.1\n"
        "m-2,电表,indunet:power-meter,\n"
        "env-1,温湿度,indunet:env-sensor,\n",
        encoding="utf-8",
    )
    out = tmp_path / "secrets.csv"
    r = run(data, "device", "import", str(csv), "--enterprise", USCC_A, "--secrets-file", str(out))
    assert r.exit_code == 1
    assert "3 rows: 2 registered, 1 failed" in r.stderr
    assert "line 3: m-2: a modbus device needs connection host" in r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "id,secret" and [ln.split(",")[0] for ln in lines[1:]] == ["m-1", "env-1"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    missing = run(data, "device", "import", str(tmp_path / "nope.csv"), "--enterprise", USCC_A)
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_model_import_export_list_and_library(data: Path, tmp_path: Path):
    f = tmp_path / "press.tm.json"
    f.write_text(json.dumps(PRESS))
    r = run(data, "model", "import", str(f), "--enterprise", USCC_A)
    assert r.exit_code == 0 and "imported acme:press@1.0.0 (1 points)" in r.stdout
    exported = run(data, "model", "export", "acme:press")
    assert json.loads(exported.stdout) == PRESS
    out = tmp_path / "out.json"
    assert run(data, "model", "export", "indunet:excavator", "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text())["indunet:modelId"] == "indunet:excavator"
    listed = run(data, "model", "list")
    assert "acme:press" in listed.stdout and "indunet:cnc-machine" in listed.stdout
    lib = run(data, "model", "library")
    assert lib.exit_code == 0 and lib.stdout.count("[present]") == 5


def test_model_import_lists_every_problem(data: Path, tmp_path: Path):
    bad = {**PRESS, "version": {"model": "1"}, "properties": {"Force": {"type": "object"}}}
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(bad))
    r = run(data, "model", "import", str(f))
    assert r.exit_code == 2
    assert "$.version.model: needs a semantic version" in r.stderr
    assert "$.properties.Force: name 'Force' must be snake_case" in r.stderr
    assert "bad.json has 3 problem(s)" in r.stderr
    f.write_text("[1]")
    assert "must hold a JSON object" in run(data, "model", "import", str(f)).stderr
    assert run(data, "model", "export", "acme:press").exit_code == 2
