"""Who may publish and subscribe where: rules of the embedded endpoint, and Mosquitto's files.

Embedded mode enforces the rules itself (``may_publish``/``may_subscribe``). In external
broker mode the broker enforces them; ``write_mosquitto_files`` writes a password file in
``mosquitto_passwd``'s PBKDF2-SHA512 (``$7$``) format, an ACL file with the same rules and
a complete ``mosquitto.conf`` (``mosquitto.mosquitto_config``) that uses them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pwd
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from indunet.connect.mqtt import topics
from indunet.connect.mqtt.mosquitto import BrokerSettings, mosquitto_config
from indunet.core import InvalidInput

MOSQUITTO_ITERATIONS = 101
"""PBKDF2 rounds ``mosquitto_passwd`` itself uses (the broker hashes on every CONNECT)."""

OPEN_SHARE_GROUP = "indunet"
"""The share group of connectors on a broker without a service password (nothing to keep)."""


def share_group(service_user: str | None, service_password: str | None) -> str:
    """The group connectors share device traffic in: ``indunet-`` and 12 hex digits of a hash.

    Derived from the service user's credentials so that a device cannot name it. Mosquitto's
    ``acl_file`` does not check SUBSCRIBE (2.0.11, tested): a device may join
    ``$share/<group>/indunet/v1/+/telemetry``, and the broker then hands it its turn of
    every device's messages and drops them, as the ACL forbids it to read them.
    """
    if not service_password:
        return OPEN_SHARE_GROUP
    key = f"indunet share group\0{service_user or ''}\0{service_password}".encode()
    return f"{OPEN_SHARE_GROUP}-{hashlib.sha256(key).hexdigest()[:12]}"


def may_publish(device_id: str, topic: str, form_topics: Collection[str] = ()) -> bool:
    """Whether device ``device_id`` may publish to ``topic``.

    Allowed: its telemetry, command-result and status topics, and the topics its model's
    MQTT forms declare, as long as they lie under ``indunet/v1/<device_id>/``.
    """
    parts = topics.split(topic)
    if parts is None or parts[0] != device_id:
        return False
    return parts[1] in (topics.TELEMETRY, topics.RESULT, topics.STATUS) or topic in form_topics


def may_subscribe(device_id: str, topic_filter: str) -> bool:
    """Whether device ``device_id`` may subscribe to ``topic_filter`` (its commands only)."""
    return topic_filter == topics.commands_topic(device_id)


def publish_denial(device_id: str, topic: str) -> str:
    """The dead-letter reason for a publish outside the device's rights."""
    return f"device {device_id} may not publish to {topic}"


def mosquitto_hash(
    password: str, *, salt: bytes | None = None, iterations: int = MOSQUITTO_ITERATIONS
) -> str:
    """``$7$<iterations>$<salt>$<digest>``: PBKDF2-SHA512, as ``mosquitto_passwd`` writes it."""
    salt = secrets.token_bytes(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_mosquitto_hash(password: str, hashed: str) -> bool:
    """Check ``password`` against a ``$7$`` hash (the broker's own check, for tests and tools)."""
    try:
        _, kind, rounds, salt, digest = hashed.split("$")
        raw = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac(
            "sha512", password.encode(), base64.b64decode(salt), int(rounds), len(raw)
        )
    except ValueError:
        return False
    return kind == "7" and hmac.compare_digest(got, raw)


def mosquitto_acl(service_user: str, group: str | None = None) -> str:
    """ACL file text: devices write under their own topics and read their commands.

    ``%u`` is the MQTT user name, which is the device id. The service user (Indunet itself)
    reads every device topic, also through the connectors' shared subscription of ``group``
    (for brokers that check a ``$share/...`` filter as written), and writes commands.
    """
    _check_user(service_user)
    p = topics.PREFIX
    shared = (
        ""
        if group is None
        else f"# connectors share device traffic: $share/<group>/{p}...\n"
        f"topic read $share/{group}/{p}#\n"
    )
    return (
        "# Written by `indunet mqtt acl`. Devices log in with user name = device id.\n"
        f"user {service_user}\n"
        f"topic read {p}#\n"
        f"topic write {p}+/{topics.COMMANDS}\n"
        f"{shared}"
        "# the broker's own figures, for `indunet mqtt broker-check`\n"
        "topic read $SYS/#\n"
        "\n"
        "# every other user is a device\n"
        f"pattern write {p}%u/#\n"
        f"pattern read {p}%u/{topics.COMMANDS}\n"
    )


@dataclass(frozen=True)
class MosquittoFiles:
    """Where ``write_mosquitto_files`` put the broker's files."""

    password_file: Path
    acl_file: Path
    config_file: Path
    data_dir: Path

    @property
    def directory(self) -> Path:
        """The directory the files are in."""
        return self.config_file.parent

    def config(self) -> str:
        """The complete ``mosquitto.conf`` written with these files."""
        return self.config_file.read_text()


def write_mosquitto_files(
    directory: Path,
    *,
    service_user: str,
    service_password: str,
    devices: Mapping[str, str] | None = None,
    broker: BrokerSettings | None = None,
) -> MosquittoFiles:
    """Write ``passwd``, ``acl`` and ``mosquitto.conf`` in ``directory`` (and ``data/``).

    ``devices`` maps device id to its secret (secrets are stored hashed in Indunet, so only
    secrets at hand can be written; add later ones with ``set_mosquitto_password``). An
    existing password file keeps its other users. Files are replaced atomically, mode 0600;
    ``data/`` is Mosquitto's persistence directory (mode 0700).
    """
    directory = directory.absolute()
    files = MosquittoFiles(
        directory / "passwd", directory / "acl", directory / "mosquitto.conf", directory / "data"
    )
    users = {service_user: service_password, **(devices or {})}
    for user in users:
        _check_user(user)
    config = mosquitto_config(
        broker or BrokerSettings(),
        password_file=files.password_file,
        acl_file=files.acl_file,
        data_dir=files.data_dir,
    )
    files.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    group = share_group(service_user, service_password)
    _atomic_write(files.acl_file, mosquitto_acl(service_user, group))
    set_mosquitto_passwords(files.password_file, users)
    _atomic_write(files.config_file, config)
    _give_to_broker(files, (broker or BrokerSettings()).run_as)
    return files


def _give_to_broker(files: MosquittoFiles, run_as: str | None) -> None:
    """Written as root, the private files go to the account Mosquitto drops to (``run_as``,
    else Mosquitto's default ``mosquitto``), or a broker started as root could not read its
    password file or write its queue. Elsewhere, or without that account, nothing changes."""
    if os.geteuid() != 0:
        return
    try:
        account = pwd.getpwnam(run_as or "mosquitto")
    except KeyError:
        return
    for path in (
        files.directory,
        files.password_file,
        files.acl_file,
        files.config_file,
        files.data_dir,
    ):
        os.chown(path, account.pw_uid, account.pw_gid)


def set_mosquitto_passwords(path: Path, users: Mapping[str, str]) -> None:
    """Add or replace users (name → password) in a Mosquitto password file, atomically."""
    for user in users:
        _check_user(user)
    lines: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, hashed = line.partition(":")
            if sep:
                lines[name] = hashed
    for user, password in users.items():
        lines[user] = mosquitto_hash(password)
    _atomic_write(path, "".join(f"{u}:{h}\n" for u, h in lines.items()))


def _check_user(user: str) -> None:
    if not user or ":" in user or any(c.isspace() for c in user):
        raise InvalidInput(f"MQTT user name {user!r} must be non-empty without ':' or spaces")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
