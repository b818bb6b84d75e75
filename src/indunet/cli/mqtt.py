"""``indunet mqtt``: a complete configuration for an external Mosquitto, and a check of one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from indunet.connect import mqtt
from indunet.core import InvalidInput

app = typer.Typer(
    rich_markup_mode=None,
    help="MQTT broker mode: files for an external Mosquitto.",
    no_args_is_help=True,
)

Directory = Annotated[Path, typer.Argument(help="Where to write passwd, acl, mosquitto.conf")]
ServiceUser = Annotated[
    str, typer.Option(help="The user Indunet connects as (INDUNET_MQTT_URL's user)")
]
PasswordFile = Annotated[Path | None, typer.Option(help="File holding that user's password")]
Devices = Annotated[
    list[str] | None, typer.Option("--device", help="DEVICE_ID=SECRET of a device (repeatable)")
]
Port = Annotated[int, typer.Option(help="The broker's listening port")]
Bind = Annotated[str | None, typer.Option(help="Address to listen on (default: every one)")]
RunAs = Annotated[str | None, typer.Option(help="User Mosquitto drops to when run as root")]
MaxQueued = Annotated[
    int, typer.Option(help="Per-client queue cap (default: a billion, none in practice)")
]
SessionExpiry = Annotated[
    str | None, typer.Option(help="Drop sessions of clients away this long (e.g. 30d)")
]


@app.command("broker-config")
def broker_config(
    directory: Directory,
    service_user: ServiceUser = "indunet",
    service_password_file: PasswordFile = None,
    device: Devices = None,
    port: Port = 1883,
    bind: Bind = None,
    run_as: RunAs = None,
    max_queued: MaxQueued = mqtt.NO_CAP,
    session_expiry: SessionExpiry = None,
) -> None:
    """Write a complete mosquitto.conf with its password and ACL files for broker mode.

    Start Mosquitto with ``mosquitto -c DIRECTORY/mosquitto.conf``. The file says why each
    line is there; with Mosquitto's default ``max_queued_messages 1000`` it drops messages
    it has already acknowledged to devices while Indunet is away.
    """
    if service_password_file is None:
        raise InvalidInput("--service-password-file is needed: the password Indunet connects with")
    password = service_password_file.read_text().strip()
    devices: dict[str, str] = {}
    for item in device or []:
        name, sep, secret = item.partition("=")
        if not sep or not name or not secret:
            raise InvalidInput(f"--device takes DEVICE_ID=SECRET, not {item!r}")
        devices[name] = secret
    settings = mqtt.BrokerSettings(
        port=port, bind=bind, run_as=run_as, max_queued=max_queued, session_expiry=session_expiry
    )
    files = mqtt.write_mosquitto_files(
        directory,
        service_user=service_user,
        service_password=password,
        devices=devices,
        broker=settings,
    )
    typer.echo(
        f"password_file {files.password_file}\nacl_file {files.acl_file}\n"
        f"persistence_location {files.data_dir}/\n"
        f"config {files.config_file}  (mosquitto -c {files.config_file})"
    )
    if max_queued < mqtt.NO_CAP:
        typer.echo(
            f"warning: max_queued_messages {max_queued}: Mosquitto drops what Indunet's session "
            "queues beyond it, after acknowledging it to the device",
            err=True,
        )


# The older name of ``broker-config``: it writes the same three files.
app.command("acl", help="The same as broker-config: passwd, acl and the complete mosquitto.conf.")(
    broker_config
)


@app.command("broker-check")
def broker_check(
    url: Annotated[
        str | None,
        typer.Argument(
            help="mqtt://user:pass@host:port of Indunet's service user (default: INDUNET_MQTT_URL)",
            envvar="INDUNET_MQTT_URL",
            show_default=False,
        ),
    ] = None,
    count: Annotated[
        int, typer.Option(min=1, help="Messages queued for an absent probe session")
    ] = mqtt.PROBE_COUNT,
) -> None:
    """Measure a running broker's limits: in-flight window, packet size, queue cap, version.

    Exits with 1 when a limit loses acknowledged data or caps ingest. Persistence, autosave
    and session expiry cannot be seen from a client: check them in mosquitto.conf.
    """
    if not url:
        raise InvalidInput("give the broker URL (or set INDUNET_MQTT_URL)")
    report = mqtt.check_broker(mqtt.BrokerUrl.parse(url), count=count)
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)
