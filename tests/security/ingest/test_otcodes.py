"""Industrial functions from Zeek and Suricata get the sensor's names, codes and write flag,
so the OT rules read every source alike."""

from __future__ import annotations

import orjson
import pytest

from indunet.security.detect import Context, Engine, MemorySink, builtin_files, load_ruleset
from indunet.security.detect.conditions import NamedList
from indunet.security.ingest import read_text
from indunet.security.ingest.otcodes import function_of


@pytest.mark.parametrize(
    ("protocol", "code", "name", "expected"),
    [
        ("modbus", 16, "wrmultregs", (16, "write_multiple_registers", True)),
        ("modbus", "0x03", None, (3, "read_holding_registers", False)),
        ("modbus", "5", None, (5, "write_single_coil", True)),
        ("modbus", None, "read_coils", (1, "read_coils", False)),
        ("modbus", 99, "vendor_thing", (99, "vendor_thing", False)),  # code kept, name kept
        ("dnp3", 18, None, (18, "stop_application", True)),
        ("dnp3", None, "cold_restart", (13, "cold_restart", True)),
        ("s7comm", None, "write_var", (5, "write_var", True)),
        ("s7comm", "0x29", "plc_stop", (0x29, "plc_stop", True)),
        ("enip", None, "listidentity", (0x63, "list_identity", False)),
        ("enip", None, "write_tag", (0x4D, "write_tag", True)),
        ("enip", 4, "mystery", (None, "mystery", None)),  # enip codes are ambiguous: by name
        ("modbus", None, "no_such_function", (None, "no_such_function", None)),
        ("bacnet", 12, "readproperty", (None, "readproperty", None)),
        ("modbus", [1, 2], None, (None, None, None)),  # a list where a code belongs
        ("modbus", True, None, (None, None, None)),
        ("modbus", "0xzz", None, (None, None, None)),
    ],
)
def test_function_of(protocol: str, code: object, name: str | None, expected: tuple) -> None:
    assert function_of(protocol, code, name) == expected


def eve(event_type: str, body: dict) -> str:
    return orjson.dumps(
        {
            "timestamp": "2024-03-01T10:00:02.000000+0800",
            "event_type": event_type,
            "src_ip": "192.168.1.99",
            "src_port": 50000,
            "dest_ip": "192.168.1.11" if event_type == "dnp3" else "192.168.1.10",
            "dest_port": 20000 if event_type == "dnp3" else 502,
            "proto": "TCP",
            event_type: body,
        }
    ).decode()


def test_suricata_dnp3_and_a_modbus_write_from_an_unlisted_host_raise_the_sensor_rules() -> None:
    lines = [
        eve("dnp3", {"type": "request", "application": {"function_code": 18, "objects": []}}),
        eve(
            "modbus",
            {"request": {"function_raw": 6, "function_code": "WrSingleReg", "unit_id": 1}},
        ),
        # a record that names no function: not "a function outside the allow-list"
        eve("modbus", {"id": 9}),
    ]
    events, errors = read_text("eve", "\n".join(lines), "eve.json", enterprise_id=1)
    assert errors == []
    stop, write, bare = events
    assert (stop.action, stop.fields["function"], stop.fields["write"]) == (
        "stop_application",
        18,
        True,
    )
    assert (write.action, write.fields["function"], write.fields["write"]) == (
        "write_single_register",
        6,
        True,
    )
    assert bare.action is None and "function" not in bare.fields
    lists = {
        "allowed_masters": NamedList.of(["192.168.1.5"]),
        "modbus_functions": NamedList.of([3]),
        "dnp3_functions": NamedList.of([1, 129, 130]),
    }
    engine = Engine(load_ruleset(builtin_files()), MemorySink(), Context(lists=lists))
    fired = {(a.rule, a.events[-1].id) for a in engine.process(events)}
    assert ("ot.mode.stop", stop.id) in fired
    assert ("ot.write.unauthorized-master", write.id) in fired
    assert ("ot.function.not-allowed", write.id) in fired
    assert not any(event_id == bare.id for _, event_id in fired)


def test_zeek_names_become_codes() -> None:
    header = (
        "#separator \\x09\n#path\tmodbus\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h"
        "\tid.resp_p\tfunc\texception\n#types\ttime\tstring\taddr\tport\taddr\tport\tstring"
        "\tstring\n"
    )
    rows = [
        "1709287200.1\tC1\t192.168.1.20\t50211\t192.168.1.10\t502\tWRITE_SINGLE_COIL\t-",
        "1709287200.2\tC1\t192.168.1.20\t50211\t192.168.1.10\t502\tREAD_COILS\t-",
    ]
    events, errors = read_text("zeek", header + "\n".join(rows) + "\n", "modbus.log")
    assert errors == []
    assert [(e.action, e.fields["function"], e.fields["write"]) for e in events] == [
        ("write_single_coil", 5, True),
        ("read_coils", 1, False),
    ]
