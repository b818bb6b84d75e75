"""``indunet device …`` and ``indunet model …``: the device registry and the model library.

Commands act as the operator (audited as ``cli:<os user>``) on the data directory's database;
identifiers go to the node given by ``--node`` (default 88.100, where enterprise prefixes live).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

from indunet import core, devices, ids
from indunet.cli import context
from indunet.cli.options import (
    DEFAULT_NODE,
    DataOpt,
    NodeOpt,
    dump_json,
    engine,
    operator,
    read_json,
    read_secret,
)
from indunet.core import InvalidInput

device_app = typer.Typer(
    rich_markup_mode=None, help="Devices: register, list, show, delete, import from CSV."
)
model_app = typer.Typer(
    rich_markup_mode=None, help="Device models (W3C WoT Thing Models): import, export, list."
)

EnterpriseOpt = Annotated[str, typer.Option("--enterprise", help="USCC of the enterprise")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _models(eng: sa.Engine) -> devices.ModelRegistry:
    reg = devices.ModelRegistry(eng)
    reg.install_library(operator().actor)
    return reg


def _devices(
    eng: sa.Engine, data_dir: Path | None, node: str = DEFAULT_NODE
) -> devices.DeviceRegistry:
    url = ids.stored_base_url(eng) or context.settings(data_dir).base_url()
    return devices.DeviceRegistry(eng, _models(eng), context.node(eng, node), platform_url=url)


def _enterprise_id(eng: sa.Engine, uscc: str) -> int:
    with eng.connect() as conn:
        return core.get_enterprise(conn, uscc).id


def _title(title: dict[str, str]) -> str:
    return " / ".join(t for t in (title.get("zh"), title.get("en")) if t)


# -- devices -------------------------------------------------------------------------------


@device_app.command("add")
def device_add(
    device_id: Annotated[str, typer.Argument(help="Device id, e.g. cnc-0001")],
    name: Annotated[str, typer.Option(help="Display name")],
    model: Annotated[str, typer.Option(help="Model id or id@version")],
    enterprise: EnterpriseOpt,
    protocol: Annotated[str | None, typer.Option(help="mqtt, modbus, opcua or http")] = None,
    host: Annotated[str | None, typer.Option(help="Modbus: host")] = None,
    port: Annotated[int | None, typer.Option(help="Modbus: TCP port [502]")] = None,
    unit: Annotated[int | None, typer.Option(help="Modbus: unit id [1]")] = None,
    endpoint: Annotated[str | None, typer.Option(help="OPC UA: opc.tcp:// endpoint")] = None,
    conn: Annotated[
        list[str] | None, typer.Option("--conn", help="Other connection setting KEY=VALUE")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable)")] = None,
    site: Annotated[str | None, typer.Option(help="Where it stands, e.g. 二车间")] = None,
    manufacturer: str = "",
    serial: str = "",
    secret_file: Annotated[
        Path | None, typer.Option(help="File whose first line is the device secret (16+)")
    ] = None,
    node: NodeOpt = DEFAULT_NODE,
    data_dir: DataOpt = None,
) -> None:
    """Register a device and its identifier; prints the device secret once."""
    connection: dict[str, Any] = {"host": host, "port": port, "unit": unit, "endpoint": endpoint}
    for item in conn or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--conn {item!r} must look like KEY=VALUE")
        connection[key] = value
    spec: dict[str, Any] = {
        "id": device_id,
        "name": name,
        "model": model,
        "connection": {k: v for k, v in connection.items() if v is not None},
        "tags": tag or [],
        "manufacturer": manufacturer,
        "serial": serial,
    }
    if protocol:
        spec["protocol"] = protocol
    if site:
        spec["location"] = {"site": site}
    if secret_file is not None:
        spec["secret"] = read_secret(secret_file, "device secret", min_length=16)
    eng = engine(data_dir)
    eid = _enterprise_id(eng, enterprise)
    device, secret = _devices(eng, data_dir, node).create(eid, spec, actor=operator().actor)
    typer.echo(f"registered {device.id} ({device.model_ref}, {device.protocol})")
    if device.identifier:
        typer.echo(f"identifier: {device.identifier}")
    if secret_file is None:
        typer.echo(f"secret: {secret}")
        typer.echo("keep the secret: it is shown only once", err=True)


@device_app.command("list")
def device_list(
    enterprise: Annotated[str | None, typer.Option(help="USCC of one enterprise")] = None,
    status: Annotated[str | None, typer.Option(help="online, offline or unknown")] = None,
    tag: str | None = None,
    as_json: JsonOpt = False,
    data_dir: DataOpt = None,
) -> None:
    """Registered devices."""
    eng = engine(data_dir)
    eid = _enterprise_id(eng, enterprise) if enterprise else None
    found = _devices(eng, data_dir).list(enterprise_id=eid, status=status, tag=tag)
    if as_json:
        typer.echo(dump_json([d.to_json() for d in found]))
        return
    table = Table()
    table.add_column("id", no_wrap=True)
    for col in ("name", "model", "protocol", "status", "identifier"):
        table.add_column(col)
    for d in found:
        table.add_row(d.id, d.name, d.model_ref, d.protocol, d.status, d.identifier)
    Console().print(table)
    typer.echo(f"{len(found)} device(s)", err=True)


@device_app.command("show")
def device_show(device_id: str, data_dir: DataOpt = None) -> None:
    """One device as JSON (passwords masked)."""
    typer.echo(dump_json(_devices(engine(data_dir), data_dir).get(device_id).to_json()))


@device_app.command("delete")
def device_delete(device_id: str, node: NodeOpt = DEFAULT_NODE, data_dir: DataOpt = None) -> None:
    """Delete a device and its identifier."""
    gone = _devices(engine(data_dir), data_dir, node).delete(device_id, actor=operator().actor)
    typer.echo(f"deleted {gone.id}" + (f" and {gone.identifier}" if gone.identifier else ""))


@device_app.command("import")
def device_import(
    file: Path,
    enterprise: EnterpriseOpt,
    secrets_file: Annotated[
        Path | None,
        typer.Option(help="Write id,secret lines here (mode 600) instead of printing them"),
    ] = None,
    node: NodeOpt = DEFAULT_NODE,
    data_dir: DataOpt = None,
) -> None:
    """Register devices from a CSV file (header: id,name,model,…); bad rows are listed."""
    if not file.is_file():
        raise InvalidInput(f"file {str(file)!r} does not exist")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{file.name} must be UTF-8 encoded") from None
    eng = engine(data_dir)
    eid = _enterprise_id(eng, enterprise)
    report = _devices(eng, data_dir, node).import_csv(eid, text, actor=operator().actor)
    lines = [f"{i},{s}" for i, s in report.secrets.items()]
    if secrets_file is not None:
        fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("id,secret\n" + "".join(f"{ln}\n" for ln in lines))
    else:
        for ln in lines:
            typer.echo(ln)
    typer.echo(
        f"{report.total} rows: {report.created} registered, {report.failed} failed", err=True
    )
    for line, did, message in report.errors:
        typer.echo(f"line {line}: {did or '-'}: {message}", err=True)
    if report.failed:
        raise typer.Exit(1)


# -- models --------------------------------------------------------------------------------


@model_app.command("import")
def model_import(
    file: Path,
    enterprise: Annotated[
        str | None, typer.Option(help="USCC of the owning enterprise (default: the platform)")
    ] = None,
    data_dir: DataOpt = None,
) -> None:
    """Import a Thing Model (JSON); every problem is listed with its JSON path."""
    doc = read_json(file)
    if not isinstance(doc, dict):
        raise InvalidInput(f"{file.name} must hold a JSON object (a Thing Model)")
    eng = engine(data_dir)
    owner = _enterprise_id(eng, enterprise) if enterprise else None
    try:
        model = _models(eng).add(doc, enterprise_id=owner, actor=operator().actor)
    except devices.ModelInvalid as exc:
        for p in exc.detail:
            typer.echo(f"{p['path']}: {p['message']}", err=True)
        typer.secho(f"error: {file.name} has {len(exc.detail)} problem(s)", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"imported {model.ref} ({len(model.points)} points)")


@model_app.command("export")
def model_export(
    model_id: str,
    version: Annotated[str | None, typer.Option(help="Default: the latest")] = None,
    out: Annotated[Path | None, typer.Option(help="Write to this file")] = None,
    data_dir: DataOpt = None,
) -> None:
    """Print (or write) a model's Thing Model document."""
    text = dump_json(_models(engine(data_dir)).export(model_id, version))
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


@model_app.command("list")
def model_list(
    all_versions: Annotated[bool, typer.Option("--all", help="Every version")] = False,
    data_dir: DataOpt = None,
) -> None:
    """Models (latest versions unless --all)."""
    reg = _models(engine(data_dir))
    table = Table()
    table.add_column("model", no_wrap=True)
    for col in ("version", "title", "points", "actions"):
        table.add_column(col)
    for m in reg.list(all_versions=all_versions):
        table.add_row(m.id, m.version, _title(m.title), str(len(m.points)), ", ".join(m.actions))
    Console().print(table)


@model_app.command("library")
def model_library(data_dir: DataOpt = None) -> None:
    """Install the models shipped with Indunet (idempotent) and list them."""
    reg = devices.ModelRegistry(engine(data_dir))
    added = reg.install_library(operator().actor)
    for m in devices.library_models():
        mark = "installed" if m.ref in added else "present"
        typer.echo(f"{m.ref}  {_title(m.title)}  [{mark}]")
