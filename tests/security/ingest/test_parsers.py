"""The parsers on lines in the exact formats Zeek 6 (with CISA ICSNPP), Suricata 7 and syslog
senders write, and on malformed lines: each bad line is named by file and line, the rest read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from indunet.security.events import MAX_FIELDS_BYTES, SecurityEvent, event_from_dict
from indunet.security.ingest import read_text
from indunet.security.ingest.eve import severity_of
from indunet.security.ingest.syslog import SEVERITY

SAMPLES = Path(__file__).parent / "samples"


def read(name: str, fmt: str) -> list[SecurityEvent]:
    events, errors = read_text(fmt, (SAMPLES / name).read_text(), name)
    assert errors == []
    for e in events:  # every event is one the schema itself accepts
        assert event_from_dict(orjson.loads(orjson.dumps(e.to_dict()))) == e
    return events


def test_zeek_conn_tsv_with_its_header() -> None:
    a, b, c = read("conn.log", "zeek")
    assert (a.kind, a.source, a.protocol, a.outcome) == (
        "net.connection",
        "zeek",
        "modbus",
        "success",
    )
    assert (a.src_ip, a.src_port, a.dst_ip, a.dst_port) == (
        "192.168.1.20",
        50211,
        "192.168.1.10",
        502,
    )
    assert a.ts == 1709287200.123456
    assert a.fields["history"] == "ShADadFf" and a.fields["orig_bytes"] == 12
    assert a.fields["tunnel_parents"] == [] and a.fields["local_orig"] is True
    assert b.protocol is None and "duration" not in b.fields and b.outcome == "failure"
    assert c.protocol == "enip,cip"
    assert c.fields["tunnel_parents"] == ["CabcTunnel,1"]  # \x2c is an escaped comma
    assert a.observer == "conn.log" and a.id != b.id


def test_icsnpp_modbus_detailed() -> None:
    write, read_ = read("modbus_detailed.log", "zeek")
    assert (write.kind, write.protocol, write.action) == (
        "ot.transaction",
        "modbus",
        "write_multiple_registers",
    )
    assert write.fields["unit"] == 1 and write.fields["address"] == 40
    assert write.fields["request_values"] == [17, 0, 65535]
    assert write.fields["response_values"] == [] and write.fields["matched"] is True
    assert write.fields["zeek_path"] == "modbus_detailed"
    assert (read_.action, read_.outcome) == ("read_coils", "failure")
    assert read_.fields["exception_code"] == "ILLEGAL_DATA_ADDRESS"
    assert "request_values" not in read_.fields


def test_icsnpp_s7comm_enip_cip_dnp3() -> None:
    job, ack = read("s7comm.log", "zeek")
    assert (job.protocol, job.action, job.outcome) == ("s7comm", "write_var", "unknown")
    assert ack.outcome == "failure" and ack.fields["error_class"] == "0x85"
    # the direction-aware source/destination of ICSNPP, not the connection's originator
    assert (ack.src_ip, ack.src_port, ack.dst_ip) == ("192.168.1.11", 102, "192.168.1.21")
    req, resp = read("cip.log", "zeek")
    assert (req.protocol, req.action, req.outcome) == ("enip", "read_tag", "unknown")
    assert resp.outcome == "success" and req.fields["class_name"] == "Symbol"
    (enip,) = read("enip.log", "zeek")
    assert (enip.action, enip.outcome) == ("send_rr_data", "success")  # the sensor's name
    assert (enip.fields["function"], enip.fields["write"]) == (0x6F, False)
    (dnp3,) = read("dnp3_control.log", "zeek")
    assert (dnp3.protocol, dnp3.action) == ("dnp3", "operate")
    assert dnp3.fields["index_number"] == 3 and dnp3.fields["clear_bit"] is False


def test_zeek_json_with_iso_times_and_path_fields() -> None:
    conn, s7 = read("s7comm_conn.json", "zeek-json")
    assert conn.fields["zeek_path"] == "s7comm_conn"  # from the file name: no _path field
    assert conn.kind == "net.s7comm_conn" or conn.kind == "ot.transaction"
    assert s7.kind == "ot.transaction" and s7.action == "pi_service"
    assert s7.ts == datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC).timestamp()
    events, _ = read_text("zeek-json", (SAMPLES / "s7comm_conn.json").read_text(), "conn.log")
    assert events[0].kind == "net.connection" and events[0].outcome == "success"


def test_zeek_bad_lines_are_named_and_the_rest_read() -> None:
    lines = (SAMPLES / "modbus_detailed.log").read_text().splitlines()
    good = lines[8]
    lines.insert(9, good.rsplit("\t", 2)[0])  # two values short
    lines.insert(10, good.replace("\t7\t1\t", "\tseven\t1\t", 1))  # a count that is not
    lines.insert(11, good.replace("192.168.1.20", "999.1.1.1", 1))
    events, errors = read_text("zeek", "\n".join(lines), "modbus_detailed.log")
    assert len(events) == 2
    assert [(e.file, e.line) for e in errors] == [
        ("modbus_detailed.log", 10),
        ("modbus_detailed.log", 11),
        ("modbus_detailed.log", 12),
    ]
    assert "19 values where the #fields header names 21" in errors[0].error
    assert "field tid" in errors[1].error
    assert str(errors[0]).startswith("modbus_detailed.log, line 10:")
    _, errors = read_text("zeek", "1709287200.2\tC1\n", "x.log")
    assert errors[0].error == "a data line before the #fields header"
    _, errors = read_text("zeek-json", '{"ts":1.0}\n{"ts": \n["a"]\n{"uid":"x"}\n', "conn.log")
    assert [e.line for e in errors] == [2, 3, 4]


def test_suricata_eve() -> None:
    alert, flow, modbus, anomaly = read("eve.json", "eve")  # the stats record is no event
    assert (alert.kind, alert.source, alert.action, alert.severity) == (
        "ids.alert",
        "suricata",
        "sid:2102000",
        12,
    )
    assert alert.message.startswith("ET SCADA Modbus Write")
    assert alert.fields["alert"]["category"] == "Attempted Administrator Privilege Gain"
    assert alert.ts == datetime(2024, 3, 1, 2, 0, 0, 123456, tzinfo=UTC).timestamp()
    assert (alert.protocol, alert.dst_port) == ("modbus", 502)
    assert flow.kind == "net.connection" and flow.fields["flow"]["state"] == "closed"
    assert (modbus.kind, modbus.protocol, modbus.action, modbus.outcome) == (
        "ot.transaction",
        "modbus",
        "write_multiple_registers",  # the sensor's name for Suricata's WrMultRegs
        "success",
    )
    # the code and whether it writes, as the sensor gives them: the OT rules read these
    assert (modbus.fields["function"], modbus.fields["write"]) == (16, True)
    assert "function" not in flow.fields and "function" not in alert.fields
    assert modbus.fields["modbus"]["request"]["write"]["address"] == 40
    assert (anomaly.kind, anomaly.action, anomaly.severity) == (
        "net.anomaly",
        "decoder_udp_hlen_invalid",
        3,
    )
    assert [severity_of(s) for s in (1, 2, 3, 4, 200, None)] == [12, 9, 6, 3, 3, 6]


def test_eve_bad_lines() -> None:
    text = "\n".join(
        [
            '{"timestamp":"2024-03-01T10:00:00Z","event_type":"flow","src_ip":"10.0.0.1"}',
            '{"timestamp":"2024-03-01T10:00:00Z","event_type":"alert"',
            '{"timestamp":"yesterday","event_type":"flow"}',
            '{"timestamp":"2024-03-01T10:00:00Z","event_type":"alert","alert":"x"}',
            '{"timestamp":"2024-03-01T10:00:00Z","event_type":"flow","src_ip":"10.0.0.999"}',
            "[1,2]",
        ]
    )
    events, errors = read_text("eve", text, "eve.json")
    assert len(events) == 1
    assert [e.line for e in errors] == [2, 3, 4, 5, 6]
    assert "not JSON" in errors[0].error and "not ISO 8601" in errors[1].error
    assert "src_ip" in errors[3].error


def test_a_huge_record_keeps_bounded_fields() -> None:
    line = orjson.dumps(
        {
            "timestamp": "2024-03-01T10:00:00Z",
            "event_type": "http",
            "http": {"url": "/" + "a" * 30_000},
            "extra": ["b" * 1000] * 20,
        }
    ).decode()
    (event,), errors = read_text("eve", line, "eve.json")
    assert errors == []
    assert len(orjson.dumps(event.fields)) <= MAX_FIELDS_BYTES
    assert event.kind == "net.http"


def test_syslog_5424_and_3164() -> None:
    now = datetime(2024, 3, 1, 12, tzinfo=UTC).timestamp()
    text = (SAMPLES / "syslog.txt").read_text()
    from indunet.security.ingest.reader import Reader

    reader = Reader("syslog", "syslog.txt")
    events = []
    import indunet.security.ingest.syslog as sl

    for i, line in enumerate(text.splitlines(), 1):
        events.append(sl.parse(line, observer="", eid=str(i), now=now))
    ssh, donuts, empty, sudo = events
    assert ssh.kind == "log.auth" and ssh.severity == SEVERITY[2] == 11
    assert ssh.action == "sshd" and ssh.observer == "plc-gw.plant.example"
    assert ssh.message.startswith("Failed password")  # the BOM is gone
    assert ssh.fields["sd"]["exampleSDID@32473"]["eventID"] == "1011"
    assert ssh.fields["msgid"] == "ID47" and ssh.fields["procid"] == "4123"
    assert ssh.ts == datetime(2024, 3, 1, 10, 0, 0, 3000, tzinfo=UTC).timestamp()
    assert donuts.ts == datetime(2024, 3, 1, 10, tzinfo=UTC).timestamp()
    assert donuts.fields["facility"] == "local4" and donuts.severity == SEVERITY[5]
    assert donuts.action is None and donuts.message == "%% It's time to make the do-nuts."
    assert empty.message == "" and empty.fields["facility"] == "user"
    assert sudo.kind == "log.auth" and sudo.action == "sudo" and sudo.fields["procid"] == "811"
    assert sudo.ts == datetime(2024, 3, 1, 10, 0, 7, tzinfo=UTC).timestamp()
    assert sudo.message.startswith("operator : TTY=pts/0")
    assert reader.line(text.splitlines()[3], 4) is not None
    assert SEVERITY == (15, 13, 11, 8, 6, 4, 2, 0)


def test_syslog_3164_year_and_zone_rule() -> None:
    import indunet.security.ingest.syslog as sl

    jan = datetime(2025, 1, 1, 0, 5, tzinfo=UTC).timestamp()
    december = sl.parse("<13>Dec 31 23:59:58 h app: x", observer="", eid="1", now=jan)
    assert december.ts == datetime(2024, 12, 31, 23, 59, 58, tzinfo=UTC).timestamp()
    shanghai = timezone(timedelta(hours=8))
    local = sl.parse("<13>Jan  1 08:00:00 h app: x", observer="", eid="2", now=jan, zone=shanghai)
    assert local.ts == datetime(2025, 1, 1, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("no pri here", "no <PRI>"),
        ("<999>1 - - - - - -", "over 191"),
        ("<13>1 2024-03-01T10:00:00Z host app", "RFC 5424 header"),
        ('<13>1 2024-03-01T10:00:00Z h a p m [id x="1 msg', "closing quote"),
        ("<13>1 2024-03-01T10:00:00Z h a p m [id x=1] msg", 'name="value"'),
        ("<13>1 2024-03-01T10:00:00Z h a p m garbage msg", "must be - or start with ["),
        ("<13>1 2024-03-01T10:00:00 h a p m - msg", "has no zone"),
        ("<13>Feb 30 10:00:00 h app: x", "not a date"),
        ("<13>Today 10:00 h app: x", "neither RFC 5424"),
    ],
)
def test_syslog_bad_lines(line: str, why: str) -> None:
    events, errors = read_text("syslog", f"<13>1 - - - - - - fine\n{line}\n", "syslog.txt")
    assert len(events) == 1
    assert len(errors) == 1 and errors[0].line == 2 and why in errors[0].error, errors


def test_overlong_lines_are_named() -> None:
    from indunet.security.ingest import MAX_LINE

    text = "<13>1 - - - - - - ok\n<13>1 - - - - - - " + "x" * MAX_LINE + "\n<13>1 - - - - - - ok2\n"
    events, errors = read_text("syslog", text, "big.log")
    assert [e.message for e in events] == ["ok", "ok2"]
    assert errors[0].line == 2 and "over 65,536 bytes" in errors[0].error


def test_eve_times_read_alike_by_the_same_second_shortcut_and_in_full() -> None:
    from indunet.security.ingest import eve
    from indunet.security.ingest.common import BadLine

    zones = ("+0800", "-0330", "+0000")
    texts = [f"2024-03-01T10:00:{s:02d}.{u:06d}{z}" for s in (0, 59) for u in (0, 1, 999_999, 123_456) for z in zones]  # fmt: skip
    clock = eve.Clock()
    for text in texts:
        eve.timestamp(text, clock)  # primes the second (or reuses it)
        expected = datetime.fromisoformat(text).timestamp()
        assert clock.second == text[:19] and clock.zone == text[26:]
        assert eve.timestamp(text, clock) == expected, text
    eve.timestamp("2024-03-01T10:00:00.000000+0800", clock)
    for bad in ("2024-03-01T10:00:00.00000x+0800", "2024-03-01T10:00:00.²00000+0800"):
        with pytest.raises(BadLine, match="not ISO 8601"):
            eve.timestamp(bad, clock)
    # the reader's inline shortcut gives what the function gives, line by line
    lines = [orjson.dumps({"timestamp": t, "event_type": "flow"}) for t in texts * 2]
    events, errors = eve.read_lines(lines, 1, "eve.json", "o")
    assert not errors
    assert [e.ts for e in events] == [datetime.fromisoformat(t).timestamp() for t in texts * 2]
    bad_lines = [
        orjson.dumps({"timestamp": t, "event_type": "flow"})
        for t in (texts[0], "2024-03-01T10:00:00.00000x+0800")
    ]
    events, errors = eve.read_lines(bad_lines, 7, "eve.json", "o")
    assert len(events) == 1 and errors[0].line == 8 and "not ISO 8601" in errors[0].error


def test_the_readers_inline_eve_id_is_event_id() -> None:
    from indunet.security.ingest import Reader
    from indunet.security.ingest.common import event_id

    line = (SAMPLES / "eve.json").read_bytes().splitlines()[0]
    event = Reader("eve", "eve.json").line(line + b"\n", 1)
    assert event is not None and event.id == event_id("eve", line)
    text_event = Reader("eve", "eve.json").line(line.decode(), 1)
    assert text_event is not None and text_event.id == event.id
