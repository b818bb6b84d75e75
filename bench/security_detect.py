"""The detection engine's events/s on a mixed OT stream with every built-in rule.

    python bench/security_detect.py [events]      # default 200,000

The stream: an HMI polling PLCs over Modbus (reads, some writes from allowed masters), S7
reads, EtherNet/IP and DNP3 traffic, console and device logins, identifier resolutions, and
a few attacks (a ListIdentity sweep, a PLC stop, a brute force) so rules fire. The engine runs
with lists declared and an enforcing baseline (every ``learned:`` rule is evaluated). The
baseline measured in the same run is a bare loop over the same events reading the fields a
rule reads (kind, protocol, fields.function). Interleaved rounds; medians; the load average.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time

from indunet.security import SecurityEvent
from indunet.security.detect import (
    Baseline,
    Context,
    Engine,
    MemorySink,
    builtin_files,
    load_ruleset,
)
from indunet.security.detect.conditions import NamedList

T0 = 1_800_000_000.0


def stream(n: int) -> list[SecurityEvent]:
    rnd = random.Random(7)
    out: list[SecurityEvent] = []
    for i in range(n):
        ts = T0 + 8 * 86_400 + i * 0.01
        r = rnd.random()
        plc = f"10.0.1.{rnd.randrange(1, 40)}"
        if r < 0.55:
            proto, action, fc, write, port = "modbus", "read_holding_registers", 3, False, 502
        elif r < 0.62:
            proto, action, fc, write, port = "modbus", "write_single_register", 6, True, 502
        elif r < 0.80:
            proto, action, fc, write, port = "s7comm", "read_var", 4, False, 102
        elif r < 0.86:
            proto, action, fc, write, port = "enip", "get_attribute_single", 14, False, 44818
        elif r < 0.90:
            proto, action, fc, write, port = "dnp3", "read", 1, False, 20000
        else:
            proto = ""
        if proto:
            out.append(
                SecurityEvent(
                    ts=ts,
                    source="sensor",
                    kind="ot.transaction",
                    enterprise_id=1,
                    protocol=proto,
                    action=action,
                    src_ip="10.0.0.5",
                    src_port=40000,
                    dst_ip=plc,
                    dst_port=port,
                    fields={
                        "function": fc,
                        "write": write,
                        "unit": 1,
                        "address": 100,
                        "values": [rnd.randrange(0, 80)] if write else None,
                    },
                    id=f"e{i}",
                )
            )
        elif r < 0.95:
            out.append(
                SecurityEvent(
                    ts=ts,
                    source="platform",
                    kind="auth.failure" if r < 0.93 else "auth.success",
                    enterprise_id=1,
                    src_ip=f"192.168.3.{rnd.randrange(1, 200)}",
                    fields={"target": rnd.choice(["console", "handle", "mqtt"])},
                    id=f"e{i}",
                )
            )
        else:
            out.append(
                SecurityEvent(
                    ts=ts,
                    source="platform",
                    kind="ids.resolve",
                    enterprise_id=1,
                    src_ip=f"192.168.4.{rnd.randrange(1, 50)}",
                    outcome="success",
                    fields={"handle": f"86.100/{rnd.randrange(10_000)}"},
                    id=f"e{i}",
                )
            )
    for k in range(0, n, 20_000):  # a sweep and a stop every 20,000 events
        ts = out[k].ts
        out.extend(
            SecurityEvent(
                ts=ts + j * 0.001,
                source="sensor",
                kind="ot.transaction",
                enterprise_id=1,
                protocol="enip",
                action="list_identity",
                src_ip="10.9.9.9",
                dst_ip=f"10.0.2.{j}",
                dst_port=44818,
                fields={"function": 99, "write": False},
                id=f"s{k}-{j}",
            )
            for j in range(6)
        )
    out.sort(key=lambda e: e.ts)
    return out


def engine() -> Engine:
    base = Baseline()
    base.start(1, T0, days=7)
    warm = [
        SecurityEvent(
            ts=T0 + 1,
            source="sensor",
            kind="ot.transaction",
            enterprise_id=1,
            protocol=p,
            action="x",
            src_ip="10.0.0.5",
            dst_ip=f"10.0.1.{h}",
            dst_port=port,
            fields={"function": fc},
        )
        for h in range(1, 40)
        for p, port, fc in (
            ("modbus", 502, 3),
            ("modbus", 502, 6),
            ("s7comm", 102, 4),
            ("enip", 44818, 14),
            ("dnp3", 20000, 1),
        )
    ]
    for e in warm:
        base.observe(e)
    lists = {
        "allowed_masters": NamedList.of(["10.0.0.5"]),
        "modbus_functions": NamedList.of([3, 6, 16]),
        "s7comm_functions": NamedList.of([4, 5]),
    }
    return Engine(load_ruleset(builtin_files()), MemorySink(), Context(lists=lists, baseline=base))


def bare(events: list[SecurityEvent]) -> int:
    n = 0
    for e in events:
        if e.kind == "ot.transaction" and e.protocol and e.fields.get("function") is not None:
            n += 1
    return n


async def run_engine(eng: Engine, events: list[SecurityEvent]) -> int:
    for i in range(0, len(events), 2_000):  # the hub's batches
        await eng.handle(events[i : i + 2_000])
    return eng.sink.total  # type: ignore[attr-defined, no-any-return]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    events = stream(n)
    rates, bares, alerts = [], [], 0
    for _ in range(5):
        started = time.perf_counter()
        bare(events)
        bares.append(len(events) / (time.perf_counter() - started))
        eng = engine()
        started = time.perf_counter()
        alerts = asyncio.run(run_engine(eng, events))
        rates.append(len(events) / (time.perf_counter() - started))
    rate, base = statistics.median(rates), statistics.median(bares)
    rules = len(load_ruleset(builtin_files()).rules)
    print(f"events: {len(events):,}  rules: {rules}  alerts per pass: {alerts}")
    print(f"engine: {rate:,.0f} events/s (median of 5; rounds {[round(r) for r in rates]})")
    print(f"baseline (bare loop over the same events): {base:,.0f} events/s")
    print(f"ratio engine/baseline: {rate / base:.3f}")
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}")


if __name__ == "__main__":
    main()
