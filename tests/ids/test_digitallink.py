"""Digital Link pieces that need no HTTP: which Indunet prefix holds a GS1 key (longest GS1
company prefix, after the indicator, extension or filler digit), the less specific element
strings, ``Accept-Language`` ranking and the link chosen for it."""

from __future__ import annotations

import pytest

from indunet.core import NotFound
from indunet.ids import digitallink as dl
from indunet.ids.syntax import gs1

PREFIXES = dl.parse_prefix_map(" 950=88.1 , 9506000=88.2,0614141=88.3, 9506=88.4")


def es(path: str) -> gs1.ElementString:
    return dl.element_string(path.split("/"))


@pytest.mark.parametrize(
    ("path", "prefix"),
    [
        ("01/09506000134352", "88.2"),  # 9506000 is longer than 9506 and 950
        ("01/19506000134359", "88.2"),  # the indicator digit is not part of it
        ("01/09506100000007", "88.4"),
        ("01/09501000000003", "88.1"),
        ("00/106141411234567897", "88.3"),  # nor the SSCC's extension digit
        ("414/9506000134352", "88.2"),  # a GLN starts with it
        ("8003/095060001343520ASSET", "88.2"),  # the GRAI's filler 0 is skipped
        ("8004/9506000ASSET-1", "88.2"),
    ],
)
def test_the_longest_company_prefix_names_the_indunet_prefix(path: str, prefix: str) -> None:
    assert dl.home_prefix(es(path), PREFIXES) == prefix


def test_an_unserved_company_prefix_is_not_found() -> None:
    with pytest.raises(NotFound) as err:
        dl.home_prefix(es("01/04006381333931"), PREFIXES)
    assert err.value.reason == "gs1_dl_unmapped"


def test_less_specific_drops_the_last_qualifier_each_time() -> None:
    got = [e.text for e in dl.less_specific(es("01/09506000134352/22/A/10/L/21/S"))]
    assert got == [
        "01/09506000134352/22/A/10/L/21/S",
        "01/09506000134352/22/A/10/L",
        "01/09506000134352/22/A",
        "01/09506000134352",
    ]


def test_short_gtins_are_padded_and_the_uri_path_is_encoded() -> None:
    got = es("01/96385074/21/A&B")
    assert got.suffix == "GS1:01/00000096385074/21/A&B"
    assert dl.uri_path(got) == "/01/00000096385074/21/A%26B"


def test_accept_language_is_ranked_by_weight_then_order() -> None:
    assert dl.languages("fr;q=0.5, zh-CN, en;q=0.9, *;q=0.1, de;q=0") == ["zh-cn", "en", "fr"]
    assert dl.languages("x;q=abc") == []
    assert len(dl.languages("en," * 1000)) == 20


def test_the_wanted_language_or_a_link_without_one_is_picked() -> None:
    en, zh, none = (dl.Link("pip", f"https://a.example/{x}", x) for x in ("en", "zh-CN", ""))
    assert dl.pick([en, zh, none], ["zh-tw"]) == zh  # primary language
    assert dl.pick([en, zh, none], ["ja"]) == none
    assert dl.pick([en, zh], []) == en
    assert dl.pick([], ["en"]) is None
