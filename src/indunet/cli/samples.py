"""Sample data for ``indunet demo``: enterprises, prefixes, a data template, identifiers, users.

Everything is added once: a second run finds what is there and leaves it alone. Credentials
that are generated here (prefix secret keys, enterprise admin passwords) are appended to
``<data dir>/demo-credentials.txt`` (mode 0600), since only their hashes are stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import typer

from indunet import core, ids
from indunet.ids.values import TEMPLATE_INDEX
from indunet.web import AppState
from indunet.web.auth import principal_for_user

CREDENTIALS_FILE = "demo-credentials.txt"
ACTOR = "demo"
TEMPLATE_PREFIX = "88.100"
TEMPLATE = {
    "name": "device",
    "version": "1.0",
    "industry_code": "C34",
    "description": "通用设备 (general-purpose equipment): model, manufacturer and serial number",
    "items": [
        {"name": "model", "type": "string", "index": 2001, "required": True,
         "min_length": 1, "max_length": 64, "title": "型号"},
        {"name": "manufacturer", "type": "string", "index": 2002, "required": True,
         "min_length": 2, "max_length": 100, "title": "制造商"},
        {"name": "serial", "type": "string", "index": 2003, "required": True,
         "pattern": "[A-Z0-9][A-Z0-9-]{3,31}", "title": "出厂编号"},
    ],
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SampleEnterprise:
    """One sample tenant: its real-name data, its prefix (if any) and its admin user."""

    first16: str
    name: str
    region: str
    industry_code: str
    legal_representative: str
    prefix: str | None
    admin: str | None
    site: str
    model: str
    kind: str
    devices: int

    @property
    def uscc(self) -> str:
        """The full unified social credit code, with its computed check character."""
        return core.make_uscc(self.first16)


ENTERPRISES = (
    SampleEnterprise(
        "91350200MA31XK00", "厦门示例机床有限公司", "350200", "C3421", "陈明",
        "88.100.1", "xm-admin", "https://xm-machine.example.com", "VMC850", "CNC", 12,
    ),
    SampleEnterprise(
        "91320500MA1Y7P00", "苏州示例精密部件有限公司", "320500", "C3484", "王芳",
        "88.100.2", "sz-admin", "https://sz-parts.example.com", "SP-120", "SPINDLE", 8,
    ),
    # Registered but not yet verified: a prefix cannot be allocated until it passes real-name review.
    SampleEnterprise(
        "91330200MA2H3R00", "宁波示例注塑机械有限公司", "330200", "C3523", "李强",
        None, None, "", "", "", 0,
    ),
)  # fmt: skip


def seed(state: AppState, data_dir: Path) -> None:
    """Add the samples once (a second run leaves existing data alone), then say what to try."""
    front = state.hierarchy.front
    lines: list[str] = []
    for sample in ENTERPRISES:
        ent = _enterprise(state, sample)
        if sample.prefix is None:
            continue
        lines += _prefix(front, sample, ent)
        lines += _admin_user(state, sample, ent)
    _template(state)
    for sample in ENTERPRISES:
        if sample.prefix is not None:
            _identifiers(state, sample)
    path = data_dir / CREDENTIALS_FILE
    if lines:
        _append_private(path, lines)
    _say_what_to_try(state, data_dir, path)


def _enterprise(state: AppState, s: SampleEnterprise) -> core.Enterprise:
    with state.engine.begin() as conn:
        try:
            return core.get_enterprise(conn, s.uscc)
        except core.NotFound:
            return core.create_enterprise(
                conn,
                uscc=s.uscc,
                name=s.name,
                actor=ACTOR,
                legal_representative=s.legal_representative,
                contact="demo@example.com",
                industry_code=s.industry_code,
                region=s.region,
                verified=s.prefix is not None,
            )


def _prefix(front: ids.Node, s: SampleEnterprise, ent: core.Enterprise) -> list[str]:
    assert s.prefix is not None
    if any(a.prefix == s.prefix for a in ids.list_allocations(front.engine)):
        return []
    alloc = ids.allocate(front, s.prefix, ent, actor=ACTOR)
    return [
        f"[prefix {alloc.prefix}] {ent.name}",
        f"username: {alloc.username}",
        f"secret:   {alloc.secret}",
        "",
    ]


def _admin_user(state: AppState, s: SampleEnterprise, ent: core.Enterprise) -> list[str]:
    assert s.admin is not None
    with state.engine.begin() as conn:
        try:
            core.get_user(conn, s.admin)
            return []
        except core.NotFound:
            password = core.new_secret(12)
            core.create_user(
                conn,
                username=s.admin,
                password=password,
                role=core.Role.ENTERPRISE_ADMIN,
                actor=ACTOR,
                enterprise_id=ent.id,
            )
    return [
        f"[console user {s.admin}] enterprise_admin of {ent.name}",
        f"username: {s.admin}",
        f"password: {password}",
        "",
    ]


def _template(state: AppState) -> None:
    registry = state.hierarchy.front.templates
    ref = f"{TEMPLATE['name']}@{TEMPLATE['version']}"
    if any(
        t.ref == ref and t.prefix == TEMPLATE_PREFIX for t in registry.for_prefix(TEMPLATE_PREFIX)
    ):
        return
    with state.engine.begin() as conn:
        registry.add(conn, ids.parse_template(TEMPLATE_PREFIX, TEMPLATE), actor=ACTOR)


def _identifiers(state: AppState, s: SampleEnterprise) -> None:
    assert s.prefix is not None and s.admin is not None
    with state.engine.connect() as conn:
        principal = principal_for_user(state.engine, core.get_user(conn, s.admin))
    for n in range(1, s.devices + 1):
        serial = f"{s.kind[:2]}{2024 + n % 3}-{n:05d}"
        suffix = f"{s.kind}-{n:04d}"
        values = [
            _string(1, "URL", f"{s.site}/devices/{suffix}"),
            _string(2, "DESC", f"{s.name} {s.model} #{n}"),
            _string(TEMPLATE_INDEX, "TEMPLATE", f"{TEMPLATE['name']}@{TEMPLATE['version']}"),
            _string(2001, "model", s.model),
            _string(2002, "manufacturer", s.name),
            _string(2003, "serial", serial),
        ]
        try:
            state.hierarchy.front.put(f"{s.prefix}/{suffix}", values, principal, overwrite=False)
        except ids.HandleExists:
            continue


def _string(index: int, vtype: str, value: str) -> dict[str, object]:
    return {"index": index, "type": vtype, "data": {"format": "string", "value": value}}


def _append_private(path: Path, lines: list[str]) -> None:
    """Append to a file only its owner can read (created 0600, kept 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        if new:
            f.write(
                "# Indunet demo credentials, generated by `indunet demo`. Keep this file private.\n\n"
            )
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def _say_what_to_try(state: AppState, data_dir: Path, credentials: Path) -> None:
    url = state.settings.base_url()
    h = "88.100.1/CNC-0001"
    prefixes = [s for s in ENTERPRISES if s.prefix]
    typer.echo(
        f"Sample data: {len(ENTERPRISES)} enterprises, prefixes "
        f"{' and '.join(str(s.prefix) for s in prefixes)}, template device@1.0 on "
        f"{TEMPLATE_PREFIX}, {sum(s.devices for s in prefixes)} identifiers."
    )
    if credentials.exists():
        typer.echo(f"Demo credentials (mode 0600): {credentials}")
        typer.echo(
            f"  Handle API user {ids.admin_username('88.100.1')} and its secret key; "
            "console users xm-admin, sz-admin"
        )
    else:
        typer.echo(
            f"Demo credentials: {credentials} is missing; they were written when first seeded"
        )
    typer.echo("What to open and what to try:")
    typer.echo(f"  console           {url}/  (log in as admin, or xm-admin)")
    typer.echo(f"  resolve over HTTP curl {url}/api/handles/{h}")
    typer.echo(f"  see the referrals curl {url}/api/v1/resolve/{h}")
    typer.echo(f"  resolve locally   indunet id resolve {h} --data-dir {data_dir}")
    typer.echo(f"  API docs          {url}/docs")
