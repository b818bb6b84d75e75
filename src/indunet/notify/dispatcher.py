"""The dispatcher: events from the bus to subscribers, grouped, paced, retried and logged.

Bus handlers only turn an event into a ``Notice`` and put it on a bounded queue (a full queue
drops and counts), so publishers (the rule engine, housekeeping) never wait on a mail server.
One task takes notices, matches them against the rules (kept in memory, reloaded in a worker
thread when they change), gathers them in ``pacing.Groups`` per (rule, device), and, when a
group's window closes, sends one digest per rule in a task of its own: quiet hours checked in
the rule's zone, the channel's rate taken, failures retried with ``pacing.Backoff``, every
step written to the delivery log in a worker thread. Duplicate events (the bus delivers at
least once) are recognised by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from indunet.core import Event, EventBus, IndunetError, NotFound
from indunet.notify.channels import Message, SendContext
from indunet.notify.destinations import DestinationRefused
from indunet.notify.notices import EVENT_TYPES, Notice, digest_subject, notice_of
from indunet.notify.pacing import Backoff, Group, Groups, Pacing, RateLimit
from indunet.notify.rules import Rule, TagsOf
from indunet.notify.store import Notifications

log = logging.getLogger(__name__)
#: Rules are read again at least this often (another process may have changed them).
RELOAD_S = 30.0
SEEN_IDS = 10_000
#: How often the delivery log is cut to ``store.MAX_LOG_ROWS``.
PRUNE_S = 3600.0
WINDOW_ENV = "INDUNET_NOTIFY_WINDOW"
_MORE = {"zh-CN": "另有 {n} 条未列出", "en": "{n} more not listed"}


def _no_tags(_device: str) -> Sequence[str]:
    return ()


def local_time(ms: int, zone: str) -> str:
    """``ms`` as ``YYYY-MM-DD HH:MM:SS`` in ``zone``."""
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def digest(rule: Rule, group: Group[Notice]) -> Message:
    """The message of a closed group, in the rule's language and zone."""
    first = group.items[0]
    lines = [n.line(rule.lang, local_time(n.time_ms, rule.zone)) for n in group.items]
    if group.count > len(group.items):
        lines.append(_MORE.get(rule.lang, _MORE["en"]).format(n=group.count - len(group.items)))
    return Message(digest_subject(first, group.count, rule.lang), tuple(lines))


class Dispatcher:
    """The notify subsystem's service (see the module docstring)."""

    def __init__(
        self,
        bus: EventBus,
        store: Notifications,
        *,
        tags_of: TagsOf = _no_tags,
        pacing: Pacing | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus, self.store, self.tags_of = bus, store, tags_of
        self.pacing = pacing or Pacing()
        self.clock = clock
        self.groups: Groups[tuple[int, str], Notice] = Groups(self.pacing.window)
        self.rate: RateLimit[int] = RateLimit(self.pacing.per_minute, self.pacing.burst)
        self.backoff = Backoff(self.pacing.backoff_base, self.pacing.backoff_cap)
        self._queue: asyncio.Queue[Notice] = asyncio.Queue(self.pacing.queue)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._rules: list[Rule] = []
        self._rules_version = -1
        self._rules_at = 0.0
        self._pruned_at = clock()
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._subscribed = False
        self.dropped = 0
        self.sent = 0
        self.failed = 0

    async def start(self) -> None:
        """Subscribe to the bus and start the dispatching task."""
        if not self._subscribed:
            for event_type in EVENT_TYPES:
                self.bus.subscribe(event_type, self.on_event)
            self._subscribed = True
        self._task = asyncio.create_task(self._run(), name="notify-dispatcher")

    async def stop(self) -> None:
        """Stop dispatching; digests still open are not sent, sends in flight are cancelled."""
        tasks = [t for t in (self._task, *self._sends) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None

    async def on_event(self, event: Event) -> None:
        """Bus handler: queue the event's notice, never waiting."""
        if self._task is None or event.id in self._seen:
            return
        self._seen[event.id] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        notice = notice_of(event)
        if notice is None:
            return
        try:
            self._queue.put_nowait(notice)
        except asyncio.QueueFull:
            self.dropped += 1

    async def _run(self) -> None:
        while True:
            try:
                await self._turn()
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken turn must not end notifications for good
                log.exception("the notification dispatcher's turn failed")
                await asyncio.sleep(1.0)

    async def _turn(self) -> None:
        due = self.groups.next_due()
        wait = RELOAD_S if due is None else max(0.0, due - self.clock())
        try:
            async with asyncio.timeout(wait):
                notice = await self._queue.get()
        except TimeoutError:
            notice = None
        if notice is not None:
            for rule in await self._current_rules():
                if rule.wants(notice, self.tags_of):
                    key = (rule.id, notice.device_id or notice.kind)
                    self.groups.add(key, notice, self.clock())
        if self.clock() - self._pruned_at > PRUNE_S:
            self._pruned_at = self.clock()
            await asyncio.to_thread(self.store.prune)
        for (rule_id, _), group in self.groups.due(self.clock()):
            found = next((r for r in self._rules if r.id == rule_id), None)
            if found is not None:
                task = asyncio.create_task(self._deliver(found, group))
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)

    async def _current_rules(self) -> list[Rule]:
        stale = self.clock() - self._rules_at > RELOAD_S
        if stale or self._rules_version != self.store.version:
            version = self.store.version
            self._rules = await asyncio.to_thread(self.store.all_rules)
            self._rules_version, self._rules_at = version, self.clock()
        return self._rules

    async def _deliver(self, rule: Rule, group: Group[Notice]) -> None:
        try:
            info, channel = await asyncio.to_thread(self.store.open_channel, rule.channel_id)
        except NotFound:
            return  # the channel was deleted with its rules meanwhile
        first = group.items[0]
        message = digest(rule, group)
        quiet = rule.quiet_at(datetime.now(UTC))
        delivery = await asyncio.to_thread(
            self.store.log,
            rule,
            info,
            first.kind,
            first.device_id,
            message.subject,
            group.count,
            "quiet" if quiet else "pending",
        )
        if quiet:
            return
        attempts = self.pacing.attempts
        for attempt in range(1, attempts + 1):
            wait = self.rate.take(info.id, self.clock())
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await channel.send(message)
            except Exception as exc:  # a channel's bug must still end in the log, not hang
                if not isinstance(exc, IndunetError):
                    log.exception("channel %s failed unexpectedly", info.id)
                final = attempt == attempts or isinstance(exc, DestinationRefused)
                status = "failed" if final else "retrying"
                await asyncio.to_thread(self.store.logged, delivery, status, attempt, *_why(exc))
                if final:
                    self.failed += 1
                    return
                await asyncio.sleep(self.backoff.delay(attempt))
            else:
                await asyncio.to_thread(self.store.logged, delivery, "sent", attempt, None)
                self.sent += 1
                return

    def metrics(self) -> dict[str, int]:
        """Counters since start."""
        return {"sent": self.sent, "failed": self.failed, "dropped": self.dropped}


def _why(exc: Exception) -> tuple[str, str | None, dict[str, Any] | None]:
    """What the delivery log keeps of a failed send: English text, reason, params."""
    if isinstance(exc, IndunetError):
        return exc.message, exc.reason, dict(exc.params)
    return type(exc).__name__, None, None


async def send_test(store: Notifications, channel_id: int, lang: str) -> int:
    """Send a test message through a channel (already checked visible), logged as ``test``;
    the id of its row in the delivery log, which says whether it went out and why not."""
    info, channel = await asyncio.to_thread(store.open_channel, channel_id)
    subject = {"zh-CN": "Indunet 测试通知", "en": "Indunet test notification"}.get(
        lang, "Indunet test notification"
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    message = Message(subject, (f"{info.name} · {when}",))
    delivery = await asyncio.to_thread(store.log, None, info, "test", None, subject, 1)
    try:
        await channel.send(message)
    except IndunetError as exc:
        await asyncio.to_thread(store.logged, delivery, "failed", 1, *_why(exc))
    else:
        await asyncio.to_thread(store.logged, delivery, "sent", 1, None)
    return delivery


def from_state(state: Any) -> Dispatcher:
    """The descriptor's service factory: the app state's bus of events handled once per
    installation (``AppState.bus_once``) and engine, device tags from the platform's registry
    (in memory) when it runs in this process."""
    platform = state.services.get("platform")
    registry = getattr(platform, "devices", None)

    def tags_of(device_id: str) -> Sequence[str]:
        device = registry.lookup(device_id) if registry is not None else None
        return tuple(device.tags) if device is not None else ()

    store = Notifications(state.engine, SendContext())
    return Dispatcher(state.bus_once, store, tags_of=tags_of, pacing=pacing_from_env())


def pacing_from_env() -> Pacing:
    """``Pacing`` with the grouping window of ``INDUNET_NOTIFY_WINDOW`` (seconds, 1 to 3,600;
    30 when unset or unreadable)."""
    default = Pacing().window
    try:
        window = float(os.environ.get(WINDOW_ENV, "") or default)
    except ValueError:
        log.warning("%s is not a number of seconds; grouping for %g s", WINDOW_ENV, default)
        window = default
    return Pacing(window=min(3600.0, max(1.0, window)))


def metric_lines(state: Any) -> list[str]:
    """Prometheus lines of the dispatcher's counters (the descriptor's ``metrics``)."""
    dispatcher = state.services.get("notify")
    if not isinstance(dispatcher, Dispatcher):
        return []
    out = [
        "# HELP indunet_notify_messages_total Notification messages by outcome since start.",
        "# TYPE indunet_notify_messages_total counter",
    ]
    for outcome, value in (("sent", dispatcher.sent), ("failed", dispatcher.failed)):
        out.append(f'indunet_notify_messages_total{{outcome="{outcome}"}} {value}')
    out += [
        "# HELP indunet_notify_dropped_total Events dropped because the notice queue was full.",
        "# TYPE indunet_notify_dropped_total counter",
        f"indunet_notify_dropped_total {dispatcher.dropped}",
        "# HELP indunet_notify_open_groups Digests waiting for their window to close.",
        "# TYPE indunet_notify_open_groups gauge",
        f"indunet_notify_open_groups {len(dispatcher.groups)}",
    ]
    return out
