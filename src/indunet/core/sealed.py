"""Secrets sealed at rest: connection passwords are stored encrypted with a key outside the database.

A sealed value is ``sealed:v1:`` followed by a Fernet token (AES-128-CBC with HMAC-SHA256,
from the ``cryptography`` package), so a stolen database or backup does not give away the
passwords of the PLCs and servers Indunet connects to. The key is ``INDUNET_SECRET_KEY``
(a Fernet key: 32 random bytes, URL-safe base64) or else the file ``secret.key`` in the data
directory, created 0600 on first start. Keep the key with the database's backups but not in
them: without it the sealed values cannot be opened.

``make_engine`` ties each engine to the sealer of its settings; subsystems that store secrets
ask ``for_engine(engine)``.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from indunet.core.errors import IndunetError
from indunet.core.files import private_dir, private_file, write_private
from indunet.core.settings import Settings

PREFIX = "sealed:v1:"
KEY_FILE = "secret.key"
KEY_ENV = "INDUNET_SECRET_KEY"


class SecretKeyMismatch(IndunetError):
    """A sealed value does not open with this process's key (another data directory's key?)."""

    code = "secret_key_mismatch"
    status = 500


class Sealer:
    """Seals and opens secrets with one key."""

    def __init__(self, key: bytes | str) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise IndunetError(
                f"the secret key is not a Fernet key (32 random bytes, URL-safe base64); "
                f"make one with: python -c 'import cryptography.fernet as f; "
                f"print(f.Fernet.generate_key().decode())' and set {KEY_ENV}"
            ) from None

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        """The key of ``INDUNET_SECRET_KEY``, else of ``data_dir/secret.key`` (made if missing)."""
        env = os.environ.get(KEY_ENV, "").strip()
        if env:
            return cls(env)
        return cls(_key_file(settings.data_dir / KEY_FILE))

    @staticmethod
    def is_sealed(value: object) -> bool:
        """Whether ``value`` is a sealed text."""
        return isinstance(value, str) and value.startswith(PREFIX)

    def seal(self, text: str) -> str:
        """Encrypt ``text``; a value already sealed is returned unchanged."""
        if self.is_sealed(text):
            return text
        return PREFIX + self._fernet.encrypt(text.encode()).decode()

    def open(self, value: str) -> str:
        """Decrypt a sealed value; a clear value (stored before sealing) is returned as is."""
        if not self.is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretKeyMismatch(
                f"a stored secret does not open with this key; {KEY_ENV} or "
                f"{KEY_FILE} in the data directory is not the key it was sealed with"
            ) from None

    def seal_fields(self, data: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
        """A copy of ``data`` with the text values of ``names`` sealed."""
        out = dict(data)
        for name in names:
            if isinstance(out.get(name), str) and out[name]:
                out[name] = self.seal(out[name])
        return out

    def open_fields(self, data: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
        """A copy of ``data`` with the sealed values of ``names`` opened."""
        out = dict(data)
        for name in names:
            if self.is_sealed(out.get(name)):
                out[name] = self.open(out[name])
        return out


def _key_file(path: Path) -> bytes:
    if not path.exists():
        private_dir(path.parent)
        with contextlib.suppress(FileExistsError):  # another process made it first
            write_private(path, Fernet.generate_key() + b"\n")
    private_file(path)
    return path.read_bytes().strip()


_SEALERS: weakref.WeakKeyDictionary[sa.Engine, Sealer] = weakref.WeakKeyDictionary()


def bind(engine: sa.Engine, sealer: Sealer) -> None:
    """Tie ``engine`` to ``sealer`` (done by ``make_engine``)."""
    _SEALERS[engine] = sealer


def for_engine(engine: sa.Engine) -> Sealer:
    """The sealer of the settings ``engine`` was made from."""
    try:
        return _SEALERS[engine]
    except KeyError:
        raise IndunetError(
            "this engine was not made by indunet.core.make_engine, so it has no secret key; "
            "pass a Sealer explicitly"
        ) from None
