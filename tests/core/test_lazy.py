"""Heavy protocol libraries load when a connector or simulator is used, not on every command."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_the_cli_starts_without_asyncua_or_pymodbus() -> None:
    code = (
        "import sys, indunet.cli.main\n"
        "print(sorted(m for m in ('asyncua', 'pymodbus') if m in sys.modules))\n"
        "from indunet import connect, sim\n"
        "connect.OpcUaConnector, sim.ModbusGateway\n"
        "print(sorted(m for m in ('asyncua', 'pymodbus') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["[]", "['asyncua', 'pymodbus']"]


def test_lazy_names_resolve_once_and_refuse_unknown_names() -> None:
    from indunet import connect
    from indunet.connect.opcua import OpcUaSettings

    assert connect.OpcUaSettings is OpcUaSettings
    assert "OpcUaSettings" in vars(connect)  # kept after the first use
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = connect.Nope  # type: ignore[attr-defined]
