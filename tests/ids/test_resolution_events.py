"""A resolution record as consumers read it: the outcome from the response code, the wire's
bytes decoded, the handle bounded."""

from __future__ import annotations

import pytest

from indunet.ids import RC
from indunet.ids.events import MAX_HANDLE, RESOLUTIONS, outcome_of


@pytest.mark.parametrize(
    ("rc", "outcome"),
    [
        (RC.SUCCESS, "success"),
        (RC.VALUES_NOT_FOUND, "success"),  # the identifier exists; a filter left no value
        (RC.HANDLE_NOT_FOUND, "failure"),
        (RC.SERVICE_REFERRAL, "unknown"),
        (RC.INVALID_HANDLE, "unknown"),
        (RC.SERVER_TOO_BUSY, "unknown"),
        (RC.SERVER_NOT_RESPONSIBLE, "unknown"),
    ],
)
def test_the_outcome_is_read_from_the_response_code(rc: RC, outcome: str) -> None:
    assert outcome_of(rc) == outcome


def test_a_record_reads_as_json_with_the_handle_decoded_and_bounded() -> None:
    shape = RESOLUTIONS.shape
    assert shape(("192.0.2.1", b"88.100.1/\xe6\xb3\xb5", 1, "udp")) == {
        "src": "192.0.2.1",
        "handle": "88.100.1/泵",
        "outcome": "success",
        "rc": 1,
        "via": "udp",
    }
    long = shape(("", "88/" + "x" * 5000, 100, "http"))
    assert long["src"] is None and len(long["handle"]) == MAX_HANDLE
    assert shape((None, b"\xff\xfe", 2, "tcp"))["handle"] == "\ufffd\ufffd"
    assert RESOLUTIONS.event.name == "ids.resolutions" and RESOLUTIONS.event.version == 1
