"""Connection secrets are stored sealed with a key outside the database, and open again."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from indunet import core, ids
from indunet.core.sealed import KEY_ENV, Sealer, SecretKeyMismatch
from indunet.devices.tables import devices as device_table
from indunet.web import AppState, build_state

PASSWORD = "pw-Secret-4840"
KEY_PASSWORD = "key-pass-9911"
OPCUA = {"endpoint": "opc.tcp://10.0.4.31:4840/cnc", "username": "op", "password": PASSWORD}


def test_seal_and_open_round_trip_and_clear_values_pass_through() -> None:
    sealer = Sealer(Fernet.generate_key())
    sealed = sealer.seal(PASSWORD)
    assert PASSWORD not in sealed and Sealer.is_sealed(sealed)
    assert sealer.seal(sealed) == sealed
    assert sealer.open(sealed) == PASSWORD
    assert sealer.open("written-before-sealing") == "written-before-sealing"
    with pytest.raises(SecretKeyMismatch) as caught:
        Sealer(Fernet.generate_key()).open(sealed)
    assert caught.value.code == "secret_key_mismatch"


def test_the_key_file_is_made_once_private_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    settings = core.Settings(data_dir=tmp_path / "d")
    first = Sealer.from_settings(settings)
    key = settings.data_dir / "secret.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert Sealer.from_settings(settings).open(first.seal("x")) == "x"
    env_key = Fernet.generate_key()
    monkeypatch.setenv(KEY_ENV, env_key.decode())
    assert Sealer.from_settings(settings).open(Sealer(env_key).seal("y")) == "y"
    monkeypatch.setenv(KEY_ENV, "not-a-key")
    with pytest.raises(core.IndunetError, match="Fernet key"):
        Sealer.from_settings(settings)


def raw_connection(engine: sa.Engine, device_id: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                sa.text("SELECT connection FROM dev_devices WHERE id = :id"), {"id": device_id}
            ).scalar_one()
        )


def create_cnc(state: AppState, enterprise_id: int, **connection: str) -> None:
    assert state.platform is not None
    state.platform.devices.create(
        enterprise_id,
        {
            "id": "cnc-7",
            "name": "CNC 7",
            "model": "indunet:cnc-machine",
            "protocol": "opcua",
            "connection": {**OPCUA, **connection},
        },
        actor="test",
    )


def test_a_stored_opcua_password_is_sealed_and_the_connector_gets_it_clear(
    state: AppState, allocation: ids.Allocation, enterprise: core.Enterprise
) -> None:
    create_cnc(state, enterprise.id)
    raw = raw_connection(state.engine, "cnc-7")
    assert PASSWORD not in raw and "sealed:v1:" in raw
    # what the platform hands to its connectors (sync_devices) is the clear password
    assert state.platform is not None
    listed = {d.id: d for d in state.platform.devices.list()}
    assert listed["cnc-7"].connection["password"] == PASSWORD
    # and so does a registry in another process reading the same database
    fresh = build_state(state.settings, engine=state.engine)
    assert fresh.platform is not None
    assert fresh.platform.devices.get("cnc-7").connection["password"] == PASSWORD
    # an update keeps it sealed
    state.platform.devices.update(
        "cnc-7", {"connection": {**OPCUA, "password": "pw-Changed-1"}}, actor="test"
    )
    assert "pw-Changed-1" not in raw_connection(state.engine, "cnc-7")
    assert state.platform.devices.get("cnc-7").connection["password"] == "pw-Changed-1"


def test_clear_passwords_from_before_are_sealed_on_start(
    state: AppState, allocation: ids.Allocation, enterprise: core.Enterprise
) -> None:
    create_cnc(state, enterprise.id)
    with state.engine.begin() as conn:  # as an older version stored it
        conn.execute(
            device_table.update()
            .where(device_table.c.id == "cnc-7")
            .values(connection={**OPCUA, "private_key_password": KEY_PASSWORD})
        )
    assert PASSWORD in raw_connection(state.engine, "cnc-7")
    fresh = build_state(state.settings, engine=state.engine)
    raw = raw_connection(state.engine, "cnc-7")
    assert PASSWORD not in raw and KEY_PASSWORD not in raw
    assert fresh.platform is not None
    conn = fresh.platform.devices.get("cnc-7").connection
    assert (conn["password"], conn["private_key_password"]) == (PASSWORD, KEY_PASSWORD)
