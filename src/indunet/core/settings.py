"""One settings object for the whole process, read from ``INDUNET_*`` variables or a TOML file."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_PORT = 8000
DEFAULT_MQTT_PORT = 11883  # the embedded endpoint; never 1883, so a system broker keeps its port


class Settings(BaseSettings):
    """Process-wide settings.

    Sources, strongest first: arguments, ``INDUNET_<FIELD>`` environment variables, then the
    TOML file named by ``INDUNET_CONFIG`` (default ``indunet.toml`` in the working directory,
    if it exists), with the field names as keys.
    """

    model_config = SettingsConfigDict(env_prefix="INDUNET_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./indunet-data"), description="Where SQLite files and keys live"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file in data_dir"
    )
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    public_url: str | None = Field(
        default=None, description="Base URL other nodes and clients use to reach this process"
    )
    cache_max_ttl: int = Field(default=300, ge=0, description="Cap on cached answer TTL, seconds")
    negative_ttl: int = Field(default=30, ge=0, description="TTL of cached 'not found', seconds")
    cache_size: int = Field(default=100_000, ge=16, description="Entries held by a recursive node")
    site_timeout: float = Field(default=2.0, gt=0, description="Seconds to wait for another node")
    enrol_check_s: float = Field(
        default=60.0,
        ge=1,
        le=86_400,
        description="Seconds between checks of a node's prefix key at its parent (ids.enrolment)",
    )
    ids_changelog_days: float = Field(
        default=7.0,
        gt=0,
        le=3650,
        description="Days the identifier change log keeps a change (ids.changelog); a "
        "disaster-recovery copy further behind than this copies everything again",
    )
    site_allow: str = Field(
        default="",
        description="CIDRs of private/loopback sites a resolver may fetch, comma-separated",
    )
    gs1_prefixes: str = Field(
        default="",
        max_length=100_000,
        pattern=r"^\s*([0-9]{1,12}=[^,=\s]{1,128}\s*(,\s*[0-9]{1,12}=[^,=\s]{1,128}\s*)*)?$",
        description="GS1 Digital Link: GS1 company prefix = Indunet prefix holding its keys,"
        " comma-separated (9506000=88.100.1); the longest company prefix wins",
    )
    oid_prefixes: str = Field(
        default="",
        max_length=100_000,
        pattern=r"^\s*([0-9.]{1,255}=[^,=\s]{1,128}\s*(,\s*[0-9.]{1,255}=[^,=\s]{1,128}\s*)*)?$",
        description="OID arc = Indunet prefix holding its OIDs (1.2.156.3001=88.100.1),"
        " comma-separated; resolution of oid:… walks up the arcs",
    )
    ecode_prefixes: str = Field(
        default="",
        max_length=100_000,
        pattern=r"^\s*([0-9]{1,25}=[^,=\s]{1,128}\s*(,\s*[0-9]{1,25}=[^,=\s]{1,128}\s*)*)?$",
        description="Ecode version and NSI = Indunet prefix holding its codes (10001=88.100.1),"
        " comma-separated",
    )
    telemetry_url: str | None = Field(
        default=None,
        description="Time-series store: sqlite:///path or postgresql://...; default data_dir/telemetry.db",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="External MQTT broker (mqtt://user:pass@host:1883); unset = embedded endpoint",
    )
    mqtt_host: str = Field(default="127.0.0.1", description="Embedded MQTT endpoint address")
    mqtt_port: int = Field(
        default=DEFAULT_MQTT_PORT, ge=0, description="Embedded MQTT endpoint port (0 = off)"
    )
    handle_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Handle protocol (RFC 3652) UDP and TCP port; 2641 is the standard one"
        " (0 = off)",
    )
    handle_host: str | None = Field(
        default=None, description="Address of the Handle protocol port [default: host]"
    )
    handle_udp_rate: float = Field(
        default=20.0,
        ge=0,
        le=100_000,
        description="UDP answers per second about one handle to one source network (/24, /56)"
        " before answers are dropped or slipped as short errors (0 = no limit; loopback is"
        " never limited)",
    )
    buffer_max_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="Bound of the on-disk ingest buffer"
    )
    retention_days: int = Field(
        default=365, ge=1, description="Telemetry kept per enterprise unless it sets its own"
    )
    bus_url: str | None = Field(
        default=None,
        description="NATS JetStream backbone (nats://host:4222, comma-separated for a cluster);"
        " unset = the in-process bus of the embedded mode",
    )
    role: str = Field(
        default="all",
        pattern=r"^(all|api|connector|worker)$",
        description="What this process runs: all (embedded), api, connector or worker",
    )
    shard: str = Field(
        default="0/1",
        pattern=r"^[0-9]{1,4}/[1-9][0-9]{0,3}$",
        description="This connector's or worker's share i/n: connectors poll the devices whose"
        " hash modulo n is i, workers consume the partitions whose number modulo n is i",
    )
    bus_prefix: str = Field(
        default="indunet",
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="Prefix of every subject and stream name on the backbone",
    )
    bus_replicas: int = Field(
        default=1, ge=1, le=5, description="Copies JetStream keeps of each stream (3 in a cluster)"
    )
    bus_max_bytes: int = Field(
        default=8 * 1024**3,
        ge=1024 * 1024,
        description="Bound of the telemetry stream; when full, producers buffer and slow down",
    )
    bus_max_age_s: int = Field(
        default=7 * 86400, ge=60, description="How long unconsumed telemetry stays on the stream"
    )
    bus_partitions: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="Telemetry partitions on the backbone (fixed once used)",
    )
    bus_connectors: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="How many connector processes share the devices (their shard is i/this);"
        " other processes send each command to the one that serves the device",
    )
    self_registration: bool = Field(
        default=True,
        description="Whether enterprises may apply for an account themselves (/register,"
        " POST /api/v1/registrations); each waits for a platform admin's review",
    )
    prefix_term_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="Days a prefix approved on an enterprise's application (or renewed) is"
        " allocated for; once it lapses its identifiers still resolve but take no writes",
    )
    licence_number: str = Field(
        default="",
        max_length=100,
        description="The operator's identifier resolution service licence (标识解析服务许可)"
        " number, shown on the node's public page; empty: no licence shown",
    )
    licence_holder: str = Field(
        default="", max_length=200, description="The licence holder (the operator's name)"
    )
    licence_scope: str = Field(
        default="", max_length=500, description="The licensed service scope (许可范围)"
    )
    licence_valid_from: date | None = Field(
        default=None, description="First day of the licence's validity (YYYY-MM-DD)"
    )
    licence_valid_until: date | None = Field(
        default=None, description="Last day of the licence's validity (YYYY-MM-DD)"
    )
    complaint_deadline_days: int = Field(
        default=15,
        ge=1,
        le=90,
        description="Calendar days an operator has to close a complaint (投诉) after it is filed;"
        " open ones past that are overdue. Applies to complaints filed after a change",
    )
    db_pool_size: int = Field(
        default=5, ge=1, le=200, description="PostgreSQL connections kept per process"
    )
    tls_cert: Path | None = Field(
        default=None, description="PEM certificate (chain) to serve HTTPS with; needs tls_key"
    )
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert")
    plain_http_auth: Literal["refuse", "loopback"] = Field(
        default="refuse",
        description="Credentials sent to the Handle API over plain HTTP: refused (the default),"
        " or accepted from this machine only (loopback, for development)",
    )
    sensor_iface: str | None = Field(
        default=None,
        description="Interface the built-in passive OT sensor captures on (a SPAN/mirror port;"
        " needs root or CAP_NET_RAW); events go to this process's security hub [default: off]",
    )
    sensor_follow: Path | None = Field(
        default=None,
        description="A pcap/pcapng file being written (tcpdump -w) that the built-in passive OT"
        " sensor follows, rotation included; not with sensor_iface [default: off]",
    )

    @field_validator("shard")
    @classmethod
    def _share_in_range(cls, value: str) -> str:
        index, count = (int(x) for x in value.split("/"))
        if index >= count:
            raise ValueError(f"shard {value}: the index must be below the count")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both or neither")
        return self

    @model_validator(mode="after")
    def _licence_dates_in_order(self) -> Settings:
        start, end = self.licence_valid_from, self.licence_valid_until
        if start is not None and end is not None and end < start:
            raise ValueError(f"licence_valid_until {end} is before licence_valid_from {start}")
        return self

    def share(self) -> tuple[int, int]:
        """``shard`` as ``(index, count)``."""
        index, count = self.shard.split("/")
        return int(index), int(count)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then environment, then the TOML file."""
        toml = TomlConfigSettingsSource(
            settings_cls, toml_file=os.environ.get("INDUNET_CONFIG", "indunet.toml")
        )
        return (init_settings, env_settings, toml)

    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to ``data_dir/indunet.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'indunet.db').resolve()}"

    def resolved_telemetry_url(self) -> str:
        """Return the time-series store URL, defaulting to ``data_dir/telemetry.db``."""
        if self.telemetry_url:
            return self.telemetry_url
        return f"sqlite:///{(self.data_dir / 'telemetry.db').resolve()}"

    def base_url(self) -> str:
        """Return the URL this process is reachable at."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{host}:{self.port}"
