"""Turns bench/results/*.json into Markdown tables (bench/results/summary.md).

python bench/report.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common import RESULTS


def _ok(flag: bool) -> str:
    return "pass" if flag else "**FAIL**"


def _head(r: dict[str, Any]) -> str:
    m = r["machine"]
    return (
        f"{r['date']}, {m['cores']} cores ({m['cpu']}), Python {m['python']}, speed reference "
        f"{m.get('speed_ref_ms', '?')} ms. "
        f"Command: `{r['command']}`\n\n"
    )


def http_resolution(r: dict[str, Any]) -> str:
    """Table of benchmark 1."""
    return (
        "### 1. HTTP resolution, recursive node, hot cache\n\n"
        + _head(r)
        + f"Load: `{r['load_tool']}` for throughput, bench/loadgen.py (open loop) for the fixed "
        f"rate; {r['connections']} keep-alive connections; {r['ids']:,} identifiers rotated.\n\n"
        "| figure | recursive node | baseline (bare Starlette) | ratio | target | result |\n"
        "| --- | ---: | ---: | ---: | --- | --- |\n"
        f"| throughput, req/s (median of {len(r['rounds']['node'])} rounds) | "
        f"{r['node_rps']:,.0f} | {r['baseline_rps']:,.0f} | {r['ratio']:.2f} | >= 0.6 | "
        f"{_ok(r['ratio_pass'])} |\n"
        f"| p50 at {r['fixed_rate_rps']:,} req/s, ms | {r['node_p50_ms']:.2f} | "
        f"{r['baseline_p50_ms']:.2f} | {r['node_p50_ms'] / r['baseline_p50_ms']:.2f} | | |\n"
        f"| p99 at {r['fixed_rate_rps']:,} req/s, ms | {r['node_p99_ms']:.2f} | "
        f"{r['baseline_p99_ms']:.2f} | {r['node_p99_ms'] / r['baseline_p99_ms']:.2f} | < 10 ms | "
        f"{_ok(r['p99_pass'])} |\n\n"
    )


def cold_resolution(r: dict[str, Any]) -> str:
    """Table of benchmark 2."""
    c, d, v = r["cold"], r["direct_one_hop"], r["via_recursive_fresh"]
    return (
        "### 2. Cold-cache resolution through the hierarchy (separate processes)\n\n"
        + _head(r)
        + f"{r['rounds']} rounds x {r['ids']} identifiers; p50/p99 are medians over rounds.\n\n"
        "| figure | p50 ms | p99 ms | ratio p50 to baseline | target | result |\n"
        "| --- | ---: | ---: | ---: | --- | --- |\n"
        f"| cold resolver: root -> 88 -> 88.100 (3 hops, 2 referrals) | {c['p50_ms']:.2f} | "
        f"{c['p99_ms']:.2f} | {r['ratio_p50_cold_to_direct']:.2f} | p50 < 5 ms | "
        f"{_ok(r['p50_pass'])} |\n"
        f"| baseline: direct GET from the secondary (1 hop) | {d['p50_ms']:.2f} | "
        f"{d['p99_ms']:.2f} | 1.00 | | |\n"
        f"| recursive node over HTTP, `?auth=true`, referrals cached | {v['p50_ms']:.2f} | "
        f"{v['p99_ms']:.2f} | {v['p50_ms'] / d['p50_ms']:.2f} | | |\n\n"
    )


def bulk(r: dict[str, Any]) -> str:
    """Tables of benchmarks 3 and 4."""
    db = r["database"]
    out = (
        f"### Bulk registration and resolution at scale ({db})\n\n"
        + _head(r)
        + f"{r['total']:,} identifiers imported in files of {r['chunk']:,}; figures are medians "
        "over the files.\n\n"
        "| figure | import_file | baseline (raw executemany, bare table) | ratio | target | result |\n"
        "| --- | ---: | ---: | ---: | --- | --- |\n"
        f"| identifiers/s | {r['import_rate']:,.0f} | {r['raw_rate']:,.0f} | {r['ratio']:.3f} | "
        f">= 30,000 | {_ok(r['rate_pass'])} |\n\n"
        f"| resolution latency | {r['small']:,} ids p50 / p99 ms | {r['total']:,} ids p50 / p99 ms "
        f"| ratio p50 / p99 | target | result |\n"
        "| --- | ---: | ---: | ---: | --- | --- |\n"
    )
    for kind, label in (
        ("resolve_in_process", "`node.resolve` in-process"),
        ("resolve_http", "HTTP GET, front node"),
    ):
        c = r[kind]
        out += (
            f"| {label} | {c['small']['p50_ms']:.3f} / {c['small']['p99_ms']:.3f} | "
            f"{c['big']['p50_ms']:.3f} / {c['big']['p99_ms']:.3f} | {c['ratio_p50']:.2f} / "
            f"{c['ratio_p99']:.2f} | p50 ratio <= {r['ratio_limit']} | {_ok(c['pass'])} |\n"
        )
    return out + "\n"


RENDER = {
    "http_resolution": http_resolution,
    "cold_resolution": cold_resolution,
    "bulk_registration_sqlite": bulk,
    "bulk_registration_postgresql": bulk,
}


def render() -> str:
    """Markdown for every result present."""
    parts = ["# Benchmark results\n\n"]
    for name, fn in RENDER.items():
        path = RESULTS / f"{name}.json"
        if path.exists():
            parts.append(fn(json.loads(path.read_text())))
    return "".join(parts)


def main() -> None:
    """Write bench/results/summary.md."""
    out = Path(RESULTS / "summary.md")
    out.write_text(render())
    print(f"written {out}")


if __name__ == "__main__":
    main()
