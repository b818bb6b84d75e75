"""Every identifier scheme offers the same interface, and the contributor checklist lists them."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from indunet.ids import (
    RC,
    Answer,
    HandleValue,
    HttpTransport,
    InvalidHandle,
    LocalTransport,
    Referral,
    Resolver,
    Site,
)
from indunet.ids.syntax.scheme import HANDLE, OID, SCHEMES, Scheme, Target, scheme

CHECKLIST = Path(__file__).parents[2] / "docs/contributing/adding-an-identifier-scheme.md"

# One identifier of each scheme, its lookup key, and the prefix whose node holds it.
EXAMPLES = {
    "handle": ("88.100.1/cnc-1", "88.100.1/CNC-1", "88.100.1"),
    "oid": ("urn:oid:1.2.156.10011", "1.2.156.10011", "1.2.156"),
    "ecode": ("100012345", "100012345", "10001"),
    "gs1": ("6901234567892", "6901234567892", "690"),
}


def test_the_checklist_lists_exactly_the_schemes_of_the_table() -> None:
    listed = re.findall(r"^- `([a-z0-9]+)`:", CHECKLIST.read_text(), flags=re.M)
    assert listed == list(SCHEMES)


@pytest.mark.parametrize("name", list(SCHEMES))
def test_every_scheme_implements_the_interface(name: str) -> None:
    s = SCHEMES[name]
    assert isinstance(s, Scheme) and s.name == name
    text, key, routing = EXAMPLES[name]
    value = s.parse(text)
    assert s.normalise(value) == key
    assert s.routing_key(value) == routing
    assert s.target(text) == Target(value.text, key, routing)
    assert s.normalise_prefix(routing) == routing
    assert s.is_under(routing, s.parent(routing))
    assert s.is_under(routing, "") and s.is_under(routing, routing)
    p = routing
    for _ in range(40):  # the parents reach the root
        if not p:
            break
        p = s.parent(p)
    assert p == ""
    with pytest.raises(InvalidHandle):
        s.parse("")
    module = inspect.getmodule(s.format)
    assert module is not None and module.__name__ == f"indunet.ids.syntax.{name}"
    params = list(inspect.signature(s.format).parameters.values())
    assert [(q.name, q.kind) for q in params] == [("parts", inspect.Parameter.VAR_POSITIONAL)]


def test_format_takes_the_parts_in_written_order() -> None:
    assert SCHEMES["handle"].format("88.100.1", "X") == "88.100.1/X"
    assert SCHEMES["oid"].format(1, 2, 156, 7) == "1.2.156.7"
    assert SCHEMES["ecode"].format(1, "0001", "42") == "1000142"
    assert SCHEMES["gs1"].format("400638133393") == "4006381333931"
    with pytest.raises(InvalidHandle, match="two parts"):
        SCHEMES["handle"].format("88.100.1")


def test_only_the_handle_scheme_is_resolvable_today_and_unknown_names_are_named() -> None:
    assert [s.name for s in SCHEMES.values() if s.resolvable] == ["handle"]
    assert scheme("handle") is HANDLE
    with pytest.raises(InvalidHandle, match="unknown identifier scheme 'ucode'; known: handle"):
        scheme("ucode")


async def test_a_resolver_walks_another_scheme_through_the_table() -> None:
    """Resolution consults only the scheme: OID referrals, keys and the is-under guard."""
    asked: list[tuple[str, str]] = []

    def node(name: str, answer: Answer) -> tuple[str, object]:
        async def handler(text: str) -> Answer:
            asked.append((name, text))
            return answer

        return f"http://oid.test/{name}", handler

    cn = Referral("1.2.156", (Site("http://oid.test/cn", True),), 3600)
    rogue = Referral("1.3", (Site("http://oid.test/rogue", True),), 3600)
    record = Answer(RC.SUCCESS, "1.2.156.10011", [HandleValue(1, "URL", "string", "https://x", 60)])
    transport = LocalTransport(HttpTransport(0.5))
    for name, answer in (
        ("root", Answer(RC.SERVICE_REFERRAL, "", referral=cn)),
        ("cn", record),
    ):
        site, handler = node(name, answer)
        transport.register(site, handler)  # type: ignore[arg-type]
    resolver = Resolver([Site("http://oid.test/root", True)], transport, scheme=OID)
    try:
        found = await resolver.resolve("urn:oid:1.2.156.10011")
        assert found.rc == RC.SUCCESS
        assert [hop.site for hop in found.path] == ["http://oid.test/root", "http://oid.test/cn"]
        again = await resolver.resolve("1.2.156.10011")  # one key for both written forms
        assert again.path[0].cached
        assert asked == [("root", "1.2.156.10011"), ("cn", "1.2.156.10011")]
        # A referral away from the OID asked for is refused by the scheme's is-under rule.
        site, handler = node("root", Answer(RC.SERVICE_REFERRAL, "", referral=rogue))
        transport.register(site, handler)  # type: ignore[arg-type]
        refused = await resolver.resolve("1.2.157.1")  # not under the cached 1.2.156
        assert refused.rc == RC.ERROR
        assert refused.message.endswith(
            "referred 1.2.157.1 to prefix 1.3, which is not below the root"
        )
        bad = await resolver.resolve("1.2.156.x")
        assert bad.rc == RC.INVALID_HANDLE and "arc 4" in bad.message
    finally:
        await transport.close()
