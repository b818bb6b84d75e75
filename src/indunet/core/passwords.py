"""What a user's password must be: long enough, not common, not the username, not one kind.

The rules, checked in this order (the first one broken is named in the error):

1. ``MIN_LENGTH`` (10) to ``MAX_LENGTH`` (1024) characters.
2. Not one of the 10,000 most common passwords (``common-passwords.txt``, compared
   case-insensitively; its source and licence are in ``common-passwords.LICENSE.txt``).
3. ``MIN_LENGTH`` characters besides the username, if it contains it (case-insensitively).
4. At least ``MIN_DISTINCT`` (5) different characters.
5. Below ``LONG_ENOUGH`` (16) characters, at least two kinds among lower case, upper case,
   digits and other characters (a long passphrase of lower-case words is fine).

Machine-made secrets (the first admin's password) pass by construction.
"""

from __future__ import annotations

import functools
from pathlib import Path

from indunet.core.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024
MIN_DISTINCT = 5
LONG_ENOUGH = 16
COMMON_FILE = Path(__file__).with_name("common-passwords.txt")


class WeakPassword(InvalidInput):
    """A new password breaks a rule; the message says which and nothing is changed."""

    code = "weak_password"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The vendored list of common passwords, case-folded."""
    return frozenset(
        line.strip().casefold()
        for line in COMMON_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip()
    )


def _kinds(password: str) -> int:
    return (
        any(c.islower() for c in password)
        + any(c.isupper() for c in password)
        + any(c.isdigit() for c in password)
        + any(not c.isalnum() for c in password)
    )


def check_password(password: str, username: str = "") -> None:
    """Raise ``WeakPassword`` naming the first rule ``password`` breaks; its ``reason``
    (``password_length``, ``password_common``, ``password_username``, ``password_distinct``,
    ``password_kinds``) and ``params`` let the console say it in the reader's language."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise WeakPassword(
            f"a password must have {MIN_LENGTH} to {MAX_LENGTH} characters, not {len(password)}",
            reason="password_length",
            params={"min": MIN_LENGTH, "max": MAX_LENGTH, "length": len(password)},
        )
    folded = password.casefold()
    if folded in common_passwords():
        raise WeakPassword(
            "that password is one of the most common ones; choose another",
            reason="password_common",
        )
    name = username.strip().casefold()
    if name and len(folded.replace(name, "")) < MIN_LENGTH:
        raise WeakPassword(
            f"a password needs {MIN_LENGTH} characters besides the username it contains",
            reason="password_username",
            params={"min": MIN_LENGTH},
        )
    if len(set(password)) < MIN_DISTINCT:
        raise WeakPassword(
            f"a password needs at least {MIN_DISTINCT} different characters",
            reason="password_distinct",
            params={"min": MIN_DISTINCT},
        )
    if len(password) < LONG_ENOUGH and _kinds(password) < 2:
        raise WeakPassword(
            f"a password under {LONG_ENOUGH} characters needs two kinds of characters "
            "(lower case, upper case, digits, others)",
            reason="password_kinds",
            params={"long": LONG_ENOUGH},
        )
