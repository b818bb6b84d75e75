"""The passive sensor's decoding speed against a bare dpkt loop over the same capture.

Real Modbus/TCP (pymodbus) and OPC UA (asyncua) sessions are recorded on loopback through the
tests' relay, replicated over many TCP connections into a pcap of about 200,000 packets (in a
temporary directory), then timed, interleaved, median of 5 rounds:

- sensor: ``read_file(path, Decoder())`` to the last ``Transaction``;
- baseline: ``for ts, buf in dpkt.pcap.Reader(f)``, only iterating the same file's packets.

    PYTHONPATH=src:. python bench/security_sensor.py [--packets 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import dpkt
from tests.security.sensor import test_sensor_modbus_real, test_sensor_opcua_real
from tests.security.sensor.wire import Conversation, frames, write_pcap

from indunet.security.sensor.decode import Decoder, read_file


def build(path: Path, packets: int) -> tuple[int, int]:
    """Write the capture; return (packets, Modbus+OPC UA connections)."""
    modbus = asyncio.run(test_sensor_modbus_real._record())
    opcua = asyncio.run(test_sensor_opcua_real._record())
    per = len(frames(modbus, 502, mangle=False)) + len(frames(opcua, 4840, mangle=False))
    copies = max(1, packets // per)
    out: list[tuple[float, bytes]] = []
    for block in range(0, copies, 20_000):  # client ports stay below 65536
        n = min(20_000, copies - block)
        ip = f"10.{block // 20_000 + 1}.0.5"
        conv_m: list[Conversation] = modbus * n
        conv_o: list[Conversation] = opcua * n
        out += frames(conv_m, 502, client_ip=ip, mangle=False, t0=1.7e9 + block)
        out += frames(conv_o, 4840, client_ip=ip, mangle=False, t0=1.7e9 + block + 0.5)
    out.sort(key=lambda item: item[0])
    write_pcap(path, out)
    return len(out), copies * 2


def run_sensor(path: Path) -> tuple[float, int, Decoder]:
    dec = Decoder()
    start = time.perf_counter()
    n = 0
    for _ in read_file(path, dec):
        n += 1
    return time.perf_counter() - start, n, dec


def run_baseline(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    n = 0
    with open(path, "rb") as f:
        for _ts, _buf in dpkt.pcap.Reader(f):
            n += 1
    return time.perf_counter() - start, n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="indunet-sensor-bench-") as tmp:
        path = Path(tmp) / "ot.pcap"
        count, conns = build(path, args.packets)
        print(f"capture: {count:,} packets, {conns:,} connections, "
              f"{path.stat().st_size / 1e6:.1f} MB")  # fmt: skip
        sensor, base, records = [], [], 0
        dec = None
        for _ in range(args.rounds):
            t, records, dec = run_sensor(path)
            sensor.append(t)
            t, n = run_baseline(path)
            assert n == count
            base.append(t)
        assert dec is not None and not dec.stats.malformed
        s, b = statistics.median(sensor), statistics.median(base)
        print(
            f"sensor:   {count / s:>10,.0f} packets/s  {records / s:>9,.0f} records/s  "
            f"({records:,} records, median {s:.3f} s of {[round(x, 3) for x in sensor]})"
        )
        print(f"baseline: {count / b:>10,.0f} packets/s  (bare dpkt loop, median {b:.3f} s of "
              f"{[round(x, 3) for x in base]})")  # fmt: skip
        print(f"ratio (sensor / baseline packets/s): {b / s:.2f}  (target >= 0.3)")
        print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
