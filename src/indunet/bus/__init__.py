"""The NATS JetStream backbone of the scaled mode: envelopes, producers, workers, names, and
what crosses between processes besides telemetry: events, commands, cache invalidation.

With ``INDUNET_BUS_URL=nats://…`` the processes of one installation (``api``, ``connector``,
``worker``) hand telemetry to each other through JetStream (``BusWriter`` publishes the
ingest pipeline's batches, ``BusWorker`` stores them), partitioned by enterprise and device
(``Names``). Events travel on ``NatsEventBus``, commands reach the connector that owns the
device (``RemoteSender`` → ``CommandServer``), and a write tells the other processes what to
forget (``Invalidation``). Without it nothing here runs: the embedded mode keeps its
in-process path.
"""

from indunet.bus.backbone import Backbone, BusUnavailable, StreamLimits
from indunet.bus.commands import CommandServer, RemoteSender, RoutedSender, owner_index
from indunet.bus.envelope import MAX_POINTS, Batch, EnvelopeInvalid, decode
from indunet.bus.events import HandledElsewhere, NatsEventBus
from indunet.bus.invalidation import DEVICES, IDS, Invalidation, share_resolver
from indunet.bus.producer import BusWriter, ProducerStats
from indunet.bus.subjects import Names, owned, owns_device, partition_of
from indunet.bus.worker import BusWorker, PartitionLag, WorkerStats

__all__ = [
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
