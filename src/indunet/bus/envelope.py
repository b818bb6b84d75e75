"""Batch envelopes: what crosses the backbone, one NATS message each.

A telemetry envelope carries up to ``MAX_POINTS`` samples as five columns (devices, points,
times, values, qualities): one message per 100–1,000 points is what lets one consumer core
take hundreds of thousands of points a second, where a message per point stops near ten
thousand. (Payloads a connector cannot decode do not travel: the producer's pipeline records
them in the shared dead letters itself.) An envelope names its producer and sequence number; ``msg_id`` (the
``Nats-Msg-Id`` header) is the pair, so JetStream drops a batch published twice within its
duplicate window (a producer that retries after a lost acknowledgement).

Decoding is the boundary of a worker: every field is checked for type and size, and an
envelope that fails is ``EnvelopeInvalid`` naming what is wrong (the worker dead-letters it
and goes on; it never retries it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from indunet.core import InvalidInput
from indunet.telemetry import Sample

SAMPLES = "indunet.samples/1"
MAX_POINTS = 1000
"""Samples in one envelope at most; producers cut larger submissions."""
MAX_BYTES = 1024 * 1024
"""An envelope's size at most (the NATS server's default ``max_payload``)."""
MAX_LETTER = 64 * 1024
"""Bytes of an undecodable envelope kept in its dead letter at most."""
MAX_PRODUCER = 128
"""Characters of a producer's name at most."""
MAX_SOURCE = 32
"""Characters of an envelope's source (``http``, ``connector``…) at most."""
_QUALITIES = frozenset({0, 1, 2})


class EnvelopeInvalid(InvalidInput):
    """A message on the backbone that is not a well-formed envelope."""

    code = "envelope_invalid"


def _bad(message: str, reason: str, **params: object) -> EnvelopeInvalid:
    """An ``EnvelopeInvalid`` naming its problem stably (the dead letter's detail name)."""
    return EnvelopeInvalid(message, reason=reason, params={k: str(v) for k, v in params.items()})


@dataclass(frozen=True, slots=True)
class Batch:
    """Samples from one producer, in one message."""

    producer: str
    seq: int
    source: str
    samples: list[Sample]

    @property
    def msg_id(self) -> str:
        """The deduplication id (``Nats-Msg-Id``)."""
        return f"{self.producer}.{self.seq}"

    def encode(self) -> bytes:
        """The wire form."""
        columns: list[list[Any]] = [[], [], [], [], []]
        d, n, t, v, q = columns
        for s in self.samples:
            d.append(s[0])
            n.append(s[1])
            t.append(s[2])
            v.append(s[3])
            q.append(s[4])
        return orjson.dumps(
            {"f": SAMPLES, "p": self.producer, "q": self.seq, "src": self.source, "c": columns}
        )


def decode(raw: bytes) -> Batch:
    """An envelope from its wire form; ``EnvelopeInvalid`` naming the first problem."""
    if len(raw) > MAX_BYTES:
        raise _bad(
            f"an envelope is at most {MAX_BYTES} bytes, not {len(raw)}",
            "envelope_too_big",
            max=MAX_BYTES,
            size=len(raw),
        )
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad(
            f"an envelope must be a JSON object: {exc}", "envelope_not_json", error=str(exc)
        ) from None
    if not isinstance(doc, dict):
        raise _bad("an envelope must be a JSON object", "envelope_not_object")
    fmt = doc.get("f")
    producer = _text(doc, "p", MAX_PRODUCER)
    seq = doc.get("q")
    if type(seq) is not int or seq < 0:
        raise _bad(
            "envelope field 'q' (sequence) must be a whole number ≥ 0", "envelope_bad_sequence"
        )
    source = _text(doc, "src", MAX_SOURCE)
    if fmt == SAMPLES:
        return Batch(producer, seq, source, _samples(doc.get("c")))
    raise _bad(
        f"unknown envelope format {str(fmt)[:64]!r}",
        "envelope_unknown_format",
        format=str(fmt)[:64],
    )


def _text(doc: dict[str, Any], name: str, limit: int) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise _bad(
            f"envelope field {name!r} must be text of at most {limit} characters",
            "envelope_bad_text",
            field=name,
            max=limit,
        )
    return value


def _samples(columns: Any) -> list[Sample]:
    if not isinstance(columns, list) or len(columns) != 5:
        raise _bad("envelope field 'c' must be five columns", "envelope_bad_columns")
    if not all(isinstance(c, list) for c in columns):
        raise _bad("envelope field 'c' must be five columns", "envelope_bad_columns")
    devices, points, times, values, qualities = columns
    n = len(devices)
    if n > MAX_POINTS or any(len(c) != n for c in columns):
        raise _bad(
            f"an envelope holds at most {MAX_POINTS} samples in equal columns",
            "envelope_too_many",
            max=MAX_POINTS,
        )
    if not all(type(x) is str for x in devices) or not all(type(x) is str for x in points):
        raise _bad("device and point columns must be text", "envelope_bad_names")
    if not all(type(x) is int for x in times):
        raise _bad("the time column must be whole milliseconds", "envelope_bad_times")
    if not all(type(x) in (float, int, bool, str) for x in values):
        raise _bad("the value column holds numbers, booleans or text only", "envelope_bad_values")
    if not all(x in _QUALITIES and type(x) is int for x in qualities):
        raise _bad("the quality column holds 0, 1 or 2 only", "envelope_bad_qualities")
    return list(map(Sample._make, zip(devices, points, times, values, qualities, strict=True)))


def chunks(samples: Sequence[Sample], size: int = MAX_POINTS) -> list[Sequence[Sample]]:
    """``samples`` cut into envelope-sized pieces."""
    return [samples[i : i + size] for i in range(0, len(samples), size)]
