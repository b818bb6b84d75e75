"""The README's tour can be followed exactly: its input files are in examples/tour/ and are
what the README shows, and the quick start's two commands use separate environments."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOUR = ROOT / "examples" / "tour"


def shown(command: str) -> str:
    """What the README prints after ``$ <command>``, up to the next prompt or block end."""
    m = re.search(rf"^\$ {re.escape(command)}\n(.*?)(?=^\$ |^```)", README, re.M | re.S)
    assert m, f"the README shows no '$ {command}'"
    return m.group(1)


@pytest.mark.parametrize("name", ["pump.json", "spindle.json", "tour_pyhandle.py"])
def test_the_tours_files_are_what_the_readme_shows(name: str) -> None:
    assert shown(f"cat {name}") == (TOUR / name).read_text(encoding="utf-8")


def test_the_valves_file_has_the_rows_the_readme_counts() -> None:
    lines = (TOUR / "valves.csv").read_text(encoding="utf-8").splitlines()
    assert "\n".join(lines[:2]) + "\n" == shown("head -2 valves.csv")
    assert len(lines) - 1 == 1002  # "1002 rows: 1001 registered, ... 1 failed"
    assert lines[1002].startswith("88.100.1/VALVE-BAD1,")  # "line 1003"


def test_the_quick_start_commands_use_their_own_environments() -> None:
    demo = re.search(r"python3 -m venv (\S+) && .*indunet demo", README)
    tests = re.search(r"python3 -m venv (\S+) && .*python -m pytest", README)
    assert demo and tests and demo.group(1) != tests.group(1)
