"""A node announces its sites to its parent: HS_SITE values of ``0.NA/<prefix>`` there.

Every site keeps an index of its own, so mirrors of one prefix can announce themselves one
after another: a URL already published stays where it is (restarting a node changes
nothing), a new one takes the next free index from ``FIRST_SITE_INDEX`` and is primary only
if the prefix had no site yet (never for a disaster-recovery copy: ``primary=False``). Values are added with ``overwrite=false``; if another node
took the same index in the meantime, the next free one is tried, ``MAX_ATTEMPTS`` times.
The node authenticates as the prefix's admin (``admin_username``), the one identity besides
the parent's operator that may change the prefix's delegation.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import httpx

from indunet.core import IndunetError
from indunet.ids.prefixes import admin_username
from indunet.ids.values import FIRST_SITE_INDEX, SITE_TYPE

MAX_ATTEMPTS = 10
TIMEOUT = 10.0


class AnnounceFailed(IndunetError):
    """The parent refused or did not answer the announcement."""

    code = "announce_failed"
    status = 502


def announce(
    parent: str,
    prefix: str,
    secret: str,
    sites: Sequence[str],
    *,
    client: httpx.Client | None = None,
    primary: bool = True,
) -> list[str]:
    """Publish ``sites`` for ``prefix`` at ``parent``; return the URLs newly published.

    ``primary=False`` never marks a site primary, even the prefix's first (a DR copy)."""
    base = f"{parent.rstrip('/')}/api/handles/0.NA/{prefix}"
    auth = (admin_username(prefix).replace(":", "%3A", 1), secret)
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT)
    added: list[str] = []
    try:
        for url in (u.rstrip("/") for u in sites):
            if _publish(http, base, auth, url, parent, primary):
                added.append(url)
    except httpx.HTTPError as exc:
        raise AnnounceFailed(f"announcing to {parent} failed: {type(exc).__name__}") from None
    finally:
        if own:
            http.close()
    return added


def _publish(
    http: httpx.Client, base: str, auth: tuple[str, str], url: str, parent: str, primary: bool
) -> bool:
    for _attempt in range(MAX_ATTEMPTS):
        current = http.get(base, params={"auth": "true"})
        if current.status_code != 200:
            _failed(parent, current)
        values = current.json().get("values", [])
        published = [v for v in values if v.get("type") == SITE_TYPE]
        if any(v["data"]["value"].get("url") == url for v in published):
            return False
        used = {int(v["index"]) for v in values}
        index = next(i for i in itertools.count(FIRST_SITE_INDEX) if i not in used)
        value = {
            "index": index,
            "type": SITE_TYPE,
            "data": {"format": "site", "value": {"url": url, "primary": primary and not published}},
        }
        resp = http.put(
            base,
            params={"index": index, "overwrite": "false"},
            json={"values": [value]},
            auth=auth,
        )
        if resp.status_code == 409:
            continue
        if resp.status_code >= 300:
            _failed(parent, resp)
        return True
    raise AnnounceFailed(f"announcing to {parent} failed: no free index")


def _failed(parent: str, resp: httpx.Response) -> None:
    raise AnnounceFailed(f"announcing to {parent} failed: HTTP {resp.status_code} {resp.text}")
