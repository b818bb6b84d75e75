"""MQTT forms: ``mqv:filter``/``mqv:topic`` (or an ``mqtt://`` href) and a JSON path."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from indunet.devices.forms.common import FormBinding, FormInput, Reporter
from indunet.devices.models import MqttForm

_JSON_PATH = re.compile(r"\$(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*\Z")
_CONTROL_PACKETS = ("publish", "subscribe", "unsubscribe")


def read(src: FormInput, rep: Reporter) -> MqttForm | None:
    """The MQTT form, or None with the problems reported."""
    path, form, action = src.path, src.form, src.action
    packet = form.get("mqv:controlPacket")
    if packet is not None and packet not in _CONTROL_PACKETS:
        rep.problem(
            f"{path}.mqv:controlPacket",
            f"{packet!r} is not one of {', '.join(_CONTROL_PACKETS)}",
            "not_one_of",
            value=str(packet)[:64],
            choices=", ".join(_CONTROL_PACKETS),
        )
        return None
    order: Sequence[str] = ("mqv:topic", "mqv:filter") if action else ("mqv:filter", "mqv:topic")
    topic: Any = None
    key = "href"
    for k in order:
        if form.get(k) is not None:
            topic, key = form[k], k
            break
    if topic is None and isinstance(form.get("href"), str):
        topic = unquote(urlsplit(form["href"]).path).lstrip("/") or None
    if not isinstance(topic, str) or not topic:
        rep.problem(
            path,
            "an MQTT form needs mqv:filter or mqv:topic (or an mqtt:// href with a topic)",
            "mqtt_topic_missing",
        )
        return None
    if not _topic_ok(rep, path, key, topic, wildcards=key == "mqv:filter"):
        return None
    default = "$" if action else f"$.{src.name}"
    jpath = form.get("indunet:jsonPath", default)
    if not isinstance(jpath, str) or not _JSON_PATH.match(jpath) or (jpath == "$" and not action):
        rep.problem(
            f"{path}.indunet:jsonPath",
            f"{jpath!r} is not a supported JSON path: use $ followed by .key or [n] steps, "
            "e.g. $.values.temperature",
            "mqtt_json_path",
            value=str(jpath)[:80],
        )
        return None
    return MqttForm(topic=topic, json_path=jpath)


def _topic_ok(rep: Reporter, path: str, key: str, topic: str, *, wildcards: bool) -> bool:
    levels = topic.split("/")
    bad = "\x00" in topic or len(topic.encode()) > 65535
    for i, level in enumerate(levels):
        if ("#" in level or "+" in level) and (
            not wildcards or level not in ("#", "+") or (level == "#" and i != len(levels) - 1)
        ):
            bad = True
    if bad:
        rep.problem(
            f"{path}.{key}",
            f"{topic!r} is not a valid MQTT topic"
            + (" filter" if wildcards else " (wildcards + and # only in mqv:filter)"),
            "mqtt_topic_filter" if wildcards else "mqtt_topic",
            value=topic[:80],
        )
    return not bad


BINDING = FormBinding(
    name="mqtt",
    prefixes=("mqv:",),
    schemes=("mqtt", "mqtts"),
    hint="mqv: terms or an mqtt:// href (MQTT)",
    read=read,
    form_type=MqttForm,
)
