"""What each role of the scaled mode is wired with (nothing is started: no server needed):
its event buses, who handles the events handled once, and where its commands go."""

from __future__ import annotations

from pathlib import Path

import pytest

from indunet import bus
from indunet.core import InMemoryEventBus, Settings
from indunet.web import AppState, build_state, open_database


def _state(tmp_path: Path, role: str, shard: str = "0/1", **extra: object) -> AppState:
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    settings = Settings(
        data_dir=tmp_path / f"{role}-{shard.replace('/', '-')}",
        database_url=db,
        bus_url="nats://127.0.0.1:1",
        bus_prefix="twiring",
        role=role,
        shard=shard,
        **extra,  # type: ignore[arg-type]
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    open_database(settings).dispose()
    return build_state(settings)


@pytest.mark.parametrize(
    ("role", "shard", "leads"),
    [
        ("all", "0/1", True),
        ("worker", "0/2", True),
        ("worker", "1/2", False),
        ("api", "0/1", False),
    ],
)
def test_the_lead_process_alone_consumes_the_events_handled_once(
    tmp_path: Path, role: str, shard: str, leads: bool
) -> None:
    state = _state(tmp_path, role, shard)
    assert isinstance(state.bus, bus.NatsEventBus) and state.bus.durable is None
    if leads:
        assert isinstance(state.bus_once, bus.NatsEventBus) and state.bus_once.durable == "notify"
    else:
        assert isinstance(state.bus_once, bus.HandledElsewhere)
    notify = state.services["notify"]
    assert notify.bus is state.bus_once  # type: ignore[attr-defined]
    assert state.platform is not None and state.platform.bus is state.bus
    assert state.backbone is not None
    assert state.services["bus"].backbone is state.backbone  # type: ignore[attr-defined]
    state.engine.dispose()


def test_an_api_process_sends_every_command_to_the_connector_that_owns_the_device(
    tmp_path: Path,
) -> None:
    state = _state(tmp_path, "api", bus_connectors=3)
    platform = state.platform
    assert platform is not None and platform.command_server is None
    sender = platform.commands.sender
    assert isinstance(sender, bus.RemoteSender) and sender.connectors == 3
    state.engine.dispose()


def test_a_connector_process_serves_its_share_and_forwards_the_rest(tmp_path: Path) -> None:
    state = _state(tmp_path, "connector", "1/3", bus_connectors=5)  # its own count wins
    platform = state.platform
    assert platform is not None and platform.command_server is not None
    assert platform.command_server.index == 1
    sender = platform.commands.sender
    assert isinstance(sender, bus.RoutedSender) and sender.remote.connectors == 3
    devices = ("press-1", "oven-7", "电表-3", "pump-2")
    assert [d for d in devices if sender.owns(d)] == ["press-1"]  # crc32 % 3 == 1
    state.engine.dispose()


def test_the_embedded_mode_keeps_its_in_process_bus(state: AppState) -> None:
    assert isinstance(state.bus, InMemoryEventBus) and state.bus_once is state.bus
    assert state.backbone is None and state.invalidation is None
    assert state.platform is not None and state.platform.command_server is None
    assert state.platform.commands.sender is state.platform.connectors
