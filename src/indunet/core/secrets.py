"""Password and secret-key hashing (scrypt, from the standard library) and random credentials."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1


def new_secret(nbytes: int = 24) -> str:
    """Return a random URL-safe secret."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """Hash a password or key for storage: ``scrypt$N$r$p$salt$hash``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Check a secret against its stored hash in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    b64d = base64.urlsafe_b64decode
    got = hashlib.scrypt(
        secret.encode(), salt=b64d(salt), n=int(n), r=int(r), p=int(p), dklen=len(b64d(digest))
    )
    return hmac.compare_digest(got, b64d(digest))


@functools.cache
def _dummy_hash() -> str:
    return hash_secret(new_secret())


def verify_nothing(secret: str) -> bool:
    """Spend what ``verify_secret`` spends, then return False (for an unknown username).

    Checking a password of an account that does not exist must cost the same as a wrong
    password, or the answer time tells which usernames exist.
    """
    verify_secret(secret, _dummy_hash())
    return False


def token_digest(token: str) -> str:
    """Digest of a high-entropy API token (tokens are random, so a fast hash is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()
