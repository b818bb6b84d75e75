"""The NATS JetStream backbone of the scaled mode: envelopes, producers, workers, names.

With ``INDUNET_BUS_URL=nats://…`` the processes of one installation (``api``, ``connector``,
``worker``) hand telemetry to each other through JetStream (``BusWriter`` publishes the
ingest pipeline's batches, ``BusWorker`` stores them), partitioned by enterprise and device
(``Names``). Without it nothing here runs: the embedded mode keeps its in-process path.
"""

from indunet.bus.backbone import Backbone, BusUnavailable, StreamLimits
from indunet.bus.envelope import MAX_POINTS, Batch, EnvelopeInvalid, decode
from indunet.bus.producer import BusWriter, ProducerStats
from indunet.bus.subjects import Names, owned, owns_device, partition_of
from indunet.bus.worker import BusWorker, PartitionLag, WorkerStats

__all__ = [
    "MAX_POINTS",
    "Backbone",
    "Batch",
    "BusUnavailable",
    "BusWorker",
    "BusWriter",
    "EnvelopeInvalid",
    "Names",
    "PartitionLag",
    "ProducerStats",
    "StreamLimits",
    "WorkerStats",
    "decode",
    "owned",
    "owns_device",
    "partition_of",
]
