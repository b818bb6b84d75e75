"""One settings object for the whole process, read from ``INDUNET_*`` variables or a TOML file."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
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
    site_allow: str = Field(
        default="",
        description="CIDRs of private/loopback sites a resolver may fetch, comma-separated",
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
    buffer_max_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="Bound of the on-disk ingest buffer"
    )
    retention_days: int = Field(
        default=365, ge=1, description="Telemetry kept per enterprise unless it sets its own"
    )

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
        return f"http://{host}:{self.port}"
