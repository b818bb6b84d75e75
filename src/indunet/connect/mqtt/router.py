"""What received MQTT messages become: samples, dead letters, command results, device statuses.

Shared by the embedded endpoint and the external-broker client. ``decode`` is synchronous
and runs once per batch (ACL, JSON, command results, statuses); ``commit`` writes the
batch's dead letters and submits its samples in one ``SampleSink.submit`` call, and may be
retried after ``Overloaded`` without recording a dead letter twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from indunet.connect.connector import DeviceLink, StatusSink
from indunet.connect.mqtt import acl, payloads, topics
from indunet.devices import MqttForm, ThingModel
from indunet.telemetry import Sample, SampleSink
from indunet.telemetry.checks import FORBIDDEN_TOPIC, UNDECODABLE, said

SOURCE = "mqtt"


@dataclass
class Batch:
    """One decoded batch: samples to submit and dead letters still to record.

    A reject is ``(device, detail, payload, reason code, (detail's name, its params))``.
    """

    samples: list[Sample] = field(default_factory=list)
    rejects: list[tuple[str | None, str, bytes, str, tuple[str, dict[str, str]]]] = field(
        default_factory=list
    )


@dataclass(frozen=True)
class CommandResult:
    """A device's answer to a command."""

    ok: bool
    output: Any
    error: str


def model_bindings(model: ThingModel, device_id: str) -> dict[str, list[payloads.Binding]]:
    """Filled topic → JSON-path bindings of the model's points with an ``MqttForm``."""
    out: dict[str, list[payloads.Binding]] = {}
    for point in model.points.values():
        form = point.form(MqttForm)
        if form is None:
            continue
        topic = ThingModel.fill(form.topic, device_id)
        steps = payloads.compile_path(form.json_path)
        out.setdefault(topic, []).append(payloads.Binding(point.name, steps))
    return out


class MessageRouter:
    """Routes messages by topic; keeps last values, last-seen times and device statuses."""

    def __init__(
        self,
        sink: SampleSink,
        status: StatusSink | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sink = sink
        self.status = status
        self.clock = clock
        self.links: dict[str, DeviceLink] = {}
        self.bindings: dict[str, dict[str, list[payloads.Binding]]] = {}
        self.owners: dict[str, str] = {}  # filled form topic → device id
        self.last: dict[str, dict[str, Sample]] = {}
        self.last_seen: dict[str, int] = {}
        self.online: dict[str, bool] = {}
        self.pending: dict[str, tuple[str, asyncio.Future[CommandResult]]] = {}
        self.counts = {"messages": 0, "samples": 0, "rejected": 0, "results": 0}

    def add(self, link: DeviceLink) -> None:
        """Know ``link``'s model (its JSON-path bindings) from now on."""
        self.remove(link.id)
        self.links[link.id] = link
        self.bindings[link.id] = model_bindings(link.model, link.id)
        for topic in self.bindings[link.id]:
            self.owners[topic] = link.id

    def remove(self, device_id: str) -> None:
        """Forget ``device_id``'s model."""
        self.links.pop(device_id, None)
        for topic in self.bindings.pop(device_id, {}):
            if self.owners.get(topic) == device_id:
                del self.owners[topic]

    def form_topics(self, device_id: str) -> Collection[str]:
        """Topics the device's model declares (filled)."""
        return self.bindings.get(device_id, {}).keys()

    def extra_subscriptions(self) -> list[str]:
        """Form topics a broker subscription to the standard wildcards would not cover."""
        standard = self.standard_subscriptions()
        return sorted(t for t in self.owners if not any(topics.matches(f, t) for f in standard))

    @staticmethod
    def standard_subscriptions() -> list[str]:
        """What the platform subscribes to on an external broker."""
        p = topics.PREFIX
        return [f"{p}+/{topics.TELEMETRY}", f"{p}+/{topics.RESULT}", f"{p}+/{topics.STATUS}"]

    def set_status(self, device_id: str, online: bool) -> None:
        """Record a device's status; the status sink hears only changes."""
        if self.online.get(device_id) == online:
            return
        self.online[device_id] = online
        if self.status is not None:
            self.status.device_status(device_id, online)

    def expect_result(self, device_id: str, command_id: str) -> asyncio.Future[CommandResult]:
        """A future resolved when ``device_id`` answers command ``command_id``."""
        future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self.pending[command_id] = (device_id, future)
        return future

    def decode(self, publisher: str | None, messages: Sequence[tuple[str, bytes]]) -> Batch:
        """Decode messages of one publisher (``None``: an external broker vouched for them)."""
        now = int(self.clock() * 1000)
        batch = Batch()
        for topic, payload in messages:
            self.counts["messages"] += 1
            try:
                self._route(batch, publisher, topic, payload, now)
            except payloads.PayloadError as exc:
                device = publisher or (topics.split(topic) or (None, ""))[0]
                if exc.reason:  # said in the console as letter.<reason>, with the topic
                    why = said(exc.reason, **{**exc.params, "topic": topic})
                else:
                    why = said("mqtt_payload", topic=topic, message=exc.message)
                text = f"{topic}: {exc.message}"
                batch.rejects.append((device, text, payload, UNDECODABLE, why))
        return batch

    def _route(
        self, batch: Batch, publisher: str | None, topic: str, payload: bytes, now: int
    ) -> None:
        parts = topics.split(topic)
        if publisher is not None:
            if not acl.may_publish(publisher, topic, self.form_topics(publisher)):
                denial = acl.publish_denial(publisher, topic)
                why = said("topic_forbidden", device=publisher, topic=topic)
                batch.rejects.append((publisher, denial, payload, FORBIDDEN_TOPIC, why))
                return
            device = publisher
        else:
            owner = parts[0] if parts else self.owners.get(topic)
            if owner is None:
                detail = f"no device publishes on topic {topic}"
                why = said("topic_unowned", topic=topic)
                batch.rejects.append((None, detail, payload, UNDECODABLE, why))
                return
            device = owner
        self.last_seen[device] = now
        kind = parts[1] if parts else ""
        bindings = self.bindings.get(device, {}).get(topic, ())
        if kind == topics.TELEMETRY:
            batch.samples.extend(payloads.decode(device, payload, now, bindings=bindings))
        elif kind == topics.RESULT:
            self._result(device, payload)
        elif kind == topics.STATUS:
            self._status(device, payload)
        elif bindings:
            batch.samples.extend(
                payloads.decode(device, payload, now, standard=False, bindings=bindings)
            )
        else:
            raise payloads.PayloadError(
                f"topic {topic} carries nothing Indunet reads",
                reason="mqtt_topic_unread",
                params={},
            )

    def _result(self, device: str, payload: bytes) -> None:
        command_id, ok, output, error = payloads.decode_command_result(payload)
        waiting = self.pending.get(command_id)
        if waiting is None:
            return  # answered after its caller gave up: nothing waits for it any more
        if waiting[0] != device:
            raise payloads.PayloadError(
                f"device {device} answered command {command_id} of device {waiting[0]}",
                reason="mqtt_result_foreign",
                params={"device": device, "command": command_id, "owner": waiting[0]},
            )
        del self.pending[command_id]
        self.counts["results"] += 1
        if not waiting[1].done():
            waiting[1].set_result(CommandResult(ok, output, error))

    def _status(self, device: str, payload: bytes) -> None:
        text = payload.decode(errors="replace").strip().strip('"').lower()
        if text not in ("online", "offline"):
            raise payloads.PayloadError(
                'status must be "online" or "offline"', reason="mqtt_status_invalid", params={}
            )
        self.set_status(device, text == "online")

    async def commit(self, batch: Batch) -> None:
        """Record the batch's dead letters, then submit its samples (raises ``Overloaded``)."""
        while batch.rejects:
            device, reason, payload, kind, (why, params) = batch.rejects[0]
            await self.sink.reject(
                device,
                source=SOURCE,
                reason=reason,
                payload=payload,
                kind=kind,
                why=why,
                params=params,
            )
            batch.rejects.pop(0)
            self.counts["rejected"] += 1
        if batch.samples:
            await self.sink.submit(batch.samples, source=SOURCE)
            self.counts["samples"] += len(batch.samples)
            for s in batch.samples:
                points = self.last.setdefault(s.device, {})
                held = points.get(s.point)
                if held is None or held.ts <= s.ts:
                    points[s.point] = s
            batch.samples = []
