"""The protocol plug-ins agree with each other, with devices' tables and with the checklist.

docs/contributing/adding-a-protocol.md lists what a protocol needs; these tests check each
item that can be checked, so a protocol added without one of them fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from indunet import connect, devices
from indunet.connect import ConnectorContext, ConnectorManager, protocols
from indunet.core import InvalidInput
from indunet.devices import Point, ThingModel, connections
from indunet.devices.forms import BINDINGS
from indunet.telemetry import Sample
from indunet.web.api.models import summary

ROOT = Path(__file__).resolve().parents[2]
CONNECT = ROOT / "src" / "indunet" / "connect"
CHECKLIST = ROOT / "docs" / "contributing" / "adding-a-protocol.md"
LOCALES = ROOT / "src" / "indunet" / "web" / "console" / "locales"
NAMES = [s.name for s in protocols.PROTOCOLS]


class Sink:
    """Samples, dead letters and statuses, discarded."""

    async def submit(self, samples: Sequence[Sample], *, source: str) -> None:
        pass

    async def reject(
        self,
        device: str | None,
        *,
        source: str,
        reason: str,
        payload: bytes | str,
        why: str | None = None,
        params: object = None,
    ) -> None:
        pass

    def device_status(self, device_id: str, online: bool) -> None:
        pass


@pytest.mark.parametrize("spec", protocols.PROTOCOLS, ids=NAMES)
def test_every_protocol_has_its_folder_with_the_well_known_files(
    spec: connect.ProtocolSpec,
) -> None:
    folder = CONNECT / spec.name
    assert (folder / "spec.py").is_file()
    assert (folder / "__init__.py").is_file()
    if spec.connector is not None:
        assert (folder / "connector.py").is_file()
    if spec.settings is not None:
        assert (folder / "config.py").is_file()


def test_the_list_holds_each_spec_module_once_and_names_are_unique() -> None:
    specs = sorted(p.parent.name for p in CONNECT.glob("*/spec.py"))
    assert specs == sorted(NAMES)  # a folder with a spec.py is in the list, and only once
    assert len(set(NAMES)) == len(NAMES)


def test_devices_tables_follow_the_list() -> None:
    assert tuple(NAMES) == devices.PROTOCOLS
    takes_settings = {s.name for s in protocols.PROTOCOLS if s.settings is not None}
    assert set(connections.SETTINGS) == takes_settings


def test_every_form_binding_belongs_to_exactly_one_protocol() -> None:
    assert sorted(b.name for b in BINDINGS) == sorted(s.form for s in protocols.PROTOCOLS if s.form)
    for spec in protocols.PROTOCOLS:
        assert spec.form is None or spec.binding is not None


def test_the_checklist_table_and_the_console_labels_name_every_protocol() -> None:
    rows = re.findall(r"^\| `(\w+)` \| `connect/(\w+)/` \|", CHECKLIST.read_text(), re.M)
    assert rows == [(n, n) for n in NAMES]
    for locale in ("en.json", "zh-CN.json"):
        messages = json.loads((LOCALES / locale).read_text())
        missing = [s.label_key for s in protocols.PROTOCOLS if s.label_key not in messages]
        assert missing == [], locale
    en = json.loads((LOCALES / "en.json").read_text())
    assert {s.label_key: s.label for s in protocols.PROTOCOLS} == {
        s.label_key: en[s.label_key] for s in protocols.PROTOCOLS
    }


def test_the_manager_is_built_from_the_list() -> None:
    sink = Sink()
    manager = ConnectorManager.from_protocols(ConnectorContext(sink, sink))
    with_connector = [s.name for s in protocols.PROTOCOLS if s.connector is not None]
    assert list(manager.connectors) == with_connector == ["mqtt", "modbus", "opcua"]
    assert {n: c.protocol for n, c in manager.connectors.items()} == {n: n for n in with_connector}


@dataclass(frozen=True)
class S7Form:
    """A form of a protocol nobody registered."""

    db: int = 1


def test_a_model_with_a_form_of_no_known_protocol_is_a_clear_400_not_mqtt() -> None:
    point = Point("temp", "number", forms=(S7Form(),))  # type: ignore[arg-type]
    model = ThingModel("test:s7", "1.0.0", {}, {"temp": point})
    with pytest.raises(InvalidInput, match="S7Form is not a form of any known protocol") as err:
        summary(model)
    assert err.value.status == 400
