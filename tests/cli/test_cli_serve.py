"""``indunet node`` checks every option before it writes anything."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from indunet.cli.main import app

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
