"""Password and key hashing, and random credentials."""

from __future__ import annotations

from indunet import core


def test_hash_verifies_only_the_right_secret() -> None:
    stored = core.hash_secret("s3cret-key")
    assert stored.startswith("scrypt$") and "s3cret-key" not in stored
    assert core.verify_secret("s3cret-key", stored)
    assert not core.verify_secret("s3cret-kez", stored)


def test_same_secret_hashes_differently_each_time() -> None:
    assert core.hash_secret("same") != core.hash_secret("same")


def test_malformed_stored_hash_never_verifies() -> None:
    for stored in ("", "plain", "md5$1$2$3$4$5", "scrypt$only$three"):
        assert not core.verify_secret("anything", stored)


def test_new_secrets_are_random_and_url_safe() -> None:
    secrets = {core.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.replace("-", "").replace("_", "").isalnum() for s in secrets)
