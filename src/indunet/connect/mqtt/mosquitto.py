"""A complete ``mosquitto.conf`` for broker mode, each line with the reason it is there.

Indunet acknowledges a broker's QoS 1 message only once it is stored, and Mosquitto has
already acknowledged it to the device. Whatever Mosquitto drops between the two is lost
with no one left to resend it. Mosquitto 2.0's defaults drop such messages in three ways,
and the configuration written here closes each one:

- ``max_queued_messages`` (default 1000) caps what an offline or slow session may queue
  beyond its in-flight window, *per client*; the platform's session is the one client that
  receives every device's telemetry (or each connector's its turn of it, in a share group),
  so its backlog passes 1000 within seconds of an outage or restart of Indunet and the rest
  is silently discarded. Written as ``NO_CAP``
  (a billion): 0 would mean "no cap", but Mosquitto's handling of 0 has had bugs (2.0.11,
  tested: a device whose publish the ACL denies is disconnected; 2.0.16 drops every message,
  eclipse-mosquitto/mosquitto#2879; 2.0.2 drops QoS 0, #1956). A billion is never reached.
- ``max_inflight_messages`` (default 20) is how many unacknowledged messages the platform
  may hold; it acknowledges after storing, so 20 caps ingest at 20 per store round trip.
- ``persistence`` (default off) and ``autosave_interval`` (default 1800 s): without it a
  broker restart forgets every queued message; with it, a clean stop (SIGTERM) saves them
  all, and a crash loses at most what changed since the last autosave.

``probe.check_broker`` measures what a client can observe of a running broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from indunet.core import InvalidInput

INFLIGHT = 1000
"""Unacknowledged QoS 1 messages Mosquitto may send the platform at once."""

MAX_PACKET = (1 << 20) + 5
"""The embedded endpoint's 1 MiB body limit (``EndpointLimits.max_packet``) plus a header."""

NO_CAP = 1_000_000_000
"""``max_queued_messages`` that no backlog reaches (memory runs out first), avoiding 0's bugs."""

MOSQUITTO_INT_MAX = 2_147_483_647
"""The largest value Mosquitto's integer options take."""


@dataclass(frozen=True)
class BrokerSettings:
    """Broker settings ``mosquitto_config`` writes; the defaults are what loses nothing.

    ``max_queued`` ``NO_CAP`` means no cap in practice (the queue is bounded by memory: size
    the broker for rate × longest outage of Indunet); a lower value loses data beyond it. ``session_expiry`` is Mosquitto's duration syntax
    (``30d``, ``12h``); ``None`` keeps sessions forever. ``run_as`` is the user Mosquitto
    drops to when started as root (``None``: leave Mosquitto's default, ``mosquitto``).
    """

    port: int = 1883
    bind: str | None = None  # every interface
    run_as: str | None = None
    max_inflight: int = INFLIGHT
    max_queued: int = NO_CAP
    autosave_interval: int = 5  # seconds
    session_expiry: str | None = None
    max_packet: int = MAX_PACKET

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise InvalidInput(f"broker port {self.port} is not between 1 and 65535")
        if self.max_inflight < 1 or self.max_inflight > 65535:
            raise InvalidInput("max_inflight must be between 1 and 65535")
        if not 1 <= self.max_queued <= MOSQUITTO_INT_MAX:
            raise InvalidInput(f"max_queued must be between 1 and {MOSQUITTO_INT_MAX}")
        if self.autosave_interval < 1:
            raise InvalidInput("autosave_interval must be 1 s or more")
        expiry = self.session_expiry
        if expiry is not None and not (
            expiry[:-1].isdigit() and expiry[-1] in "hdwmy" and int(expiry[:-1]) > 0
        ):
            raise InvalidInput(
                f"session expiry {expiry!r} must be a number and one of h, d, w, m, y (e.g. 30d)"
            )


def mosquitto_config(
    s: BrokerSettings, *, password_file: Path, acl_file: Path, data_dir: Path
) -> str:
    """The text of ``mosquitto.conf`` for broker mode, every setting commented."""
    for path in (password_file, acl_file, data_dir):
        if any(c.isspace() for c in str(path)):
            raise InvalidInput(f"path {str(path)!r} contains spaces: Mosquitto cannot read it")
    listener = f"listener {s.port}" + (f" {s.bind}" if s.bind else "")
    queued = (
        f"max_queued_messages {s.max_queued}"
        if s.max_queued >= NO_CAP
        else f"max_queued_messages {s.max_queued}\n"
        f"# WARNING: more than {s.max_queued} messages queued for Indunet are DROPPED after\n"
        "# Mosquitto acknowledged them to the device."
    )
    expiry = (
        "# persistent_client_expiration is not set: a session (Indunet's own included) is\n"
        "# kept however long its client is away."
        if s.session_expiry is None
        else "# Sessions of clients away this long are deleted with what they queued; Indunet's\n"
        "# own session too, if the platform is down longer.\n"
        f"persistent_client_expiration {s.session_expiry}"
    )
    user = (
        "# user: Mosquitto's default (mosquitto) when started as root; it must be able to\n"
        "# read the password and ACL files and write the persistence directory."
        if s.run_as is None
        else "# The account Mosquitto drops to when started as root; it must be able to read the\n"
        "# password and ACL files and write the persistence directory.\n"
        f"user {s.run_as}"
    )
    return f"""\
# mosquitto.conf for Indunet's broker mode (INDUNET_MQTT_URL), written by
# `indunet mqtt broker-config`. Mosquitto 2.0 or later. Why each line is here:
# docs/platform/connect-mqtt.md, "An external broker".

{user}

# -- Who may connect -----------------------------------------------------------------
# One set of rules for every listener: the ones below.
per_listener_settings false
{listener}
# Devices log in with user name = device id and their secret; Indunet as its service user.
allow_anonymous false
password_file {password_file}
# Each device publishes only under indunet/v1/<its id>/ and reads only its commands.
acl_file {acl_file}

# -- Never drop a message Mosquitto has acknowledged -----------------------------------
# Mosquitto PUBACKs a device before Indunet has the message; Indunet PUBACKs Mosquitto
# only after storing it. Whatever Mosquitto discards in between is lost for good.
#
# Indunet's session (client id indunet-platform; with several connectors, each
# indunet-connector-<i> gets its turn of it, also while it is away) queues every
# device's telemetry while the platform restarts or catches up. The default cap of 1000
# per client drops the rest of that backlog (measured: 4,104 of 9,000 acknowledged
# messages lost in a 13 s restart).
# A billion is no cap in practice: size the broker's memory for rate x longest outage.
# (Not 0, which also means no cap: Mosquitto 2.0.11 then disconnects a device whose
# publish the ACL denies, and 2.0.16 drops every message; see the docs.)
{queued}
# No cap by bytes either (0: none; this path has no such bug).
max_queued_bytes 0
# Indunet acknowledges after storing, so this many messages may wait on one store round
# trip (the default, 20, caps ingest at 20 messages per round trip).
max_inflight_messages {s.max_inflight}
max_inflight_bytes 0
# QoS 0 telemetry is "at most once": it is not queued for an absent Indunet. Use QoS 1.
queue_qos0_messages false

# -- Keep the queue across a broker restart ---------------------------------------------
# Sessions and queued messages are saved on a clean stop (SIGTERM) and every
# {s.autosave_interval} s; a crash (SIGKILL, power loss) loses what changed since the last save.
persistence true
persistence_location {data_dir}/
persistence_file mosquitto.db
autosave_interval {s.autosave_interval}
autosave_on_changes false
{expiry}

# -- Limits ------------------------------------------------------------------------------
# The embedded endpoint's packet limit (1 MiB): a device cannot make the broker hold more.
max_packet_size {s.max_packet}
# Device statuses are retained messages (online, and offline as the will).
retain_available true
# $SYS/broker/... every 10 s: what `indunet mqtt broker-check` can read of a running broker.
sys_interval 10

# -- Logs ------------------------------------------------------------------------------
log_dest stderr
log_type error
log_type warning
log_type notice
connection_messages true
"""
