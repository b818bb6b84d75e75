"""Prometheus exposition: identifier nodes, and the platform's devices, connectors and ingest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, get_args

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from indunet import core, devices, telemetry
from indunet.core.plugins import loader
from indunet.web import subsystems
from indunet.web.deps import StateDep
from indunet.web.platform import Platform
from indunet.web.state import AppState

router = APIRouter(tags=["metrics"])

Labels = Mapping[str, str]

# Pipeline counters: stats() key, metric name, type, help.
_PIPELINE = (
    ("accepted", "indunet_ingest_samples_accepted_total", "counter", "Samples accepted by the ingest pipeline."),
    ("stored", "indunet_ingest_samples_stored_total", "counter", "Samples written to the time-series store."),
    ("queued", "indunet_ingest_queued_samples", "gauge", "Samples waiting in memory to be written."),
    ("buffering", "indunet_ingest_buffering", "gauge", "1 while batches go to the disk buffer."),
    ("buffered", "indunet_ingest_buffer_samples", "gauge", "Samples held by the disk buffer."),
    ("buffered_total", "indunet_ingest_buffered_samples_total", "counter", "Samples ever written to the disk buffer."),
    ("buffer_rows", "indunet_ingest_buffer_rows", "gauge", "Batches held by the disk buffer."),
    ("buffer_bytes", "indunet_ingest_buffer_bytes", "gauge", "Bytes held by the disk buffer."),
    ("buffer_max_bytes", "indunet_ingest_buffer_max_bytes", "gauge", "Size of the disk buffer at which ingest refuses samples."),
    ("overloaded", "indunet_ingest_overloaded_total", "counter", "Submissions refused because the buffer was full."),
    ("batches", "indunet_ingest_batches_total", "counter", "Batches written to the store."),
    ("write_seconds", "indunet_ingest_write_seconds_total", "counter", "Time spent writing batches to the store."),
    ("store_failures", "indunet_ingest_store_failures_total", "counter", "Store writes that failed (their batches went to the buffer)."),
    ("on_stored_errors", "indunet_ingest_on_stored_errors_total", "counter", "Failures of the rule engine's feed of stored samples."),
    ("on_stored_dropped", "indunet_ingest_on_stored_dropped_total", "counter", "Stored samples the rule engine skipped because it was behind."),
)  # fmt: skip

# Rule engine counters: RuleStats field, metric name, help.
_RULES = (
    ("evaluations", "indunet_rules_evaluations_total", "Rule conditions evaluated."),
    ("not_evaluable", "indunet_rules_not_evaluable_total", "Evaluations skipped: a point was missing or of the wrong type."),
    ("raised", "indunet_rules_alarms_raised_total", "Alarms raised by rules."),
    ("cleared", "indunet_rules_alarms_cleared_total", "Alarms cleared by rules."),
    ("errors", "indunet_rules_errors_total", "Rule engine failures."),
)  # fmt: skip

_BREAKER_STATES = ("failing", "open", "half_open")

# Who the metrics endpoint counts alarms as: everyone's alarms, like a platform admin.
_OVERSEER = core.User(id=0, username="metrics", role=core.Role.PLATFORM_ADMIN, enterprise_id=None)


def _value(v: float | bool) -> str:
    """A sample value in exposition format."""
    if isinstance(v, bool | int):
        return str(int(v))
    return repr(float(v))


def _label(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Exposition:
    """Prometheus text format, built family by family."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self, name: str, kind: str, text: str, samples: Iterable[tuple[Labels, float | bool]]
    ) -> None:
        """One metric family: HELP and TYPE lines, then its samples."""
        self.lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for labels, v in samples:
            inner = ",".join(f'{k}="{_label(str(x))}"' for k, x in labels.items())
            self.lines.append(f"{name}{{{inner}}} {_value(v)}" if inner else f"{name} {_value(v)}")

    def text(self) -> str:
        """The whole exposition."""
        return "\n".join(self.lines) + "\n"


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: StateDep) -> str:
    """Identifier nodes and, when this process runs the platform, its devices, connectors,
    ingest pipeline, rules and open alarms, in Prometheus text format."""
    out = Exposition()
    for sub in subsystems.active(state.platform is not None):
        if sub.metrics is not None:
            out.lines += loader(sub.metrics)(state)
    return out.text()


def ids_lines(state: AppState) -> list[str]:
    """The identifier subsystem's metrics (its descriptor names this function)."""
    lines: list[str] = []
    _ids(lines, state)
    return lines


def platform_lines(state: AppState) -> list[str]:
    """The platform's metrics, when this process runs it (its descriptor names this)."""
    out = Exposition()
    if state.platform is not None:
        platform_metrics(out, state.platform)
    return out.lines


def _ids(lines: list[str], state: AppState) -> None:
    """Counters, cache and latency histogram of every identifier node."""
    lines += [
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
    lines += [
        "# HELP indunet_ids_answer_cache_lookups_total Lookups in a node's cache of its own"
        " answers, by result.",
        "# TYPE indunet_ids_answer_cache_lookups_total counter",
    ]
    for name, node in nodes.items():
        a = node.answers
        lines.append(
            f'indunet_ids_answer_cache_lookups_total{{node="{name}",result="hit"}} {a.hits}'
        )
        lines.append(
            f'indunet_ids_answer_cache_lookups_total{{node="{name}",result="miss"}} {a.misses}'
        )
    lines += [
        "# HELP indunet_ids_answer_cache_entries Answers a node holds about its own records.",
        "# TYPE indunet_ids_answer_cache_entries gauge",
    ]
    for name, node in nodes.items():
        lines.append(f'indunet_ids_answer_cache_entries{{node="{name}"}} {len(node.answers)}')
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
    guard = state.hierarchy.transport.guard()
    if guard is not None:
        sites = guard.summary()
        lines += [
            "# HELP indunet_ids_site_breakers Other nodes' sites by breaker state (failing: "
            "closed with recent failures).",
            "# TYPE indunet_ids_site_breakers gauge",
            *(f'indunet_ids_site_breakers{{state="{k}"}} {sites[k]}' for k in _BREAKER_STATES),
            "# HELP indunet_ids_site_breaker_openings_total Times a site's breaker opened.",
            "# TYPE indunet_ids_site_breaker_openings_total counter",
            f"indunet_ids_site_breaker_openings_total {sites['opened']}",
            "# HELP indunet_ids_site_refusals_total Requests to other nodes refused without being "
            "sent: breaker open, or too many waiting for the site.",
            "# TYPE indunet_ids_site_refusals_total counter",
            f'indunet_ids_site_refusals_total{{reason="site_open"}} {sites["shed_open"]}',
            f'indunet_ids_site_refusals_total{{reason="site_busy"}} {sites["shed_busy"]}',
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


def platform_metrics(out: Exposition, platform: Platform) -> None:
    """Devices by protocol and status, connector health, ingest, rules and open alarms."""
    statuses: tuple[str, ...] = get_args(devices.Status)
    counts: dict[tuple[str, str], int] = {(p, s): 0 for p in devices.PROTOCOLS for s in statuses}
    for d in platform.devices.list():
        counts[d.protocol, d.status] = counts.get((d.protocol, d.status), 0) + 1
    out.family(
        "indunet_devices",
        "gauge",
        "Registered devices by protocol and status.",
        (({"protocol": p, "status": s}, n) for (p, s), n in sorted(counts.items())),
    )
    _connectors(out, platform)
    _pipeline(out, platform.pipeline.stats())
    rules = platform.rules.stats
    for field, name, text in _RULES:
        out.family(name, "counter", text, [({}, getattr(rules, field))])
    open_alarms = platform.alarms.counts(_OVERSEER)
    out.family(
        "indunet_alarms_open",
        "gauge",
        "Alarms not closed yet (active, acknowledged or cleared awaiting acknowledgement), by severity.",
        (({"severity": sev}, n) for sev, n in open_alarms.items()),
    )


def _connectors(out: Exposition, platform: Platform) -> None:
    health = sorted(platform.connectors.health(), key=lambda h: h.protocol)
    for attr, name, kind, text in (
        ("connected", "indunet_connector_connected", "gauge", "Devices or sessions online."),
        ("devices", "indunet_connector_devices", "gauge", "Devices served by the connector."),
        ("reconnects", "indunet_connector_reconnects_total", "counter", "Reconnections."),
        ("errors", "indunet_connector_errors_total", "counter", "Protocol and device errors."),
    ):
        out.family(name, kind, text, (({"protocol": h.protocol}, getattr(h, attr)) for h in health))


def _pipeline(out: Exposition, stats: Mapping[str, Any]) -> None:
    dead: Mapping[str, int] = stats.get("dead_lettered", {})
    reasons = sorted(set(telemetry.REASONS) | set(dead))
    out.family(
        "indunet_ingest_dead_letters_total",
        "counter",
        "Samples and payloads set aside as dead letters, by reason.",
        (({"reason": r}, dead.get(r, 0)) for r in reasons),
    )
    for key, name, kind, text in _PIPELINE:
        if key in stats:
            out.family(name, kind, text, [({}, stats[key])])
