"""``indunet mqtt acl``: password and ACL files for an external Mosquitto broker."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from indunet import connect
from indunet.core import InvalidInput

app = typer.Typer(help="MQTT broker mode: files for an external Mosquitto.", no_args_is_help=True)


@app.command("acl")
def acl(
    directory: Annotated[Path, typer.Argument(help="Where to write passwd and acl")],
    service_user: Annotated[
        str, typer.Option(help="The user Indunet connects as (INDUNET_MQTT_URL's user)")
    ] = "indunet",
    service_password_file: Annotated[
        Path | None, typer.Option(help="File holding that user's password")
    ] = None,
    device: Annotated[
        list[str] | None,
        typer.Option(help="DEVICE_ID=SECRET of a device to add (repeatable)"),
    ] = None,
) -> None:
    """Write a Mosquitto password file and an ACL that lets each device publish only as itself.

    Point Mosquitto at them with ``password_file`` and ``acl_file``; each device may publish
    under ``indunet/v1/<its id>/`` and read only its commands topic.
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
    files = connect.write_mosquitto_files(
        directory, service_user=service_user, service_password=password, devices=devices
    )
    typer.echo(f"password_file {files.password_file}\nacl_file {files.acl_file}")
