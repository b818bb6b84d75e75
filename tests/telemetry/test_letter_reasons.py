"""Every kind of check names its dead letter's detail stably, and the zh-CN and en catalogues
say it from the letter's params (the console shows it in the reader's language)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from tests.telemetry.fleet import PRESS

from indunet.telemetry import DeadLetters, Letter, Sample
from indunet.telemetry.checks import MAX_TEXT, Checks
from indunet.web.console.i18n import catalogue

NOW = int(time.time() * 1000)


def checks() -> Checks:
    return Checks(lambda device: PRESS if device == "press-1" else None)


# (sample, the detail's stable name): one row per way a sample can fail its checks
CASES = [
    (Sample("ghost-1", "running", NOW, True), "device_unregistered"),
    (Sample("press-1", "bogus", NOW, 1), "point_unknown"),
    (Sample("press-1", "running", NOW, "yes"), "type_mismatch"),
    (Sample("press-1", "speed_setpoint", NOW, 1.5), "type_mismatch"),
    (Sample("press-1", "motor_current", NOW, 2**70), "int_too_big"),
    (Sample("press-1", "bearing_temp", NOW, float("nan")), "value_nan"),
    (Sample("press-1", "motor_current", NOW, float("inf")), "value_infinite"),
    (Sample("press-1", "bearing_temp", NOW, -41.0), "below_minimum"),
    (Sample("press-1", "bearing_temp", NOW, 999), "above_maximum"),
    (Sample("press-1", "recipe", NOW, "x" * (MAX_TEXT + 1)), "text_too_long"),
    (Sample("press-1", "running", float(NOW), True), "ts_not_integer"),
    (Sample("press-1", "running", 1_000, True), "ts_too_early"),
    (Sample("press-1", "running", NOW + 2 * 86_400_000, True), "ts_ahead"),
    (Sample("press-1", "running", NOW, True, 7), "quality_invalid"),
]


@pytest.mark.parametrize(("sample", "why"), CASES, ids=[w for _, w in CASES])
def test_each_kind_of_check_names_its_detail_in_both_languages(sample: Sample, why: str) -> None:
    valid, [letter] = checks().split([sample], "http", now_ms=NOW)
    assert list(valid) == []
    assert letter.why == why
    assert all(isinstance(v, str) for v in letter.params.values())
    for locale in ("zh-CN", "en"):
        said = catalogue(locale)[f"letter.{why}"].format(**letter.params)
        assert "{" not in said, (locale, said)
    zh = catalogue("zh-CN")[f"letter.{why}"].format(**letter.params)
    if "point" in letter.params:
        assert letter.params["point"] in zh


def test_the_audited_example_reads_in_chinese() -> None:
    _, [letter] = checks().split([Sample("press-1", "bearing_temp", NOW, 999)], "http", now_ms=NOW)
    assert letter.detail == "bearing_temp value 999 is above the maximum 200"  # API: English
    zh = catalogue("zh-CN")[f"letter.{letter.why}"].format(**letter.params)
    assert zh == "测点 bearing_temp 的值 999 高于最大值 200"


def test_every_payload_detail_name_reads_from_both_catalogues() -> None:
    """The names connectors, the HTTP API and the bus worker give rejected payloads."""
    params = {
        "payload_undecodable": {"message": "the body is not JSON"},
        "mqtt_payload": {"topic": "d/x/telemetry", "message": "bad"},
        "topic_forbidden": {"device": "d1", "topic": "d/d2/telemetry"},
        "topic_unowned": {"topic": "plant/x"},
        "envelope_undecodable": {"subject": "indunet.ingest.1", "message": "bad"},
        "poison": {"times": "5", "error": "boom"},
        "store_refused": {},
        "modbus_exception": {"code": "2", "block": "holding 100 (unit 1)"},
        "modbus_short_answer": {"block": "input 4-5 (unit 1)", "fault": "short answer"},
        "opcua_convert": {"node": "ns=2;s=Temp", "type": "number"},
        "opcua_monitor_refused": {"nodes": "ns=2;s=Gone: BadNodeIdUnknown"},
    }
    for why, values in params.items():
        for locale in ("zh-CN", "en"):
            said = catalogue(locale)[f"letter.{why}"].format(**values)
            assert "{" not in said and all(v in said for v in values.values()), said


async def test_a_letter_keeps_its_detail_name_and_params(engine: sa.Engine) -> None:
    letters = DeadLetters(engine)
    bad = Letter("d1", "t", "http", "out_of_range", "t value 9 is above the maximum 5", "{}")
    named = Letter(
        "d1", "t", "http", "out_of_range", bad.detail, "{}", "above_maximum",
        {"point": "t", "value": "9", "maximum": "5"},
    )  # fmt: skip
    await letters.record([bad, named])
    old, new = sorted(letters.list(), key=lambda x: x.id)
    assert old.why is None and old.params is None  # a letter without a name keeps its text
    assert new.why == "above_maximum" and new.params == {"point": "t", "value": "9", "maximum": "5"}
    assert new.to_dict()["detail_reason"] == "above_maximum"
    assert new.to_dict()["detail"] == bad.detail


def test_every_detail_name_in_the_source_has_both_catalogue_texts() -> None:
    """A ``said("name", ...)`` anywhere in the package reads as ``letter.<name>``."""
    import re
    from pathlib import Path

    import indunet

    root = Path(indunet.__file__).parent
    names = {
        m
        for path in root.rglob("*.py")
        for m in re.findall(r'\bsaid\(\s*"([a-z_]+)"', path.read_text(encoding="utf-8"))
    }
    assert len(names) >= 20, sorted(names)
    for locale in ("zh-CN", "en"):
        missing = sorted(n for n in names if f"letter.{n}" not in catalogue(locale))
        assert not missing, (locale, missing)


BODIES = [
    b'{"samples": [',
    b'"just text"',
    b"[1, 2]",
    b'{"samples": 5}',
    b'{"samples": [7]}',
    b'{"samples": [{"device": 1, "point": "p", "value": 1}]}',
    b'{"samples": [{"device": "d", "point": "p"}]}',
    b'{"device": 5, "ts": [1], "points": {}}',
    b'{"device": "d", "ts": 1, "points": {}}',
    b'{"device": "d", "ts": [1], "points": []}',
    b'{"device": "d", "ts": [1], "points": {}, "quality": [1]}',
    b'{"device": "d", "ts": [1, 2], "points": {"noise": [1]}}',
    b'{"device": "d", "ts": [1], "points": {"noise": [1]}, "quality": {"noise": [0, 0]}}',
]


def test_every_unreadable_http_body_is_named_in_both_languages() -> None:
    """The HTTP decoder's refusals name themselves: the API answers the reason and the
    dead letter's detail reads as ``error.<reason>`` in the console."""
    from indunet.connect import PayloadInvalid, decode_telemetry
    from indunet.connect.http.codec import inflate_body

    reasons = set()
    for body in BODIES:
        with pytest.raises(PayloadInvalid) as caught:
            decode_telemetry(body)
        exc = caught.value
        assert exc.reason, body
        reasons.add(exc.reason)
        for locale in ("zh-CN", "en"):
            said = catalogue(locale)[f"error.{exc.reason}"].format(**exc.params)
            assert "{" not in said or exc.reason == "payload_shape", (body, said)
    for encoding, body in (("br", b"x"), ("gzip", b"not gzip")):
        with pytest.raises(PayloadInvalid) as caught:
            inflate_body(body, encoding, 1000)
        exc = caught.value
        assert exc.reason
        reasons.add(exc.reason)
        for locale in ("zh-CN", "en"):
            said = catalogue(locale)[f"error.{exc.reason}"].format(**exc.params)
            assert encoding in said and "{" not in said, said
    assert len(reasons) == 14, sorted(reasons)


MQTT = [
    ("telemetry", b'{"temp": 1, "ts": true}'),
    ("telemetry", b'{"temp": 1, "ts": -5}'),
    ("telemetry", b'{"temp": 1, "ts": "yesterday"}'),
    ("telemetry", b'{"temp": 1, "ts": [1]}'),
    ("telemetry", b'{"temp": null}'),
    ("telemetry", b"{not json"),
    ("telemetry", b"[1]"),
    ("telemetry", b'{"device": "dev-b", "temp": 1}'),
    ("telemetry", b"{}"),
    ("commands/result", b"{not json"),
    ("commands/result", b'{"ok": true}'),
    ("commands/result", b'{"id": "c1"}'),
    ("status", b"sleeping"),
    ("other", b"{}"),
]


def test_every_refused_mqtt_payload_is_named_in_both_languages() -> None:
    from tests.connect.test_mqtt_support import METER, RecordingSink

    from indunet.connect import DeviceLink
    from indunet.connect.mqtt import MessageRouter

    router = MessageRouter(RecordingSink())
    router.add(DeviceLink("dev-a", METER))
    names = set()
    for kind, payload in MQTT:
        topic = f"indunet/v1/dev-a/{kind}"
        [(_, _, _, _, (why, params))] = router.decode("dev-a", [(topic, payload)]).rejects
        assert params["topic"] == topic
        names.add(why)
        for locale in ("zh-CN", "en"):
            said = catalogue(locale)[f"letter.{why}"].format(**params)
            assert "{" not in said and topic in said, (kind, payload, said)
    assert len(names) == len(MQTT), sorted(names)
