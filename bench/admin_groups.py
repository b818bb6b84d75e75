"""What an admin group costs a write over an identity the HS_ADMIN value names itself.

    python bench/admin_groups.py [N]

An embedded hierarchy on SQLite in a temporary directory. Record ``88.100.1/doc`` has two
HS_ADMIN values: one names ``300:88.100.1/direct`` (the baseline writer), the other the
group ``88.100.1/g1`` index 1, which lists 20 identities and ``g2``; ``g2`` lists 20 and
``g3``; ``g3`` lists 20 and ``300:88.100.1/member``: three nested lists, four records read
per write. Each round writes ``ROUND`` times one URL value (``index=1``) as the direct admin,
as the member, and as an outsider (listed nowhere: the walk reads every list and refuses).
Then the bounded worst case of one walk in memory (256 lists of 39 members, no database).
Rounds alternate so all see the same machine load. Prints medians, ratios and the load.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from indunet import core, ids
from indunet.core import Settings
from indunet.ids import NotAuthorized
from indunet.ids.groups import MAX_LOOKUPS, MAX_MEMBERS, find
from indunet.ids.values import parse_value
from indunet.web import build_state
from indunet.web.app import open_database

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
ROUND = 100
DEFAULT = "011111110011"


def _group(index: int, *members: tuple[str, int]) -> dict[str, object]:
    value = [{"handle": h, "index": i} for h, i in members]
    return {"index": index, "type": "HS_VLIST", "data": {"format": "vlist", "value": value}}


def _admin(index: int, handle: str, admin_index: int) -> dict[str, object]:
    value = {"handle": handle, "index": admin_index, "permissions": DEFAULT}
    return {"index": index, "type": "HS_ADMIN", "data": {"format": "admin", "value": value}}


def worst_walk_ms() -> float:
    per = MAX_MEMBERS // MAX_LOOKUPS
    records = {
        f"88.100.1/W{i}": [parse_value(_group(1, *((f"88.100.1/M{i}-{j}", 0) for j in range(per))))]
        for i in range(MAX_LOOKUPS)
    }
    refs = [(f"88.100.1/W{i}", 1) for i in range(MAX_LOOKUPS)]
    t0 = time.perf_counter()
    find((300, "88.100.1/NOBODY"), refs, lambda keys: {k: records[k] for k in keys if k in records})
    return (time.perf_counter() - t0) * 1e3


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="groups-bench-"))
    settings = Settings(data_dir=data, port=8000)
    engine = open_database(settings)
    state = build_state(settings, engine=engine, platform=False)
    node = state.hierarchy.front
    with engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc=core.make_uscc("91350200MA3K7LL2"), name="bench", actor="b", verified=True
        )
    ids.allocate(node, "88.100.1", ent, actor="b", secret="bench-secret-123")
    for who in ("direct", "member", "outsider"):
        key = {"index": 300, "type": "HS_SECKEY", "data": f"{who}-secret-1"}
        node.put(f"88.100.1/{who}", [key], ids.OPERATOR)
    crowd = [(f"88.100.1/p{i}", 300) for i in range(20)]
    node.put("88.100.1/g3", [_group(1, *crowd, ("88.100.1/member", 300))], ids.OPERATOR)
    node.put("88.100.1/g2", [_group(1, *crowd, ("88.100.1/g3", 1))], ids.OPERATOR)
    node.put("88.100.1/g1", [_group(1, *crowd, ("88.100.1/g2", 1))], ids.OPERATOR)
    node.put(
        "88.100.1/doc",
        [_admin(100, "88.100.1/direct", 300), _admin(101, "88.100.1/g1", 1)],
        ids.OPERATOR,
    )
    who = {
        w: node.authenticate(f"300:88.100.1/{w}", f"{w}-secret-1")
        for w in ("direct", "member", "outsider")
    }
    times: dict[str, list[float]] = {"direct admin": [], "group member": [], "outsider": []}
    names = dict(zip(times, who.values(), strict=True))
    walks = []
    for r in range(N // ROUND):
        for name, principal in names.items():
            for j in range(ROUND):
                url = [{"index": 1, "type": "URL", "data": f"https://example.cn/{r}/{j}"}]
                t0 = time.perf_counter()
                try:
                    node.put("88.100.1/doc", url, principal, indices=[1])
                except NotAuthorized:
                    assert name == "outsider"
                times[name].append(time.perf_counter() - t0)
        walks.append(worst_walk_ms())
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    base = med["direct admin"]
    print(f"{N} writes each, SQLite, median per write (ms), load average {os.getloadavg()[0]:.2f}")
    for k, v in med.items():
        print(f"  {k:13s} {v:6.3f} ms   ratio to the direct admin {v / base:.2f}")
    print(
        f"  worst bounded walk in memory ({MAX_LOOKUPS} lists, {MAX_MEMBERS} members): "
        f"{statistics.median(walks):.1f} ms (median of {len(walks)})"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
