"""Type filters and subtypes as Handle.Net has them (``Util.isParentTypeInArray``)."""

from __future__ import annotations

import pytest

from indunet.ids.values import STANDARD_TYPES
from indunet.ids.valuetypes import TypeFilter, parents, reserved_parent, writable_parent


@pytest.mark.parametrize(
    ("requested", "vtype", "selected"),
    [
        ("URL", "URL", True),
        ("url", "URL", True),  # ASCII case does not matter
        ("URL", "url", True),
        ("URL", "URL.mirror", False),  # without the final '.', one type only
        ("URL.", "URL", True),  # a family selects its own type
        ("URL.", "URL.mirror", True),
        ("url.", "URL.MIRROR.eu", True),
        ("URL.mirror.", "URL.mirror.eu", True),
        ("URL.mirror.", "URL", False),
        ("URL.", "URLS", False),
        ("URL.", "URLS.x", False),
        ("URL.mirror", "URL", False),
        ("", "URL", False),
        (".", "URL", False),
        ("ÄRL", "äRL", False),  # only ASCII letters fold, as in Handle.Net
    ],
)
def test_a_requested_type_selects_as_handle_net_does(
    requested: str, vtype: str, selected: bool
) -> None:
    assert TypeFilter([requested]).selects(vtype) is selected


def test_several_requested_types_select_any_of_them() -> None:
    wanted = TypeFilter(["EMAIL", "URL."])
    assert [
        t for t in ("URL", "URL.mirror", "EMAIL", "EMAIL.work", "DESC") if wanted.selects(t)
    ] == [
        "URL",
        "URL.mirror",
        "EMAIL",
    ]
    assert not TypeFilter([])


def test_parents_are_listed_nearest_first() -> None:
    assert list(parents("URL.mirror.eu")) == ["URL.mirror", "URL"]
    assert list(parents("URL")) == []
    assert list(parents(".x")) == []


def test_subtypes_of_standard_types_may_be_written_but_not_of_hs_types() -> None:
    assert writable_parent("URL.mirror", STANDARD_TYPES) == "URL"
    assert writable_parent("EMAIL.work.night", STANDARD_TYPES) == "EMAIL"
    assert writable_parent("HS_SITE.PREFIX", STANDARD_TYPES) is None
    assert writable_parent("HS_SECKEY.backup", STANDARD_TYPES) is None
    assert writable_parent("SPINDLE.speed", STANDARD_TYPES) is None
    assert writable_parent("url.mirror", STANDARD_TYPES) is None  # types are written as defined
    assert reserved_parent("HS_SECKEY.backup") == "HS_SECKEY"
    assert reserved_parent("hs_admin.x") == "hs_admin"
    assert reserved_parent("URL.mirror") is None
