"""Fuzzing the Handle protocol decoder: random bytes, messages built from random fields
(lengths and counts that lie included) and valid messages mutated. Nothing but ``WireError``
may come out, and no decode allocates much more than the message it reads."""

from __future__ import annotations

import struct
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indunet.ids.wire import codec

u32 = st.one_of(st.integers(0, 64), st.integers(0, 2**32 - 1), st.sampled_from([2**31, 2**32 - 1]))
OPS = st.sampled_from([1, 2, 100, 101, 102, 103, 104, 105, 200, 7, 0, 2**32 - 1])


def _str(b: bytes, claimed: int | None) -> bytes:
    return struct.pack(">I", len(b) if claimed is None else claimed) + b


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """A message whose every field is drawn, lengths either true or any 32-bit number."""
    lie = st.one_of(st.none(), u32)
    handle = draw(st.binary(max_size=40))
    body = _str(handle, draw(lie))
    op = draw(OPS)
    if draw(st.booleans()):  # a list of indexes or a list of values
        n = draw(st.integers(0, 6))
        body += struct.pack(">I", draw(st.one_of(st.just(n), u32)))
        body += b"".join(
            struct.pack(">i", draw(st.integers(-(2**31), 2**31 - 1))) for _ in range(n)
        )
    else:
        n = draw(st.integers(0, 3))
        body += struct.pack(">I", draw(st.one_of(st.just(n), u32)))
        for _ in range(n):
            body += struct.pack(">iIBiB", 1, 0, 0, 86400, 14)
            body += _str(draw(st.binary(max_size=8)), draw(lie))
            body += _str(draw(st.binary(max_size=30)), draw(lie))
            refs = draw(st.integers(0, 2))
            body += struct.pack(">I", draw(st.one_of(st.just(refs), u32)))
            for _ in range(refs):
                body += _str(draw(st.binary(max_size=10)), draw(lie)) + b"\0\0\0\1"
    types = draw(st.lists(st.binary(max_size=10), max_size=4))
    body += struct.pack(">I", draw(st.one_of(st.just(len(types)), u32)))
    body += b"".join(_str(t, draw(lie)) for t in types)
    body += draw(st.binary(max_size=8))
    body_len = draw(st.one_of(st.just(len(body)), u32))
    header = struct.pack(
        ">IiIHBBiI", op, draw(st.sampled_from([0, 0, 1])), draw(u32), 0, 0, 0, 0, body_len
    )
    cred = draw(st.sampled_from([b"", b"\0\0\0\0", _str(b"abc", None), b"\xff\xff\xff\xff"]))
    message = header + body + cred
    length = draw(st.one_of(st.just(len(message)), u32))
    version = draw(st.sampled_from([(2, 10), (2, 0), (1, 0), (5, 0)]))
    flag = draw(st.sampled_from([0, 0, 0x8000, 0x2000]))
    seq = draw(st.sampled_from([0, 0, 1]))
    return struct.pack(">BBHiiiI", *version, flag, 0, 1, seq, length) + message


def _valid() -> list[bytes]:
    """A few valid requests to mutate."""
    value = codec.WireValue(1, b"URL", b"https://a.example.cn/x", references=((b"88/r", 2),))
    out = []
    for op, body in (
        (
            1,
            codec._blob(b"88.100.1/PUMP-1")
            + struct.pack(">Ii", 1, 1)
            + struct.pack(">I", 1)
            + codec._blob(b"URL"),
        ),
        (2, b""),
        (102, codec._blob(b"88.100.1/PUMP-1") + codec.encode_value_list([value])),
        (103, codec._blob(b"88/x") + struct.pack(">Iii", 2, 1, 2)),
    ):
        message = (
            struct.pack(">iiIHBBiI", op, 0, codec.FLAG_RD, 0, 0, 0, 0, len(body))
            + body
            + b"\0\0\0\0"
        )
        out.append(struct.pack(">BBHiiiI", 2, 10, 0, 0, 1, 0, len(message)) + message)
    return out


VALID = _valid()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 3))
        at = draw(st.integers(0, len(data) - 1)) if data else 0
        if kind == 0 and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == 1:
            data = data[:at]
        elif kind == 2:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif len(data) >= at + 4:
            struct.pack_into(">I", data, at, draw(u32))
    return bytes(data)


def _decode(data: bytes) -> None:
    for udp in (True, False):
        try:
            codec.decode_request(data, udp=udp)
        except codec.WireError as exc:
            assert exc.reason in {
                "truncated", "too_long", "too_many", "bad_version", "bad_length",
                "unsupported", "not_request",
            }  # fmt: skip


def test_valid_seeds_decode() -> None:
    for data in VALID:
        req = codec.decode_request(data, udp=True)
        assert req.header.body_length == len(req.signed) - codec.HEADER_SIZE


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=600), messages(), mutated()))
def test_decoder_raises_only_its_own_error(data: bytes) -> None:
    _decode(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(messages(), mutated()))
def test_decoder_allocates_in_proportion_to_the_message(data: bytes) -> None:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        _decode(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # what a decode may hold: a few copies of the message and small per-field objects
    assert peak < 20 * len(data) + 32_768, (peak, len(data))
