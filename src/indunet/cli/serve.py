"""``indunet up``, ``indunet demo`` and ``indunet node``: run the server."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from indunet import core, ids
from indunet.cli import context
from indunet.cli.options import read_secret
from indunet.ids.enrolment import Enrolment, Verdict, read_key
from indunet.ids.parentlink import ParentLink
from indunet.web import build_state, create_app

HostOpt = Annotated[str | None, typer.Option(help="Address to listen on [default: 127.0.0.1]")]
PortOpt = Annotated[int | None, typer.Option(help="Port to listen on [default: 8000]")]
HandlePortOpt = Annotated[
    int | None,
    typer.Option(
        help="Also answer the Handle protocol (RFC 3652) over UDP and TCP on this port; "
        "2641 is the standard one [default: off, or INDUNET_HANDLE_PORT]"
    ),
]
DataOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Where data lives [default: ./indunet-data]")
]
CertOpt = Annotated[
    Path | None,
    typer.Option(
        "--tls-cert", help="Serve HTTPS with this PEM certificate (chain) [INDUNET_TLS_CERT]"
    ),
]
KeyOpt = Annotated[
    Path | None,
    typer.Option("--tls-key", help="The certificate's PEM private key [INDUNET_TLS_KEY]"),
]
SelfSignedOpt = Annotated[
    bool,
    typer.Option(
        "--self-signed",
        help="Serve HTTPS with a self-signed certificate made in the data directory (trying "
        "TLS on one machine; clients must be told to trust it)",
    ),
]


def _print_admin(engine: object, url: str) -> None:
    with engine.begin() as conn:  # type: ignore[attr-defined]
        password = core.ensure_admin(conn)
    if password:
        typer.secho(
            "First start: created the platform administrator. This is shown only once:", fg="yellow"
        )
        typer.echo(f"  username: {core.users.ADMIN_USERNAME}\n  password: {password}")
    typer.echo(f"Console:      {url}/")
    typer.echo(f"Handle API:   {url}/api/handles/<prefix>/<suffix>")
    typer.echo(f"API docs:     {url}/docs")


def _tls(s: core.Settings, cert: Path | None, key: Path | None, self_made: bool) -> TlsFiles:
    """The certificate to serve with: given (options, then settings), made, or none."""
    if self_made and (cert or key):
        raise typer.BadParameter(
            "--self-signed makes its own certificate: drop --tls-cert/--tls-key"
        )
    if (cert is None) != (key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    if cert is not None and key is not None:
        s.tls_cert, s.tls_key = cert, key
    if self_made:
        made = core.tls.self_signed(s.data_dir, core.sealed.Sealer.from_settings(s), s.host)
        s.tls_cert, s.tls_key = made.cert, made.key
        return made
    if s.tls_cert is not None and s.tls_key is not None:
        for path in (s.tls_cert, s.tls_key):
            if not path.is_file():
                raise typer.BadParameter(f"{path}: no such file")
        return core.tls.ServerCert(s.tls_cert, s.tls_key)
    return None


TlsFiles = core.tls.ServerCert | None


def _print_handle_port(s: core.Settings) -> None:
    if s.handle_port:
        where = f"{s.handle_host or s.host}:{s.handle_port}"
        typer.echo(f"Handle port:  {where} UDP and TCP (RFC 3652 resolution)")


def _serve(app: object, host: str, port: int, tls: TlsFiles = None) -> None:
    # asyncua warns about every security policy a server or client does not offer; the
    # connectors log their own state changes, so only asyncua's errors are worth showing.
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    tune_collector()
    ssl: dict[str, object] = {}
    if tls is not None:
        ssl = {
            "ssl_certfile": str(tls.cert),
            "ssl_keyfile": str(tls.key),
            "ssl_keyfile_password": tls.password,
        }
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, **ssl)  # type: ignore[arg-type]


def tune_collector() -> None:
    """Process-wide garbage collector settings for a long-running server (the entry point's
    business, not the app factory's: tests and embedders keep the interpreter's defaults).

    Everything built so far lives as long as the process: move it out of the collector's
    sight, and collect the young generation less often. Ingest allocates a Sample per point;
    with the default threshold (700) the collector ran every few hundred points and took a
    third of HTTP batch ingest (bench/telemetry_ingest.py).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


RoleOpt = Annotated[
    str | None,
    typer.Option(
        help="all (one process), or with INDUNET_BUS_URL: api, connector or worker "
        "[default: all, or INDUNET_ROLE]"
    ),
]
ShardOpt = Annotated[
    str | None,
    typer.Option(help="This connector's or worker's share i/n [default: 0/1, or INDUNET_SHARD]"),
]


def up(
    host: HostOpt = None,
    port: PortOpt = None,
    data_dir: DataOpt = None,
    role: RoleOpt = None,
    shard: ShardOpt = None,
    tls_cert: CertOpt = None,
    tls_key: KeyOpt = None,
    self_signed: SelfSignedOpt = False,
    handle_port: HandlePortOpt = None,
) -> None:
    """Run the API and console on one port, with a whole identifier hierarchy in-process.

    With ``INDUNET_BUS_URL=nats://…`` the same command runs one part of a scaled
    installation (docs/deploy-scaled.md): ``--role api``, ``connector`` or ``worker``.
    """
    s = context.settings(data_dir, host, port, role=role, shard=shard, handle_port=handle_port)
    if s.role != "all" and not s.bus_url:
        raise typer.BadParameter(f"the role {s.role} needs INDUNET_BUS_URL=nats://…")
    tls = _tls(s, tls_cert, tls_key, self_signed)
    state = build_state(s)
    _print_admin(state.engine, s.base_url())
    _print_handle_port(s)
    if s.bus_url:
        typer.echo(
            f"Role:         {s.role} {s.shard} on the NATS backbone {_no_password(s.bus_url)}"
        )
    _say_tls(s, tls)
    _serve(create_app(state), s.host, s.port, tls)


def _no_password(urls: str) -> str:
    """Bus URLs as printable (``bus.backbone.shown``)."""
    from indunet.bus.backbone import shown

    return shown(urls)


def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    data_dir: DataOpt = None,
    self_signed: SelfSignedOpt = False,
    federation: Annotated[
        bool,
        typer.Option(
            "--federation",
            help="Run as a national instance with two enterprise instances enrolled under "
            "it, each its own process on this machine (the console's 三级联动 page)",
        ),
    ] = False,
) -> None:
    """``up`` plus sample enterprises, identifiers, and a virtual factory sending live data.

    The demo is development on this machine: it accepts Handle API credentials over plain
    HTTP from loopback (``INDUNET_PLAIN_HTTP_AUTH=loopback``) unless ``--self-signed``."""
    from indunet.cli.factory_demo import DemoFactory, mirror_settings, watch_the_mirror
    from indunet.cli.samples import ENTERPRISES, seed

    s = context.settings(data_dir, host, port)
    if federation and self_signed:
        raise typer.BadParameter("--federation runs its instances over plain HTTP on this machine")
    tls = _tls(s, None, None, self_signed)
    if tls is None:
        s.plain_http_auth = "loopback"
    mirror_settings(s)
    state = build_state(s)
    _print_admin(state.engine, s.base_url())
    seed(state, s.data_dir)
    if state.platform is not None:
        factory = DemoFactory(s.data_dir, ENTERPRISES[0].uscc)
        state.platform.hooks.append(factory)
        watch_the_mirror(state, factory)
        typer.echo(f"Live factory: {s.base_url()}/platform/devices (data within a minute)")
        typer.echo(f"Security:     {s.base_url()}/security (a sensor follows the factory's mirror)")
        typer.echo(f"Ports:        {s.host}:{s.port} HTTP (console, APIs)")
        if s.mqtt_url is None:
            typer.echo(
                f"              {s.mqtt_host}:{s.mqtt_port} MQTT (the embedded endpoint devices connect to)"
            )
        else:
            typer.echo(f"              MQTT devices use the broker at {s.mqtt_url}")
        typer.echo(
            "              the simulated equipment's OPC UA and Modbus TCP servers take free"
        )
        typer.echo("              ports on 127.0.0.1, printed when they open")
    if federation:
        from indunet.cli.federation_demo import national_identity, start_children

        local = f"http://127.0.0.1:{s.port}"
        national_identity(state.engine, local)
        start_children(state.engine, local, Path(s.data_dir))
        typer.echo(f"Federation:   {s.base_url()}/federation (this demo is the national instance)")
    _say_tls(s, tls)
    _serve(create_app(state), s.host, s.port, tls)


def node(
    role: Annotated[ids.NodeRole, typer.Option(help="What this node is")],
    prefix: Annotated[
        str | None, typer.Option(help="The prefix it serves (not for root/recursive)")
    ] = None,
    parent: Annotated[
        list[str] | None,
        typer.Option(
            help="Parent node URL: the node announces its site there; for a recursive node, the root"
        ),
    ] = None,
    parent_key_file: Annotated[
        Path | None,
        typer.Option(
            help="File with the secret key of 0.NA/<prefix> at the parent: announces this node, and the key then works here too (re-read every INDUNET_ENROL_CHECK_S)"
        ),
    ] = None,
    public_url: Annotated[str | None, typer.Option(help="URL others reach this node at")] = None,
    report_every: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="Seconds between checks that the parent has this node's completed days "
            "and registry (ids.parentlink; with --parent, for a top-level or secondary node)",
        ),
    ] = 300.0,
    primary: Annotated[
        str | None,
        typer.Option(help="For --role dr: URL of the primary node this node copies"),
    ] = None,
    primary_token_file: Annotated[
        Path | None,
        typer.Option(
            help="For --role dr: file with a platform administrator's API token on the primary"
        ),
    ] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    data_dir: DataOpt = None,
    tls_cert: CertOpt = None,
    tls_key: KeyOpt = None,
    self_signed: SelfSignedOpt = False,
    handle_port: HandlePortOpt = None,
) -> None:
    """Run a single node of the hierarchy as its own process.

    ``--role dr`` runs a disaster-recovery copy (灾备节点) of the node at ``--primary``: it
    copies its records continuously, answers for ``--prefix`` from the copy, refuses writes,
    and announces itself at ``--parent`` as a further (not primary) site of the prefix."""
    s = context.settings(data_dir, host, port, handle_port=handle_port)
    if public_url:
        s.public_url = public_url
    tls = _tls(s, tls_cert, tls_key, self_signed)
    if role not in (ids.NodeRole.ROOT, ids.NodeRole.RECURSIVE) and not prefix:
        raise typer.BadParameter(f"a {role.value} node needs --prefix")
    announcing = bool(parent) and role is not ids.NodeRole.RECURSIVE
    if announcing and parent_key_file is None:  # every option checked before anything is
        raise typer.BadParameter("announcing to --parent needs --parent-key-file")  # written
    token = _dr_options(s, role, primary, primary_token_file)
    engine = context.database(s)
    hierarchy = ids.single(
        engine,
        role,
        prefix,
        root_urls=parent if role is ids.NodeRole.RECURSIVE else None,
        max_ttl=s.cache_max_ttl,
        negative_ttl=s.negative_ttl,
        cache_size=s.cache_size,
        timeout=s.site_timeout,
        site_allow=s.site_allow,
        copy_of=primary.rstrip("/") if token and primary else None,
    )
    state = build_state(s, hierarchy=hierarchy, engine=engine, platform=False)
    if token and primary:
        state.services["ids-dr"] = ids.Replica(hierarchy.front, primary, token)
    _print_admin(engine, s.base_url())
    if announcing and parent and parent_key_file is not None and prefix is not None:
        secret = parent_key_file.read_text().strip()
        copy = role is ids.NodeRole.DR
        announce(parent[0], prefix, secret, [s.base_url()], primary=not copy)
        if not copy:  # a DR copy holds the primary's records and must not report its counts
            state.services["enrolment"] = enrol(
                hierarchy.front, parent[0], prefix, parent_key_file, every=s.enrol_check_s
            )
            key_file = parent_key_file
            state.services["ids.parent"] = ParentLink(
                engine, parent[0], prefix, lambda: read_key(key_file), every=report_every
            )
    typer.echo(f"{role.value} node {hierarchy.front.name} at {s.base_url()}")
    if primary and token:
        typer.echo(f"Copy of:      {primary} (read-only; writes go to the primary)")
    _print_handle_port(s)
    _say_tls(s, tls)
    _serve(create_app(state), s.host, s.port, tls)


def _dr_options(
    s: core.Settings, role: ids.NodeRole, primary: str | None, token_file: Path | None
) -> str | None:
    """The token a disaster-recovery node reads its primary with (``None`` for other roles),
    once its options are checked: the primary's URL by the destination policy."""
    if role is not ids.NodeRole.DR:
        if primary or token_file:
            raise typer.BadParameter("--primary and --primary-token-file are for --role dr")
        return None
    if not primary or token_file is None:
        raise typer.BadParameter("a dr node needs --primary and --primary-token-file")
    try:
        ids.SitePolicy.build(allow=s.site_allow).check_url(primary)
    except ids.SiteRefused as exc:
        raise typer.BadParameter(f"--primary: {exc.message}") from None
    try:
        return read_secret(token_file, "primary token", min_length=16)
    except core.InvalidInput as exc:
        raise typer.BadParameter(exc.message) from None


def _say_tls(s: core.Settings, tls: TlsFiles) -> None:
    if tls is not None:
        typer.echo(f"TLS:          {tls.cert}")
    elif s.plain_http_auth == "loopback":
        typer.echo("Plain HTTP:   Handle API credentials accepted from this machine only")
    else:
        typer.echo(
            "Plain HTTP:   Handle API credentials are refused; serve TLS with --tls-cert and "
            "--tls-key (or --self-signed to try it)"
        )


def enrol(node: ids.Node, parent: str, prefix: str, key_file: Path, *, every: float) -> Enrolment:
    """Hold the prefix identity at this node (``ids.enrolment``), checked now and then every
    ``every`` seconds while the node runs."""
    enrolment = Enrolment(node, parent, prefix, key_file, every=every)
    if enrolment.check() is Verdict.ACCEPTED:
        typer.echo(f"prefix key {ids.admin_username(prefix)} accepted at this node too")
    else:
        typer.secho(
            f"the parent did not confirm the key of 0.NA/{prefix}; this node does not take it "
            f"now and asks again every {every:.0f} s",
            fg="yellow",
            err=True,
        )
    return enrolment


def announce(
    parent: str, prefix: str, secret: str, sites: list[str], *, primary: bool = True
) -> None:
    """Publish this node's sites at the parent (``ids.announce``); exit 1 if it refuses."""
    try:
        ids.announce(parent, prefix, secret, sites, primary=primary)
    except ids.AnnounceFailed as exc:
        typer.secho(exc.message, fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"announced {', '.join(sites)} for prefix {prefix} at {parent}")
