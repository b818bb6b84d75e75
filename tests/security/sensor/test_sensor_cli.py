"""``indunet sensor read``: transactions and counters of capture files; clear failures."""

from __future__ import annotations

import struct
from pathlib import Path

import orjson
from typer.testing import CliRunner

from indunet.cli.main import app

from .modbus_pcap import CLIENT, SERVER, _frame, write_coil_frames, write_pcap


def test_read_prints_the_transactions_and_the_counters(tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "plant.pcap", write_coil_frames(4))
    res = CliRunner().invoke(app, ["sensor", "read", str(pcap)])
    assert res.exit_code == 0, res.output
    assert "write_single_coil  write  ok      4" in res.output
    assert "packets: 11" in res.output and "transactions: 4" in res.output

    res = CliRunner().invoke(app, ["sensor", "read", "--json", str(pcap)])
    assert res.exit_code == 0, res.output
    lines = [orjson.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert [(t["function_name"], t["address"], t["write"]) for t in lines] == [
        ("write_single_coil", 100 + i, True) for i in range(4)
    ]
    assert lines[0]["src_ip"] == "192.168.10.20" and lines[0]["dst_port"] == 502


def test_malformed_packets_are_counted_with_their_number(tmp_path: Path) -> None:
    frames = list(write_coil_frames(2))
    # packet 8: a Modbus ADU claiming protocol 7 (Modbus is 0) on the same stream
    bad = struct.pack(">HHHB", 9, 7, 6, 1) + struct.pack(">BHH", 5, 1, 0xFF00)
    t = frames[-1][0] + 0.01
    frames.append((t, _frame(CLIENT, SERVER, 1001 + 2 * 12, 5001 + 2 * 12, 0x18, bad)))
    pcap = write_pcap(tmp_path / "bad.pcap", iter(frames))
    res = CliRunner().invoke(app, ["sensor", "read", str(pcap)])
    assert res.exit_code == 0, res.output
    assert "malformed modbus: 1 (last: packet 8:" in res.output


def test_a_truncated_file_says_where_and_keeps_what_came_before(tmp_path: Path) -> None:
    whole = write_pcap(tmp_path / "whole.pcap", write_coil_frames(3)).read_bytes()
    cut = tmp_path / "cut.pcap"
    # header 24 + 3 handshake records (16+54 each) + the first request's record, cut
    cut.write_bytes(whole[: 24 + 3 * 70 + (16 + 66) + 20])
    res = CliRunner().invoke(app, ["sensor", "read", str(cut)])
    assert res.exit_code == 1
    assert f"{cut}: packet 5: record cut short" in res.output
    assert "write_single_coil  write  unanswered  1" in res.output  # its answer was cut
    assert "truncated: 1" in res.output


def test_bad_usage_is_exit_2_with_a_message(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["sensor", "read", str(tmp_path / "missing.pcap")])
    assert res.exit_code == 2
    assert "missing.pcap: no such file" in res.output
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is no capture file at all")
    res = CliRunner().invoke(app, ["sensor", "read", str(junk)])
    assert res.exit_code == 1
    assert "not a pcap or pcapng file" in res.output
    res = CliRunner().invoke(app, ["sensor", "live", "--iface", "no-such-if0"])
    assert res.exit_code == 2
    assert "no network interface named 'no-such-if0'" in res.output
    res = CliRunner().invoke(
        app, ["sensor", "follow", str(tmp_path / "x.pcap"), "--ship", "https://h:1"]
    )
    assert res.exit_code == 2
    assert "--ship needs --token-file" in res.output


def test_follow_prints_events_until_its_time_is_up(tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "span.pcap", write_coil_frames(2))
    res = CliRunner().invoke(
        app, ["sensor", "follow", str(pcap), "--seconds", "1", "--observer", "span-1"]
    )
    assert res.exit_code == 0, res.output
    events = [orjson.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert [(e["action"], e["fields"]["address"], e["observer"]) for e in events] == [
        ("write_single_coil", 100, "span-1"),
        ("write_single_coil", 101, "span-1"),
    ]
    assert "follow: packets: 7" in res.output


def test_the_factory_mirror_decodes_with_its_port_named(tmp_path: Path) -> None:
    """The virtual factory's tap and intruder, read back by ``indunet sensor read --port``."""
    import asyncio
    import time

    from indunet import devices
    from indunet.sim import Equipment, Intruder, ModbusGateway, PcapWriter, make_plan

    models = {m.id: m for m in devices.library_models()}
    plan = make_plan(models.values())
    eqs = [Equipment(d, models[d.model_id], seed=4) for d in plan.by_protocol("modbus")]
    for eq in eqs:
        eq.tick(time.time())
    writer = PcapWriter(tmp_path / "mirror.pcap")
    gw = ModbusGateway(eqs, mirror=writer)

    async def intrude() -> None:
        await gw.start()
        try:
            async with asyncio.timeout(20):
                await Intruder([("127.0.0.1", gw.port, len(eqs))]).round()
        finally:
            await gw.stop()
            writer.close()

    asyncio.run(intrude())
    runner = CliRunner()
    plain = runner.invoke(app, ["sensor", "read", str(writer.path)])
    assert plain.exit_code == 0 and "(no industrial-protocol transactions)" in plain.output
    args = ["sensor", "read", str(writer.path), "--json", "--port", f"modbus={gw.port}"]
    named = runner.invoke(app, args)
    assert named.exit_code == 0, named.output
    txs = [orjson.loads(line) for line in named.stdout.splitlines() if line.startswith("{")]
    writes = [t for t in txs if t["write"]]
    assert {t["function_name"] for t in writes} == {"write_single_coil", "write_multiple_coils"}
    assert {t["src_ip"] for t in txs} == {"127.0.0.66"}
    bad = runner.invoke(app, ["sensor", "read", str(writer.path), "--port", "profinet=34964"])
    assert bad.exit_code == 2 and "cannot decode 'profinet'" in bad.output
