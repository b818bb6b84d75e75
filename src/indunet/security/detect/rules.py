"""Detection rules are data: YAML files of rules (and named lists), read strictly.

A file is ``{rules: [...], lists: {name: [...]}}``; its format is docs/security/rules.md. The
loader refuses unknown keys, wrong types, bad regular expressions, unknown parents, cycles and
techniques the ATT&CK for ICS bundle does not have, with an error naming the file, the rule
and the line; a rule set is loaded all or nothing (``load_ruleset``).

YAML is read with ``yaml.safe_load``; line numbers come from ``yaml.compose`` (nodes only, no
objects built). Anchors and aliases are refused (no "billion laughs").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from indunet.core import InvalidInput

from .conditions import ConditionError, NamedList, Predicate, compile_condition, reads

MAX_FILE = 256 * 1024
MAX_RULES = 500
MAX_WINDOW = 7 * 86_400
MAX_FREQUENCY = 100_000
MAX_LIST = 10_000
BUILTIN = Path(__file__).parent / "builtin"
GROUPS = {
    "none": (),
    "source": ("src_ip",),
    "target": ("dst_ip",),
    "pair": ("src_ip", "dst_ip"),
    "user": ("user", "src_ip"),
}
RULE_KEYS = {
    "id": str,
    "version": int,
    "title": dict,
    "description": str,
    "level": int,
    "enabled": bool,
    "techniques": list,
    "match": dict,
    "group_by": str,
    "frequency": int,
    "timeframe": int,
    "distinct": str,
    "suppress": int,
    "if_matched": str,
    "within": int,
}
REQUIRED = ("id", "version", "title", "level", "techniques", "match")
ID = re.compile(r"[a-z][a-z0-9_.-]{1,79}")
TECHNIQUE = re.compile(r"T0[0-9]{3}")


class RuleError(InvalidInput):
    """A rule file that does not load: which file, rule and line, and what is wrong."""

    def __init__(self, file: str, rule: str, line: int, problem: str) -> None:
        super().__init__(
            f"{file}: line {line}: rule {rule or '-'}: {problem}",
            reason="security_rule_invalid",
            params={"file": file, "rule": rule or "-", "line": line, "problem": problem},
        )
        self.file, self.rule, self.line, self.problem = file, rule, line, problem


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule."""

    id: str
    version: int
    title: Mapping[str, str]
    description: str
    level: int
    enabled: bool
    techniques: tuple[str, ...]
    predicate: Predicate = field(repr=False, compare=False)
    group_by: str = "none"
    frequency: int = 1
    timeframe: int = 0
    distinct: str | None = None
    suppress: int = 0
    if_matched: str | None = None
    within: int = 0
    file: str = ""
    line: int = 0
    builtin: bool = False
    kinds: frozenset[str] | None = None  # the event kinds it can match (None: any)
    rest: Predicate | None = field(default=None, repr=False, compare=False)
    """The predicate less its top-level kind test, for an engine that tries the rule only
    on ``kinds`` (None: no such test to leave out)."""
    reads: frozenset[str] | None = None
    """The event fields ``rest`` (or, without it, ``predicate``) reads, when nothing else
    decides it but the named lists and the baseline (``conditions.reads``); None otherwise."""

    def title_in(self, lang: str) -> str:
        return self.title.get(lang) or self.title.get("en") or self.id


@dataclass(frozen=True, slots=True)
class RuleFile:
    """A file's text and what it holds, once read."""

    name: str
    text: str
    rules: tuple[Rule, ...]
    lists: Mapping[str, NamedList]
    raw_lists: Mapping[str, tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every loaded rule (parents before children) and the installation's lists."""

    rules: tuple[Rule, ...]
    lists: Mapping[str, NamedList]
    files: tuple[RuleFile, ...]

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def _lines(text: str) -> yaml.Node | None:
    """The node tree (marks only), refusing anchors and aliases."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen or getattr(node, "anchor", None):
            raise ValueError(
                f"line {node.start_mark.line + 1}: anchors and aliases are not allowed"
            )
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return root


def _line_of(root: yaml.Node | None, path: Sequence[str | int]) -> int:
    """The line (1-based) of the deepest node of ``path`` found."""
    node, line = root, (root.start_mark.line + 1) if root is not None else 1
    for step in path:
        nxt = None
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
            if nxt is None:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            nxt = node.value[step] if 0 <= step < len(node.value) else None
        if nxt is None:
            break
        node, line = nxt, nxt.start_mark.line + 1
    return line


def read_file(name: str, text: str, *, builtin: bool = False) -> RuleFile:
    """One file's rules and lists (``RuleError`` on the first problem); parents and
    techniques are checked across the set by ``load_ruleset``."""
    if len(text.encode()) > MAX_FILE:
        raise RuleError(name, "", 1, f"the file is over {MAX_FILE // 1024} KiB")
    try:
        root = _lines(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise RuleError(name, "", line, f"not YAML: {exc.problem}") from None
    except (yaml.YAMLError, ValueError) as exc:
        match = re.match(r"line (\d+): (.*)", str(exc))
        if match:
            raise RuleError(name, "", int(match[1]), match[2]) from None
        raise RuleError(name, "", 1, f"not YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RuleError(name, "", 1, "a rule file is a mapping with rules: and lists:")
    extra = sorted(set(map(str, data)) - {"rules", "lists"})
    if extra:
        raise RuleError(name, "", _line_of(root, [extra[0]]), f"unknown key {extra[0]!r}")
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list) or len(raw_rules) > MAX_RULES:
        raise RuleError(
            name, "", _line_of(root, ["rules"]), f"rules: a list of at most {MAX_RULES}"
        )
    raw_lists = data.get("lists") or {}
    if not isinstance(raw_lists, dict):
        raise RuleError(name, "", _line_of(root, ["lists"]), "lists: a mapping of name to list")
    lists, kept = {}, {}
    for lname, items in raw_lists.items():
        line = _line_of(root, ["lists", str(lname)])
        if not isinstance(lname, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", lname):
            raise RuleError(name, "", line, f"list name {lname!r}: a-z, 0-9 and _")
        if not isinstance(items, list) or len(items) > MAX_LIST:
            raise RuleError(name, "", line, f"list {lname}: a list of at most {MAX_LIST} values")
        if not all(isinstance(i, str | int | float) and not isinstance(i, bool) for i in items):
            raise RuleError(name, "", line, f"list {lname}: plain values only")
        lists[lname] = NamedList.of(items)
        kept[lname] = tuple(items)
    rules, ids = [], set()
    for n, raw in enumerate(raw_rules):
        rule = _rule(name, root, n, raw, builtin)
        if rule.id in ids:
            raise RuleError(name, rule.id, rule.line, "the id is used twice in the file")
        ids.add(rule.id)
        rules.append(rule)
    return RuleFile(name, text, tuple(rules), lists, kept)


def _rule(name: str, root: yaml.Node | None, n: int, raw: Any, builtin: bool) -> Rule:
    base = _line_of(root, ["rules", n])
    rid = raw.get("id") if isinstance(raw, dict) else None
    rid = rid if isinstance(rid, str) else ""

    def fail(problem: str, *path: str | int) -> RuleError:
        return RuleError(name, rid, _line_of(root, ["rules", n, *path]) if path else base, problem)

    if not isinstance(raw, dict):
        raise fail("a rule is a mapping")
    for key, value in raw.items():
        want = RULE_KEYS.get(str(key))
        if want is None:
            raise fail(f"unknown key {key!r}", str(key))
        if (isinstance(value, bool) and want is int) or not isinstance(value, want):
            raise fail(f"{key} must be {want.__name__}", str(key))
    for key in REQUIRED:
        if key not in raw:
            raise fail(f"{key} is required")
    if not ID.fullmatch(rid):
        raise fail("id: 2 to 80 of a-z, 0-9, '.', '_', '-', starting with a letter", "id")
    if not 1 <= raw["version"] <= 1_000_000:
        raise fail("version: a whole number from 1", "version")
    title = raw["title"]
    if (
        set(title) - {"zh-CN", "en"}
        or not all(isinstance(v, str) and 1 <= len(v) <= 200 for v in title.values())
        or "en" not in title
        or "zh-CN" not in title
    ):
        raise fail("title: zh-CN and en, each text of 1 to 200 characters", "title")
    if not 0 <= raw["level"] <= 15:
        raise fail("level: a whole number from 0 to 15", "level")
    techniques = raw["techniques"]
    if not techniques or len(techniques) > 20:
        raise fail("techniques: 1 to 20 ATT&CK for ICS ids", "techniques")
    for i, t in enumerate(techniques):
        if not isinstance(t, str) or not TECHNIQUE.fullmatch(t):
            raise fail(f"techniques: {t!r} is not an ATT&CK for ICS id (T0855)", "techniques", i)
    group = raw.get("group_by", "none")
    if group not in GROUPS:
        raise fail(f"group_by: one of {', '.join(GROUPS)}", "group_by")
    for key, top in (("timeframe", MAX_WINDOW), ("suppress", MAX_WINDOW), ("within", MAX_WINDOW)):
        if not 0 <= raw.get(key, 0) <= top:
            raise fail(f"{key}: seconds from 0 to {top}", key)
    frequency = raw.get("frequency", 1)
    if not 1 <= frequency <= MAX_FREQUENCY:
        raise fail(f"frequency: 1 to {MAX_FREQUENCY}", "frequency")
    if (frequency > 1 or "distinct" in raw) and raw.get("timeframe", 0) < 1:
        raise fail("frequency and distinct need a timeframe of 1 s or more", "frequency")
    if (
        "distinct" in raw
        and raw["distinct"] not in ("src_ip", "dst_ip", "user", "dst_port")
        and not re.fullmatch(r"fields(\.[A-Za-z0-9_]{1,64}){1,5}", raw["distinct"])
    ):
        raise fail("distinct: src_ip, dst_ip, user, dst_port or fields.<path>", "distinct")
    if ("if_matched" in raw) != ("within" in raw):
        raise fail(
            "if_matched and within go together", "if_matched" if "if_matched" in raw else "within"
        )
    if raw.get("description") is not None and len(raw["description"]) > 4_000:
        raise fail("description: at most 4,000 characters", "description")
    kinds = _kinds(raw["match"])
    try:
        predicate = compile_condition(raw["match"])
        rest, reads_of = None, raw["match"]
        if kinds is not None:
            others = {k: v for k, v in raw["match"].items() if k != "kind"}
            rest = compile_condition(others) if others else _always
            reads_of = others
    except ConditionError as exc:
        raise RuleError(name, rid, _line_of(root, ["rules", n, *exc.path]), exc.problem) from None
    return Rule(
        id=rid,
        version=raw["version"],
        title=dict(title),
        description=raw.get("description") or "",
        level=raw["level"],
        enabled=raw.get("enabled", True),
        techniques=tuple(techniques),
        predicate=predicate,
        group_by=group,
        frequency=frequency,
        timeframe=raw.get("timeframe", 0),
        distinct=raw.get("distinct"),
        suppress=raw.get("suppress", 0),
        if_matched=raw.get("if_matched"),
        within=raw.get("within", 0),
        file=name,
        line=base,
        builtin=builtin,
        kinds=kinds,
        rest=rest,
        reads=reads(reads_of) if reads_of else frozenset(),
    )


def _always(event: object, context: object) -> bool:
    return True


def _kinds(match: dict[str, Any]) -> frozenset[str] | None:
    """The kinds a match can hold for, read from its top-level ``kind`` test (the engine
    tries a rule only on those); None when it does not say."""
    test = match.get("kind")
    if isinstance(test, str):
        return frozenset({test})
    if isinstance(test, dict) and len(test) == 1:
        ((op, arg),) = test.items()
        if op == "eq" and isinstance(arg, str):
            return frozenset({arg})
        if op == "in" and isinstance(arg, list) and all(isinstance(a, str) for a in arg):
            return frozenset(arg)
    return None


def load_ruleset(files: Iterable[RuleFile]) -> RuleSet:
    """The rule set of ``files`` (all or nothing): ids unique, techniques known, parents
    present with the same grouping, no cycles; parents ordered before children."""
    from indunet.security.attack import index

    known = index().techniques
    files = tuple(files)
    by_id: dict[str, Rule] = {}
    lists: dict[str, NamedList] = {}
    for f in files:
        for rule in f.rules:
            if rule.id in by_id:
                raise RuleError(
                    f.name, rule.id, rule.line, f"the id is used in {by_id[rule.id].file} too"
                )
            by_id[rule.id] = rule
            for t in rule.techniques:
                if t not in known:
                    raise RuleError(
                        f.name, rule.id, rule.line, f"technique {t} is not in ATT&CK for ICS v18"
                    )
        lists.update(f.lists)
    for rule in by_id.values():
        if rule.if_matched is None:
            continue
        parent = by_id.get(rule.if_matched)
        if parent is None:
            raise RuleError(
                rule.file, rule.id, rule.line, f"if_matched: no rule {rule.if_matched!r}"
            )
        if parent.group_by != rule.group_by:
            raise RuleError(
                rule.file, rule.id, rule.line, "if_matched: the parent groups differently"
            )
        seen: set[str] = {rule.id}
        step: Rule | None = parent
        while step is not None:
            if step.id in seen:
                raise RuleError(rule.file, rule.id, rule.line, "if_matched: the rules form a cycle")
            seen.add(step.id)
            step = by_id.get(step.if_matched) if step.if_matched else None
    ordered: list[Rule] = []
    placed: set[str] = set()

    def place(r: Rule) -> None:
        if r.id in placed:
            return
        if r.if_matched is not None:
            place(by_id[r.if_matched])
        placed.add(r.id)
        ordered.append(r)

    for r in by_id.values():
        place(r)
    return RuleSet(tuple(ordered), lists, files)


def builtin_files() -> list[RuleFile]:
    """The built-in rule files (``detect/builtin/*.yml``)."""
    return [
        read_file(p.name, p.read_text(encoding="utf-8"), builtin=True)
        for p in sorted(BUILTIN.glob("*.yml"))
    ]
