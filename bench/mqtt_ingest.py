"""MQTT ingest through Mosquitto into the embedded store, against a bare paho-mqtt subscriber.

    python bench/mqtt_ingest.py [--messages 100000] [--rounds 3]

Both sides drain the same queue: a private Mosquitto (the Debian binary, on a free loopback
port) holds ``--messages`` QoS 1 JSON messages of 10 points each for a persistent session,
then the drainer connects and takes them all. The baseline is a bare paho-mqtt client that
acknowledges each message as it arrives and does nothing else. Indunet's MQTT connector in
broker mode decodes each message, validates its 10 samples against the device model, stores
them in the SQLite time-series store, and acknowledges only after they are stored. Each side
runs in its own process, one after the other, in interleaved rounds; the figure is the median
messages/s and its ratio to the baseline (target >= 0.5).

The broker runs with ``max_inflight_messages 1000``: with Mosquitto's default of 20, any
subscriber that acknowledges after storage (a batch every few ms) is capped at 20 messages
per store round trip. docs/platform/connect-mqtt.md recommends the same for production.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import PYTHON, CpuMeter, free_port, median, save, say, verdict, workspace

TOPIC = "indunet/v1/{device}/telemetry"
DEVICES = 100
POINTS = [f"p{i}" for i in range(10)]
CLIENT_ID = "indunet-bench-drain"


def _conf(dir_: Path, port: int) -> Path:
    conf = dir_ / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        # The queue and in-flight limits of `indunet mqtt broker-config` (not 0, which some
        # Mosquitto 2.0 releases misread; docs/platform/connect-mqtt.md).
        "max_queued_messages 1000000000\nmax_inflight_messages 1000\n"
    )
    return conf


def start_broker(dir_: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A private Mosquitto on a free loopback port."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    log = (dir_ / "mosquitto.log").open("wb")
    proc = subprocess.Popen([binary, "-c", str(_conf(dir_, port))], stdout=log, stderr=log)
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("mosquitto did not start")


def payloads(count: int) -> list[tuple[str, bytes]]:
    """``count`` messages spread over the devices, each with 10 numeric points and its own ts."""
    import orjson

    base = 1_700_000_000_000
    out = []
    for i in range(count):
        device = f"bench-{i % DEVICES:03d}"
        values = {p: round(20.0 + (i % 97) * 0.1 + j, 3) for j, p in enumerate(POINTS)}
        out.append((TOPIC.format(device=device), orjson.dumps({"ts": base + i, "values": values})))
    return out


def _packet(kind: int, body: bytes) -> bytes:
    n, length = len(body), bytearray()
    while True:
        n, digit = divmod(n, 128)
        length.append(digit | (0x80 if n else 0))
        if not n:
            return bytes([kind]) + bytes(length) + body


def _string(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return len(b).to_bytes(2, "big") + b


def preload(port: int, count: int) -> float:
    """Publish ``count`` QoS 1 messages over a raw socket (waiting for every PUBACK); msg/s.

    A raw MQTT 3.1.1 publisher: paho's publish path would take longer than the drains it
    prepares. Packet ids are reused in windows of 20,000, each acknowledged before the next.
    """
    import socket

    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        _packet(
            0x10,
            _string("MQTT")
            + bytes([4, 0x02])
            + (60).to_bytes(2, "big")
            + _string("indunet-bench-pub"),
        )
    )
    assert sock.recv(4)[:2] == b"\x20\x02"
    msgs = payloads(count)
    t0 = time.perf_counter()
    window = 20_000
    for start in range(0, count, window):
        chunk = msgs[start : start + window]
        data = b"".join(
            _packet(0x32, _string(topic) + (i + 1).to_bytes(2, "big") + body)
            for i, (topic, body) in enumerate(chunk)
        )
        sock.sendall(data)
        need, got = 4 * len(chunk), 0
        while got < need:
            got += len(sock.recv(1 << 20))
    took = time.perf_counter() - t0
    sock.sendall(b"\xe0\x00")
    sock.close()
    return count / took


# -- the two drainers, each run as a child process ------------------------------------------
def drain_paho(port: int, count: int, prepare: bool) -> dict[str, Any]:
    """The baseline: a bare paho subscriber that acknowledges on arrival."""
    import paho.mqtt.client as mqtt

    got = 0
    first = 0.0
    done = False

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        nonlocal got, first, done
        if got == 0:
            first = time.perf_counter()
        got += 1
        if got >= count:
            done = True

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=CLIENT_ID + "-paho", clean_session=False
    )
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe("indunet/v1/+/telemetry", qos=1)
    if prepare:
        for _ in range(20):
            client.loop(0.05)
        client.disconnect()
        return {}
    t0 = time.perf_counter()
    while not done and time.perf_counter() - t0 < 300:
        client.loop(0.01)
    took = time.perf_counter() - first
    client.disconnect()
    return {"messages": got, "seconds": took}


def drain_indunet(port: int, count: int, prepare: bool, data: Path) -> dict[str, Any]:
    """Indunet: the MQTT connector in broker mode, the pipeline and the SQLite store."""
    from bench_mqtt_indunet import run  # the wiring lives next to this file

    return run(port, count, prepare, data, POINTS, CLIENT_ID)


def child(args: argparse.Namespace) -> None:
    """Entry point of a drainer process: prints one JSON line."""
    if args.role == "paho":
        out = drain_paho(args.port, args.count, args.prepare)
    else:
        out = drain_indunet(args.port, args.count, args.prepare, Path(args.data))
    print(json.dumps(out), flush=True)


def _run_child(role: str, port: int, count: int, data: Path, prepare: bool) -> dict[str, Any]:
    cmd = [PYTHON, __file__, "--child", role, "--port", str(port), "--count", str(count)]
    cmd += ["--data", str(data)] + (["--prepare"] if prepare else [])
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{role} drainer failed:\n{res.stderr[-3000:]}")
    line = res.stdout.strip().splitlines()[-1]
    return dict(json.loads(line))


def round_(role: str, count: int, dir_: Path, n: int) -> float:
    """One measured drain: fresh broker, prepare the session, preload, drain."""
    proc, port = start_broker(dir_)
    try:
        data = dir_ / f"{role}-{n}"
        data.mkdir()
        _run_child(role, port, count, data, prepare=True)
        preload(port, count)
        out = _run_child(role, port, count, data, prepare=False)
        if out["messages"] < count:
            raise RuntimeError(f"{role} drained only {out['messages']} of {count} messages")
        return float(out["messages"] / out["seconds"])
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    """Interleaved rounds of both drainers; print the medians and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", choices=["paho", "indunet"])
    ap.add_argument("--port", type=int)
    ap.add_argument("--count", type=int)
    ap.add_argument("--data")
    ap.add_argument("--prepare", action="store_true")
    args = ap.parse_args()
    if args.child:
        args.role = args.child
        child(args)
        return
    meter = CpuMeter(names=["mosquitto"])
    rates: dict[str, list[float]] = {"paho": [], "indunet": []}
    with workspace("mqtt") as dir_:
        for n in range(args.rounds):
            for role in ("paho", "indunet"):
                meter.quiet()
                rate = round_(role, args.messages, dir_, n)
                rates[role].append(rate)
                say(f"  round {n + 1} {role:8s} {rate:10,.0f} msg/s ({rate * 10:,.0f} points/s)")
    base, ours = median(rates["paho"]), median(rates["indunet"])
    ratio = ours / base
    say(f"bare paho subscriber: {base:,.0f} msg/s (median of {args.rounds})")
    say(f"indunet into SQLite:  {ours:,.0f} msg/s = {ours * 10:,.0f} points/s")
    say(f"ratio {ratio:.2f} (target >= 0.5): {verdict(ratio >= 0.5)}")
    path = save(
        "mqtt_ingest",
        {
            "messages": args.messages,
            "points_per_message": len(POINTS),
            "paho_msgs_per_s": rates["paho"],
            "indunet_msgs_per_s": rates["indunet"],
            "paho_median": round(base),
            "indunet_median": round(ours),
            "ratio": round(ratio, 3),
            "pass": ratio >= 0.5,
        },
    )
    say(f"results: {path}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
