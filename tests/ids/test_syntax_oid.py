"""Object identifiers: arcs, first and second arc rules, leading zeros."""

from __future__ import annotations

import pytest

from indunet.ids import InvalidHandle
from indunet.ids.syntax import oid


@pytest.mark.parametrize(
    "text",
    [
        "1.2.156",
        "1.2.156.10011.1.2",
        "0.0",
        "1.39",
        "2.999",
        "2.25.329800735698586629295641978511506172918",
        "0.9.2342.19200300.100.1.1",
    ],
)
def test_valid_oids(text: str) -> None:
    assert oid.validate(text) == text
    assert oid.parse(text).text == text


def test_urn_form_is_accepted_and_dropped() -> None:
    assert oid.validate("urn:oid:1.2.156.1") == "1.2.156.1"
    assert oid.validate("URN:OID:2.5.4.3") == "2.5.4.3"


def test_china_arc() -> None:
    assert oid.parse("1.2.156.3001").is_under(oid.CHINA_ARC)
    assert not oid.parse("1.2.15.6").is_under(oid.CHINA_ARC)
    assert oid.parse("1.2.156").arcs == (1, 2, 156)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "object identifier is empty"),
        ("1", "needs at least two arcs"),
        ("3.1", "first arc is 3; it must be 0, 1 or 2"),
        ("1.40", "second arc is 40; under first arc 1 it must be 0-39"),
        ("0.99.1", "second arc is 99; under first arc 0 it must be 0-39"),
        ("1.2.0156", "arc 3 ('0156') has a leading zero"),
        ("01.2", "arc 1 ('01') has a leading zero"),
        ("1..2", "arc 2 is empty"),
        ("1.2.", "arc 3 is empty"),
        ("1.2.-3", "arc 3 ('-3') must be decimal digits"),
        ("1.2.a", "arc 3 ('a') must be decimal digits"),
        ("1.2. 3", "arc 3 (' 3') must be decimal digits"),
        ("1.2.١٥٦", "must be decimal digits"),
        ("1.2." + "1" * 300, "the limit is 255"),
    ],
)
def test_bad_oids_name_the_rule(text: str, fragment: str) -> None:
    with pytest.raises(InvalidHandle) as err:
        oid.parse(text)
    assert fragment in err.value.message


def test_format_writes_and_checks_arcs() -> None:
    assert oid.format(1, 2, 156, 7) == "1.2.156.7"
    assert oid.SCHEME == "oid"
    with pytest.raises(InvalidHandle, match="must be integers"):
        oid.format(1, 2, -1)
    with pytest.raises(InvalidHandle, match="first arc is 5"):
        oid.format(5, 1)
