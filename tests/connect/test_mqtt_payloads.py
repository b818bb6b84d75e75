"""Telemetry JSON → samples: the three payload forms, timestamps, JSON paths, refusals."""

from __future__ import annotations

import pytest

from indunet.connect.mqtt.payloads import (
    Binding,
    PayloadError,
    compile_path,
    decode,
    decode_command_result,
    parse_ts,
)
from indunet.telemetry import Sample

NOW = 1_700_000_000_000


def test_ts_and_values_form() -> None:
    got = decode("d", b'{"ts": 1700000000123, "values": {"t": 21.5, "n": 3}}', NOW)
    assert got == [Sample("d", "t", 1700000000123, 21.5), Sample("d", "n", 1700000000123, 3)]


def test_flat_form_takes_the_arrival_time_without_ts() -> None:
    got = decode("d", b'{"on": true, "mode": "auto"}', NOW)
    assert got == [Sample("d", "on", NOW, True), Sample("d", "mode", NOW, "auto")]


def test_list_form_keeps_each_items_time() -> None:
    got = decode(
        "d", b'[{"ts": 1, "values": {"a": 1}}, {"ts": "1970-01-01T00:00:02Z", "a": 2}]', NOW
    )
    assert got == [Sample("d", "a", 1, 1), Sample("d", "a", 2000, 2)]


@pytest.mark.parametrize(
    ("ts", "ms"),
    [
        (1700000000000, 1700000000000),
        (1700000000000.7, 1700000000000),
        ("2023-11-14T22:13:20Z", 1700000000000),
        ("2023-11-15T06:13:20.5+08:00", 1700000000500),
        ("2023-11-14T22:13:20", 1700000000000),  # naive means UTC
    ],
)
def test_timestamps_in_ms_or_iso_8601(ts: object, ms: int) -> None:
    assert parse_ts(ts) == ms


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"{oops", "not JSON"),
        (b'"text"', "JSON object or a list"),
        (b"[1, 2]", "JSON object or a list"),
        (b'{"ts": true, "a": 1}', "not a boolean"),
        (b'{"ts": -5, "a": 1}', "not a time"),
        (b'{"ts": "yesterday", "a": 1}', "not an ISO 8601"),
        (b'{"ts": [1], "a": 1}', "ISO 8601 string"),
        (b'{"a": null}', "point a has null value"),
        (b'{"a": {"b": 1}}', "point a has an object value"),
        (b'{"values": {"a": [1]}}', "point a has a list value"),
        (b'{"device": "other", "a": 1}', "names device other but came on the topic of device d"),
        (b'{"ts": 5}', "no point values"),
        (b"[]", "no point values"),
    ],
)
def test_undecodable_payloads_are_refused_with_the_reason(payload: bytes, problem: str) -> None:
    with pytest.raises(PayloadError, match=problem):
        decode("d", payload, NOW)


def test_one_bad_item_refuses_the_whole_payload() -> None:
    with pytest.raises(PayloadError):
        decode("d", b'[{"a": 1}, {"a": null}]', NOW)


def test_device_key_naming_the_topic_device_is_accepted_and_not_a_point() -> None:
    assert decode("d", b'{"device": "d", "a": 1}', NOW) == [Sample("d", "a", NOW, 1)]


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$", ()),
        ("$.a.b", ("a", "b")),
        ("$.a[0]", ("a", 0)),
        ("$['a b'][2].c", ("a b", 2, "c")),
        ('$["x.y"]', ("x.y",)),
    ],
)
def test_json_paths_compile(path: str, steps: tuple[object, ...]) -> None:
    assert compile_path(path) == steps


@pytest.mark.parametrize("path", ["a.b", "$.", "$[x]", "$.a[", "$..a"])
def test_bad_json_paths_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="JSON path"):
        compile_path(path)


def test_bindings_read_points_at_their_paths() -> None:
    bindings = [
        Binding("lat", compile_path("$.pos[0]")),
        Binding("rpm", compile_path("$.engine.rpm")),
        Binding("gone", compile_path("$.missing.x")),
    ]
    payload = b'{"ts": 10, "pos": [24.5, 118.1], "engine": {"rpm": 1500}}'
    got = decode("d", payload, NOW, standard=False, bindings=bindings)
    assert got == [Sample("d", "lat", 10, 24.5), Sample("d", "rpm", 10, 1500)]


def test_bindings_on_the_telemetry_topic_add_to_the_standard_forms() -> None:
    bindings = [Binding("rpm", compile_path("$.engine.rpm"))]
    got = decode("d", b'{"temp": 1, "engine": {"rpm": 7}}', NOW, bindings=bindings)
    assert got == [Sample("d", "temp", NOW, 1), Sample("d", "rpm", NOW, 7)]


def test_binding_to_a_non_scalar_is_refused() -> None:
    bindings = [Binding("pos", compile_path("$.pos"))]
    with pytest.raises(PayloadError, match="point pos has a list value"):
        decode("d", b'{"pos": [1, 2]}', NOW, standard=False, bindings=bindings)


def test_command_results() -> None:
    assert decode_command_result(b'{"id": "c1", "ok": true, "output": {"x": 1}}') == (
        "c1",
        True,
        {"x": 1},
        "",
    )
    assert decode_command_result(b'{"id": "c2", "ok": false, "error": "busy"}')[3] == "busy"
    for bad in (b"nope", b'{"ok": true}', b'{"id": "c", "ok": "yes"}', b"[]"):
        with pytest.raises(PayloadError):
            decode_command_result(bad)
