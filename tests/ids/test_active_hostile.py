"""Hostile signed requests: whatever the headers and body, the node answers with a service
error (a 4xx with its reason), never another exception."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indunet import ids
from indunet.core import IndunetError
from indunet.ids import active
from indunet.web import AppState
from indunet_device import generate, sign_request

HANDLE = "88.100.1/ai-fuzz"
PATH = "/api/v1/active/announce"
text = st.text(max_size=80)
header_values = st.one_of(
    text,
    st.integers(-(10**15), 10**15).map(str),
    st.just(str(int(time.time()))),
    st.binary(max_size=80).map(lambda b: b.hex()),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(["online", "fault"]).map(
        lambda v: json.dumps({"handle": HANDLE, "status": v, "firmware": v}).encode()
    ),
    st.dictionaries(
        st.sampled_from(["handle", "status", "firmware", "location", "links", "device", "x"]),
        json_values,
        max_size=6,
    ).map(lambda d: json.dumps({"handle": HANDLE, **d}).encode()),
)


KEY = generate("sm2")


@pytest.fixture
def node(state: AppState, allocation: ids.Allocation) -> ids.Node:
    front = state.hierarchy.front
    active.enrol(front, ids.OPERATOR, HANDLE, KEY.hs_pubkey())
    return front


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    headers=st.dictionaries(
        st.sampled_from(["indunet-key", "indunet-timestamp", "indunet-nonce", "indunet-signature"]),
        header_values,
    ),
    body=bodies,
)
def test_random_requests_get_service_errors_only(
    node: ids.Node, headers: dict[str, str], body: bytes
) -> None:
    with pytest.raises(IndunetError) as err:
        active.announce(node, active.Request("POST", PATH, headers, body))
    assert 400 <= err.value.status < 500


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_validly_signed_hostile_bodies_are_written_or_refused_with_a_reason(
    node: ids.Node, body: bytes
) -> None:
    raw = {k.lower(): v for k, v in sign_request(KEY, "POST", PATH, HANDLE, body).items()}
    try:
        done = active.announce(node, active.Request("POST", PATH, raw, body))
    except IndunetError as exc:
        assert 400 <= exc.status < 500, exc
        return
    doc = json.loads(body)  # written: it was a well-formed announcement
    assert set(done.fields) == set(doc) & set(active.FIELDS)
