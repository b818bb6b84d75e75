"""The strict rule loader: every problem names the file, the rule and the line; a set is
loaded all or nothing."""

from __future__ import annotations

import textwrap

import pytest

from indunet.security.detect import RuleError, builtin_files, load_ruleset, read_file

GOOD = """\
rules:
  - id: t.one
    version: 1
    title: {zh-CN: 一, en: one}
    level: 5
    techniques: [T0855]
    match: {kind: ot.transaction}
"""


def rule(body: str, rid: str = "t.bad") -> str:
    head = f"rules:\n  - id: {rid}\n    version: 1\n    title: {{zh-CN: 坏, en: bad}}\n"
    return head + textwrap.indent(textwrap.dedent(body), "    ")


def error(text: str, name: str = "bad.yml") -> RuleError:
    with pytest.raises(RuleError) as info:
        load_ruleset([read_file(name, text)])
    return info.value


def test_a_good_file_loads() -> None:
    rs = load_ruleset([read_file("good.yml", GOOD)])
    assert [r.id for r in rs.rules] == ["t.one"]
    assert rs.rules[0].line == 2


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        (
            "level: 5\ntechniques: [T0855]\nmatch: {kind: x}\ncolour: red\n",
            8,
            "unknown key 'colour'",
        ),
        ("level: high\ntechniques: [T0855]\nmatch: {kind: x}\n", 5, "level must be int"),
        ("level: 16\ntechniques: [T0855]\nmatch: {kind: x}\n", 5, "level: a whole number"),
        (
            "level: 5\ntechniques: [T0855]\nmatch:\n  action: {regex: '(['}\n",
            8,
            "bad regular expression",
        ),
        (
            "level: 5\ntechniques: [T0855]\nmatch:\n  action: {regex: '" + "a" * 201 + "'}\n",
            8,
            "regex is text",
        ),
        (
            "level: 5\ntechniques: [T0855]\nmatch:\n  message: {regex: '(a+)+$'}\n",
            8,
            "can take forever",
        ),
        ("level: 5\ntechniques: [T0999]\nmatch: {kind: x}\n", 2, "T0999 is not in ATT&CK"),
        ("level: 5\ntechniques: [T1059]\nmatch: {kind: x}\n", 6, "not an ATT&CK for ICS id"),
        (
            "level: 5\ntechniques: [T0855]\nmatch: {kind: x}\nif_matched: t.nobody\nwithin: 60\n",
            2,
            "no rule 't.nobody'",
        ),
        (
            "level: 5\ntechniques: [T0855]\nmatch:\n  all:\n    - kind: x\n    - colour: red\n",
            10,
            "unknown field 'colour'",
        ),
        (
            "level: 5\ntechniques: [T0855]\nmatch:\n  fields.value: {range: [10, 1]}\n",
            8,
            "low is above high",
        ),
        (
            "level: 5\ntechniques: [T0855]\nmatch:\n  src_ip: {cidr: [10.0.0.0/33]}\n",
            8,
            "is not a network",
        ),
        ("level: 5\ntechniques: [T0855]\nmatch: {kind: x}\nfrequency: 5\n", 8, "need a timeframe"),
        (
            "level: 5\ntechniques: [T0855]\nmatch: {kind: x}\ngroup_by: colour\n",
            8,
            "group_by: one of",
        ),
        ("techniques: [T0855]\nmatch: {kind: x}\n", 2, "level is required"),
    ],
)
def test_each_problem_is_named_with_its_line(body: str, line: int, words: str) -> None:
    err = error(rule(body))
    assert err.file == "bad.yml"
    assert err.rule == "t.bad"
    assert words in err.problem
    assert err.line == line, str(err)
    assert str(err).startswith(f"bad.yml: line {line}: rule t.bad:")
    assert err.reason == "security_rule_invalid"


def test_not_yaml_names_the_line() -> None:
    err = error("rules:\n  - id: x\n    title: [unclosed\n")
    assert err.line >= 3 and "not YAML" in err.problem


def test_anchors_and_aliases_are_refused() -> None:
    text = "lists:\n  a: &x [1, 2]\n  b: *x\nrules: []\n"
    assert "anchors and aliases" in error(text).problem


def test_unknown_top_level_key_and_bad_list() -> None:
    assert error("rules: []\nextra: 1\n").line == 2
    err = error("lists:\n  allowed_masters: {a: 1}\nrules: []\n")
    assert err.line == 2 and "allowed_masters" in err.problem


def test_a_file_over_the_limit_is_refused() -> None:
    assert "KiB" in error("#" * (300 * 1024)).problem


def test_a_cycle_is_refused() -> None:
    text = GOOD.replace("t.one", "t.a") + (
        "    if_matched: t.b\n    within: 60\n"
        "  - id: t.b\n    version: 1\n    title: {zh-CN: 二, en: two}\n    level: 5\n"
        "    techniques: [T0855]\n    match: {kind: x}\n    if_matched: t.a\n    within: 60\n"
    )
    err = error(text)
    assert "cycle" in err.problem


def test_a_parent_grouping_differently_is_refused() -> None:
    text = GOOD + (
        "  - id: t.child\n    version: 1\n    title: {zh-CN: 二, en: two}\n    level: 5\n"
        "    techniques: [T0855]\n    match: {kind: y}\n    if_matched: t.one\n    within: 60\n"
        "    group_by: source\n"
    )
    assert "groups differently" in error(text).problem


def test_a_set_is_all_or_nothing_and_ids_are_unique_across_files() -> None:
    with pytest.raises(RuleError) as info:
        load_ruleset(
            [*builtin_files(), read_file("mine.yml", GOOD.replace("t.one", "ot.mode.stop"))]
        )
    assert info.value.file == "mine.yml" and "used in ot-commands.yml" in info.value.problem


def test_builtin_rules_load_and_name_bundle_techniques() -> None:
    from indunet.security.attack import index

    rs = load_ruleset(builtin_files())
    assert len(rs.rules) >= 15
    for r in rs.rules:
        assert r.builtin and r.title["zh-CN"] and r.title["en"]
        assert all(t in index().techniques for t in r.techniques)
    # parents come before their children
    ids = [r.id for r in rs.rules]
    assert ids.index("auth.bruteforce") < ids.index("auth.success-after-failures")


def test_the_documented_example_loads() -> None:
    from pathlib import Path

    doc = Path(__file__).resolve().parents[3] / "docs" / "security" / "rules.md"
    text = doc.read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    rs = load_ruleset([*builtin_files(), read_file("example.yml", example)])
    rule = rs.get("custom.telnet-to-plc")
    assert rule is not None and rule.techniques == ("T0886",) and rule.suppress == 600
