"""The OT version comparator: real strings from CISA advisories, and ordering properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.security.vulns.versions import Verdict, parse_range, parse_version


def cmp(a: str, b: str) -> int | None:
    va, vb = parse_version(a), parse_version(b)
    assert va is not None and vb is not None, (a, b)
    return va.compare(vb)


@pytest.mark.parametrize(
    ("a", "b", "order"),
    [
        ("V4.1.4", "4.1.4.0", 0),
        ("V4.1.4", "V4.1.10", -1),
        ("v2.9", "v2.9 SP2", -1),
        ("v2.9 SP2", "V2.9 SP1 HF3", 1),
        ("V3.2 HF3", "V3.2 HF10", -1),
        ("V16 Update 6", "V16 SP1", -1),
        ("V14 SP1 Update 14", "V14 SP2", -1),
        ("V15.1 Upd4", "V15.1 Update 4", 0),
        ("V19_Update_2", "V19 Update 2", 0),
        ("Update 5", "Update 6", -1),
        ("R2.3.1", "R2.3.0", 1),
        ("FW 1.02", "1.2", 0),
        ("3.4.4 Build 16102416", "3.4.4 Build 9", 1),
        ("02.07.07(10)", "2.7.7 Build 10", 0),
        ("1.04E", "1.04", 1),
        ("V20.2 HotfixRev14", "V20.2 HF 14", 0),
        ("9.90 SP3.5", "9.90 SP3", 1),
        ("April/17/2023", "2023-04-18", -1),
    ],
)
def test_ordering_of_real_version_strings(a: str, b: str, order: int) -> None:
    assert cmp(a, b) == order
    assert cmp(b, a) == -order


def test_dates_and_releases_do_not_compare() -> None:
    assert cmp("2023-04-17", "V1.0") is None


@pytest.mark.parametrize(
    ("text", "version", "verdict"),
    [
        # shapes taken from the CISA OT corpus
        ("All versions", "V9.9", Verdict.AFFECTED),
        ("All versions", None, Verdict.AFFECTED),
        ("vers:all/*", "1.0", Verdict.AFFECTED),
        ("< V1.5.18", "V1.5.17", Verdict.AFFECTED),
        ("< V1.5.18", "V1.5.18", Verdict.NOT_AFFECTED),
        ("<= 1.07", "1.07", Verdict.AFFECTED),
        ("<= 4.7.3 Update 2 ", "4.7.3 Update 3", Verdict.NOT_AFFECTED),
        ("<= 4.7.3 Update 2 ", "4.7.3", Verdict.AFFECTED),
        (">= 4.01 | <= 4.34", "4.20", Verdict.AFFECTED),
        (">= 4.01 | <= 4.34", "4.35", Verdict.NOT_AFFECTED),
        (">= R1.01 | <= R4.03", "R4.03", Verdict.AFFECTED),
        (">= R1.01 | <= R4.03", "R1.00", Verdict.NOT_AFFECTED),
        ("All versions < 3.2.1", "3.2.0", Verdict.AFFECTED),
        ("< 9.90 SP3.5", "9.90 SP3", Verdict.AFFECTED),
        ("< 9.90 SP3.5", "9.90 SP4", Verdict.NOT_AFFECTED),
        ("All versions < V4.94 SP1 HF 1", "V4.94 SP1", Verdict.AFFECTED),
        ("All versions < V4.94 SP1 HF 1", "V4.94 SP1 HF1", Verdict.NOT_AFFECTED),
        ("< 3.0.3_Build6299", "3.0.3 Build 6000", Verdict.AFFECTED),
        ("vers:all/<V2304.0", "V2303.1", Verdict.AFFECTED),
        ("vers:all/>=V11.5.1|<V11.6.2", "V11.6.1", Verdict.AFFECTED),
        ("vers:all/>=V11.5.1|<V11.6.2", "V11.5.0", Verdict.NOT_AFFECTED),
        ("vers:all/>=V7.80<V9.40", "V9.30", Verdict.AFFECTED),
        (">= V3.0 < V3.2", "V3.1", Verdict.AFFECTED),
        (">= V2.0 and < V2.1.3", "V2.1.3", Verdict.NOT_AFFECTED),
        ("< V16 Update 2", "V16 Update 1", Verdict.AFFECTED),
        ("9.6 | 9.8", "9.8", Verdict.AFFECTED),
        ("9.6 | 9.8", "9.7", Verdict.NOT_AFFECTED),
        ("8.1.x", "8.1.7", Verdict.AFFECTED),
        ("8.1.x", "8.2", Verdict.NOT_AFFECTED),
        # phrasings the issue names
        ("V2.0 and prior", "V2.0", Verdict.AFFECTED),
        ("prior to V3.1", "V3.1", Verdict.NOT_AFFECTED),
        ("versions 1.0 through 2.3", "2.3", Verdict.AFFECTED),
        ("vers:generic/>=1.0|<2.0", "1.9.9", Verdict.AFFECTED),
        ("vers:semver/1.2.3|>=2.0.0|<5.0.0", "1.2.3", Verdict.AFFECTED),
        ("vers:semver/1.2.3|>=2.0.0|<5.0.0", "1.2.4", Verdict.NOT_AFFECTED),
        ("vers:generic/!=1.5", "1.4", Verdict.AFFECTED),
        ("vers:generic/!=1.5", "1.5", Verdict.NOT_AFFECTED),
    ],
)
def test_ranges_from_advisories(text: str, version: str | None, verdict: Verdict) -> None:
    parsed = parse_range(text)
    assert parsed.understood, text
    assert parsed.affects(parse_version(version) if version else None) is verdict


@pytest.mark.parametrize(
    "text",
    [
        "<=the_first_5_digits_of_serial_number_24031",
        "5  digits of serial number <= 24031",
        "All BIOS versions < V22.01.08",
        "< V3.X.17",
        "No version",
        "vers:all",
    ],
)
def test_strings_not_understood_are_kept_for_review(text: str) -> None:
    parsed = parse_range(text)
    assert not parsed.understood
    assert parsed.raw == text.strip()
    assert parsed.affects(parse_version("1.0")) is Verdict.UNKNOWN


def test_unparsable_asset_version_needs_review() -> None:
    assert parse_range("< V1.5").affects(parse_version("build of tuesday")) is Verdict.UNKNOWN
    assert parse_range("< V1.5").affects(None) is Verdict.UNKNOWN


def test_overlong_strings_are_not_parsed() -> None:
    assert parse_version("1." * 200) is None
    assert not parse_range("< " + "1." * 200).understood


segments = st.lists(st.integers(0, 30), min_size=1, max_size=4)
suffix = st.sampled_from(
    ["", " SP1", " SP2", " HF3", " Update 4", " SP1 HF2", " SP1 Update 2", " Build 7"]
)
prefix = st.sampled_from(["", "V", "v", "R", "FW "])


@st.composite
def versions(draw: st.DrawFn) -> str:
    return draw(prefix) + ".".join(map(str, draw(segments))) + draw(suffix)


# no deadline: this 2-core machine is shared, and a slow example is not a wrong one
@settings(deadline=None)
@given(versions(), versions(), versions())
def test_order_is_total_and_transitive(a: str, b: str, c: str) -> None:
    ab, bc, ac = cmp(a, b), cmp(b, c), cmp(a, c)
    assert ab == -(cmp(b, a) or 0)
    if ab is not None and bc is not None and ab <= 0 and bc <= 0:
        assert ac is not None and ac <= 0


@settings(deadline=None)
@given(versions())
def test_prefix_and_trailing_zero_do_not_change_order(a: str) -> None:
    bare = a.lstrip("VvRF W")
    assert cmp(a, bare) == 0
    head, _, tail = bare.partition(" ")
    assert cmp(bare, f"{head}.0 {tail}".strip()) == 0


@settings(deadline=None)
@given(versions(), versions())
def test_range_agrees_with_comparison(a: str, b: str) -> None:
    order = cmp(a, b)
    inside = parse_range(f"< {b}").affects(parse_version(a))
    assert (inside is Verdict.AFFECTED) == (order == -1)
    between = parse_range(f"vers:generic/>={b}|<={b}").affects(parse_version(a))
    assert (between is Verdict.AFFECTED) == (order == 0)
