"""``indunet sensor``: the passive OT sensor on capture files, a growing capture, or a live
interface; transactions printed, or shipped to a running Indunet (docs/security/sensor-running.md).

Exit codes: 0 read to the end; 1 a capture file could not be read to its end (what was read
is printed, the file and packet named); 2 wrong usage or arguments (a missing file, no such
interface, no right to capture), with a message.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import os
import signal
import stat
import sys
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from indunet.cli.serve import tune_collector
from indunet.core import InvalidInput
from indunet.security.sensor.decode import Decoder
from indunet.security.sensor.records import Transaction
from indunet.security.sensor.run import FileSource, FollowSource, LiveSource, SensorRun, Sink
from indunet.security.sensor.ship import Shipper

app = typer.Typer(
    rich_markup_mode=None,
    help="The passive OT sensor: industrial protocol transactions from packets.",
    no_args_is_help=True,
)

Files = Annotated[list[Path], typer.Argument(help="pcap or pcapng files, read in order")]
Json = Annotated[bool, typer.Option("--json", help="One JSON object per transaction")]
Observer = Annotated[str, typer.Option(help="This sensor's name in the events")]
Ship = Annotated[
    str | None, typer.Option("--ship", help="Send events to this Indunet (https://host:port)")
]
TokenFile = Annotated[
    Path | None, typer.Option("--token-file", help="File holding the API token (with --ship)")
]
Buffer = Annotated[
    Path,
    typer.Option("--buffer", help="Directory of the on-disk buffer of unsent events"),
]
Insecure = Annotated[
    bool,
    typer.Option("--insecure", help="Do not verify the server's TLS certificate (tests only)"),
]
Seconds = Annotated[
    float | None, typer.Option("--seconds", help="Stop after this many seconds (default: never)")
]
Ports = Annotated[
    list[str] | None,
    typer.Option(
        "--port",
        help="Also decode PROTOCOL on server PORT, e.g. modbus=5020 (repeatable); "
        "the well-known ports (502, 4840, 102, 44818, 20000) are always decoded",
    ),
]
DEFAULT_BUFFER = Path("./indunet-data/sensor-spool")


def _decoder(observer: str, ports: list[str] | None) -> Decoder:
    """A decoder that also decodes the ``protocol=port`` pairs given."""
    decoder = Decoder(observer)
    for pair in ports or ():
        protocol, sep, port = pair.partition("=")
        if not sep or not port.isdigit():
            raise InvalidInput(f"--port takes PROTOCOL=PORT (e.g. modbus=5020), not {pair!r}")
        decoder.serve(int(port), protocol.strip())
    return decoder


MAX_TOKEN_FILE = 4096


def _json_line(tx: Transaction) -> bytes:
    return orjson.dumps(dataclasses.asdict(tx), default=str)


@app.command("read")
def read(
    files: Files, json: Json = False, observer: Observer = "sensor", port: Ports = None
) -> None:
    """Decode capture files: transactions (as JSON lines, or a summary) and the counters."""
    for f in files:
        if not f.is_file():
            raise InvalidInput(f"{f}: no such file")
    summary: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
    out = sys.stdout.buffer

    def seen(txs: list[Transaction]) -> None:
        for t in txs:
            if json:
                out.write(_json_line(t) + b"\n")
            else:
                kind = "write" if t.write else "read"
                summary[(t.protocol, t.function_name, kind, t.status)] += 1

    async def drop(_events: Any) -> None:
        return None

    source = FileSource(files)
    decoder = _decoder(observer, port)
    run = SensorRun(source, drop, observer=observer, on_transactions=seen, decoder=decoder)
    asyncio.run(run.run())
    out.flush()
    if not json:
        _table(summary)
    counters = run.counters()
    _print_counters(counters, to_err=json)
    if source.errors:
        for e in source.errors:
            typer.secho(f"error: {e} (what came before was read)", fg="red", err=True)
        raise typer.Exit(1)


def _table(summary: collections.Counter[tuple[str, str, str, str]]) -> None:
    rows = [("protocol", "function", "kind", "status", "count")]
    rows += [(*k, str(n)) for k, n in sorted(summary.items(), key=lambda kv: (-kv[1], kv[0]))]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if len(rows) == 1:
        typer.echo("(no industrial-protocol transactions)")


def _print_counters(counters: dict[str, Any], to_err: bool = False) -> None:
    dec = counters["decoder"]
    lines = [
        f"packets: {dec['packets']:,}  bytes: {dec['bytes']:,}  "
        f"transactions: {dec['transactions']:,}",
        f"truncated: {dec['truncated']:,}  not IP: {dec['not_ip']:,}  "
        f"other traffic: {dec['other_traffic']:,}  evicted flows: {dec['evicted_flows']:,}",
    ]
    for proto, m in sorted(dec["malformed"].items()):
        lines.append(
            f"malformed {proto}: {m['count']:,} (last: packet {m['last_packet']}: "
            f"{m['last_reason']})"
        )
    for part in ("capture", "follow", "ship"):
        if part in counters:
            shown = {k: v for k, v in counters[part].items() if k != "errors"}
            lines.append(f"{part}: " + "  ".join(f"{k}: {v}" for k, v in shown.items()))
    for line in lines:
        typer.echo(line, err=to_err)


def _token(path: Path | None) -> str:
    if path is None:
        raise InvalidInput("--ship needs --token-file: a file holding the API token")
    try:
        st = path.stat()
    except OSError:
        raise InvalidInput(f"{path}: no such token file") from None
    if st.st_size > MAX_TOKEN_FILE:
        raise InvalidInput(f"{path}: a token file is {MAX_TOKEN_FILE} bytes at most")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        typer.secho(f"warning: {path} is readable by others (chmod 600 it)", err=True)
    token = path.read_text(errors="replace").strip()
    if not token or any(c.isspace() for c in token):
        raise InvalidInput(f"{path}: the file holds no token (one line, no spaces)")
    return token


def _sink_and_shipper(
    ship: str | None, token_file: Path | None, buffer: Path, insecure: bool
) -> tuple[Sink, Shipper | None]:
    if ship is None:
        out = sys.stdout.buffer

        async def printer(events: Any) -> None:
            for e in events:
                out.write(orjson.dumps(e.to_dict()) + b"\n")
            out.flush()

        return printer, None
    if not ship.startswith(("http://", "https://")):
        raise InvalidInput(f"--ship {ship!r}: give the server's URL, https://host:port")
    host = urllib.parse.urlsplit(ship).hostname or ""
    if ship.startswith("http://") and host not in ("127.0.0.1", "::1", "localhost"):
        typer.secho(
            f"warning: {ship} is plain HTTP: the token and the events cross the network "
            "unencrypted (use https://)",
            err=True,
        )
    shipper = Shipper(ship, _token(token_file), buffer, verify=not insecure)
    return shipper.put, shipper


async def _serve(run: SensorRun, shipper: Shipper | None, seconds: float | None) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, run.source.stop)
    if shipper is not None:
        await shipper.start()
    try:
        await run.start()
        if seconds is not None:
            loop.call_later(seconds, run.source.stop)
        assert run._task is not None
        await run._task
    finally:
        await run.stop()
        if shipper is not None:
            await shipper.stop()


def _run(source: Any, observer: str, ship: str | None, token_file: Path | None,
         buffer: Path, insecure: bool, seconds: float | None,
         ports: list[str] | None = None) -> None:  # fmt: skip
    decoder = _decoder(observer, ports)
    sink, shipper = _sink_and_shipper(ship, token_file, buffer, insecure)
    run = SensorRun(source, sink, observer=observer, decoder=decoder)
    if isinstance(source, LiveSource):
        source.open()  # refused here, before anything started: a message, exit 2
    tune_collector()  # a long-running sensor: the server's collector settings
    asyncio.run(_serve(run, shipper, seconds))
    counters = run.counters()
    if shipper is not None:
        counters["ship"] = dataclasses.asdict(shipper.stats)
    _print_counters(counters, to_err=True)


@app.command("live")
def live(
    iface: Annotated[str, typer.Option("--iface", help="Interface to capture on (e.g. eth1)")],
    observer: Observer = "",
    ship: Ship = None,
    token_file: TokenFile = None,
    buffer: Buffer = DEFAULT_BUFFER,
    insecure: Insecure = False,
    seconds: Seconds = None,
    port: Ports = None,
) -> None:
    """Capture on an interface (needs root or CAP_NET_RAW) until Ctrl-C or --seconds."""
    name = observer or f"{os.uname().nodename}:{iface}"
    _run(LiveSource(iface), name, ship, token_file, buffer, insecure, seconds, port)


@app.command("follow")
def follow(
    file: Annotated[Path, typer.Argument(help="The capture file being written (pcap/pcapng)")],
    observer: Observer = "",
    ship: Ship = None,
    token_file: TokenFile = None,
    buffer: Buffer = DEFAULT_BUFFER,
    insecure: Insecure = False,
    seconds: Seconds = None,
    port: Ports = None,
) -> None:
    """Read a capture file as it grows (rotation and truncation followed)."""
    if not file.parent.is_dir():
        raise InvalidInput(f"{file.parent}: no such directory")
    name = observer or f"{os.uname().nodename}:{file.name}"
    _run(FollowSource(file), name, ship, token_file, buffer, insecure, seconds, port)
