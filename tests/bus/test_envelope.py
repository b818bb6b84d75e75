"""Batch envelopes: what a producer encodes a worker decodes, and nothing hostile passes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from indunet.bus.envelope import (
    MAX_BYTES,
    MAX_POINTS,
    SAMPLES,
    Batch,
    EnvelopeInvalid,
    chunks,
    decode,
)
from indunet.telemetry import BAD, GOOD, UNCERTAIN, Sample
from indunet.web.console.i18n import catalogue

NOW = 1_765_000_000_000


def envelope(**fields: Any) -> bytes:
    """A well-formed envelope's wire form with ``fields`` replaced (or removed when None)."""
    doc: dict[str, Any] = {
        "f": SAMPLES,
        "p": "indunet-api-0/1-abc",
        "q": 7,
        "src": "http",
        "c": [["oven-1"], ["temperature"], [NOW], [21.5], [0]],
    }
    for name, value in fields.items():
        if value is None:
            doc.pop(name)
        else:
            doc[name] = value
    return orjson.dumps(doc)


def test_every_value_type_and_quality_round_trips() -> None:
    samples = [
        Sample("oven-1", "temperature", NOW, 21.5, GOOD),
        Sample("oven-1", "count", NOW + 1, 2**62, UNCERTAIN),
        Sample("oven-1", "negative", NOW + 2, -(2**63), GOOD),
        Sample("oven-1", "running", NOW + 3, True, GOOD),
        Sample("oven-1", "stopped", NOW + 4, False, BAD),
        Sample("电表-3", "mode", NOW + 5, '自动 "quoted" \\ \n\u0000', GOOD),
        Sample("oven-2", "tiny", NOW + 6, 5e-324, GOOD),
        Sample("oven-2", "zero", NOW + 7, 0, GOOD),
        Sample("oven-2", "empty", NOW + 8, "", BAD),
    ]
    batch = Batch("indunet-api-0/1-abc", 42, "mqtt", samples)
    back = decode(batch.encode())
    assert back == batch
    assert back.msg_id == "indunet-api-0/1-abc.42"
    for got, sent in zip(back.samples, samples, strict=True):
        assert type(got.value) is type(sent.value)  # True stays a bool, 0 an int
        assert isinstance(got, Sample)


def test_a_full_envelope_round_trips() -> None:
    samples = [Sample(f"d{i % 7}", "p", NOW + i, float(i), GOOD) for i in range(MAX_POINTS)]
    raw = Batch("p", 1, "modbus", samples).encode()
    assert len(raw) < MAX_BYTES
    assert decode(raw).samples == samples


def test_an_empty_envelope_decodes_to_no_samples() -> None:
    assert decode(Batch("p", 0, "http", []).encode()).samples == []


def test_chunks_cut_at_the_envelope_size() -> None:
    samples = [Sample("d", "p", NOW + i, i, GOOD) for i in range(2 * MAX_POINTS + 1)]
    pieces = chunks(samples)
    assert [len(p) for p in pieces] == [MAX_POINTS, MAX_POINTS, 1]
    assert [s for p in pieces for s in p] == samples


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "must be a JSON object"),
        (b"not json", "must be a JSON object"),
        (b"\xff\xfe{}", "must be a JSON object"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (envelope(f="indunet.samples/2"), "unknown envelope format 'indunet.samples/2'"),
        (envelope(f=None), "unknown envelope format 'None'"),
        (envelope(f="x" * 10_000), "unknown envelope format 'xxxx"),
        (envelope(p=None), "field 'p' must be text of at most 128"),
        (envelope(p=5), "field 'p' must be text of at most 128"),
        (envelope(p="p" * 129), "field 'p' must be text of at most 128"),
        (envelope(q=None), "field 'q' (sequence) must be a whole number"),
        (envelope(q=-1), "field 'q' (sequence) must be a whole number"),
        (envelope(q=1.5), "field 'q' (sequence) must be a whole number"),
        (envelope(q=True), "field 'q' (sequence) must be a whole number"),
        (envelope(q="7"), "field 'q' (sequence) must be a whole number"),
        (envelope(src="s" * 33), "field 'src' must be text of at most 32"),
        (envelope(src=["http"]), "field 'src' must be text of at most 32"),
        (envelope(c=None), "field 'c' must be five columns"),
        (envelope(c={"d": []}), "field 'c' must be five columns"),
        (envelope(c=[[], [], [], []]), "field 'c' must be five columns"),
        (envelope(c=[[], [], [], [], [], []]), "field 'c' must be five columns"),
        (envelope(c=[[], [], [], [], "x"]), "field 'c' must be five columns"),
        (envelope(c=[["a", "b"], ["t"], [NOW], [1], [0]]), "in equal columns"),
        (envelope(c=[["a"], ["t"], [NOW], [1], []]), "in equal columns"),
        (envelope(c=[[1], ["t"], [NOW], [1], [0]]), "device and point columns must be text"),
        (envelope(c=[["a"], [None], [NOW], [1], [0]]), "device and point columns must be text"),
        (envelope(c=[["a"], ["t"], [True], [1], [0]]), "the time column must be whole milli"),
        (envelope(c=[["a"], ["t"], [1.5e12], [1], [0]]), "the time column must be whole milli"),
        (envelope(c=[["a"], ["t"], ["2024"], [1], [0]]), "the time column must be whole milli"),
        (envelope(c=[["a"], ["t"], [NOW], [None], [0]]), "numbers, booleans or text only"),
        (envelope(c=[["a"], ["t"], [NOW], [[1]], [0]]), "numbers, booleans or text only"),
        (envelope(c=[["a"], ["t"], [NOW], [{"v": 1}], [0]]), "numbers, booleans or text only"),
        (envelope(c=[["a"], ["t"], [NOW], [1], [3]]), "the quality column holds 0, 1 or 2"),
        (envelope(c=[["a"], ["t"], [NOW], [1], [-1]]), "the quality column holds 0, 1 or 2"),
        (envelope(c=[["a"], ["t"], [NOW], [1], [True]]), "the quality column holds 0, 1 or 2"),
        (envelope(c=[["a"], ["t"], [NOW], [1], [1.0]]), "the quality column holds 0, 1 or 2"),
        (envelope(c=[["a"], ["t"], [NOW], [1], ["0"]]), "the quality column holds 0, 1 or 2"),
    ],
)
def test_a_hostile_envelope_is_refused_naming_the_problem(raw: bytes, problem: str) -> None:
    with pytest.raises(EnvelopeInvalid) as caught:
        decode(raw)
    assert problem in caught.value.message
    assert caught.value.code == "envelope_invalid"
    assert len(caught.value.message) < 400  # a dead letter's detail, not an echo of the input
    exc = caught.value
    assert exc.reason and exc.reason.startswith("envelope_")  # the letter's detail name
    for locale in ("zh-CN", "en"):
        said = catalogue(locale)[f"letter.{exc.reason}"].format(subject="s.1", **exc.params)
        assert "{" not in said and "s.1" in said, said


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"])
def test_numbers_json_cannot_carry_are_refused(number: bytes) -> None:
    """NaN and infinities are not JSON: orjson refuses them, and numbers it cannot hold."""
    raw = envelope().replace(b"[21.5]", b"[" + number + b"]")
    assert number in raw
    with pytest.raises(EnvelopeInvalid, match="must be a JSON object"):
        decode(raw)


def test_an_envelope_larger_than_the_bound_is_refused_before_parsing() -> None:
    big = envelope(src="http") + b" " * MAX_BYTES
    with pytest.raises(EnvelopeInvalid, match=f"at most {MAX_BYTES} bytes, not {len(big)}"):
        decode(big)


def test_an_envelope_of_more_than_max_points_is_refused() -> None:
    n = MAX_POINTS + 1
    raw = envelope(c=[["d"] * n, ["p"] * n, [NOW] * n, [1] * n, [0] * n])
    assert len(raw) < MAX_BYTES
    with pytest.raises(EnvelopeInvalid, match=f"at most {MAX_POINTS} samples"):
        decode(raw)


def test_a_huge_producer_name_is_refused_without_echoing_it() -> None:
    with pytest.raises(EnvelopeInvalid) as caught:
        decode(envelope(p="p" * 500_000))
    assert "p" * 200 not in caught.value.message


def test_nan_in_a_sample_never_becomes_a_different_value_on_the_wire() -> None:
    """orjson writes NaN as null: such an envelope is refused, not stored as something else.
    (The producer's pipeline dead-letters NaN before it ever reaches an envelope.)"""
    raw = Batch("p", 1, "http", [Sample("d", "t", NOW, float("nan"), GOOD)]).encode()
    with pytest.raises(EnvelopeInvalid, match="numbers, booleans or text only"):
        decode(raw)
