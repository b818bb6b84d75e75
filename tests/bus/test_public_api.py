"""The bus package's public API is what its ``__init__`` exports; this list pins it.

Changing the list is a decision about the public API, to be made on purpose.
"""

from __future__ import annotations

from indunet import bus

BUS = [
    "DEVICES",
    "IDS",
    "MAX_POINTS",
    "Backbone",
    "Batch",
    "BusUnavailable",
    "BusWorker",
    "BusWriter",
    "CommandServer",
    "EnvelopeInvalid",
    "HandledElsewhere",
    "Invalidation",
    "Names",
    "NatsEventBus",
    "PartitionLag",
    "ProducerStats",
    "RemoteSender",
    "RoutedSender",
    "StreamLimits",
    "WorkerStats",
    "decode",
    "owned",
    "owner_index",
    "owns_device",
    "partition_of",
    "share_resolver",
]


def test_the_bus_exports_exactly_its_public_api() -> None:
    assert sorted(bus.__all__) == sorted(BUS)
    for name in BUS:
        assert getattr(bus, name) is not None, name
