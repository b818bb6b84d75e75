"""What the systemd units in ``deploy/`` run: their command and environment, for tests.

A test that stands for an installation reads ``deploy/systemd/indunet-<part>@.service`` and
``deploy/indunet.env.example`` here, so it runs the command and settings the units hold
(with the instance's ``%i``/``%I`` filled in) rather than a copy of them that could drift.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = DEPLOY / "systemd"
ENV_EXAMPLE = DEPLOY / "indunet.env.example"
INSTALLED_BINARY = "/opt/indunet/bin/indunet"  # where the units expect the entry point


def _unescape(instance: str) -> str:
    """``%I`` of an instance name: systemd's escaping undone (``-`` is ``/``)."""
    return instance.replace("-", "/")


def env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """``KEY=value`` lines of an environment file (comments and blank lines skipped)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: {line!r} is not KEY=value")
        out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class Unit:
    """One instance of a templated unit: its command line and ``Environment=`` settings."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str]
    env_files: tuple[str, ...]

    @classmethod
    def load(cls, template: str, instance: str) -> Unit:
        """``deploy/systemd/<template>@.service`` for ``instance`` (e.g. ``worker``, ``0-2``)."""
        path = UNITS / f"{template}@.service"
        fill = {"%i": instance, "%I": _unescape(instance)}
        argv: list[str] = []
        env: dict[str, str] = {}
        files: list[str] = []
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";", "[")):
                continue
            key, _, value = line.partition("=")
            for k, v in fill.items():
                value = value.replace(k, v)
            if key == "ExecStart":
                argv = shlex.split(value)
            elif key == "Environment":
                name, _, val = value.partition("=")
                env[name] = val
            elif key == "EnvironmentFile":
                files.append(value)
        if not argv:
            raise ValueError(f"{path} has no ExecStart")
        return cls(f"{template}@{instance}", tuple(argv), env, tuple(files))

    def command(self) -> list[str]:
        """The command line, with the installed entry point replaced by this interpreter's."""
        head, *rest = self.argv
        if head != INSTALLED_BINARY:
            raise ValueError(f"{self.name} runs {head}, not {INSTALLED_BINARY}")
        return [sys.executable, "-m", "indunet", *rest]
