"""Names on the NATS backbone: streams, subjects, durable consumers, and who owns what.

Everything lives under one prefix (``indunet`` unless ``INDUNET_BUS_PREFIX`` says otherwise,
so two installations, or two test runs, can share one NATS cluster). Telemetry is
partitioned: ``<prefix>.tel.<enterprise>.<partition>``, the partition being CRC-32 of the
device id modulo ``partitions``. A device's batches therefore always travel on one subject
(kept in order by JetStream), an enterprise can be authorised or mirrored by its subject
prefix, and each partition has one durable pull consumer (``tel-p<n>``) that the worker
owning it reads. Workers own partitions, and connectors devices, by one rule: the worker
with share ``index/count`` reads the partitions ``p`` with ``p % count == index``; the
connector with that share serves the devices with ``crc32(id) % count == index``.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

NO_ENTERPRISE = 0
"""The enterprise segment of a sample whose device this process does not know (the worker
dead-letters it as an unknown device)."""
PREFIX = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_PARTITIONS = 1024
"""Partitions at most (``INDUNET_BUS_PARTITIONS`` has the same bound)."""


def partition_of(device: str, partitions: int) -> int:
    """The telemetry partition of ``device``: stable across processes, hosts and restarts."""
    return zlib.crc32(device.encode()) % partitions


def owned(index: int, count: int, partitions: int) -> list[int]:
    """The partitions a worker with share ``index/count`` reads."""
    if not 0 <= index < count:
        raise ValueError(f"share {index}/{count}: the index must be below the count")
    return [p for p in range(partitions) if p % count == index]


def owns_device(device: str, index: int, count: int) -> bool:
    """Whether the connector with share ``index/count`` serves ``device``."""
    return count == 1 or partition_of(device, count) == index


@dataclass(frozen=True, slots=True)
class Names:
    """The backbone's names for one installation."""

    prefix: str = "indunet"
    partitions: int = 16

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not PREFIX.fullmatch(self.prefix):  # not "x\n"
            raise ValueError(f"bus prefix {self.prefix!r}: a-z, digits and _, at most 32")
        if type(self.partitions) is not int or not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ValueError(f"bus partitions {self.partitions!r}: 1 to {MAX_PARTITIONS}")

    @property
    def telemetry_stream(self) -> str:
        """The stream of telemetry envelopes."""
        return f"{self.prefix.upper()}_TELEMETRY"

    @property
    def events_stream(self) -> str:
        """The stream of events between subsystems."""
        return f"{self.prefix.upper()}_EVENTS"

    def telemetry_subject(self, enterprise_id: int | None, device: str) -> str:
        """The subject ``device``'s samples are published on."""
        enterprise = NO_ENTERPRISE if enterprise_id is None else enterprise_id
        return f"{self.prefix}.tel.{enterprise}.{partition_of(device, self.partitions)}"

    @property
    def telemetry_subjects(self) -> str:
        """Every telemetry subject."""
        return f"{self.prefix}.tel.>"

    def partition_filter(self, partition: int) -> str:
        """The subjects of one partition, across every enterprise."""
        return f"{self.prefix}.tel.*.{partition}"

    def durable(self, partition: int) -> str:
        """The durable pull consumer that holds one partition's position."""
        return f"tel-p{partition}"

    def event_subject(self, event_type: str) -> str:
        """The subject of one event type (``alarm.raised`` → ``indunet.evt.alarm.raised``)."""
        return f"{self.prefix}.evt.{event_type}"

    @property
    def event_subjects(self) -> str:
        """Every event subject."""
        return f"{self.prefix}.evt.>"

    def command_subject(self, index: int) -> str:
        """Where the connector with share ``index`` takes commands for its devices."""
        return f"{self.prefix}.cmd.{index}"

    def invalidate_subject(self, kind: str) -> str:
        """Where processes tell each other to forget cached ``kind`` (``ids``, ``devices``)."""
        return f"{self.prefix}.inval.{kind}"
