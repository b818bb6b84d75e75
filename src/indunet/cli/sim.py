"""``indunet sim``: run the virtual factory (simulated equipment on real protocols)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from indunet import devices as device_models
from indunet import sim
from indunet.core import InvalidInput, Settings


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise InvalidInput(f"--mqtt takes HOST:PORT (e.g. 127.0.0.1:11883), not {text!r}")
    return host, int(port)


def _quiet_libraries() -> None:
    for name in ("asyncua", "pymodbus", "aiomqtt", "mqtt"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _table(factory: sim.Factory, mqtt: str | None) -> str:
    rows = [("model", "protocol", "devices", "ids", "served at")]
    for model_id in dict.fromkeys(d.model_id for d in factory.plan.devices):
        group = [d for d in factory.plan.devices if d.model_id == model_id]
        first, proto = group[0], group[0].protocol
        ids = first.id if len(group) == 1 else f"{first.id} … {group[-1].id}"
        if proto == "opcua":
            where = str(first.connection.get("endpoint"))
        elif proto == "modbus":
            gws: dict[int, list[int]] = {}
            for d in group:
                gws.setdefault(int(d.connection["port"]), []).append(int(d.connection["unit"]))
            host = first.connection["host"]
            if len(gws) <= 3:
                where = ", ".join(
                    f"modbus {host}:{p} units {min(u)}-{max(u)}" for p, u in gws.items()
                )
            else:
                ports = sorted(gws)
                span = (
                    f"{ports[0]}-{ports[-1]}"
                    if ports[-1] - ports[0] == len(ports) - 1
                    else (f"{ports[0]}, {ports[1]}, … {ports[-1]}")
                )
                where = f"modbus {host} ports {span} ({len(ports)} gateways)"
        else:
            where = f"mqtt broker {mqtt}" if mqtt else "(MQTT off)"
        rows.append((model_id, proto, str(len(group)), ids, where))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[4]
        for r in rows
    )


async def _run(
    factory: sim.Factory,
    mqtt: str | None,
    plan_out: Path | None,
    register: str | None,
    token: str | None,
    enterprise: str | None,
    active: str | None = None,
    active_keys: Path | None = None,
    intruder: bool = False,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await factory.start(mqtt=False)
    bad = _intruder(factory) if intruder else None
    try:
        if plan_out is not None:
            await asyncio.to_thread(plan_out.write_bytes, factory.plan.to_json())
        if register:
            done = await sim.register(factory.plan, register, token or "", enterprise=enterprise)
            typer.echo(
                f"Registered at {register}: {len(done.created)} created, "
                f"{len(done.existing)} already there, {len(done.failed)} refused"
            )
            for dev, why in sorted(done.failed.items())[:10]:
                typer.secho(f"  {dev}: {why}", fg="yellow", err=True)
            if active:
                act = await sim.announce_active(
                    factory.plan, register, token or "", algorithm=active, keys=active_keys
                )
                typer.echo(
                    f"Active identifiers ({active}): {len(act.enrolled)} enrolled, "
                    f"{len(act.announced)} announced, {len(act.linked)} linked to their "
                    f"device, {len(act.failed)} refused"
                )
                for dev, why in sorted(act.failed.items())[:10]:
                    typer.secho(f"  {dev}: {why}", fg="yellow", err=True)
        factory.connect_mqtt()
        n = len(factory.plan.devices)
        typer.echo(f"Virtual factory: {n} devices, one step every {factory.interval:g} s")
        typer.echo(_table(factory, mqtt))
        for eq in factory.equipment.values():
            for a in eq.faults.active:
                typer.echo(f"  fault scheduled: {a.fault.spec()}")
        if plan_out is not None:
            typer.echo(f"Plan (ids, endpoints, secrets) written to {plan_out}")
        if factory.mirror is not None:
            typer.echo(f"Modbus conversations mirrored to {factory.mirror.path} (pcap)")
        if bad is not None:
            await bad.start()
            typer.echo(
                f"Intruder: from {bad.source}, sweeps the Modbus gateways and writes a coil "
                f"every {bad.every:g} s"
            )
        typer.echo("Ctrl-C stops the factory.")
        await stop.wait()
    finally:
        if bad is not None:
            await bad.stop()
        await factory.stop()
    t = factory.totals()
    typer.echo(
        f"Stopped after {factory.steps} steps: {t.get('samples', 0)} samples published or served, "
        f"{t.get('writes', 0)} writes, {t.get('actions', 0)} actions honoured"
    )


def run(
    devices: Annotated[
        int | None, typer.Option(help="How many devices (default: the 10-machine demo mix)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the signals: same seed, same values")] = 0,
    mqtt: Annotated[
        str | None,
        typer.Option(
            help="Broker HOST:PORT the MQTT devices connect to [default: the platform's endpoint]"
        ),
    ] = None,
    no_mqtt: Annotated[
        bool, typer.Option("--no-mqtt", help="Do not connect the MQTT devices")
    ] = False,
    host: Annotated[
        str, typer.Option(help="Address the OPC UA and Modbus servers listen on")
    ] = "127.0.0.1",
    opcua_port: Annotated[int, typer.Option(help="OPC UA server port (0: a free one)")] = 4840,
    modbus_port: Annotated[
        int,
        typer.Option(
            help="First Modbus gateway port; more gateways take the next ports (0: free ones)"
        ),
    ] = 5020,
    interval: Annotated[float, typer.Option(help="Seconds between steps")] = 1.0,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="A fault to schedule, e.g. cnc-0002:bearing_drift@60s (repeatable)"),
    ] = None,
    plan_in: Annotated[
        Path | None, typer.Option(help="Reuse a plan written before (same ids and secrets)")
    ] = None,
    plan_out: Annotated[Path | None, typer.Option(help="Write the plan (JSON) here")] = None,
    register: Annotated[
        str | None,
        typer.Option(help="Platform URL to register the devices at, e.g. http://127.0.0.1:8000"),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="API token for --register", envvar="INDUNET_TOKEN")
    ] = None,
    enterprise: Annotated[
        str | None, typer.Option(help="Owner of the devices for --register (USCC or enterprise id)")
    ] = None,
    active: Annotated[
        str | None,
        typer.Option(
            help="With --register: each device carries an active identifier (主动标识) with an "
            "ed25519 or sm2 key, enrolled with the token, announced signed and linked"
        ),
    ] = None,
    active_keys: Annotated[
        Path | None, typer.Option(help="Keep the devices' private keys in this directory")
    ] = None,
    mirror: Annotated[
        Path | None,
        typer.Option(
            help="Copy every Modbus conversation into this pcap file, as a plant's SPAN port "
            "would (for `indunet sensor follow`)"
        ),
    ] = None,
    intruder: Annotated[
        bool,
        typer.Option(
            "--intruder",
            help="Add a misbehaving host (127.0.0.66) that sweeps the Modbus gateways and "
            "writes a coil every 30 s",
        ),
    ] = False,
) -> None:
    """Run the virtual factory until Ctrl-C: CNC machines on OPC UA, compressors and meters on Modbus TCP, excavators and sensors on MQTT."""
    _quiet_libraries()
    if register and not token:
        raise InvalidInput("--register needs --token (or INDUNET_TOKEN)")
    if active and not register:
        raise InvalidInput("--active needs --register (the platform to announce to)")
    if active and active not in ("ed25519", "sm2"):
        raise InvalidInput(f"--active takes ed25519 or sm2, not {active!r}")
    if plan_in is not None and devices is not None:
        raise InvalidInput("give --devices or --plan-in, not both")
    settings = Settings()
    broker = None if no_mqtt else (mqtt or f"{settings.mqtt_host}:{settings.mqtt_port}")
    mqtt_host, mqtt_port = _host_port(broker) if broker else (None, 0)
    models = device_models.library_models()
    if plan_in is not None:
        if not plan_in.is_file():
            raise InvalidInput(f"plan file {str(plan_in)!r} does not exist")
        plan = sim.FactoryPlan.from_json(plan_in.read_bytes())
    else:
        plan = sim.make_plan(models, devices, seed=seed)
    factory = sim.Factory(
        plan,
        models=models,
        host=host,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        opcua_port=opcua_port,
        modbus_base_port=modbus_port,
        seed=seed,
        interval=interval,
        faults=fault or (),
        mirror=mirror,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            _run(
                factory,
                broker,
                plan_out,
                register,
                token,
                enterprise,
                active,
                active_keys,
                intruder,
            )
        )


def _intruder(factory: sim.Factory) -> sim.Intruder | None:
    """The misbehaving host, aimed at every Modbus gateway of ``factory`` (None: it has none)."""
    targets = [(factory.host, gw.port, len(gw.equipment)) for gw in factory.gateways]
    return sim.Intruder(targets) if targets else None
