"""The passive OT sensor at full speed for a long time: memory must stay flat.

    nice -n 19 python bench/security_sensor_soak.py [--seconds 600] [--every 10] [--flows 12000]

A capture of ``--flows`` Modbus/TCP conversations (each: a handshake and two write/read
transactions, from its own client port, never closed, so the decoder's flow table fills to
its bound and evicts) is made with dpkt, written to a pcap file, read back once and replayed
in a loop with timestamps moving on, through ``SensorRun`` (the same code as ``indunet
sensor``) into a running ``Hub`` (the in-process sink, back-pressure). Every ``--every``
seconds: RSS (/proc/self/statm) and the memory Python has allocated (tracemalloc).

Printed: packets/s and transactions/s over the run; RSS at the start, after the first
minute (the sample at 60 s, or at a fifth of a shorter run: the warm-up, in which the flow
table and the hub's duplicate-id sets fill to their bounds) and at the end; the ratio of the
end to the first minute, with the verdict: flat when it is at most ``FLAT`` (x1.05), else
GROWING; and the ratio of the end to the half-way sample. One run (a soak, not a median of
several); the load average is printed at the start and the end, as the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import struct
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import dpkt

from indunet.security.hub import Hub
from indunet.security.sensor.decode import Decoder
from indunet.security.sensor.pcapio import read_packets
from indunet.security.sensor.run import BATCH, SensorRun, hub_sink

PAGE = os.sysconf("SC_PAGE_SIZE")
#: Flat: RSS at the end at most this many times RSS after the first minute.
FLAT = 1.05


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def frame(src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, flags: int,
          payload: bytes = b"") -> bytes:  # fmt: skip
    tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq, ack=ack, flags=flags, data=payload)
    ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=6, data=tcp)
    ip.len = len(ip)
    return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=0x0800, data=ip))


def make_capture(path: Path, flows: int) -> int:
    ack, syn, psh = dpkt.tcp.TH_ACK, dpkt.tcp.TH_SYN, dpkt.tcp.TH_PUSH
    n = 0
    with path.open("wb") as f:
        w = dpkt.pcap.Writer(f)
        t = 1_765_000_000.0
        for i in range(flows):
            # client ports 21000-40999: none is a port the sensor decodes (DNP3 is 20000)
            client = (f"10.1.{i // 250 % 250}.{i % 250 + 1}", 21_000 + i % 20_000)
            server = (f"10.2.0.{i % 16 + 1}", 502)
            cs, ss = 1000, 9000
            pkts = [
                (client, server, cs, 0, syn, b""),
                (server, client, ss, cs + 1, syn | ack, b""),
                (client, server, cs + 1, ss + 1, ack, b""),
            ]
            cs, ss = cs + 1, ss + 1
            for k, pdu in enumerate(
                (struct.pack(">BHH", 5, i % 1000, 0xFF00), struct.pack(">BHH", 1, i % 1000, 8))
            ):
                req = struct.pack(">HHHB", k + 1, 0, len(pdu) + 1, 1) + pdu
                resp_pdu = pdu if pdu[0] == 5 else b"\x01\x01\x55"
                resp = struct.pack(">HHHB", k + 1, 0, len(resp_pdu) + 1, 1) + resp_pdu
                pkts.append((client, server, cs, ss, psh | ack, req))
                pkts.append((server, client, ss, cs + len(req), psh | ack, resp))
                cs, ss = cs + len(req), ss + len(resp)
            for src, dst, seq, a, fl, data in pkts:
                w.writepkt(frame(src, dst, seq, a, fl, data), ts=t)
                t += 0.0001
                n += 1
    return n


class LoopSource:
    """The capture's records again and again, timestamps moving on, until ``stop``."""

    def __init__(self, records: list[tuple[float, int, bytes]]) -> None:
        self.records = records
        self.span = records[-1][0] - records[0][0] + 1.0
        self.loops = 0
        self._stop = False

    def stop(self) -> None:
        self._stop = True

    async def batches(self) -> AsyncIterator[list[tuple[float, int, bytes]]]:
        recs = self.records
        while not self._stop:
            shift = self.loops * self.span
            for i in range(0, len(recs), BATCH):
                yield [(ts + shift, lt, data) for ts, lt, data in recs[i : i + BATCH]]
                if self._stop:
                    return
            self.loops += 1


def load_capture(flows: int) -> list[tuple[float, int, bytes]]:
    work = Path(tempfile.mkdtemp(prefix="sensor-soak-"))
    path = work / "loop.pcap"
    frames = make_capture(path, flows)
    records = list(read_packets(path))
    path.unlink()
    work.rmdir()
    print(f"capture: {frames:,} frames, {flows:,} flows ({len(records):,} read back)")
    return records


async def soak(
    records: list[tuple[float, int, bytes]], seconds: float, every: float, trace: bool
) -> None:
    hub = Hub()
    await hub.start()
    source = LoopSource(records)
    decoder = Decoder("soak")
    run = SensorRun(source, hub_sink(hub), observer="soak", decoder=decoder)  # type: ignore[arg-type]
    if trace:
        tracemalloc.start()
    load0 = os.getloadavg()
    t0 = time.monotonic()
    samples: list[tuple[float, float, float]] = []

    async def sampler() -> None:
        try:
            await sample()
        finally:
            source.stop()  # whatever happened: the run ends

    async def sample() -> None:
        while True:
            el = time.monotonic() - t0
            traced = tracemalloc.get_traced_memory()[0] / 1e6 if trace else 0.0
            samples.append((el, rss_mb(), traced))
            print(
                f"{el:6.0f} s  rss {samples[-1][1]:7.1f} MB  traced {traced:7.1f} MB  "
                f"packets {decoder.stats.packets:>12,}  flows {len(decoder.flows.flows):>6,}  "
                f"evicted {decoder.flows.evicted:,}",
                flush=True,
            )
            if el >= seconds:
                return
            await asyncio.sleep(every)

    task = asyncio.create_task(sampler())
    await run.run()
    await task
    elapsed = time.monotonic() - t0
    await hub.stop()
    load1 = os.getloadavg()
    base_at = min(60.0, seconds / 5)
    base = next(s for s in samples if s[0] >= base_at - 0.5)
    end = samples[-1]
    st = decoder.stats
    print()
    print(f"ran {elapsed:.0f} s, {source.loops} loops of the capture")
    print(
        f"packets/s: {st.packets / elapsed:,.0f}   transactions/s: {st.transactions / elapsed:,.0f}"
    )
    print(f"hub: accepted {hub.stats.accepted:,} dropped {hub.stats.dropped:,}")
    print(
        f"malformed: {sum(m.count for m in st.malformed.values())}  evicted flows: {decoder.flows.evicted:,}"
    )
    growth = end[1] / base[1]
    print(f"RSS: {samples[0][1]:.1f} MB at the start, {base[1]:.1f} MB at {base[0]:.0f} s, "
          f"{end[1]:.1f} MB at {end[0]:.0f} s")  # fmt: skip
    if trace:
        print(f"traced (tracemalloc): {base[2]:.1f} MB at {base[0]:.0f} s, "
              f"{end[2]:.1f} MB at {end[0]:.0f} s")  # fmt: skip
    half = next(s for s in samples if s[0] >= samples[-1][0] / 2 - 0.5)
    print(f"RSS end / half-way ({half[0]:.0f} s): x{end[1] / half[1]:.3f}")
    verdict = "flat" if growth <= FLAT else "GROWING"
    print(f"RSS end / RSS at {base[0]:.0f} s: x{growth:.3f} -> {verdict} (flat: at most x{FLAT})")
    print(f"load average: start {load0[0]:.2f} {load0[1]:.2f}, end {load1[0]:.2f} {load1[1]:.2f}"
          f" ({os.cpu_count()} CPUs)")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--every", type=float, default=10)
    p.add_argument("--flows", type=int, default=12_000)
    p.add_argument("--no-tracemalloc", action="store_true", help="RSS only (faster)")
    a = p.parse_args()
    records = load_capture(a.flows)
    asyncio.run(soak(records, a.seconds, a.every, not a.no_tracemalloc))


if __name__ == "__main__":
    main()
