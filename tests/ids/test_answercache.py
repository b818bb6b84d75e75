"""A node's answer cache: bodies with public values only, the handle echoed as asked, and no
entry from a read that raced a write."""

from __future__ import annotations

import orjson

from indunet.ids import RC, Answer, HandleValue
from indunet.ids.answercache import AnswerCache, echo


def _answer(handle: str = "88.100.1/PUMP-1", ttl: int = 86_400) -> Answer:
    values = [
        HandleValue(1, "URL", "string", "https://example.com/p1", ttl, "2026-12-07T00:00:00Z"),
        HandleValue(2, "DESC", "string", "owner only", ttl, "2026-12-07T00:00:00Z", "1100"),
    ]
    return Answer(RC.SUCCESS, handle, values)


def test_a_body_holds_public_values_and_the_record_holds_all() -> None:
    cache = AnswerCache()
    cache.put("88.100.1/PUMP-1", _answer(), "88.100.1", cache.ticket())
    hit = cache.get("88.100.1/PUMP-1")
    assert hit is not None
    answer, body, routing = hit
    assert routing == "88.100.1"
    assert [v["index"] for v in orjson.loads(body)["values"]] == [1]
    assert b"owner only" not in body
    assert [v.index for v in answer.values or ()] == [1, 2]  # as a database read gives it


def test_a_read_that_raced_a_write_is_not_kept() -> None:
    cache = AnswerCache()
    ticket = cache.ticket()  # the read starts …
    cache.drop("88.100.1/PUMP-1")  # … a write commits and drops the key …
    cache.put("88.100.1/PUMP-1", _answer(), "88.100.1", ticket)  # … the old read arrives
    assert cache.get("88.100.1/PUMP-1") is None
    cache.put("88.100.1/PUMP-1", _answer(), "88.100.1", cache.ticket())
    assert cache.get("88.100.1/PUMP-1") is not None
    cache.clear()
    assert len(cache) == 0


def test_a_value_without_ttl_is_not_cached() -> None:
    cache = AnswerCache()
    cache.put("88.100.1/PUMP-1", _answer(ttl=0), "88.100.1", cache.ticket())
    assert cache.get("88.100.1/PUMP-1") is None


def test_the_handle_is_echoed_as_asked() -> None:
    answer = _answer()
    body = answer.body()
    assert echo(answer, body, "88.100.1/PUMP-1") is body
    asked = orjson.loads(echo(answer, body, "88.100.1/pump-1"))
    assert asked == orjson.loads(body) | {"handle": "88.100.1/pump-1"}
    odd = orjson.loads(echo(answer, b'{"values":[]}', '88.100.1/"q"'))  # no splice: rebuilt
    assert odd["handle"] == '88.100.1/"q"' and [v["index"] for v in odd["values"]] == [1]
