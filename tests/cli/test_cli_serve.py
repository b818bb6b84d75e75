"""``indunet node`` checks every option before it writes anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from indunet.cli.main import app
from indunet.cli.serve import _no_password

runner = CliRunner()


def test_a_node_announcing_without_its_key_file_fails_before_touching_the_data_dir(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    result = runner.invoke(
        app,
        [
            "node",
            "--role",
            "secondary",
            "--prefix",
            "88.100",
            "--parent",
            "http://127.0.0.1:9/",
            "--data-dir",
            str(data),
        ],
    )
    assert result.exit_code != 0
    assert "--parent-key-file" in result.output
    assert not data.exists() or list(data.iterdir()) == []  # no database, no admin


def test_a_secondary_node_without_a_prefix_fails_before_touching_the_data_dir(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    result = runner.invoke(app, ["node", "--role", "secondary", "--data-dir", str(data)])
    assert result.exit_code != 0 and "--prefix" in result.output
    assert not data.exists() or list(data.iterdir()) == []


def test_a_scaled_role_without_a_bus_fails_before_touching_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INDUNET_BUS_URL", raising=False)
    data = tmp_path / "data"
    result = runner.invoke(app, ["up", "--role", "worker", "--data-dir", str(data)])
    assert result.exit_code == 2
    assert "INDUNET_BUS_URL" in result.output
    assert not data.exists()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--shard", "2/2"], "the index must be below the count"),
        (["--shard", "x"], "shard"),
        (["--role", "boss"], "role"),
    ],
)
def test_bad_role_or_shard_is_named_not_a_traceback(
    tmp_path: Path, options: list[str], named: str
) -> None:
    result = runner.invoke(app, ["up", *options, "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())  # unwrap the error box
    assert named in text
    assert "Traceback" not in text


def test_bus_passwords_are_not_printed() -> None:
    shown = _no_password("nats://svc:s3cret@10.0.0.1:4222, tls://10.0.0.2:4222")
    assert shown == "nats://svc:***@10.0.0.1:4222,tls://10.0.0.2:4222"
    assert _no_password("nats://s3cret-token@10.0.0.1:4222") == "nats://***@10.0.0.1:4222"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ([], "--primary"),
        (["--primary", "http://127.0.0.1:9/"], "--primary"),
        (["--primary", "ftp://primary.example/", "--primary-token-file", "{token}"], "scheme"),
        (["--primary", "http://10.0.0.1:8000/", "--primary-token-file", "{token}"], "10.0.0.1"),
        (["--primary", "http://primary.example/", "--primary-token-file", "{missing}"], "exist"),
        (["--primary", "http://primary.example/", "--primary-token-file", "{short}"], "16"),
    ],
)
def test_a_dr_node_checks_its_primary_before_touching_the_data_dir(
    tmp_path: Path, extra: list[str], named: str
) -> None:
    (tmp_path / "token").write_text("t" * 40 + "\n")
    (tmp_path / "short").write_text("abc\n")
    files = {
        "{token}": str(tmp_path / "token"),
        "{short}": str(tmp_path / "short"),
        "{missing}": str(tmp_path / "none"),
    }
    data = tmp_path / "data"
    args = ["node", "--role", "dr", "--prefix", "88.100", "--data-dir", str(data)]
    result = runner.invoke(app, [*args, *(files.get(a, a) for a in extra)])
    assert result.exit_code != 0
    assert named in result.output, result.output
    assert not data.exists() or list(data.iterdir()) == []


def test_primary_options_belong_to_a_dr_node(tmp_path: Path) -> None:
    args = ["node", "--role", "secondary", "--prefix", "88.100", "--data-dir", str(tmp_path)]
    result = runner.invoke(app, [*args, "--primary", "http://primary.example/"])
    assert result.exit_code != 0 and "--role dr" in result.output
