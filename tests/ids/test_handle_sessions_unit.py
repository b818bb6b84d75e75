"""The session table's bounds and the HS_PUBKEY decoder, without HTTP."""

from __future__ import annotations

import base64
import struct
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, padding, rsa
from tests.web.handle_pubkey_client import hs_pubkey

from indunet.ids import InvalidValue, pubkeys
from indunet.ids.authheader import parse
from indunet.ids.sessions import Session, SessionLimits, Sessions, check_answer, digest
from indunet.ids.values import HandleValue

RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sign_in(table: Sessions, s: Session) -> None:
    """Answer ``s``'s nonce with ``RSA`` as ``300:88.100.1/K`` (a real signature)."""
    cnonce = b"client-nonce-123"
    sig = RSA.sign(s.nonce + cnonce, padding.PKCS1v15(), hashes.SHA256())
    header = (
        f'Handle sessionId="{s.id}", id="300:88.100.1/K", type="HS_PUBKEY", alg="SHA256", '
        f'cnonce="{base64.b64encode(cnonce).decode()}", '
        f'signature="{base64.b64encode(sig).decode()}"'
    )
    values = [_value(300, hs_pubkey(RSA))]
    table.answer(s, parse(header), digest(header), lambda key: ("88.100.1/K", values))


def test_the_table_is_bounded_and_unauthenticated_sessions_go_first() -> None:
    clock = Clock()
    table = Sessions(SessionLimits(max_sessions=3), clock=clock)
    kept = table.open("n")
    _sign_in(table, kept)
    assert kept.actor == "300:88.100.1/K"
    pending = [table.open("n") for _ in range(2)]
    clock.now += 1
    newest = table.open("n")  # full: the oldest unauthenticated session makes room
    assert len(table) == 3
    assert table.get(pending[0].id, "n") is None
    assert table.get(kept.id, "n") is kept and table.get(newest.id, "n") is newest
    for _ in range(5):  # a flood of unanswered sessions never pushes the signed-in one out
        table.open("n")
    assert table.get(kept.id, "n") is kept and len(table) == 3


def test_sessions_expire_pending_sooner_than_authenticated_and_never_outlive_max_age() -> None:
    clock = Clock()
    limits = SessionLimits(pending_s=10, idle_s=100, max_age_s=150)
    table = Sessions(limits, clock=clock)
    pending, done = table.open("n"), table.open("n")
    _sign_in(table, done)
    clock.now += 11
    assert table.get(pending.id, "n") is None
    assert table.get(done.id, "n") is done  # used now: idle again from here
    clock.now += 99
    assert table.get(done.id, "n") is done
    clock.now += 45  # 155 s after opening
    assert table.get(done.id, "n") is None
    assert table.get("nope", "n") is None


def test_opening_stays_cheap_when_the_table_is_full() -> None:
    table = Sessions(SessionLimits(max_sessions=10_000))
    for _ in range(10_000):
        table.open("n")
    t0 = time.perf_counter()
    for _ in range(2_000):
        table.open("n")
    per_open = (time.perf_counter() - t0) / 2_000
    assert len(table) == 10_000
    assert per_open < 0.001, f"{per_open * 1e6:.0f} µs per open of a full table"


def test_a_session_belongs_to_one_node() -> None:
    table = Sessions()
    s = table.open("a")
    assert table.get(s.id, "b") is None and table.get(s.id, "a") is s
    assert table.close(s.id, "b") is False and table.close(s.id, "a") is True
    assert table.get(s.id, "a") is None


def _value(index: int, text: str) -> HandleValue:
    return HandleValue(index, "HS_PUBKEY", "key", text, 86400, "2026-01-01T00:00:00Z")


def test_rsa_keys_check_sha256_signatures_and_refuse_weaker_hashes() -> None:
    key = pubkeys.decode(base64.b64decode(hs_pubkey(RSA)))
    msg = b"nonce" + b"cnonce"
    sig = RSA.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    assert key.verify("SHA256", msg, sig) and key.verify("sha-256", msg, sig)
    assert not key.verify("SHA1", msg, sig) and not key.verify("MD5", msg, sig)
    assert not key.verify("SHA256", msg + b"x", sig)
    values = [
        _value(301, hs_pubkey(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    ]
    values.append(_value(302, hs_pubkey(RSA)))
    assert check_answer(values, 0, "SHA256", msg, sig) == 302  # index 0: any key
    assert check_answer(values, 301, "SHA256", msg, sig) is None
    assert pubkeys.decode(pubkeys.encode_rsa(RSA.public_key())).algorithm == "RSA_PUB_KEY"


def test_dsa_keys_in_handle_net_s_layout_check() -> None:
    priv = dsa.generate_private_key(key_size=2048)
    n = priv.public_key().public_numbers()

    def num(x: int) -> bytes:
        raw = x.to_bytes(x.bit_length() // 8 + 1, "big")
        return struct.pack(">I", len(raw)) + raw

    tag = b"DSA_PUB_KEY"
    data = struct.pack(">I", len(tag)) + tag + b"\0\0"
    data += num(n.parameter_numbers.q) + num(n.parameter_numbers.p)
    data += num(n.parameter_numbers.g) + num(n.y)
    key = pubkeys.decode(data)
    sig = priv.sign(b"m", hashes.SHA256())
    assert key.verify("SHA256", b"m", sig) and not key.verify("SHA256", b"n", sig)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\0\0\0\x0bRSA_PUB_KEY",
        b"\xff\xff\xff\xffRSA",
        b"\0\0\0\x0bRSA_PUB_KEY\0\0\0\0\0\x01\x03\0\0\0\x02\x00\xff",  # 8-bit modulus
        b"\0\0\0\x0aDH_PUB_KEY\0\0",
        b"\0\0\0\x0bRSA_PUB_KEY\0\0\0\0\x10\0\x01",  # exponent length beyond the value
    ],
)
def test_bad_key_bytes_are_refused_by_name(data: bytes) -> None:
    with pytest.raises(InvalidValue) as err:
        pubkeys.decode(data)
    assert err.value.reason == "pubkey_format"


def test_the_header_parser_reads_quoted_tokens_and_percent_encoded_ids() -> None:
    auth = parse(r'handle sessionId=abc, id="300%3A0.NA/88.100.1", alg=SHA256,cnonce="a\"b"')
    assert auth.session_id == "abc" and auth.id == "300:0.NA/88.100.1"
    assert auth.alg == "SHA256" and auth.cnonce == 'a"b'
    assert auth.answering and auth.missing() == ["type", "signature"]
