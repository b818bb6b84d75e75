"""Prometheus exposition of per-node statistics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from indunet.web.deps import StateDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: StateDep) -> str:
    """Counters, cache and latency histogram of every node, in Prometheus text format."""
    lines = [
        "# HELP indunet_ids_resolutions_total Identifier resolutions answered by a node.",
        "# TYPE indunet_ids_resolutions_total counter",
    ]
    nodes = state.hierarchy.nodes
    for name, node in nodes.items():
        lines.append(
            f'indunet_ids_resolutions_total{{node="{name}",role="{node.role}"}} {node.stats.resolutions}'
        )
    lines += [
        "# HELP indunet_ids_registrations_total Identifier writes on a node.",
        "# TYPE indunet_ids_registrations_total counter",
    ]
    for name, node in nodes.items():
        lines.append(f'indunet_ids_registrations_total{{node="{name}"}} {node.stats.registrations}')
    resolver = state.hierarchy.resolver
    if resolver is not None:
        c = resolver.answers
        lines += [
            "# HELP indunet_ids_cache_lookups_total Recursive cache lookups by result.",
            "# TYPE indunet_ids_cache_lookups_total counter",
            f'indunet_ids_cache_lookups_total{{result="hit"}} {c.hits}',
            f'indunet_ids_cache_lookups_total{{result="miss"}} {c.misses}',
            "# HELP indunet_ids_cache_entries Answers held by the recursive cache.",
            "# TYPE indunet_ids_cache_entries gauge",
            f"indunet_ids_cache_entries {len(c)}",
        ]
    lines += [
        "# HELP indunet_ids_resolution_seconds Time to answer a resolution.",
        "# TYPE indunet_ids_resolution_seconds histogram",
    ]
    for name, node in nodes.items():
        buckets = node.stats.latency_buckets()
        for upper, count in buckets:
            lines.append(
                f'indunet_ids_resolution_seconds_bucket{{node="{name}",le="{upper:.6g}"}} {count}'
            )
        lines.append(
            f'indunet_ids_resolution_seconds_bucket{{node="{name}",le="+Inf"}} {node.stats.resolutions}'
        )
        lines.append(
            f'indunet_ids_resolution_seconds_sum{{node="{name}"}} {node.stats.seconds_total:.6f}'
        )
        lines.append(
            f'indunet_ids_resolution_seconds_count{{node="{name}"}} {node.stats.resolutions}'
        )
    return "\n".join(lines) + "\n"
