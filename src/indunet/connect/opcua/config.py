"""OPC UA connection settings, read from a device's ``DeviceLink.connection`` mapping."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from indunet.core import InvalidInput

Policy = Literal["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]
Mode = Literal["None", "Sign", "SignAndEncrypt"]
POLICIES: tuple[Policy, ...] = (
    "None",
    "Basic256Sha256",
    "Aes128_Sha256_RsaOaep",
    "Aes256_Sha256_RsaPss",
)
MODES: tuple[Mode, ...] = ("None", "Sign", "SignAndEncrypt")

_KNOWN = {
    "protocol",
    "endpoint",
    "security_policy",
    "security_mode",
    "certificate",
    "private_key",
    "private_key_password",
    "server_certificate",
    "application_uri",
    "username",
    "password",
    "timeout",
    "watchdog_interval",
}


@dataclass(frozen=True)
class OpcUaSettings:
    """How to reach one OPC UA server. Devices with equal settings share one client session.

    ``security_policy`` and ``security_mode`` are both ``"None"`` or both not (a policy
    without a mode means ``SignAndEncrypt``); a secure
    channel needs the client's ``certificate`` (DER or PEM) and ``private_key`` (PEM).
    ``server_certificate`` pins the server's certificate; without it the one the server
    presents on its endpoint is used. ``timeout`` bounds each request, ``watchdog_interval``
    is how often a quiet connection is probed (seconds).
    """

    endpoint: str
    security_policy: Policy = "None"
    security_mode: Mode = "None"
    certificate: Path | None = None
    private_key: Path | None = None
    private_key_password: str | None = None
    server_certificate: Path | None = None
    application_uri: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 4.0
    watchdog_interval: float = 1.0

    @property
    def secure(self) -> bool:
        """True when messages are signed (and perhaps encrypted)."""
        return self.security_mode != "None"

    @property
    def host(self) -> str:
        """The server's host, from the endpoint."""
        return urlsplit(self.endpoint).hostname or ""

    @property
    def port(self) -> int:
        """The server's TCP port, from the endpoint (``parse`` makes sure there is one)."""
        return urlsplit(self.endpoint).port or 4840

    @classmethod
    def parse(cls, connection: Mapping[str, Any]) -> OpcUaSettings:
        """Validate a connection mapping; ``InvalidInput`` names the offending field."""
        unknown = sorted(set(connection) - _KNOWN)
        if unknown:
            raise InvalidInput(
                f"connection.{unknown[0]} is not an OPC UA setting "
                f"(known: {', '.join(sorted(_KNOWN - {'protocol'}))})"
            )
        endpoint = connection.get("endpoint")
        if not isinstance(endpoint, str):
            raise InvalidInput("connection.endpoint must be an opc.tcp://host:port/path URL")
        parts = urlsplit(endpoint)
        try:
            port = parts.port
        except ValueError:
            port = None
        if (
            parts.scheme != "opc.tcp"
            or not parts.hostname
            or not port
            or any(c.isspace() for c in endpoint)
        ):
            raise InvalidInput(
                f"connection.endpoint must be an opc.tcp://host:port/path URL, not {endpoint!r}"
            )
        policy = _choice(connection, "security_policy", POLICIES, "None")
        mode = _choice(
            connection, "security_mode", MODES, "None" if policy == "None" else "SignAndEncrypt"
        )
        if (policy == "None") != (mode == "None"):
            field = "security_mode" if policy != "None" else "security_policy"
            raise InvalidInput(
                f"connection.{field}: security_policy {policy} needs security_mode "
                f"{'Sign or SignAndEncrypt' if policy != 'None' else 'None'}, not {mode}"
            )
        certificate = _file(connection, "certificate")
        private_key = _file(connection, "private_key")
        if mode != "None":
            if certificate is None:
                raise InvalidInput("connection.certificate is required for a secure channel")
            if private_key is None:
                raise InvalidInput("connection.private_key is required for a secure channel")
        username = _text(connection, "username")
        password = _text(connection, "password")
        if password is not None and username is None:
            raise InvalidInput("connection.username is required with a password")
        return cls(
            endpoint=endpoint,
            security_policy=policy,
            security_mode=mode,
            certificate=certificate,
            private_key=private_key,
            private_key_password=_text(connection, "private_key_password"),
            server_certificate=_file(connection, "server_certificate"),
            application_uri=_text(connection, "application_uri"),
            username=username,
            password=password,
            timeout=_seconds(connection, "timeout", 4.0, 0.1, 300.0),
            watchdog_interval=_seconds(connection, "watchdog_interval", 1.0, 0.1, 300.0),
        )


def _choice(
    connection: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str
) -> Any:
    value = connection.get(name, default)
    if value not in allowed:
        raise InvalidInput(f"connection.{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _text(connection: Mapping[str, Any], name: str) -> str | None:
    value = connection.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidInput(f"connection.{name} must be a non-empty string")
    return value


def _file(connection: Mapping[str, Any], name: str) -> Path | None:
    value = _text(connection, name)
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise InvalidInput(f"connection.{name}: no readable file at {value}")
    return path


def _seconds(
    connection: Mapping[str, Any], name: str, default: float, lo: float, hi: float
) -> float:
    value = connection.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidInput(
            f"connection.{name} must be a number from {lo} to {hi} seconds, not {value!r}"
        )
    return float(value)
