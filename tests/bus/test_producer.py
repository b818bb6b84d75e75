"""How a producer cuts the pipeline's batches into envelopes (no server needed)."""

from __future__ import annotations

import pytest

from indunet.bus.backbone import Backbone, BusUnavailable
from indunet.bus.envelope import MAX_BYTES, MAX_POINTS, decode
from indunet.bus.producer import BusWriter
from indunet.bus.subjects import Names, partition_of
from indunet.telemetry import GOOD, Sample

NOW = 1_765_000_000_000
ENTERPRISES = {"oven-1": 3, "oven-2": 3, "press-1": 4}


def writer() -> BusWriter:
    backbone = Backbone(["nats://127.0.0.1:1"], Names("plant", 16))
    return BusWriter(backbone, ENTERPRISES.get, source="http", producer="api-0")


def test_samples_travel_by_enterprise_and_partition_in_order() -> None:
    w = writer()
    samples = [
        Sample(d, "p", NOW + i, float(i), GOOD)
        for i in range(30)
        for d in ("oven-1", "oven-2", "press-1", "ghost")
    ]
    planned = w.plan(samples)
    by_subject = {subject: decode(body).samples for subject, _, body in planned}
    for device, enterprise in [*ENTERPRISES.items(), ("ghost", 0)]:
        subject = f"plant.tel.{enterprise}.{partition_of(device, 16)}"
        mine = [s for s in by_subject[subject] if s.device == device]
        assert mine == [s for s in samples if s.device == device]  # complete, in order
    assert sorted(s for got in by_subject.values() for s in got) == sorted(samples)
    ids = [batch.msg_id for _, batch, _ in planned]
    assert len(set(ids)) == len(ids) and all(i.startswith("api-0.") for i in ids)


def test_a_large_batch_is_cut_into_envelopes_of_max_points() -> None:
    samples = [Sample("oven-1", "p", NOW + i, i, GOOD) for i in range(2500)]
    planned = writer().plan(samples)
    assert [len(b.samples) for _, b, _ in planned] == [MAX_POINTS, MAX_POINTS, 500]
    assert [s for _, b, _ in planned for s in b.samples] == samples


def test_envelopes_stay_below_the_server_payload_limit_with_long_text() -> None:
    """1,000 text values of 64 KiB would make a 64 MB message the server refuses for ever
    (the batch would sit in the disk buffer, blocking everything behind it)."""
    text = "汉" * 65_536  # the longest text a point takes, 3 bytes a character
    samples = [Sample("oven-1", "mode", NOW + i, text, GOOD) for i in range(40)]
    planned = writer().plan(samples)
    assert all(len(body) <= MAX_BYTES for _, _, body in planned)
    assert [s for _, _, body in planned for s in decode(body).samples] == samples
    assert len(planned) >= 8


def test_writing_before_the_backbone_is_connected_fails_so_the_pipeline_buffers() -> None:
    with pytest.raises(BusUnavailable, match="not connected; buffering"):
        writer().write_batch([Sample("oven-1", "p", NOW, 1.0, GOOD)])
    assert BusUnavailable.status == 503


@pytest.mark.parametrize(("producer", "source"), [("p" * 129, "http"), ("api-0", "s" * 33)])
def test_a_producer_whose_envelopes_no_worker_could_decode_is_refused(
    producer: str, source: str
) -> None:
    """Every envelope would be dead-lettered as undecodable: accepted samples lost."""
    backbone = Backbone(["nats://127.0.0.1:1"], Names("plant", 16))
    with pytest.raises(ValueError, match="at most 128 characters and a source 32"):
        BusWriter(backbone, ENTERPRISES.get, source=source, producer=producer)


def test_the_longest_names_a_worker_takes_are_accepted() -> None:
    backbone = Backbone(["nats://127.0.0.1:1"], Names("plant", 16))
    w = BusWriter(backbone, ENTERPRISES.get, source="s" * 32, producer="p" * 128)
    [(_, batch, body)] = w.plan([Sample("oven-1", "p", NOW, 1.0, GOOD)])
    assert decode(body) == batch
