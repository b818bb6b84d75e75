"""Quality gates: lint, format, strict typing and the dependency rule, run as the CI runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _run(
    *args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _passes(*args: str | Path) -> None:
    proc = _run(*args)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}"


def test_ruff_lint() -> None:
    _passes(sys.executable, "-m", "ruff", "check", "src", "tests", "bench")


def test_ruff_format() -> None:
    _passes(sys.executable, "-m", "ruff", "format", "--check", "src", "tests")


def test_mypy_strict() -> None:
    _passes(sys.executable, "-m", "mypy")


def test_import_contracts() -> None:
    _passes(LINT_IMPORTS)


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/audit.py", "from indunet import ids", "indunet.core.audit -> indunet.ids"),
        ("ids/values.py", "import indunet.web", "indunet.ids.values -> indunet.web"),
        ("web/deps.py", "import indunet.ids.store", "indunet.web.deps -> indunet.ids.store"),
    ],
)
def test_import_contracts_catch_a_violation(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    """On a copy of the tree, one forbidden import must break a contract."""
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / "src" / "indunet" / module
    target.write_text(target.read_text() + f"\n{line}  # deliberate violation\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    proc = _run(LINT_IMPORTS, cwd=tmp_path, env=env)
    assert proc.returncode != 0, proc.stdout
    assert broken in proc.stdout, proc.stdout
