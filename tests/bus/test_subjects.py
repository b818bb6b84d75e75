"""Names on the backbone: partitions stable across processes, shares covering each once."""

from __future__ import annotations

import pytest

from indunet.bus.subjects import Names, owned, owns_device, partition_of


@pytest.mark.parametrize(
    ("device", "partitions", "expected"),
    [
        ("oven-1", 16, 13),
        ("press-7", 16, 9),
        ("88.100.1/dev-42", 16, 11),
        ("电表-3", 16, 7),
        ("oven-1", 7, 2),
        ("88.100.1/dev-42", 1024, 619),
        ("", 16, 0),
    ],
)
def test_a_device_always_maps_to_the_same_partition(
    device: str, partitions: int, expected: int
) -> None:
    """Pinned: a change here re-partitions every installation (and reorders devices)."""
    assert partition_of(device, partitions) == expected
    assert Names("indunet", partitions).telemetry_subject(3, device) == (
        f"indunet.tel.3.{expected}"
    )


def test_a_device_without_an_enterprise_travels_on_enterprise_zero() -> None:
    assert Names("plant", 16).telemetry_subject(None, "oven-1") == "plant.tel.0.13"


@pytest.mark.parametrize("partitions", [1, 2, 7, 16, 64, 1024])
@pytest.mark.parametrize("count", [1, 2, 3, 5, 16])
def test_worker_shares_cover_every_partition_exactly_once(partitions: int, count: int) -> None:
    shares = [owned(i, count, partitions) for i in range(count)]
    every = sorted(p for share in shares for p in share)
    assert every == list(range(partitions))
    sizes = [len(s) for s in shares]
    assert max(sizes) - min(sizes) <= 1  # evenly spread


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_connector_shares_serve_every_device_exactly_once(count: int) -> None:
    devices = [f"dev-{i}" for i in range(500)]
    for d in devices:
        assert sum(owns_device(d, i, count) for i in range(count)) == 1
    if count > 1:  # each share gets some
        assert all(any(owns_device(d, i, count) for d in devices) for i in range(count))


@pytest.mark.parametrize(("index", "count"), [(2, 2), (-1, 2), (0, 0)])
def test_a_share_outside_its_count_is_refused(index: int, count: int) -> None:
    with pytest.raises(ValueError, match="index must be below the count"):
        owned(index, count, 16)


def test_names_of_an_installation() -> None:
    n = Names("plant_2", 8)
    assert (n.telemetry_stream, n.events_stream) == ("PLANT_2_TELEMETRY", "PLANT_2_EVENTS")
    assert n.telemetry_subjects == "plant_2.tel.>"
    assert n.partition_filter(5) == "plant_2.tel.*.5"
    assert n.durable(5) == "tel-p5"
    assert n.event_subject("alarm.raised") == "plant_2.evt.alarm.raised"
    assert n.command_subject(1) == "plant_2.cmd.1"


@pytest.mark.parametrize(
    "prefix",
    ["", "Indunet", "1abc", "a.b", "a b", "a*", "a>", "a-b", "abc\n", "a" * 33, "ö"],
)
def test_a_prefix_that_is_not_a_plain_name_is_refused(prefix: str) -> None:
    """A dot, wildcard, space or newline would change which subjects a prefix covers."""
    with pytest.raises(ValueError, match="bus prefix"):
        Names(prefix)


@pytest.mark.parametrize("partitions", [0, -1, 1025, 2.0, True])
def test_a_partition_count_out_of_range_is_refused(partitions: int) -> None:
    with pytest.raises(ValueError, match="bus partitions"):
        Names("plant", partitions)


def test_the_longest_prefix_is_accepted() -> None:
    assert Names("a" * 32).telemetry_stream == "A" * 32 + "_TELEMETRY"
