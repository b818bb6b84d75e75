"""Broker mode loses no acknowledged message with the generated Mosquitto configuration.

A private ``/usr/sbin/mosquitto`` runs the ``mosquitto.conf`` that ``write_mosquitto_files``
writes (as ``indunet mqtt broker-config`` does). Three devices (paho, their own threads,
their secrets) publish QoS 1 sequence numbers while Indunet's broker-mode connector is
stopped for a few seconds (and, in the second test, Mosquitto restarts meanwhile). Every
message Mosquitto acknowledged to a device must end up stored. With Mosquitto's default
``max_queued_messages 1000`` thousands are lost in exactly this set-up.
"""

from __future__ import annotations

import asyncio
import getpass
import threading
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from tests.connect.test_mqtt_support import SECRETS, Platform, now_ms, platform
from tests.integration.servers import free_port
from tests.integration.test_mqtt_mosquitto import (
    Mosquitto,
    Publisher,
    broker_connector,
    mosquitto,
    needs_binary,
)

from indunet.connect.mqtt import BrokerSettings, MosquittoFiles, write_mosquitto_files

DEVICES = ("dev-a", "dev-b", "dev-c")
COUNT = 3000  # per device: 9,000 in all, as in the report that found the loss
OUTAGE = 3.0  # seconds Indunet is away
INTERVAL = 0.0005  # seconds between one device's messages


def generated(tmp_path: Path) -> tuple[MosquittoFiles, int]:
    port = free_port()
    files = write_mosquitto_files(
        tmp_path / "mosquitto",
        service_user="indunet",
        service_password="svc-pw",
        devices={d: SECRETS[d] for d in DEVICES},
        # run as this user: as root Mosquitto would switch to "mosquitto" and could not
        # read the test's private directory
        broker=BrokerSettings(port=port, bind="127.0.0.1", run_as=getpass.getuser()),
    )
    return files, port


async def outage(
    engine: sa.Engine,
    tmp_path: Path,
    broker: Mosquitto,
    meanwhile: Callable[[], None],
    *,
    platform_away: bool = True,
) -> tuple[int, int]:
    """Publish through an outage; return (acknowledged, lost) message counts.

    With ``platform_away`` Indunet's connector is stopped for ``OUTAGE`` seconds while
    ``meanwhile`` runs; otherwise it stays up (and reconnects) while ``meanwhile`` runs.
    """
    url = f"mqtt://indunet:svc-pw@127.0.0.1:{broker.port}"
    base = now_ms() - 120_000
    async with platform(engine, tmp_path, *DEVICES) as p:
        publishers = [
            Publisher(broker.port, COUNT, base, device=d, password=SECRETS[d], client_id=d)
            for d in DEVICES
        ]
        threads = [
            threading.Thread(target=pub.run, args=(INTERVAL,), daemon=True) for pub in publishers
        ]
        try:
            async with broker_connector(url, p, "indunet-platform"):
                for t in threads:
                    t.start()
                await until_sent(publishers, COUNT // 6)
                if not platform_away:
                    await asyncio.to_thread(meanwhile)
                    await settle(p, publishers, threads)
            if platform_away:  # the broker queues everything for Indunet's session
                started = time.monotonic()
                await asyncio.to_thread(meanwhile)
                await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - started)))
                async with broker_connector(url, p, "indunet-platform"):
                    await settle(p, publishers, threads)
            missing = lost(p, publishers)
        finally:
            for t in threads:
                t.join(30)
            for pub in publishers:
                pub.close()
        for d in DEVICES:
            stored = p.values(d, "seq")
            assert len(stored) == len(set(stored)), f"{d}: a message was stored twice"
    acked = sum(len(pub.acked) for pub in publishers)
    print(f"\nacknowledged {acked}, lost {missing} of them")
    return acked, missing


async def settle(p: Platform, publishers: list[Publisher], threads: list[threading.Thread]) -> None:
    """Wait until every device has sent and been acknowledged, and storage caught up."""
    await wait_for(lambda: all(not t.is_alive() for t in threads), 60)
    await wait_for(lambda: all(len(pub.acked) == COUNT for pub in publishers), 60)
    await wait_for(lambda: not lost(p, publishers), 30)


def lost(p: Platform, publishers: list[Publisher]) -> int:
    """Messages the broker acknowledged to a device that are not stored."""
    return sum(len(pub.acked - set(p.values(pub.device, "seq"))) for pub in publishers)


async def until_sent(publishers: list[Publisher], n: int) -> None:
    await wait_for(lambda: all(pub.sent >= n for pub in publishers), 30)


async def wait_for(check: Callable[[], bool], within: float) -> None:
    """Poll until ``check()`` or ``within`` seconds (the caller asserts what it found)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.05)


@needs_binary
async def test_nothing_acknowledged_is_lost_while_indunet_restarts(
    engine: sa.Engine, tmp_path: Path
) -> None:
    files, port = generated(tmp_path)
    with mosquitto(tmp_path / "broker", conf=files.config_file, port=port) as broker:
        acked, missing = await outage(engine, tmp_path, broker, lambda: None)
    assert acked == COUNT * len(DEVICES)
    assert missing == 0, f"{missing} of {acked} acknowledged messages lost"


@needs_binary
async def test_nothing_acknowledged_is_lost_when_mosquitto_restarts_during_the_outage(
    engine: sa.Engine, tmp_path: Path
) -> None:
    files, port = generated(tmp_path)
    with mosquitto(tmp_path / "broker", conf=files.config_file, port=port) as broker:

        def restart() -> None:
            time.sleep(OUTAGE / 2)  # a backlog has built up
            broker.stop()  # SIGTERM: Mosquitto saves sessions and queues
            broker.start()

        acked, missing = await outage(engine, tmp_path, broker, restart)
        assert (files.data_dir / "mosquitto.db").exists()
    assert acked == COUNT * len(DEVICES)
    assert missing == 0, f"{missing} of {acked} acknowledged messages lost"


@needs_binary
async def test_nothing_acknowledged_is_lost_when_mosquitto_restarts_under_a_connected_indunet(
    engine: sa.Engine, tmp_path: Path
) -> None:
    files, port = generated(tmp_path)
    with mosquitto(tmp_path / "broker", conf=files.config_file, port=port) as broker:

        def restart() -> None:
            broker.stop()  # SIGTERM mid-stream; devices and Indunet reconnect
            time.sleep(1.0)
            broker.start()

        acked, missing = await outage(engine, tmp_path, broker, restart, platform_away=False)
    assert acked == COUNT * len(DEVICES)
    assert missing == 0, f"{missing} of {acked} acknowledged messages lost"
