"""Keys of active identifiers: known-answer vectors for SM2/SM3 and Ed25519, HS_PUBKEY bytes."""

from __future__ import annotations

import base64
import struct
import sys

import pytest
from cryptography.hazmat.primitives import hashes
from gmalglib.sm2 import SM2

from indunet.ids import activekeys
from indunet.ids.errors import InvalidValue
from indunet_device import generate
from indunet_device.keys import DeviceKey

# GM/T 0003.5-2012 Annex A (GB/T 32918.5), signature on the recommended curve: the key pair,
# user ID ALICE's default "1234567812345678", message "message digest", random k, and (r, s).
SM2_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
SM2_X = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
SM2_Y = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
SM2_K = bytes.fromhex("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21")
SM2_Z = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
SM2_R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
SM2_S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
MSG = b"message digest"


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def test_sm3_known_answer() -> None:  # GB/T 32905-2016 Annex A.1
    assert sm3(b"abc").hex().upper() == (
        "66C7F0F462EEEDD9D1F2D46BDC10E4E24167C4875CF2F7A2297DA02B8F4BA8E0"
    )


def test_sm2_standard_vector_verifies_and_z_is_computed_independently() -> None:
    pk = bytes.fromhex("04" + SM2_X + SM2_Y)
    assert SM2.get_pk(SM2_D) == pk
    # Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA), computed here without gmalglib
    p = SM2
    from gmalglib import sm2 as m

    uid = activekeys.SM2_DEFAULT_ID
    z = sm3(
        struct.pack(">H", len(uid) * 8)
        + uid
        + m.SM2_PARAMS_A
        + m.SM2_PARAMS_B
        + m.SM2_PARAMS_G[0]
        + m.SM2_PARAMS_G[1]
        + pk[1:]
    )
    assert z.hex().upper() == SM2_Z
    assert p(pk=pk).get_entity_info().hex().upper() == SM2_Z
    key = activekeys.PublicKey(activekeys.SM2_KEY, pk)
    sig = bytes.fromhex(SM2_R + SM2_S)
    assert key.verify(MSG, sig)
    assert not key.verify(b"message digesT", sig)
    assert not key.verify(MSG, sig[:-1] + bytes([sig[-1] ^ 1]))
    # signing with the standard's k gives the standard's (r, s): gmalglib reads k little-endian
    assert SM2(SM2_D, rnd_fn=lambda n: SM2_K[::-1]).sign(MSG).hex().upper() == SM2_R + SM2_S


def test_ed25519_rfc8032_test_1() -> None:
    pub = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    key = activekeys.PublicKey(activekeys.ED25519, pub)
    assert key.verify(b"", sig)
    assert not key.verify(b"x", sig)
    assert not key.verify(b"", sig[:10])


@pytest.mark.parametrize("alg", ["ed25519", "sm2"])
def test_device_keys_round_trip_through_hs_pubkey(alg: str) -> None:
    dk = generate(alg)
    key = activekeys.from_text(dk.hs_pubkey())
    assert key.algorithm == dk.algorithm and key.raw == dk.public
    assert key.text() == dk.hs_pubkey()
    assert key.verify(b"hello", dk.sign(b"hello"))
    other = generate(alg)
    assert not key.verify(b"hello", other.sign(b"hello"))
    assert key.digest(b"x") == dk.digest(b"x")
    assert len(key.digest(b"x")) == 32


def _encode(tag: bytes, raw: bytes, flags: bytes = b"\0\0") -> str:
    data = struct.pack(">I", len(tag)) + tag + flags + struct.pack(">I", len(raw)) + raw
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_encode(b"DSA_PUB_KEY", b"\1" * 32), "active_key_algorithm"),
        (_encode(b"ED25519_PUB_KEY", b"\1" * 31), "active_key_invalid"),
        (_encode(b"SM2_PUB_KEY", b"\4" + b"\1" * 64), "active_key_invalid"),  # not on the curve
        (_encode(b"ED25519_PUB_KEY", b"\1" * 32)[:-4], "active_key_format"),
        (base64.b64encode(b"\xff\xff\xff\xff").decode(), "active_key_format"),
        ("not base64!", "active_key_format"),
        ("A" * 1000, "active_key_format"),
        (12, "active_key_format"),
    ],
)
def test_bad_keys_are_refused_with_their_reason(text: object, reason: str) -> None:
    with pytest.raises(InvalidValue) as err:
        activekeys.from_text(text)
    assert err.value.reason == reason


def test_key_file_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dk = generate("sm2")
    dk.save(tmp_path / "k.json")
    assert (tmp_path / "k.json").stat().st_mode & 0o777 == 0o600
    from indunet_device import load_key

    assert load_key(tmp_path / "k.json") == dk
    assert DeviceKey(dk.algorithm, dk.private).public == dk.public


def test_without_gmalglib_sm2_is_refused_and_ed25519_works(monkeypatch: pytest.MonkeyPatch) -> None:
    sm2, ed = generate("sm2").hs_pubkey(), generate("ed25519").hs_pubkey()
    monkeypatch.setitem(sys.modules, "gmalglib.sm2", None)  # the import fails, as uninstalled
    with pytest.raises(InvalidValue) as refused:
        activekeys.from_text(sm2)
    assert refused.value.reason == "active_sm2_unavailable"
    assert "indunet[gm]" in refused.value.message
    assert activekeys.from_text(ed).algorithm == activekeys.ED25519
