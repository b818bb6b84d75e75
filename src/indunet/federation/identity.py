"""This instance's identity in the federation: its name, level, key pair and address.

An instance is named once (lower-case letters, digits, hyphens) and has a level: enterprise,
city, province, an industry sub-centre (which ranks as a province) or national. Its key pair
is Ed25519, or SM2 with SM3 where commercial cryptography is required (``core.signing``, the
interface the identifier system's active identifiers use too); the private key is stored
sealed (``core.sealed``, the installation's secret key), the public key in clear. Its
identifier in the identifier system is ``<prefix>/inst-<name>`` (``handle_of``), holding the
public key as an HS_PUBKEY value.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

import sqlalchemy as sa

from indunet.core import sealed
from indunet.core.signing import NAMES, PrivateKey, PublicKey

from .envelope import NAME, Refused
from .tables import identity

LEVELS = ("enterprise", "city", "province", "subcentre", "national")
RANK = {"enterprise": 0, "city": 1, "province": 2, "subcentre": 2, "national": 3}
"""How high each level stands: a parent ranks above each of its children."""
MAX_URL = 500


@dataclass(frozen=True)
class Identity:
    name: str
    level: str
    title: str
    key: PrivateKey
    url: str

    @property
    def public(self) -> PublicKey:
        return self.key.public


def handle_of(name: str, prefix: str = "88.100") -> str:
    """The instance's identifier: ``<prefix>/inst-<name>``."""
    return f"{prefix}/inst-{name}"


def checked_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise Refused(
            "an instance name is 1 to 63 lower-case letters, digits or hyphens",
            "federation_name",
        )
    return name


def checked_level(level: object) -> str:
    if level not in RANK:
        raise Refused(f"level must be one of {', '.join(LEVELS)}", "federation_level")
    assert isinstance(level, str)
    return level


def init(
    engine: sa.Engine,
    name: str,
    level: str,
    url: str,
    *,
    title: str = "",
    algorithm: str = "ed25519",
) -> Identity:
    """Give this instance its identity (once: ``Refused`` if it has one)."""
    name, level = checked_name(name), checked_level(level)
    tag = NAMES.get(algorithm)
    if tag is None:
        raise Refused("algorithm must be ed25519 or sm2", "federation_algorithm")
    if (
        not isinstance(url, str)
        or not url.startswith(("http://", "https://"))
        or len(url) > MAX_URL
    ):
        raise Refused("url must be this instance's http(s) address", "federation_url")
    key = PrivateKey.generate(tag)
    sealer = sealed.for_engine(engine)
    with engine.begin() as conn:
        if conn.execute(sa.select(identity.c.name)).first() is not None:
            raise Refused("this instance has its identity already", "federation_identity_exists")
        conn.execute(
            identity.insert().values(
                id=1,
                name=name,
                level=level,
                title=(title or name)[:200],
                algorithm=tag,
                public_key=key.public.encode(),
                private_key=sealer.seal(base64.b64encode(key.raw).decode()),
                url=url.rstrip("/"),
                created=time.time(),
            )
        )
    return Identity(name, level, (title or name)[:200], key, url.rstrip("/"))


def load(engine: sa.Engine) -> Identity | None:
    """This instance's identity, or None before ``init``."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(identity)).first()
    if row is None:
        return None
    raw = base64.b64decode(sealed.for_engine(engine).open(row.private_key))
    return Identity(row.name, row.level, row.title, PrivateKey(row.algorithm, raw), row.url)
