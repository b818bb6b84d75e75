"""Suricata EVE lines read two ways give the same events: bytes lines (as a tailed file gives
them) through the decoder that builds only what the event lifts, their ``fields`` kept as the
line's text until read (``RawFields``); text lines decoded in full. Every attribute, every
``fields`` value and every error must agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.core import Role, User
from indunet.security.events import RawFields, SecurityEvent, event_from_dict
from indunet.security.eventstore import EventQuery, EventStore
from indunet.security.eventtables import security_events
from indunet.security.ingest import eve
from indunet.security.ingest.common import LineError

SAMPLES = Path(__file__).parent / "samples"
ATTRS = tuple(SecurityEvent.__dataclass_fields__)


def both(lines: list[bytes]) -> tuple[list[SecurityEvent], list[LineError]]:
    """The lines read as bytes and as text; asserts that both readings agree."""
    fast, fast_errors = eve.read_lines(lines, 1, "eve.json", "o", 1)
    full, full_errors = eve.read_lines(
        [x.decode("utf-8", "surrogateescape") for x in lines], 1, "eve.json", "o", 1
    )
    assert fast_errors == full_errors
    assert len(fast) == len(full)
    for a, b in zip(fast, full, strict=True):
        for name in ATTRS:
            if name != "fields":
                assert getattr(a, name) == getattr(b, name), name
        assert type(b.fields) is dict
        assert dict(a.fields) == b.fields and a.fields == b.fields
        assert list(a.fields) == list(b.fields)  # the same keys, in the same order
        assert event_from_dict(orjson.loads(orjson.dumps(a.to_dict()))) == b
    return fast, fast_errors


def record(event_type: str, **parts: Any) -> bytes:
    base = {
        "timestamp": "2024-03-01T10:00:00.123456+0800",
        "flow_id": 1186227338219016,
        "in_iface": "eth1",
        "event_type": event_type,
        "src_ip": "192.168.1.20",
        "src_port": 50211,
        "dest_ip": "192.168.1.10",
        "dest_port": 502,
        "proto": "TCP",
    }
    return orjson.dumps(base | parts)


def test_the_samples_and_each_record_shape_read_alike() -> None:
    lines = (SAMPLES / "eve.json").read_bytes().splitlines()
    lines += [
        record("flow", app_proto="modbus", flow={"state": "closed", "alerted": False}),
        record("modbus", modbus={"request": {"function_raw": 5, "function_code": "WrSingleCoil"}}),
        record("dnp3", dnp3={"application": {"function_code": "DIRECT_OPERATE"}}),
        record("enip", enip={"request": {"command": "List Identity"}}),
        record("anomaly", anomaly={"type": "decode", "event": "decoder.ipv4.trunc_pkt"}),
        record("anomaly", anomaly="odd"),
        record("alert", alert={"signature_id": 7, "action": "blocked", "severity": 2}),
        record("http", http={"hostname": "plc.example", "url": "/caf\u00e9"}),  # UTF-8
        record("flow", ether={"src_mac": "AA:BB:CC:DD:EE:FF", "dest_mac": "x"}),
        record("flow", src_port="502/tcp", dest_ip="0:0::1", app_proto=" spaced "),
        record("flow", src_ip=None, dest_port=None, timestamp="2024-03-01T10:00:00Z"),
        record("stats", stats={"uptime": 1}),
        record("flow", function="the record's own", write=1),
        record("flow").replace(b"1186227338219016", b"123456789012345678901234567890"),
        # a number beyond a float's range in the record's own detail: kept as its text
        record("flow", flow={"bytes": 1}).replace(b'"bytes":1', b'"bytes":1e999'),
        # …and as a port, one that is no port (as "x" would be)
        record("tls", src_port=1).replace(b'"src_port":1', b'"src_port":-1e999'),
        # duplicate keys: the last one counts, as for any JSON reader here
        b'{"event_type":"flow","event_type":"dns","timestamp":"2024-03-01T10:00:00Z","a":1,"a":2}',
    ]
    events, errors = both(lines)
    assert errors == []
    by_kind = {e.kind: e for e in events}
    assert by_kind["net.dns"].fields == {
        "event_type": "dns",
        "timestamp": "2024-03-01T10:00:00Z",
        "a": 2,
    }
    big = [e for e in events if e.fields.get("flow", {}).get("bytes") == "1e999"]
    assert len(big) == 1
    assert by_kind["net.tls"].src_port is None


def test_bad_lines_are_named_alike() -> None:
    deep = b'{"event_type":"flow","x":' + b"[" * 3000 + b"]" * 3000 + b"}"
    lines = [
        b'{"timestamp":"2024-03-01T10:00:00Z","event_type":"alert"',
        b'{"timestamp":"yesterday","event_type":"flow"}',
        b'{"timestamp":"2024-03-01T10:00:00Z","event_type":"alert","alert":"x"}',
        b'{"timestamp":"2024-03-01T10:00:00Z","event_type":"flow","src_ip":"10.0.0.999"}',
        b'{"timestamp":"2024-03-01T10:00:00Z","event_type":"flow","dest_ip":7}',
        b"[1,2]",
        b'"text"',
        b'{"timestamp":"2024-03-01T10:00:00Z"}',
        b'{"timestamp":"2024-03-01T10:00:00Z","event_type":"flow","x":NaN}',
        b'{"timestamp":"2024-03-01T10:00:00Z","event_type":"flow","x":"\\ud800"}',
        b'{"timestamp":"2024-03-01T10:00:00Z","event_type":"flow","x":1,}',
        deep,
        b'{"timestamp":"2024-03-01T10:00:00Z","event_type":"flow","x":"\xff"}',
    ]
    events, errors = both(lines)
    assert events == []
    assert [e.line for e in errors] == list(range(1, len(lines) + 1))
    assert "not JSON" in errors[0].error and "not ISO 8601" in errors[1].error
    assert "not a JSON object" in errors[5].error and "no event_type" in errors[7].error
    assert all("not JSON" in errors[i].error for i in (8, 9, 10, 11, 12))


def test_fields_are_decoded_only_when_read_and_the_function_code_without_it() -> None:
    line = record("modbus", modbus={"request": {"function_raw": 6, "function_code": "WrSingleReg"}})
    (event,), _ = eve.read_lines([line], 1, "eve.json", "o")
    fields = event.fields
    assert isinstance(fields, RawFields)
    assert fields.get("function") == 6 and fields.get("write") is True  # what the parser added
    assert fields._data is None  # …read without decoding the record
    assert fields.get("modbus")["request"]["function_raw"] == 6  # now decoded, once
    decoded = fields._data
    assert decoded is not None and fields.get("in_iface") == "eth1" and fields._data is decoded
    assert fields["src_ip"] == "192.168.1.20"  # the whole record, as Suricata wrote it
    assert "flow_id" in fields and len(fields) == len(dict(fields)) == len(orjson.loads(line)) + 2
    assert repr(fields) == repr(dict(fields))


def test_the_json_text_is_the_record_and_the_additions_without_decoding() -> None:
    line = record("modbus", modbus={"request": {"function_raw": 6, "function_code": "WrSingleReg"}})
    (event,), _ = eve.read_lines([line + b"  \r\n"], 1, "eve.json", "o")
    text = event.fields.json_text()  # type: ignore[attr-defined]
    assert event.fields._data is None  # type: ignore[attr-defined]
    assert orjson.loads(text) == dict(event.fields) and text.startswith(line[:-1].decode())
    # the record's own key of an added name: the addition is the later key, and so it counts
    own = record(
        "modbus",
        function="own",
        modbus={"request": {"function_raw": 1, "function_code": "RdCoils"}},
    )
    (event,), _ = eve.read_lines([own], 1, "eve.json", "o")
    text = event.fields.json_text()  # type: ignore[attr-defined]
    assert text.count('"function"') == 2 and orjson.loads(text)["function"] == 1
    assert orjson.loads(text) == dict(event.fields)
    (flow,), _ = eve.read_lines([record("flow")], 1, "eve.json", "o")
    assert flow.fields.json_text() == record("flow").decode()  # type: ignore[attr-defined]


def test_a_record_that_no_reader_takes_is_named_in_its_fields() -> None:
    broken = RawFields(b"{")
    assert list(broken) == ["_unreadable"] and broken["_unreadable"]
    assert RawFields(b"[1]") == {"_unreadable": "not a JSON object"}
    assert RawFields(b'{"a":1e999,"b":2}', {"b": 3}) == {"a": "1e999", "b": 3}


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
_keys = st.sampled_from(
    ["event_type", "timestamp", "src_ip", "src_port", "dest_ip", "dest_port", "app_proto",
     "ether", "alert", "anomaly", "modbus", "dnp3", "enip", "flow", "x", "function"]
)  # fmt: skip
_values = {
    "event_type": st.sampled_from(["flow", "alert", "modbus", "dnp3", "anomaly", "tls", "stats", ""]),
    "timestamp": st.sampled_from(["2024-03-01T10:00:00.000001+0800", "2024-03-01T10:00:00Z", "x"]),
    "src_ip": st.sampled_from(["10.0.0.1", "::1", "0:0::1", "10.0.0.300", ""]),
    "src_port": st.integers(-5, 70_000) | st.sampled_from(["502", "502/tcp", "x"]),
}  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(_keys, _json, max_size=6), min_size=1, max_size=5), st.data())
def test_any_record_reads_alike_both_ways(records: list[dict[str, Any]], data: Any) -> None:
    lines = []
    for r in records:
        for key, strategy in _values.items():  # mostly plausible values for the lifted keys
            if data.draw(st.booleans()):
                r[key] = data.draw(strategy)
        lines.append(orjson.dumps(r))
    both(lines)


def stored_alike(store: EventStore) -> None:
    """EVE events written with their details still as text read back as the details."""
    lines = [
        # non-ASCII as Suricata escapes it (\u00e9), and as a UTF-8 line (decoded in full)
        record("flow", flow={"note": "caf\u00e9 \u2603"}).replace(
            "caf\u00e9 \u2603".encode(), b"caf\\u00e9 \\u2603"
        ),
        record("flow", flow={"note": "caf\u00e9 \u2603"}),
        record("modbus", modbus={"request": {"function_raw": 16, "function_code": "WrMultRegs"}}),
        record("modbus", function="own", modbus={"request": {"function_raw": 1, "command": "x"}}),
        record("alert", alert={"signature_id": 7, "signature": 'a "quoted" \\ sig'}),
    ]
    events, errors = eve.read_lines(lines, 1, "eve.json", "o")
    assert not errors and [type(e.fields) for e in events] == [RawFields, dict] + [RawFields] * 3
    assert store.write(events) == 5
    assert all(e.fields._data is None for e in events if type(e.fields) is RawFields)  # type: ignore[attr-defined]
    overseer = User(id=1, username="r", role=Role.REGULATOR, enterprise_id=None)
    rows, total = store.search(overseer, EventQuery(source="suricata"), limit=10)
    assert total == 5
    by_id = {r["id"]: r["fields"] for r in rows}
    for e in events:
        assert by_id[e.id] == dict(e.fields)
    assert [by_id[e.id].get("function") for e in events] == [None, None, 16, 1, None]
    assert by_id[events[0].id]["flow"]["note"] == by_id[events[1].id]["flow"]["note"] == "café ☃"


def test_the_store_writes_the_details_as_their_text(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'events.db'}")
    security_events.metadata.create_all(engine)
    stored_alike(EventStore(engine))
