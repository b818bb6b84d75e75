"""``indunet id …``: register, resolve, delete, list, import and mint identifiers; prefixes, templates.

Writes act as the node operator (audited as ``cli:<os user>``) on the data directory's database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from indunet import core, ids
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
from indunet.core import InvalidInput, NotFound
from indunet.ids import schemekeys
from indunet.web import build_state

app = typer.Typer(
    rich_markup_mode=None, help="Identifiers: register, resolve, import, prefixes and templates."
)
prefix_app = typer.Typer(
    rich_markup_mode=None, help="Prefixes allocated to enterprises (and top-level prefixes)."
)
template_app = typer.Typer(rich_markup_mode=None, help="Data templates of a prefix.")
app.add_typer(prefix_app, name="prefix")
app.add_typer(template_app, name="template")


def _node(data_dir: Path | None, name: str) -> ids.Node:
    return context.node(engine(data_dir), name)


@contextlib.contextmanager
def _counted(data_dir: Path | None, name: str) -> Iterator[ids.Node]:
    """A node whose registrations reach the daily statistics when the command ends (a server
    stores its nodes' tallies every few seconds; this process has no such service)."""
    target = _node(data_dir, name)
    try:
        yield target
    finally:
        ids.daily.flush(target.engine, [target.stats.daily])


def parse_value_option(text: str) -> tuple[int | None, str, str]:
    """``TYPE=VALUE``, ``TYPE=VALUE:INDEX`` or ``TYPE:INDEX=VALUE`` -> ``(index, type, value)``.

    A trailing ``:digits`` is read as the index; write ``TYPE:INDEX=VALUE`` for a value that
    itself ends in ``:digits`` (a URL with a port and no path, say).
    """
    vtype, sep, rest = text.partition("=")
    if not sep or not vtype:
        raise InvalidInput(f"--value {text!r} must look like TYPE=VALUE or TYPE=VALUE:INDEX")
    if ":" in vtype:
        vtype, _, index = vtype.partition(":")
        if not index.isdigit():
            raise InvalidInput(f"--value {text!r}: the index after {vtype}: must be a number")
        return int(index), vtype, rest
    value, sep, index = rest.rpartition(":")
    if sep and value and index.isdigit():
        return int(index), vtype, value
    return None, vtype, rest


def values_from_options(options: list[str]) -> list[dict[str, Any]]:
    """REST-shaped string values; options without an index get 1, 2, 3, … (skipping used ones)."""
    parsed = [parse_value_option(o) for o in options]
    used = {i for i, _, _ in parsed if i is not None}
    out, nxt = [], 1
    for index, vtype, value in parsed:
        if index is None:
            while nxt in used:
                nxt += 1
            index = nxt
            used.add(nxt)
        out.append({"index": index, "type": vtype, "data": {"format": "string", "value": value}})
    return out


@app.command()
def register(
    handle: str,
    value: Annotated[
        list[str] | None, typer.Option("--value", help="TYPE=VALUE[:INDEX], repeatable")
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="File with the values (REST JSON list)")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing record")] = False,
    node: NodeOpt = DEFAULT_NODE,
    data_dir: DataOpt = None,
) -> None:
    """Register one identifier."""
    if bool(value) == (json_file is not None):
        raise InvalidInput("give the values either as --value TYPE=VALUE … or as --json FILE")
    if json_file is not None:
        raw = read_json(json_file)
        raw = raw.get("values") if isinstance(raw, dict) else raw
    else:
        raw = values_from_options(value or [])
    with _counted(data_dir, node) as target:
        text, created = target.put(handle, raw, operator(), overwrite=overwrite)
    typer.echo(f"{'registered' if created else 'updated'} {text}")


def _show(answer: ids.Answer) -> str:
    return answer.message or f"response code {answer.rc}"


def _resolve_here(data_dir: Path | None, handle: str) -> ids.Answer:
    """Open the data dir (blocking, before the loop starts), then resolve on a loop."""
    s = context.settings(data_dir)
    engine = context.database(s)
    if not s.public_url:  # reuse the server's published sites; never re-point them
        s.public_url = ids.stored_base_url(engine)
    state = build_state(s, engine=engine)
    target = schemekeys.handle_of(handle, s.oid_prefixes, s.ecode_prefixes)  # oid:…, ecode:…

    async def run() -> ids.Answer:
        try:
            return await state.hierarchy.nodes["recursive"].resolve(target, recurse=True)
        finally:
            await state.hierarchy.close()

    return asyncio.run(run())


def _resolve_via(url: str, handle: str) -> ids.Answer:
    target = f"{url.rstrip('/')}/api/handles/{quote(handle, safe='/:@!$&()*+,;=-._~')}"
    try:
        resp = httpx.get(target, follow_redirects=True, timeout=10)
        return ids.Answer.from_json(resp.json())
    except httpx.HTTPError as exc:
        raise ids.SiteUnavailable(f"cannot reach {url}: {exc}") from None
    except ValueError:
        raise ids.SiteUnavailable(f"{target} did not answer with Handle JSON") from None


def _value_text(v: ids.HandleValue) -> str:
    return v.value if isinstance(v.value, str) else orjson.dumps(v.value).decode()


@app.command()
def resolve(
    handle: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print the REST JSON")] = False,
    via: Annotated[
        str | None, typer.Option(help="Resolve over HTTP at this server, e.g. http://host:8000")
    ] = None,
    data_dir: DataOpt = None,
) -> None:
    """Resolve an identifier through the hierarchy (in-process on the data dir, or --via URL)."""
    answer = _resolve_via(via, handle) if via else _resolve_here(data_dir, handle)
    if as_json:
        typer.echo(dump_json(answer.to_json(with_path=not via)))
    if answer.rc != ids.RC.SUCCESS:
        try:
            rc = ids.RC(answer.rc)
        except ValueError:
            rc = ids.RC.ERROR
        raise ids.HandleError(_show(answer), rc=rc)
    if as_json:
        return
    table = Table(title=answer.handle, title_justify="left")
    for col in ("index", "type", "data", "ttl", "timestamp"):
        table.add_column(col, overflow="fold")
    for v in sorted(answer.public_values(), key=lambda v: v.index):
        table.add_row(str(v.index), v.type, _value_text(v), str(v.ttl), v.timestamp)
    console = Console()
    console.print(table)
    if answer.path:
        hops = " → ".join(h.site.rsplit("/", 1)[-1] for h in answer.path)
        console.print(f"path: {hops} ({sum(h.ms for h in answer.path):.1f} ms)", style="dim")


@app.command()
def delete(
    handle: str,
    index: Annotated[
        list[int] | None, typer.Option("--index", help="Remove only these values")
    ] = None,
    node: NodeOpt = DEFAULT_NODE,
    data_dir: DataOpt = None,
) -> None:
    """Delete an identifier, or some of its values."""
    text = _node(data_dir, node).delete(handle, operator(), indices=index or None)
    typer.echo(f"removed values {sorted(index)} of {text}" if index else f"deleted {text}")


@app.command("list")
def list_handles(
    prefix: str,
    page: Annotated[int, typer.Option(min=0, help="Page number, from 0")] = 0,
    page_size: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    node: NodeOpt = DEFAULT_NODE,
    data_dir: DataOpt = None,
) -> None:
    """Identifiers registered under a prefix, one per line."""
    total, handles = _node(data_dir, node).list_handles(
        prefix, operator(), page=page, page_size=page_size
    )
    for h in handles:
        typer.echo(h)
    typer.echo(f"{len(handles)} of {total} (page {page})", err=True)


@app.command("import")
def import_(
    file: Path,
    overwrite: Annotated[bool, typer.Option(help="Replace records whose values differ")] = False,
    batch_size: Annotated[int, typer.Option(min=1)] = 5000,
    node: NodeOpt = DEFAULT_NODE,
    data_dir: DataOpt = None,
) -> None:
    """Register identifiers in bulk from a .csv or .jsonl file (rerun to resume or to fix rows)."""
    t0 = time.perf_counter()
    start: list[int] = []
    with (
        _counted(data_dir, node) as target,
        Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:,.0f} rows/s"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        ) as bar,
    ):
        task = bar.add_task("import", total=None, rate=0.0)

        def progress(done: int, total: int) -> None:
            if not start:
                start.append(done)
            rate = (done - start[0]) / max(time.perf_counter() - t0, 1e-6)
            bar.update(task, completed=done, total=total, rate=rate)

        report = ids.import_file(
            target, file, operator(), overwrite=overwrite, batch_size=batch_size, progress=progress
        )
    seconds = time.perf_counter() - t0
    done = report.registered + report.unchanged + report.failed - (start[0] if start else 0)
    resumed = f", resumed from line {report.resumed_from_line}" if report.resumed_from_line else ""
    typer.echo(
        f"job {report.job_id}: {report.total} rows: {report.registered} registered, "
        f"{report.unchanged} unchanged, {report.failed} failed{resumed} "
        f"({seconds:.1f} s, {done / max(seconds, 1e-6):,.0f} rows/s)"
    )
    for line, handle, message in report.errors:
        typer.echo(f"line {line}: {handle or '-'}: {message}")
    if report.failed > len(report.errors):
        typer.echo(f"… and {report.failed - len(report.errors)} more bad rows")
    if report.failed:
        raise typer.Exit(1)


@app.command()
def mint(prefix: str, node: NodeOpt = DEFAULT_NODE, data_dir: DataOpt = None) -> None:
    """Print a new unique identifier under PREFIX (or PREFIX/base) without registering it."""
    typer.echo(_node(data_dir, node).mint(prefix))


# -- prefixes -----------------------------------------------------------------------------------
def _write_new_key(path: Path) -> str:
    """Generate a key into a new file only its owner can read."""
    key = core.new_secret(24)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(f"{str(path)!r} already exists; not overwriting a key file") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    return key


@prefix_app.command("add")
def prefix_add(
    prefix: str,
    enterprise: Annotated[
        str | None, typer.Option(help="USCC of the verified enterprise (omit for an operator's)")
    ] = None,
    secret_key_file: Annotated[
        Path | None, typer.Option(help="File holding the prefix admin key (12+ characters)")
    ] = None,
    generate_key_file: Annotated[
        Path | None, typer.Option(help="Generate the key into this new file (mode 0600)")
    ] = None,
    site: Annotated[
        list[str] | None, typer.Option(help="Delegate to an enterprise node at this URL")
    ] = None,
    node: NodeOpt = DEFAULT_NODE,
    data_dir: DataOpt = None,
) -> None:
    """Allocate PREFIX; prints the admin username, e.g. 300:0.NA/88.100.1."""
    if (secret_key_file is None) == (generate_key_file is None):
        raise InvalidInput("give exactly one of --secret-key-file or --generate-key-file")
    target = _node(data_dir, node)
    ent = None
    if enterprise is not None:
        with target.engine.connect() as conn:
            ent = core.get_enterprise(conn, enterprise)
    if secret_key_file is not None:
        key = read_secret(secret_key_file, "secret key", min_length=12)
    else:
        assert generate_key_file is not None
        key = _write_new_key(generate_key_file)
    try:
        alloc = ids.allocate(
            target, prefix, ent, actor=operator().actor, secret=key, sites=site or None
        )
    except BaseException:
        if generate_key_file is not None:
            generate_key_file.unlink(missing_ok=True)
        raise
    typer.echo(alloc.username)


@prefix_app.command("list")
def prefix_list(data_dir: DataOpt = None) -> None:
    """Allocated prefixes and their enterprises."""
    eng = engine(data_dir)
    with eng.connect() as conn:
        by_id = {e.id: e for e in core.list_enterprises(conn)}
    table = Table("prefix", "node", "enterprise", "username")
    for a in ids.list_allocations(eng):
        ent = by_id.get(a.enterprise_id) if a.enterprise_id is not None else None
        table.add_row(a.prefix, a.node, f"{ent.uscc} {ent.name}" if ent else "-", a.username)
    Console().print(table)


# -- templates ----------------------------------------------------------------------------------
@template_app.command("add")
def template_add(prefix: str, file: Path, data_dir: DataOpt = None) -> None:
    """Publish a template version for PREFIX from a JSON file."""
    eng = engine(data_dir)
    t = ids.parse_template(prefix, read_json(file))
    with eng.begin() as conn:
        t = ids.TemplateRegistry(eng).add(conn, t, actor=operator().actor)
    typer.echo(f"template {t.ref} added to prefix {t.prefix}")


@template_app.command("list")
def template_list(prefix: str, data_dir: DataOpt = None) -> None:
    """Templates usable under PREFIX (its own and its ancestors')."""
    found = ids.TemplateRegistry(engine(data_dir)).for_prefix(ids.handle.normalise_prefix(prefix))
    table = Table("template", "prefix", "industry", "items", "description")
    for t in found:
        table.add_row(t.ref, t.prefix, t.industry_code, str(len(t.items)), t.description)
    Console().print(table)


@template_app.command("show")
def template_show(prefix: str, ref: str, data_dir: DataOpt = None) -> None:
    """One template (name@version) as JSON."""
    found = ids.TemplateRegistry(engine(data_dir)).for_prefix(ids.handle.normalise_prefix(prefix))
    for t in found:
        if t.ref == ref:
            typer.echo(dump_json(t.to_json()))
            return
    raise NotFound(f"prefix {prefix} has no template {ref}")
