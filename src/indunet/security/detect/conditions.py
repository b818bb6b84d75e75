"""A rule's ``match`` turned into one Python predicate, checked when the rule set is loaded.

A condition is a mapping; its keys all hold (an implicit ``all``):

- ``all: [c, …]``, ``any: [c, …]``, ``not: c``;
- ``<field>: <test>`` where ``<field>`` is an event attribute (``kind``, ``protocol``,
  ``action``, ``src_ip``…) or ``fields.<path>`` (dotted, into the event's ``fields``), and
  ``<test>`` is a value (equality) or a one-key mapping: ``eq``, ``ne``, ``in`` (a list),
  ``regex`` (at most ``MAX_REGEX`` characters, searched in the first ``MAX_SUBJECT``
  characters), ``range: [lo, hi]`` (inclusive; ``null`` for open), ``gt``/``gte``/``lt``/``lte``,
  ``cidr`` (a list of networks), ``exists`` (true/false), ``in_list``/``not_in_list`` (a named
  list: the enterprise's own, else the installation's; ``not_in_list`` is false while no such
  list is declared, so an allow-list rule stays quiet until someone declares the list, and
  false for a field the event does not have);
- ``learned: conversation | function | host``: true for what the enterprise's baseline has not
  seen (false while it is learning or has none);
- ``model_range: outside``: true for a write whose value is outside the device model's
  minimum/maximum for the point written (needs the point resolver; false without one).

A test that meets a value of the wrong type is false (and counted as the rule's error when it
cannot be compared at all), never an exception out of the engine.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .baseline import Baseline

if TYPE_CHECKING:
    from indunet.security.events import SecurityEvent

    from .context import Context

Predicate = Callable[["SecurityEvent", "Context"], bool]
MAX_REGEX = 200
MAX_SUBJECT = 1_000
MAX_DEPTH = 8
MAX_ITEMS = 1_000
EVENT_FIELDS = frozenset(
    {
        "ts",
        "source",
        "kind",
        "enterprise_id",
        "observer",
        "protocol",
        "action",
        "outcome",
        "src_ip",
        "src_port",
        "dst_ip",
        "dst_port",
        "src_mac",
        "dst_mac",
        "user",
        "severity",
        "message",
    }
)
LEARNED = frozenset({"conversation", "function", "host"})
# the baseline's test for each (unbound: the context's baseline is passed in)
_LEARNED_TESTS: dict[str, Callable[[Baseline, SecurityEvent], bool]] = {
    "conversation": Baseline.new_conversation,
    "function": Baseline.new_function,
    "host": Baseline.new_host,
}
_MISSING = object()
# What a learned test reads of an event (besides ``ts``, read only while learning)
_LEARNED_READS = {
    "conversation": frozenset({"enterprise_id", "src_ip", "dst_ip", "protocol", "dst_port"}),
    "function": frozenset({"enterprise_id", "kind", "dst_ip", "protocol", "fields.function"}),
    "host": frozenset({"enterprise_id", "src_ip"}),
}
DECIDABLE = frozenset(EVENT_FIELDS - {"ts", "src_port", "message"}) | {
    "fields.function",
    "fields.write",
    "fields.target",
}
"""What a condition may read for the engine to decide it once per distinct combination of
those values (``Engine``'s verdict memo): the few-valued attributes of a conversation and the
parsers' own function fields. A condition on the time, the source port, the message or any
other ``fields`` path is tested on every event."""


@dataclass
class ConditionError(Exception):
    """A condition that does not read: ``path`` (keys into the rule) and ``problem``."""

    path: tuple[str | int, ...]
    problem: str


def getter(name: str) -> Callable[[SecurityEvent], Any]:
    """A function reading ``name`` (``dst_ip``, ``fields.details.szl``) off an event."""
    if name in EVENT_FIELDS:
        return operator.attrgetter(name)
    parts = name.split(".")[1:]

    def read(event: SecurityEvent) -> Any:
        value: Any = event.fields
        for part in parts:
            if type(value) is not dict and not isinstance(value, Mapping):
                return _MISSING
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return _MISSING
        return value

    return read


def reads(node: Any) -> frozenset[str] | None:
    """The event fields a (valid) condition reads, or None when its outcome can depend on
    more than ``DECIDABLE`` fields, the named lists and the baseline (a ``model_range``
    test, a field outside ``DECIDABLE``)."""
    found: set[str] = set()

    def walk(n: Any) -> bool:
        if not isinstance(n, dict):
            return False
        for key, value in n.items():
            if key in ("all", "any"):
                if not isinstance(value, list) or not all(walk(v) for v in value):
                    return False
            elif key == "not":
                if not walk(value):
                    return False
            elif key == "learned":
                found.update(_LEARNED_READS[value])
            elif key in DECIDABLE:
                found.add(key)
                if isinstance(value, dict) and ("in_list" in value or "not_in_list" in value):
                    found.add("enterprise_id")
            else:  # model_range, the time, a free-form fields path
                return False
        return True

    return frozenset(found) if walk(node) else None


def _valid_field(name: str) -> bool:
    if name in EVENT_FIELDS:
        return True
    parts = name.split(".")
    return (
        len(parts) >= 2
        and parts[0] == "fields"
        and all(p and len(p) <= 64 for p in parts[1:])
        and len(parts) <= 6
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def compile_condition(
    node: Any, path: tuple[str | int, ...] = ("match",), depth: int = 0
) -> Predicate:
    """The predicate of ``node`` (``ConditionError`` naming where it does not read)."""
    if depth > MAX_DEPTH:
        raise ConditionError(path, f"conditions nest at most {MAX_DEPTH} deep")
    if not isinstance(node, dict) or not node:
        raise ConditionError(path, "a condition is a non-empty mapping")
    parts = [_one(str(k), v, (*path, str(k)), depth) for k, v in node.items()]
    return _all(parts)


def _all(parts: Sequence[Predicate]) -> Predicate:
    """True when every part is (unrolled for the common short cases: this is the hot path)."""
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        a, b = parts
        return lambda e, c: a(e, c) and b(e, c)
    if len(parts) == 3:
        a, b, d = parts
        return lambda e, c: a(e, c) and b(e, c) and d(e, c)
    tup = tuple(parts)

    def every(e: SecurityEvent, c: Context) -> bool:
        for p in tup:  # noqa: SIM110  (a loop: no generator on the hot path)
            if not p(e, c):
                return False
        return True

    return every


def _any(parts: Sequence[Predicate]) -> Predicate:
    tup = tuple(parts)

    def some(e: SecurityEvent, c: Context) -> bool:
        for p in tup:  # noqa: SIM110  (a loop: no generator on the hot path)
            if p(e, c):
                return True
        return False

    return some


def _one(key: str, value: Any, path: tuple[str | int, ...], depth: int) -> Predicate:
    if key in ("all", "any"):
        if not isinstance(value, list) or not value or len(value) > MAX_ITEMS:
            raise ConditionError(path, f"{key} takes a non-empty list of conditions")
        subs = [compile_condition(v, (*path, i), depth + 1) for i, v in enumerate(value)]
        return _all(subs) if key == "all" else _any(subs)
    if key == "not":
        sub = compile_condition(value, path, depth + 1)
        return lambda e, c: not sub(e, c)
    if key == "learned":
        if value not in LEARNED:
            raise ConditionError(path, f"learned is one of {', '.join(sorted(LEARNED))}")
        test = _LEARNED_TESTS[str(value)]
        return lambda e, c: (b := c.baseline) is not None and test(b, e)
    if key == "model_range":
        if value != "outside":
            raise ConditionError(path, "model_range takes the value outside")
        return lambda e, c: c.outside_model_range(e)
    if not _valid_field(key):
        raise ConditionError(
            path, f"unknown field {key!r}: an event attribute or fields.<path> is expected"
        )
    return _test(getter(key), value, path)


def _test(get: Callable[[Any], Any], test: Any, path: tuple[str | int, ...]) -> Predicate:
    if isinstance(test, str):  # the common case, kept fast: only a text equals a text
        return lambda e, c: get(e) == test
    if isinstance(test, bool) or test is None:
        return lambda e, c: get(e) is test
    if _scalar(test):
        return lambda e, c: _eq(get(e), test)
    if isinstance(test, list):
        raise ConditionError(path, "a list is tested with in: [...]")
    if not isinstance(test, dict) or len(test) != 1:
        raise ConditionError(path, "a test is a value or a mapping with one operator")
    ((op, arg),) = test.items()
    where = (*path, str(op))
    if op == "eq":
        return _test(get, arg, where) if _scalar(arg) else _fail(where, "eq takes a value")
    if op == "ne":
        if not _scalar(arg):
            raise ConditionError(where, "ne takes a value")
        return lambda e, c: (v := get(e)) is not _MISSING and not _eq(v, arg)
    if op == "in":
        if not isinstance(arg, list) or not arg or len(arg) > MAX_ITEMS:
            raise ConditionError(where, f"in takes a list of 1 to {MAX_ITEMS} values")
        if not all(_scalar(a) for a in arg):
            raise ConditionError(where, "in takes plain values")
        if all(isinstance(a, str) for a in arg):
            texts = frozenset(arg)
            return lambda e, c: isinstance(v := get(e), str) and v in texts
        keys = frozenset(_key(a) for a in arg)
        return lambda e, c: _key(get(e)) in keys
    if op == "regex":
        if not isinstance(arg, str) or not 1 <= len(arg) <= MAX_REGEX:
            raise ConditionError(where, f"regex is text of 1 to {MAX_REGEX} characters")
        if _nested_quantifier(arg):
            raise ConditionError(
                where, "regex: a repeated group that repeats inside ((a+)+) can take forever"
            )
        try:
            rx = re.compile(arg)
        except re.error as exc:
            raise ConditionError(where, f"bad regular expression: {exc}") from None
        return lambda e, c: isinstance(v := get(e), str) and rx.search(v[:MAX_SUBJECT]) is not None
    if op in ("gt", "gte", "lt", "lte"):
        if not _number(arg):
            raise ConditionError(where, f"{op} takes a number")
        return _compare(get, op, float(arg))
    if op == "range":
        if (
            not isinstance(arg, list)
            or len(arg) != 2
            or not all(a is None or _number(a) for a in arg)
            or arg == [None, None]
        ):
            raise ConditionError(where, "range takes [low, high] (numbers; null for open)")
        lo, hi = arg
        if lo is not None and hi is not None and lo > hi:
            raise ConditionError(where, "range: low is above high")
        return lambda e, c: _in_range(get(e), lo, hi)
    if op == "cidr":
        nets = _networks(arg, where)
        return lambda e, c: _ip_in(get(e), nets)
    if op == "exists":
        if not isinstance(arg, bool):
            raise ConditionError(where, "exists takes true or false")
        return lambda e, c: ((v := get(e)) is not _MISSING and v is not None) == arg
    if op in ("in_list", "not_in_list"):
        if not isinstance(arg, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", arg):
            raise ConditionError(where, f"{op} names a list (a-z, 0-9, _)")
        name = arg
        if op == "in_list":
            return lambda e, c: c.in_list(name, get(e), e.enterprise_id) is True
        # a value the event does not have is in no list and outside none: a Suricata
        # record without a function code is not "a function outside the allow-list"
        return lambda e, c: (
            (v := get(e)) is not None
            and v is not _MISSING
            and c.in_list(name, v, e.enterprise_id) is False
        )
    raise ConditionError(where, f"unknown operator {op!r}")


def _nested_quantifier(pattern: str) -> bool:
    """Whether a group holding a quantifier is itself repeated (``(a+)+``, ``(\\w*x)*``,
    ``(a{2,})+``): the shape that makes a backtracking engine take exponential time."""
    stack: list[bool] = []  # per open group: does it hold a quantifier?
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":  # a character class: skip to its end
            j = i + 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if ch == "(":
            stack.append(False)
        elif ch == ")" and stack:
            inner = stack.pop()
            nxt = pattern[i + 1 : i + 2]
            if inner and nxt in ("*", "+", "{"):
                return True
            if stack:
                stack[-1] = stack[-1] or inner
        elif ch in "*+{" and stack:
            stack[-1] = True
        i += 1
    return False


def _fail(path: tuple[str | int, ...], problem: str) -> Predicate:
    raise ConditionError(path, problem)


def _key(value: Any) -> Any:
    """Equality that does not mix booleans with 0/1, and treats 3 and 3.0 alike."""
    if isinstance(value, bool):
        return ("b", value)
    if _number(value):
        return ("n", float(value))
    return ("s", value) if isinstance(value, str) else ("o", repr(value))


def _eq(value: Any, test: Any) -> bool:
    return value is not _MISSING and _key(value) == _key(test)


def _compare(get: Callable[[Any], Any], op: str, bound: float) -> Predicate:
    def check(e: SecurityEvent, c: Context) -> bool:
        v = get(e)
        if not _number(v):
            return False
        if op == "gt":
            return bool(v > bound)
        if op == "gte":
            return bool(v >= bound)
        if op == "lt":
            return bool(v < bound)
        return bool(v <= bound)

    return check


def _in_range(value: Any, lo: float | None, hi: float | None) -> bool:
    if isinstance(value, list):  # a write of several values: any of them
        return any(_in_range(v, lo, hi) for v in value[:MAX_ITEMS])
    if not _number(value):
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(arg: Any, where: tuple[str | int, ...]) -> tuple[Network, ...]:
    if isinstance(arg, str):
        arg = [arg]
    if not isinstance(arg, list) or not arg or len(arg) > MAX_ITEMS:
        raise ConditionError(where, f"cidr takes 1 to {MAX_ITEMS} networks")
    nets = []
    for item in arg:
        try:
            nets.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            raise ConditionError(where, f"{item!r} is not a network (10.0.0.0/8)") from None
    return tuple(nets)


def _ip_in(value: Any, nets: Sequence[Network]) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in nets)


@dataclass(frozen=True, slots=True)
class NamedList:
    """A list a rule refers to by name: plain values and, for addresses, networks."""

    values: frozenset[Any]
    networks: tuple[Network, ...]

    @classmethod
    def of(cls, items: Sequence[Any]) -> NamedList:
        values, nets = set(), []
        for item in items:
            if isinstance(item, str) and "/" in item:
                try:
                    nets.append(ipaddress.ip_network(item, strict=False))
                    continue
                except ValueError:
                    pass
            values.add(_key(item))
        return cls(frozenset(values), tuple(nets))

    def __contains__(self, value: Any) -> bool:
        if isinstance(value, list):
            return bool(value) and all(v in self for v in value[:MAX_ITEMS])
        if _key(value) in self.values:
            return True
        return bool(self.networks) and _ip_in(value, self.networks)
