"""Vulnerability matching over the whole CISA CSAF OT corpus against 1,000 generated assets.

    git clone https://github.com/cisagov/CSAF /tmp/CSAF    # or: git -C <mirror> archive HEAD csaf_files | tar -x -C /tmp/csaf
    python bench/security_vulns.py --corpus /tmp/CSAF/csaf_files/OT/white [--assets 1000] [--rounds 3]

Figures (medians of --rounds rounds, except schema validation, run once: it is the slowest):

- baseline: ``orjson.loads`` of every file (the floor of reading the corpus at all);
- load: read + `read_advisory` (product tree walk) of every file;
- schema: the CSAF 2.0 schema check of every file (a separate figure; not in "full match");
- full match: building the index of every advisory + matching 1,000 assets (target < 30 s);
- one new advisory: indexing one advisory and matching it against the 1,000 assets (target < 1 s).

Assets are drawn from the corpus's own product trees (vendor spelled another way: aliases, case,
legal suffixes; product name; a firmware inside, at or outside the range) plus 20 % noise
(vendors and products that are in no advisory). Database writes are not included.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import orjson

from indunet.security.vulns.document import Advisory, read_advisory
from indunet.security.vulns.matcher import AdvisoryIndex, AssetFacts, match
from indunet.security.vulns.schema import problems

SPELLINGS = {
    "Siemens": ["西门子", "SIEMENS AG", "Siemens"],
    "Schneider Electric": ["施耐德", "Schneider Electric SE"],
    "Rockwell Automation": ["Allen-Bradley", "罗克韦尔"],
    "Mitsubishi Electric": ["三菱电机", "Mitsubishi Electric Corporation"],
    "Yokogawa": ["横河", "YOKOGAWA"],
    "Moxa": ["Moxa Inc.", "摩莎"],
}
NOISE_VENDORS = ["汇川", "台达", "Acme Widgets Co., Ltd.", "大华", "B&R", "Hollysys"]


def files_of(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.glob("*/*.json"))


def timed(fn, rounds: int) -> tuple[float, list[float], object]:  # type: ignore[no-untyped-def]
    times = []
    out = None
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, out


def make_assets(advisories: list[Advisory], n: int, seed: int = 12) -> list[AssetFacts]:
    rng = random.Random(seed)
    products = [p for a in advisories for p in a.products if p.vendor and p.product]
    assets: list[AssetFacts] = []
    for i in range(n):
        if rng.random() < 0.2:
            assets.append(
                AssetFacts(
                    i + 1,
                    1 + i % 5,
                    rng.choice(NOISE_VENDORS),
                    f"Controller X{rng.randint(100, 999)}",
                    f"V{rng.randint(1, 9)}.{rng.randint(0, 9)}",
                )
            )
            continue
        p = rng.choice(products)
        vendor = rng.choice(SPELLINGS.get(p.vendor or "", [p.vendor or ""]))
        version = _version_near(p.version or "", rng)
        models = list(p.model_numbers[:1]) if p.model_numbers and rng.random() < 0.5 else []
        assets.append(
            AssetFacts(i + 1, 1 + i % 5, vendor, p.product, version, model_numbers=models)
        )
    return assets


def _version_near(text: str, rng: random.Random) -> str:
    import re

    numbers = re.findall(r"\d+(?:\.\d+)+", text)
    if not numbers:
        return f"V{rng.randint(1, 5)}.{rng.randint(0, 9)}"
    parts = [int(x) for x in rng.choice(numbers).split(".")]
    parts[-1] = max(0, parts[-1] + rng.choice([-1, 0, 1]))
    return "V" + ".".join(map(str, parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, required=True, help="a CISA csaf_files/OT/white directory"
    )
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-schema", action="store_true", help="skip the (slow) schema figure")
    parser.add_argument(
        "--db", action="store_true", help="also time upload + re-match with SQLite writes"
    )
    args = parser.parse_args()
    files = files_of(args.corpus)
    if not files:
        sys.exit(f"no YYYY/*.json under {args.corpus}")
    load_before = os.getloadavg()
    print(
        f"corpus: {len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB; load {load_before}"
    )

    base_s, _, docs = timed(lambda: [orjson.loads(p.read_bytes()) for p in files], args.rounds)
    load_s, _, advisories = timed(
        lambda: [read_advisory(orjson.loads(p.read_bytes())) for p in files], args.rounds
    )
    assert isinstance(advisories, list) and isinstance(docs, list)
    print(f"baseline orjson.loads of every file: {base_s:.2f} s")
    print(f"load (read + product tree walk):     {load_s:.2f} s  ({load_s / base_s:.1f}x baseline)")
    if not args.no_schema:
        t = time.perf_counter()
        bad = sum(1 for d in docs if problems(d, limit=1))
        schema_s = time.perf_counter() - t
        print(
            f"schema check of every file:          {schema_s:.2f} s  ({schema_s / base_s:.1f}x baseline; {bad} failed)"
        )
    assets = make_assets(advisories, args.assets)

    def full() -> list:  # type: ignore[type-arg]
        index = AdvisoryIndex()
        for i, a in enumerate(advisories):
            index.add(i, a)
        return match(index, assets)

    full_s, full_all, candidates = timed(full, args.rounds)
    assert isinstance(candidates, list)
    found = len(candidates)
    per_advisory: dict[int, int] = {}
    for c in candidates:
        per_advisory[c.advisory_id] = per_advisory.get(c.advisory_id, 0) + 1
    print(
        f"full match ({len(assets)} assets, index included): {full_s:.2f} s  ({full_s / base_s:.1f}x baseline); {found} matches; rounds {[round(x, 2) for x in full_all]}"
    )
    print(f"  target < 30 s: {'met' if full_s < 30 else 'NOT met'}")

    newest = max(
        range(len(advisories)),
        key=lambda i: (advisories[i].current_release, len(advisories[i].products)),
    )
    big = max(range(len(advisories)), key=lambda i: len(advisories[i].products))

    def one(i: int) -> int:
        index = AdvisoryIndex()
        index.add(i, advisories[i])
        return len(match(index, assets))

    busiest = max(per_advisory, key=lambda i: per_advisory[i]) if per_advisory else newest
    for label, i in (("newest", newest), ("largest", big), ("most matches", busiest)):
        s, _times, n = timed(lambda i=i: one(i), max(5, args.rounds))
        print(
            f"one new advisory ({label}: {advisories[i].tracking_id}, {len(advisories[i].products)} products) vs {len(assets)} assets: {s * 1000:.1f} ms; {n} matches"
        )
        print(f"  target < 1 s: {'met' if s < 1 else 'NOT met'}")
    if args.db:
        with_database(
            args.corpus,
            advisories,
            assets,
            [advisories[busiest].tracking_id, advisories[big].tracking_id],
        )
    print(f"load average after: {os.getloadavg()} (2-core machine shared with other work)")


def with_database(
    corpus: Path, advisories: list[Advisory], assets: list[AssetFacts], ids: list[str]
) -> None:
    """End to end on a fresh SQLite database: upload (schema, store) + re-match + write, then a
    re-match that updates every row."""
    import tempfile

    from indunet import core
    from indunet.security import Vulnerabilities
    from indunet.web import open_database

    engine = open_database(core.Settings(data_dir=Path(tempfile.mkdtemp())))
    with engine.begin() as conn:
        e = core.create_enterprise(
            conn,
            uscc=core.make_uscc("91350200MA01ABCD"),
            name="bench",
            actor="bench",
            verified=True,
        )
    mine = [
        AssetFacts(a.id, e.id, a.vendor, a.product, a.version, model_numbers=a.model_numbers)
        for a in assets
    ]
    vulns = Vulnerabilities(
        engine,
        None,
        lambda wanted: mine if wanted is None else [a for a in mine if a.id in set(wanted)],
    )
    root = core.User(0, "bench", core.Role.PLATFORM_ADMIN, None)
    for tracking in ids:
        year = "20" + tracking.split("-")[1]
        path = corpus / year / f"{tracking.lower()}.json"
        t = time.perf_counter()
        report = vulns.import_bytes(root, path.name, path.read_bytes())
        first = time.perf_counter() - t
        stored = vulns.advisories(q=tracking.lower())[0][0]["id"]
        t = time.perf_counter()
        again = vulns.matching.rematch_advisories([stored])
        second = time.perf_counter() - t
        print(
            f"with SQLite, {tracking}: upload + schema + store + re-match + insert {report.matches.inserted if report.matches else 0} rows: "
            f"{first * 1000:.0f} ms; re-match updating {again.updated} rows: {second * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
