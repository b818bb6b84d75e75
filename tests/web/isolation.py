"""The tenant-isolation matrix: every route of the app, how to call it, and enterprise B's things.

``operations(app)`` walks the OpenAPI document and the console's routes (which OpenAPI leaves
out) and turns each into an ``Operation``; ``Unclassified`` lists what it could not. A route
added later lands here without anyone remembering it: either the tables below know its
parameters and body, or the matrix test fails naming what to add.

``Tenants`` builds two enterprises, A and B, with users of every role, and gives B one of
everything a route can name: a device with samples, a command, a dead letter, a rule and its
alarm, a bulk job, a prefix with a data template, and a model of its own.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount
from tests.conftest import USCC_A, USCC_B, api_token
from tests.core.test_documents import png

from indunet import core, ids, notify, security, telemetry
from indunet.core import Role
from indunet.ids import applications
from indunet.web import AppState
from indunet.web.auth import SESSION_COOKIE
from indunet.web.csrf import HEADER, csrf_token
from indunet_device import generate

B_NAME = "乙方专属精密制造有限公司"
B_PREFIX = "88.100.2"
DEVICE_KEY = generate("ed25519").hs_pubkey()  # an active identifier's key (enrol)
B_DEVICE = "b-only-digger-7"
B_MODEL = "b-only:pump"
B_RULE = "b-only-rule-hot-engine"
B_TEMPLATE = "b-only-template"
B_BULK = "b-only-bulk.csv"
B_HANDLE = f"{B_PREFIX}/b-only-bulk-1"
B_RECORD = f"{B_PREFIX}/b-only-record-1"  # an identifier of B's, registered at once
B_PURPOSE = "b-only-application-purpose"  # B's application for a prefix
A_DEVICE = "a-digger-1"
B_ASSET = "b-only-asset-plc"
B_ZONE = "b-only-zone"
# Strings that only B's things carry: a list that A may read must contain none of them.
B_MARKERS = (
    *(B_NAME, USCC_B, B_DEVICE, B_MODEL, B_RULE, B_TEMPLATE, B_BULK, "b-only-bulk-1"),
    *("b-only-board", "b-only-display", "b-only-record-1", B_PURPOSE),
    *("b-only-alert", "b-only-case"),
    *(B_ASSET, B_ZONE, "b-only-conduit"),
)

# -- what the routes are ------------------------------------------------------------------

# Routes that every visitor may use, or whose objects are public by design. They are not
# walked: nothing in them belongs to a tenant, or what they show is meant to be seen.
PUBLIC = {
    # The Handle API: identifier records are resolvable by anyone (that is what they are
    # for); its writes are authorised by the Handle principals (tests/web/test_handles_api.py),
    # and so are reads of restricted values, by GET or POST (tests/web/test_handles_http.py).
    ("GET", "/api/handles"),
    ("GET", "/api/handles/{handle}"),
    ("POST", "/api/handles/{handle}"),
    ("POST", "/nodes/{node}/api/handles/{handle}"),
    # Handle.Net's site information (public, as in HS_SITE), the prefixes a node is home to
    # (scoped to what the Handle principal may see, tests/web/test_handles_http.py) and
    # homing, which answers 501 to everyone.
    *(
        (method, f"{base}/api/{path}")
        for base in ("", "/nodes/{node}")
        for method, path in (
            ("GET", "site"),
            ("GET", "site/"),
            ("GET", "prefixes"),
            ("POST", "prefixes/{prefix}"),
            ("DELETE", "prefixes/{prefix}"),
            # Handle.Net's challenge-response sessions: a session holds a nonce and, once a
            # signature checks, one Handle identity; it reads nothing of any tenant
            # (tests/web/test_handle_sessions.py).
            ("POST", "sessions"),
            ("POST", "sessions/"),
            ("GET", "sessions/{rest}"),
            ("PUT", "sessions/{rest}"),
            ("POST", "sessions/{rest}"),
            ("DELETE", "sessions/{rest}"),
        )
    ),
    ("PUT", "/api/handles/{handle}"),
    ("DELETE", "/api/handles/{handle}"),
    ("GET", "/nodes/{node}/api/handles"),
    ("GET", "/nodes/{node}/api/handles/{handle}"),
    ("PUT", "/nodes/{node}/api/handles/{handle}"),
    ("DELETE", "/nodes/{node}/api/handles/{handle}"),
    ("GET", "/api/v1/resolve/{handle}"),  # anonymous resolution through the recursive resolver
    ("GET", "/api/v1/prefixes/{prefix}/templates"),  # public, so clients can validate writes
    ("GET", "/api/v1/nodes"),  # node statistics, anonymous
    ("GET", "/api/v1/nodes/{name}"),
    ("GET", "/metrics"),  # Prometheus scrape, platform-wide figures
    ("POST", "/api/v1/auth/token"),  # log in
    ("DELETE", "/api/v1/auth/token"),  # log out (revokes the caller's own token)
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/lang/{locale}"),  # language cookie
    ("GET", "/tz"),  # time-zone cookie and its chooser
    ("GET", "/favicon.ico"),  # a redirect to the static icon
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/ids/resolve"),  # the console's resolve page, anonymous
    ("POST", "/login/password"),  # a temporary password replaced (its own one-time token)
    # Between federated instances: an enrolment's credential is its one-time token and the
    # proof of its key, a delivery's is each message's signature by an enrolled peer
    # (tests/federation/test_federation.py refuses every wrong one)
    ("POST", "/api/v1/federation/enrol"),
    ("POST", "/api/v1/federation/messages"),
    # Enterprise self-registration: anonymous by design; what it creates is held at login
    # until reviewed (tests/web/test_registration.py).
    ("GET", "/register"),
    ("POST", "/register"),
    ("POST", "/api/v1/registrations"),
    # The applicant's own door (its admin's Basic credentials; it cannot log in before
    # approval): its licence and its review state, nobody else's (tests/web/test_enterprise_review).
    ("PUT", "/api/v1/registrations/licence"),
    ("GET", "/api/v1/registrations/status"),
    ("GET", "/register/licence"),  # the same door in the console (the credentials in the form)
    ("POST", "/register/licence"),
    # A device's signed requests: no account, the signature against the key in the record
    # is the credential; only that record is written (tests/web/test_active_api.py).
    ("POST", "/api/v1/active/announce"),
    ("POST", "/api/v1/active/rotate"),
    # Complaints: anyone files one and looks its state up by reference and contact
    # (tests/web/test_complaints.py).
    ("GET", "/complain"),
    ("POST", "/complain"),
    ("GET", "/complain/status"),
    ("POST", "/complain/status"),
    ("POST", "/api/v1/complaints"),
    ("POST", "/api/v1/complaints/status"),
    ("GET", "/api/v1/licence"),  # the operator's licence, shown on the public page
    # A secondary node's pushes to its top-level node: no account, the prefix credential
    # 300:0.NA/<prefix> is the caller, and only rows under that prefix are taken; every row
    # is keyed by it (tests/web/test_children_api.py).
    ("GET", "/api/v1/children/self"),
    ("PUT", "/api/v1/children/reports"),
    ("PUT", "/api/v1/children/registry"),
    # The GS1 Digital Link resolver: public reads by design (what a phone scanning a QR code
    # asks), of public values only, one route per GS1 primary key, and its description file
    # (tests/web/test_digital_link.py).
    *(
        (method, f"/{ai}/{{rest}}")
        for ai in ("00", "01", "414", "8003", "8004", "8018")
        for method in ("GET", "OPTIONS")
    ),
    ("GET", "/.well-known/gs1resolver"),
    # Detection rules, rule files and ATT&CK techniques are the installation's, read by every
    # signed-in user and changed by platform admins only (tests/security/detect/test_api.py).
    ("GET", "/api/v1/security/rules/{detection_rule}"),
    ("POST", "/api/v1/security/rules/{detection_rule}/enable"),
    ("POST", "/api/v1/security/rules/{detection_rule}/disable"),
    ("PUT", "/api/v1/security/rule-files/{file_name}"),
    ("DELETE", "/api/v1/security/rule-files/{file_name}"),
    ("GET", "/api/v1/security/attack/techniques/{technique}"),
    ("POST", "/security/rules/{detection_rule}/enabled"),
    ("POST", "/security/rules/files"),
    ("POST", "/security/rules/files/{file_name}/delete"),
    # TAXII feeds are the installation's too: platform admins change them, others get 404
    # (tests/security/sharing/test_sharing_console.py)
    ("POST", "/security/sharing/feeds/{feed_no}/edit"),
}
# Things of no enterprise that only overseers see (``core.access`` with no enterprise):
# complaints. They are not a tenant's, so no owner finds them; ``test_isolation_matrix``
# checks instead that every enterprise's user gets 404 for one that exists.
OVERSEERS_ONLY = {
    ("GET", "/api/v1/complaints/{complaint_id}"),
    ("POST", "/api/v1/complaints/{complaint_id}/{action}"),
    ("GET", "/ids/complaints/{complaint_id}"),
    ("POST", "/ids/complaints/{complaint_id}"),
}
STATIC = ("/console/static",)  # mounted file trees: CSS, scripts, fonts
# The wall display's routes: authenticated by a display token (a cookie scoped to /wall), not
# a session or an API token. They are walked like every list (a session opens nothing there);
# that the token opens nothing else is tests/web/test_console_dashboards.py's walk.
DISPLAY_ONLY = {("GET", "/wall"), ("GET", "/wall/data")}

# Parameters that name a tenant's thing: the value of B's thing is substituted for them.
TENANT_PARAMS = {
    "device_id": "device",
    "device": "device",
    "enterprise_id": "enterprise",
    "rule_id": "rule",
    "alarm_id": "alarm",
    "job_id": "job",
    "model_id": "model",
    "base": "model",  # the console's "new version of" model
    "prefix": "prefix",
    "ref": "template",
    "token_id": "token",  # a spare token of B's admin (tokens are their user's; core.tokens)
    "api_token_id": "api_token",  # another spare API token of B's admin (the console's)
    "session_id": "session",  # a spare console session of B's admin
    "user_id": "user",  # B's enterprise user (the console's users pages)
    "board_id": "board",  # B's dashboard
    "display_id": "display",  # B's wall-display token (the wall itself takes only the token)
    "channel_id": "channel",  # B's notification channel
    "notify_rule_id": "notify_rule",  # B's notification subscription
    "handle": "handle",  # B's identifier (the console's identifier pages)
    "application_id": "application",  # B's application for a prefix (ids.applications)
    "alert_id": "alert",  # B's security alert (security.cases)
    "case_id": "case",  # B's security case, its task and its evidence file
    "task_id": "case_task",
    "evidence_id": "evidence",
    "collection_id": "collection",  # B's TAXII collection (security.sharing)
    "object_id": "stix_object",  # a STIX object in it
    "status_id": "taxii_status",  # the status resource of B's TAXII add
    "asset_id": "asset",  # B's asset in the security inventory
    "zone_id": "zone",  # B's security zone (IEC 62443)
    "conduit_id": "conduit",  # B's conduit between two of its zones
    # The console's asset pages name spare ones, so the API's deletes leave them for its own.
    "asset_no": "asset_2",
    "zone_no": "zone_2",
    "conduit_no": "conduit_2",
    "match_id": "vuln_match",  # a vulnerability match of B's asset (security.vulns)
    # regulation: B under supervision (by its USCC), its grading, obligation, evidence file,
    # and a notice sent to it
    "uscc": "uscc",
    "grading_id": "grading",
    "obligation_id": "obligation",
    "sha256": "reg_evidence",
    "notice_id": "notice",
}
# Parameters that name no tenant's thing, with a value that makes the request well formed.
PLAIN_PARAMS: dict[str, Any] = {
    "point": "engine_temp",
    "version": "",
    "points": "engine_temp",
    "format": "csv",
    "range": "15m",
    "bucket": 60_000,
    "limit": 10,
    "name": "evidence.bin",  # an evidence file's name (security cases)
}
# Parameters that narrow a list by a tenant's thing: A's users naming B's thing get 404.
# A route whose query parameter is in TENANT_PARAMS is tried with it; the console's template
# pages take a prefix whose templates are public (as GET /api/v1/prefixes/{prefix}/templates).
PUBLIC_QUERY = {("GET", "/ids/templates", "prefix")}
# Body fields named like a tenant's thing that name a public one: an application for a prefix
# names the prefix it wants, and whether a prefix is taken is public (its ``0.NA/<prefix>``
# record resolves for anyone); the refusal, 409 ``prefix_allocated``, is the same for every
# enterprise's prefix (tests/web/test_prefix_governance.py).
PUBLIC_BODY = {("POST", "/api/v1/prefix-applications", "prefix")}
# An asset's ``model`` is the product model it says it is (free text), not a Thing Model.
PUBLIC_BODY |= {
    ("POST", "/api/v1/security/assets", "model"),
    ("PATCH", "/api/v1/security/assets/{asset_id}", "model"),
}

# Request bodies of operations that take one, by (method, path). JSON unless a key says
# otherwise: ("form", {...}) for console forms, ("csv", text) for CSV uploads.
BODIES: dict[tuple[str, str], tuple[str, Any]] = {
    ("PUT", "/api/v1/security/vulns/matches/{match_id}/state"): (
        "json",
        {"state": "dismissed", "reason": "someone else's decision"},
    ),
    ("POST", "/security/vulnerabilities/{match_id}/state"): (
        "form",
        {"state": "dismissed", "reason": "someone else's decision"},
    ),
    ("PATCH", "/api/v1/devices/{device_id}"): ("json", {"name": "renamed by someone"}),
    ("PATCH", "/api/v1/security/cases/{case_id}"): ("json", {"tlp": "RED"}),
    ("POST", "/api/v1/security/cases/{case_id}/status"): ("json", {"status": "in_progress"}),
    ("POST", "/api/v1/security/cases/{case_id}/tasks"): ("json", {"title": "x"}),
    ("PATCH", "/api/v1/security/cases/{case_id}/tasks/{task_id}"): ("json", {"done": True}),
    ("POST", "/api/v1/security/cases/{case_id}/notes"): ("json", {"text": "x"}),
    ("POST", "/api/v1/security/cases/{case_id}/evidence"): ("csv", "a,b\n"),
    ("POST", "/security/cases/{case_id}"): ("form", {"tlp": "RED"}),
    ("POST", "/security/cases/{case_id}/status"): ("form", {"status": "in_progress"}),
    ("POST", "/security/cases/{case_id}/tasks"): ("form", {"title": "x"}),
    ("POST", "/security/cases/{case_id}/tasks/{task_id}"): ("form", {"done": "1"}),
    ("POST", "/security/cases/{case_id}/notes"): ("form", {"text": "x"}),
    ("POST", "/security/cases/{case_id}/evidence"): ("form", {}),
    ("POST", "/security/alerts/{alert_id}/promote"): ("form", {}),
    ("POST", "/api/v1/devices/{device_id}/commands"): (
        "json",
        {"action": "engine_lock", "input": True},
    ),
    ("PUT", "/api/v1/telemetry/retention/{enterprise_id}"): ("json", {"days": 30}),
    ("PATCH", "/api/v1/rules/{rule_id}"): ("json", {"severity": "warning"}),
    ("POST", "/api/v1/alarms/{alarm_id}/ack"): ("json", {"note": "seen"}),
    ("POST", "/api/v1/prefixes/{prefix}/templates"): (
        "json",
        {
            "name": "intruder",
            "version": "1.0",
            "industry_code": "C3441",
            "items": [{"name": "flow", "type": "number", "index": 2000}],
        },
    ),
    ("POST", "/api/v1/devices/import"): ("csv", "id,name,model\nintruder-1,x,indunet:env-sensor\n"),
    ("POST", "/platform/devices/{device_id}/command"): (
        "form",
        {"kind": "invoke", "action": "engine_lock", "payload": "true"},
    ),
    ("POST", "/platform/alarms/{alarm_id}/ack"): ("form", {"note": "seen"}),
    ("POST", "/platform/alarms/{alarm_id}/clear"): ("form", {"note": "seen"}),
    ("POST", "/platform/alarms/{alarm_id}/comments"): ("form", {"text": "seen"}),
    ("POST", "/api/v1/alarms/{alarm_id}/clear"): ("json", {"note": "seen"}),
    ("POST", "/api/v1/alarms/{alarm_id}/comments"): ("json", {"text": "seen"}),
    ("POST", "/platform/rules/{rule_id}"): (
        "form",
        {"name": "x", "target": "model", "model_id": "indunet:excavator", "condition": "x > 1"},
    ),
    ("POST", "/platform/rules/{rule_id}/enabled"): ("form", {"enabled": "0"}),
    ("POST", "/platform/rules/{rule_id}/delete"): ("form", {}),
    ("POST", "/ids/enterprises/{enterprise_id}/review"): ("form", {"decision": "approve"}),
    ("POST", "/ids/prefixes/{prefix}/revoke"): ("form", {"reason": "x", "confirm": "not-it"}),
    ("POST", "/ids/prefixes/{prefix}/rotate"): ("form", {}),
    ("POST", "/ids/bulk/{job_id}/resume"): ("form", {}),
    ("POST", "/admin/users/{user_id}/role"): ("form", {"role": "enterprise_user"}),
    ("POST", "/admin/users/{user_id}/disable"): ("form", {}),
    ("POST", "/admin/users/{user_id}/enable"): ("form", {}),
    ("POST", "/admin/users/{user_id}/reset-password"): ("form", {}),
    ("POST", "/admin/account/tokens/{api_token_id}/revoke"): ("form", {}),
    ("POST", "/admin/account/sessions/{session_id}/revoke"): ("form", {}),
    ("POST", "/platform/dashboards/{board_id}"): (
        "form",
        {"name": "x", "layout": '{"widgets": []}'},
    ),
    ("POST", "/platform/dashboards/{board_id}/delete"): ("form", {}),
    ("POST", "/platform/displays/{display_id}/revoke"): ("form", {}),
    ("POST", "/platform/devices/{device_id}/edit"): ("form", {"name": "renamed by someone"}),
    ("POST", "/platform/devices/{device_id}/secret"): ("form", {"go": "1"}),
    ("POST", "/platform/devices/{device_id}/delete"): ("form", {"confirm": "not-the-id"}),
    ("POST", "/platform/notifications/channels/{channel_id}/test"): ("form", {}),
    ("POST", "/platform/notifications/channels/{channel_id}/delete"): ("form", {}),
    ("POST", "/platform/notifications/rules/{notify_rule_id}/delete"): ("form", {}),
    ("POST", "/platform/notifications/rules/{notify_rule_id}"): (
        "form",
        {"name": "x", "channel_id": "1", "kinds": "alarm.raised", "zone": "UTC"},
    ),
    ("POST", "/api/v1/complaints/{complaint_id}/{action}"): ("json", {"reply": "closed"}),
    ("POST", "/ids/complaints/{complaint_id}"): ("form", {"action": "resolve", "reply": "x"}),
    ("POST", "/api/v1/prefix-applications/{application_id}/approve"): ("json", {}),
    ("POST", "/api/v1/prefix-applications/{application_id}/reject"): ("json", {"reason": "x"}),
    ("POST", "/api/v1/prefixes/{prefix}/renewals"): ("json", {"purpose": "x"}),
    ("POST", "/api/v1/prefixes/{prefix}/revoke"): ("json", {"reason": "x"}),
    ("POST", "/api/v1/enterprises/{enterprise_id}/review"): ("json", {"decision": "approve"}),
    ("POST", "/ids/prefixes/{prefix}/renew"): ("form", {"purpose": "x"}),
    ("POST", "/ids/prefix-applications/{application_id}"): ("form", {"decision": "approve"}),
    ("POST", "/taxii2/api1/collections/{collection_id}/objects/"): ("json", {"objects": []}),
    ("PATCH", "/api/v1/security/assets/{asset_id}"): ("json", {"location": "moved by someone"}),
    ("PUT", "/api/v1/security/zones/{zone_id}"): ("json", {"name": "renamed", "sl_target": 2}),
    ("POST", "/security/assets/{asset_no}"): ("form", {"location": "moved by someone"}),
    ("POST", "/security/assets/{asset_no}/delete"): ("form", {"confirm": "not-the-id"}),
    ("POST", "/security/zones/{zone_no}/delete"): ("form", {}),
    ("POST", "/security/conduits/{conduit_no}/delete"): ("form", {}),
    ("PUT", "/api/v1/regulation/gradings/{grading_id}"): (
        "json",
        {"answers": {"sector": "other"}},
    ),
    ("POST", "/api/v1/regulation/gradings/{grading_id}/review"): (
        "json",
        {"decision": "return", "comment": "someone else's decision"},
    ),
    ("POST", "/api/v1/regulation/obligations/{obligation_id}/complete"): ("json", {"note": "x"}),
    ("POST", "/api/v1/regulation/notices/{notice_id}/recipients/{uscc}/report"): (
        "json",
        {"text": "disposed by someone"},
    ),
    ("POST", "/api/v1/regulation/notices/{notice_id}/recipients/{uscc}/verify"): (
        "json",
        {"decision": "close"},
    ),
    # the authority's regulation pages (web/console/regulation*.py): forms of the same acts
    ("POST", "/regulation/gradings/{grading_id}/review"): (
        "form",
        {"decision": "confirm", "level": "3", "comment": "someone else's decision"},
    ),
    ("POST", "/regulation/notices/{notice_id}/recipients/{uscc}/verify"): (
        "form",
        {"decision": "close"},
    ),
    # the enterprise's own regulation pages (web/console/regulation_mine*.py)
    ("POST", "/regulation/mine/{uscc}/grading"): ("form", {"answer.sector": "other"}),
    ("POST", "/regulation/mine/gradings/{grading_id}"): ("form", {"answer.sector": "other"}),
    ("POST", "/regulation/mine/gradings/{grading_id}/submit"): ("form", {}),
    ("POST", "/regulation/mine/obligations/{obligation_id}/complete"): ("form", {"note": "x"}),
    ("POST", "/regulation/mine/{uscc}/notices/{notice_id}/sign"): ("form", {}),
    ("POST", "/regulation/mine/{uscc}/notices/{notice_id}/report"): (
        "form",
        {"text": "disposed by someone"},
    ),
}


# Writes whose body names a tenant's thing, by (method, path, field): a body in which THING
# stands for the thing. A's users send it with B's thing and with a thing that does not exist;
# the answers must not differ (and must not be a success). Path parameters here name A's own
# things (A's device, A's rule): pointing A's rule at B's device is the attack.
THING = "<thing>"
BODY_FIELDS: dict[tuple[str, str, str], dict[str, Any]] = {
    # regulation: a self-assessment of another's enterprise; putting another's under one's type
    ("POST", "/api/v1/regulation/gradings", "enterprise_uscc"): {
        "enterprise_uscc": THING,
        "answers": {"sector": "key"},
    },
    ("PUT", "/api/v1/regulation/profile", "enterprise_id"): {
        "etype": "platform",
        "enterprise_id": THING,
    },
    ("POST", "/regulation/mine/profile", "enterprise_id"): {  # the console's form of the same
        "etype": "platform",
        "enterprise_id": THING,
    },
    ("POST", "/api/v1/devices", "enterprise_id"): {
        "id": "intruder-2",
        "name": "x",
        "model": "indunet:excavator",
        "protocol": "mqtt",
        "enterprise_id": THING,
    },
    ("POST", "/api/v1/devices", "model"): {"id": "intruder-3", "name": "x", "model": THING},
    ("POST", "/api/v1/devices", "prefix"): {
        "id": "intruder-4",
        "name": "x",
        "model": "indunet:excavator",
        "protocol": "mqtt",
        "prefix": THING,
    },
    ("PATCH", "/api/v1/devices/{device_id}", "model"): {"model": THING},
    ("POST", "/api/v1/rules", "device_id"): {
        "name": "intruder",
        "device_id": THING,
        "condition": "engine_temp > 1",
    },
    ("POST", "/api/v1/rules", "model_id"): {
        "name": "intruder",
        "model_id": THING,
        "condition": "flow > 1",
    },
    ("POST", "/api/v1/rules", "enterprise_id"): {
        "name": "intruder",
        "model_id": "indunet:excavator",
        "enterprise_id": THING,
        "condition": "engine_temp > 1",
    },
    ("PATCH", "/api/v1/rules/{rule_id}", "device_id"): {"device_id": THING},
    ("PATCH", "/api/v1/rules/{rule_id}", "model_id"): {"model_id": THING, "condition": "flow > 1"},
    ("PATCH", "/api/v1/rules/{rule_id}", "enterprise_id"): {"enterprise_id": THING},
    ("POST", "/api/v1/prefixes", "prefix"): {"prefix": THING, "enterprise_uscc": USCC_A},
    # Enrolling an active identifier under another's prefix, or bound to another's device.
    ("POST", "/api/v1/active/enrol", "handle"): {"handle": THING, "key": DEVICE_KEY},
    ("POST", "/api/v1/active/enrol", "device"): {
        "handle": f"{B_PREFIX}/ai-bound",  # B's own, so that B's admin proves the body works
        "key": DEVICE_KEY,
        "device": THING,
    },
    ("POST", "/api/v1/prefix-applications", "enterprise_id"): {
        "prefix": "88.100.77",
        "purpose": "x",
        "enterprise_id": THING,
    },
    ("POST", "/api/v1/prefixes", "enterprise_uscc"): {
        "prefix": "88.100.77",
        "enterprise_uscc": THING,
    },
    # A notification subscription sending to a channel (the channel names the enterprise).
    ("POST", "/platform/notifications/rules", "channel_id"): {
        "name": "intruder",
        "channel_id": THING,
        "kinds": "alarm.raised",
        "zone": "UTC",
    },
    ("POST", "/platform/notifications/rules/{notify_rule_id}", "channel_id"): {
        "name": "intruder",
        "channel_id": THING,
        "kinds": "alarm.raised",
        "zone": "UTC",
    },
    # The console's identifier pages: edit and delete name the identifier in the form.
    ("POST", "/ids/handles/edit", "handle"): {
        "handle": THING,
        "index": "1",
        "type": "URL",
        "value": "https://intruder.example",
    },
    ("POST", "/ids/handles/delete", "handle"): {"handle": THING},
    # The console's rule form: a rule for a device, a model, or (a model of) an enterprise.
    ("POST", "/platform/rules/new", "device_id"): {
        "name": "intruder",
        "target": "device",
        "device_id": THING,
        "condition": "engine_temp > 1",
    },
    ("POST", "/platform/rules/new", "model_id"): {
        "name": "intruder",
        "target": "model",
        "model_id": THING,
        "condition": "flow > 1",
    },
    ("POST", "/platform/rules/new", "enterprise_id"): {
        "name": "intruder",
        "target": "model",
        "model_id": "indunet:excavator",
        "enterprise_id": THING,
        "condition": "engine_temp > 1",
    },
    # The console's model form editor: a new version of another tenant's model.
    ("POST", "/platform/models/form", "base"): {"base": THING, "action": "publish"},
    ("POST", "/platform/models/form/check", "base"): {"base": THING},
    # The console's dead-letter retry: every letter of a device.
    ("POST", "/platform/ingest/retry", "device"): {"scope": "device", "device": THING},
    # Not in OpenAPI's body schema (the route parses its own JSON): samples for a device.
    ("POST", "/api/v1/telemetry", "device"): {
        "samples": [{"device": THING, "point": "engine_temp", "value": 1.0}]
    },
    # Not in OpenAPI's body schema either: security events for another tenant's enterprise.
    ("POST", "/api/v1/security/cases", "enterprise_id"): {"title": "x", "enterprise_id": THING},
    ("POST", "/api/v1/security/events", "enterprise_id"): {
        "events": [{"source": "zeek", "kind": "net.connection", "enterprise_id": THING}]
    },
    # The asset inventory: an asset in another's enterprise, linked to another's device; a
    # zone in another's enterprise; a conduit between another's zones.
    ("POST", "/api/v1/security/assets", "enterprise_id"): {"name": "x", "enterprise_id": THING},
    ("POST", "/api/v1/security/assets", "device_id"): {"name": "x", "device_id": THING},
    ("PATCH", "/api/v1/security/assets/{asset_id}", "device_id"): {"device_id": THING},
    ("POST", "/api/v1/security/zones", "enterprise_id"): {
        "name": "intruder",
        "sl_target": 1,
        "enterprise_id": THING,
    },
    ("POST", "/api/v1/security/conduits", "zone_a"): {
        "name": "intruder",
        "zone_a": THING,
        "zone_b": THING,
    },
    ("POST", "/security/conduits", "zone_a"): {
        "name": "intruder",
        "zone_a": THING,
        "zone_b": THING,
    },
    # Detection: the console's baseline page (learn, enforce, remove) names the enterprise.
    ("POST", "/security/baseline", "enterprise_id"): {"op": "learn", "enterprise_id": THING},
    # Detection: an enterprise's lists and baseline (tests/security/detect/test_api.py).
    ("PUT", "/api/v1/security/lists", "enterprise_id"): {
        "enterprise_id": THING,
        "name": "allowed_masters",
        "items": ["10.0.0.1"],
    },
    ("POST", "/api/v1/security/baseline/learning", "enterprise_id"): {
        "enterprise_id": THING,
        "days": 1,
    },
    ("POST", "/api/v1/security/baseline/enforce", "enterprise_id"): {"enterprise_id": THING},
    ("POST", "/api/v1/security/baseline/items", "enterprise_id"): {
        "enterprise_id": THING,
        "kind": "function",
        "dst_ip": "10.0.0.2",
        "protocol": "modbus",
        "function": "5",
    },
    ("POST", "/api/v1/security/baseline/remove", "enterprise_id"): {
        "enterprise_id": THING,
        "item_id": 1,
    },
    ("POST", "/api/v1/security/baseline/accept", "enterprise_id"): {
        "enterprise_id": THING,
        "event": {
            "source": "sensor",
            "kind": "ot.transaction",
            "protocol": "modbus",
            "src_ip": "10.0.0.1",
            "dst_ip": "10.0.0.2",
            "dst_port": 502,
        },
    },
}
# Body fields that name a tenant's thing, and their kind.
BODY_TENANT_FIELDS = {
    "device_id": "device",
    "device": "device",
    "enterprise_id": "enterprise",
    "model_id": "model",
    "model": "model",
    "base": "model",  # the console's "new version of" model
    "prefix": "prefix",
    "enterprise_uscc": "uscc",
    "channel_id": "channel",
    "handle": "handle",
    "zone_a": "zone",  # a conduit's zones (zone_b is sent the same)
}
# Things that exist nowhere, of each kind: the answer A's users must not tell apart.
MISSING: dict[str, Any] = {
    "device": "no-such-device-0",
    "enterprise": 987_654,
    "model": "nobody:nothing",
    "prefix": "88.999.9",
    "uscc": core.make_uscc("91110108MA01XYWQ"),
    "rule": 987_654,
    "alarm": 987_654,
    "job": 987_654,
    "token": 987_654,
    "api_token": 987_654,
    "session": 987_654,
    "user": 987_654,
    "board": 987_654,
    "display": 987_654,
    "channel": 987_654,
    "notify_rule": 987_654,
    "template": "nothing@1.0",
    "handle": "88.999.9/nothing",
    "application": 987_654,
    "alert": "f" * 32,
    "case": 987_654,
    "case_task": 987_654,
    "evidence": 987_654,
    "collection": "00000000-0000-4000-8000-000000000000",
    "stix_object": "indicator--00000000-0000-4000-8000-000000000000",
    "taxii_status": "00000000-0000-4000-8000-000000000001",
    "asset": 987_654,
    "zone": 987_654,
    "conduit": 987_654,
    "asset_2": 987_654,
    "zone_2": 987_654,
    "conduit_2": 987_654,
    "vuln_match": 987_654,
    "grading": "0" * 32,
    "obligation": "0" * 32,
    "reg_evidence": "0" * 64,
    "notice": "0" * 32,
}
# Changes that name no tenant's thing at all (no id in the path, query or body): creating an
# enterprise, a model or a bulk job acts on the caller's own enterprise or is role-gated.
NAMES_NOTHING = {
    ("POST", "/api/v1/enterprises"),
    # the installation's federation: peers' deliveries and enrolments, tokens issued by
    # platform admins (tests/federation)
    ("POST", "/api/v1/federation/enrol"),
    ("POST", "/api/v1/federation/messages"),
    ("POST", "/api/v1/federation/tokens"),
    ("POST", "/federation/tokens"),  # the console's form of the same (platform admins)
    ("POST", "/api/v1/models"),
    ("POST", "/api/v1/bulk"),
    ("POST", "/ids/register"),  # console forms of the same kinds
    ("POST", "/ids/templates"),
    ("POST", "/ids/enterprises"),
    ("POST", "/ids/prefixes"),
    ("POST", "/ids/prefix-applications"),  # for the caller's own enterprise (its admins)
    ("POST", "/ids/bulk"),  # a job of the caller's own (its page: tests/web/test_console_ids_ops)
    ("POST", "/platform/devices"),
    ("POST", "/platform/devices/import"),
    ("POST", "/platform/devices/import/secrets"),  # a one-time handle of the caller's own
    ("POST", "/platform/models"),
    ("POST", "/admin/users"),  # invites into the caller's enterprise (core.accounts)
    ("POST", "/admin/account/password"),  # the caller's own account
    ("POST", "/admin/account/tokens"),
    ("POST", "/admin/account/sessions/revoke-others"),
    ("POST", "/admin/account/sessions/revoke-all"),
    ("POST", "/platform/dashboards"),  # of the caller's enterprise (naming another's: 404,
    ("POST", "/platform/displays"),  # tests/web/test_console_dashboards.py)
    ("POST", "/platform/notifications/channels"),  # in the caller's enterprise (tests/notify)
    # TAXII feeds are the installation's, changed by platform admins only; others get 404
    # (tests/security/sharing/test_sharing_console.py)
    ("POST", "/security/sharing/feeds"),
    ("POST", "/security/sharing/feeds/delete"),
    ("POST", "/security/assets"),  # in the caller's enterprise (tests/security/assets)
    ("POST", "/security/zones"),
    ("POST", "/api/v1/security/vulns/advisories"),  # shared advisories: platform admins only
    ("POST", "/api/v1/security/vulns/advisories/sync"),  # the operator's directory, likewise
    # regulatory acts of regulators over every enterprise under the instance (a notice's
    # selection naming an enterprise outside it: 403, tests/regulation)
    ("POST", "/api/v1/regulation/rules"),
    ("POST", "/api/v1/regulation/notices"),
    ("POST", "/regulation/notices"),  # the console's issue form (regulators)
}


@dataclass(frozen=True)
class Operation:
    """One method on one route, with where its parameters go."""

    method: str
    path: str  # as written in the route, {name} without converters
    console: bool  # cookie-authenticated console route (else Bearer)
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    required_query: tuple[str, ...]
    has_body: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Unclassified:
    """Routes the walk could not turn into requests, each with the reason."""

    problems: list[str] = field(default_factory=list)


def _plain(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def _flat(dependant: Any, kind: str) -> list[Any]:
    found = list(getattr(dependant, kind))
    for sub in dependant.dependencies:
        found += _flat(sub, kind)
    return found


def operations(app: FastAPI) -> tuple[list[Operation], Unclassified]:
    """Every operation of the app: the OpenAPI document, then the routes OpenAPI leaves out."""
    ops: list[Operation] = []
    bad = Unclassified()
    spec = app.openapi()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            params = op.get("parameters", [])
            unknown = [p["in"] for p in params if p["in"] not in ("path", "query")]
            if unknown:
                bad.problems.append(f"{method.upper()} {path}: parameters in {unknown}")
            ops.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    console=False,
                    path_params=tuple(p["name"] for p in params if p["in"] == "path"),
                    query_params=tuple(p["name"] for p in params if p["in"] == "query"),
                    required_query=tuple(
                        p["name"] for p in params if p["in"] == "query" and p.get("required")
                    ),
                    has_body="requestBody" in op,
                )
            )
    in_schema = {o.key for o in ops}
    for rc in iter_route_contexts(app.routes):
        route = rc.original_route
        if isinstance(route, Mount) or isinstance(rc.route, Mount):
            if not str(rc.path).startswith(STATIC):
                bad.problems.append(f"mount {rc.path}: not a known static tree")
            continue
        path = _plain(str(rc.path))
        if not rc.methods:
            bad.problems.append(f"{path}: a {type(route).__name__} without methods (WebSocket?)")
        for method in sorted((rc.methods or set()) - {"HEAD"}):
            if (method, path) in in_schema or (method, path) in PUBLIC:
                continue
            if not isinstance(route, APIRoute):
                bad.problems.append(f"{method} {path}: a {type(route).__name__} outside OpenAPI")
                continue
            dep = rc.dependant
            query = _flat(dep, "query_params")
            ops.append(
                Operation(
                    method=method,
                    path=path,
                    console=True,
                    path_params=tuple(p.name for p in _flat(dep, "path_params")),
                    query_params=tuple(p.name for p in query),
                    required_query=tuple(p.name for p in query if p.field_info.is_required()),
                    has_body=method in ("POST", "PUT", "PATCH"),
                )
            )
    for op in ops:
        if op.key in PUBLIC or op.key in OVERSEERS_ONLY:
            continue
        for name in op.path_params:
            if name not in TENANT_PARAMS and name not in PLAIN_PARAMS:
                bad.problems.append(f"{op}: path parameter {name!r} names nothing known")
        for name in op.required_query:
            if name not in TENANT_PARAMS and name not in PLAIN_PARAMS:
                bad.problems.append(f"{op}: required query parameter {name!r} has no value")
        if op.path_params and op.has_body and op.key not in BODIES and not op.console:
            bad.problems.append(f"{op}: takes a body; add one to BODIES")
        if op.path_params and op.console and op.method != "GET" and op.key not in BODIES:
            bad.problems.append(f"{op}: a console form; add its fields to BODIES")
    spec_fields = _body_fields(spec)
    listed = {(m, p) for m, p, _ in BODY_FIELDS}
    for op in ops:
        for name in spec_fields.get(op.key, ()):
            if (
                name in BODY_TENANT_FIELDS
                and (*op.key, name) not in BODY_FIELDS
                and (*op.key, name) not in PUBLIC_BODY
            ):
                bad.problems.append(f"{op}: body field {name!r} names a thing; add to BODY_FIELDS")
        unscoped = not op.path_params and not (set(op.query_params) & set(TENANT_PARAMS))
        if (
            op.method != "GET"
            and unscoped
            and op.key not in PUBLIC
            and op.key not in listed
            and op.key not in NAMES_NOTHING
        ):
            bad.problems.append(
                f"{op}: a change naming nothing in its path or query; list it in BODY_FIELDS "
                "(if its body names a thing) or NAMES_NOTHING"
            )
    return ops, bad


def _body_fields(spec: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """The top-level fields of each operation's request bodies."""
    schemas = spec.get("components", {}).get("schemas", {})
    found: dict[tuple[str, str], set[str]] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for content in op.get("requestBody", {}).get("content", {}).values():
                schema = content.get("schema", {})
                if "$ref" in schema:
                    schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
                fields = found.setdefault((method.upper(), path), set())
                fields.update(schema.get("properties", {}))
    return found


# -- the two tenants ------------------------------------------------------------------------

EXCAVATOR = "indunet:excavator"  # an MQTT library model with an action (engine_lock)
B_PUMP_MODEL = {
    "@context": ["https://www.w3.org/2022/wot/td/v1.1"],
    "@type": "tm:ThingModel",
    "indunet:modelId": B_MODEL,
    "title": "B's own pump",
    "version": {"model": "1.0.0"},
    "properties": {"flow": {"type": "number", "unit": "m3/h", "readOnly": True}},
}


@dataclass
class Who:
    """A user's credentials: a Bearer header for the API, a session cookie for the console."""

    name: str
    role: Role
    bearer: dict[str, str]
    cookie: dict[str, str] = field(default_factory=dict)


@dataclass
class Tenants:
    """Enterprises A and B, users of every role, and the ids of B's things by kind."""

    client: httpx.AsyncClient
    users: dict[str, Who]
    b: dict[str, Any]  # kind ("device", "rule", ...) -> B's real id
    a: dict[str, Any]  # A's own device and rule, for changes that point them at B's things

    def headers(self, who: str, op: Operation) -> dict[str, str]:
        """The credentials ``who`` would send to ``op``."""
        user = self.users[who]
        if op.console:
            return {**user.cookie, "Origin": "http://testserver"}
        return user.bearer

    async def call(
        self, who: str, op: Operation, path: dict[str, Any], query: dict[str, Any]
    ) -> httpx.Response:
        """Call ``op`` as ``who`` with these parameters and the operation's body."""
        url = op.path.format(**path)
        kind, body = BODIES.get(op.key, ("none", None))
        headers = self.headers(who, op)
        if kind == "json":
            return await self.client.request(
                op.method, url, params=query, json=body, headers=headers
            )
        if kind == "form":
            return await self.client.request(
                op.method, url, params=query, data=body, headers=headers
            )
        if kind == "csv":
            return await self.client.request(
                op.method,
                url,
                params=query,
                content=body.encode(),
                headers={**headers, "Content-Type": "text/csv"},
            )
        return await self.client.request(op.method, url, params=query, headers=headers)

    async def send(
        self, who: str, op: Operation, path: dict[str, Any], body: dict[str, Any]
    ) -> httpx.Response:
        """Call ``op`` as ``who`` with this body: a form for a console route, else JSON."""
        url = op.path.format(**path)
        if op.console:
            return await self.client.request(
                op.method, url, data=body, headers=self.headers(who, op)
            )
        return await self.client.request(op.method, url, json=body, headers=self.headers(who, op))

    def path_values(self, op: Operation) -> dict[str, Any]:
        """B's things for the path parameters of ``op`` that name a tenant's thing."""
        return {
            n: self.b[TENANT_PARAMS[n]] if n in TENANT_PARAMS else PLAIN_PARAMS[n]
            for n in op.path_params
        }

    def missing_path_values(self, op: Operation) -> dict[str, Any]:
        """Things that exist nowhere for the path parameters that name a tenant's thing."""
        return {
            n: MISSING[TENANT_PARAMS[n]] if n in TENANT_PARAMS else PLAIN_PARAMS[n]
            for n in op.path_params
        }

    def plain_query(self, op: Operation) -> dict[str, Any]:
        """Values for the required query parameters that name no tenant's thing."""
        return {n: PLAIN_PARAMS[n] for n in op.required_query if n in PLAIN_PARAMS}


ROLES = {
    "overseer": ("root", Role.PLATFORM_ADMIN, None),
    "regulator": ("rita", Role.REGULATOR, None),
    "a_admin": ("a-admin", Role.ENTERPRISE_ADMIN, "A"),
    "a_user": ("a-user", Role.ENTERPRISE_USER, "A"),
    "b_admin": ("b-admin", Role.ENTERPRISE_ADMIN, "B"),
    "b_user": ("b-user", Role.ENTERPRISE_USER, "B"),
}
PASSWORD = "a-long-password"  # tests/conftest.py api_token()'s


async def log_in(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Log in through the console's form; the session cookie as a header."""
    resp = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 303, f"console login of {username}: {resp.status_code} {resp.text}"
    token = resp.cookies.get(SESSION_COOKIE)
    assert token, f"console login of {username} set no session cookie"
    client.cookies.clear()
    # What the browser sends: the cookie, and the page's CSRF token on changes (HTMX does).
    return {"Cookie": f"{SESSION_COOKIE}={token}", HEADER: csrf_token(token)}


async def build(state: AppState, client: httpx.AsyncClient) -> Tenants:
    """Create A and B, a user of every role, and one of each of B's things through the API."""
    platform = state.platform
    assert platform is not None
    with state.engine.begin() as conn:
        a = core.create_enterprise(conn, uscc=USCC_A, name="甲方", actor="t", verified=True)
        b = core.create_enterprise(conn, uscc=USCC_B, name=B_NAME, actor="t", verified=True)
        core.documents.store(conn, b.id, png(), actor="t")  # B's business licence
    ids.allocate(state.hierarchy.front, "88.100.1", a, actor="t", secret="a-secret-key-1")
    ids.allocate(state.hierarchy.front, B_PREFIX, b, actor="t", secret="b-secret-key-2")
    record = [{"index": 1, "type": "URL", "data": "https://b.example/record"}]
    state.hierarchy.front.put(B_RECORD, record, ids.Principal(actor="t", prefixes=None))
    b_application = applications.apply(state.hierarchy.front, b, "88.100.3", B_PURPOSE, actor="t")
    eid = {"A": a.id, "B": b.id}
    users: dict[str, Who] = {}
    for key, (username, role, ent) in ROLES.items():
        token = api_token(state.engine, username, role, eid.get(ent or ""))
        users[key] = Who(username, role, {"Authorization": f"Bearer {token}"})
    for who in users.values():
        who.cookie = await log_in(client, who.name)
    with state.engine.begin() as conn:
        b_boss = core.get_user(conn, users["b_admin"].name)
        core.issue_token(conn, b_boss, name="spare")
        spare = core.list_tokens(conn, b_boss)[0].id  # newest first
        core.issue_token(conn, b_boss, name="console spare")
        spare_api = core.list_tokens(conn, b_boss)[0].id
        core.issue_token(conn, b_boss, name="console", kind="session")
        spare_session = core.list_tokens(conn, b_boss)[0].id
        b_user = core.get_user(conn, users["b_user"].name).id
    # Commands go to the in-memory sender: the device is not connected to anything.
    sender = telemetry.MemorySender()
    sender.actions["engine_lock"] = _locked
    platform.commands = telemetry.Commands(state.engine, sender, platform.devices, timeout=1.0)
    boss = users["b_admin"].bearer

    async def ok(resp: httpx.Response, what: str) -> Any:
        assert resp.status_code < 300, f"setting up B's {what}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    made = await ok(
        await client.post(
            "/api/v1/devices",
            json={"id": B_DEVICE, "name": "乙方挖掘机", "model": EXCAVATOR, "protocol": "mqtt"},
            headers=boss,
        ),
        "device",
    )
    rule = await ok(
        await client.post(
            "/api/v1/rules",
            json={
                "name": B_RULE,
                "device_id": B_DEVICE,
                "condition": "engine_temp > 50",
                "severity": "critical",
            },
            headers=boss,
        ),
        "rule",
    )
    device_auth = {"Authorization": f"Device {B_DEVICE}:{made['secret']}"}
    now = int(time.time() * 1000)
    samples = {
        "samples": [
            {"device": B_DEVICE, "point": "engine_temp", "ts": now, "value": 95.0},
            {"device": B_DEVICE, "point": "engine_rpm", "ts": now, "value": 1800.0},
            {"device": B_DEVICE, "point": "engine_rpm", "ts": now, "value": 99_999.0},
        ]
    }
    await ok(await client.post("/api/v1/telemetry", json=samples, headers=device_auth), "samples")
    alarms: Any = []
    for _ in range(250):  # the alarm commits in a worker thread after the samples are stored
        alarms = await ok(await client.get("/api/v1/alarms", headers=boss), "alarm list")
        if _items(alarms):
            break
        await asyncio.sleep(0.02)
    assert _items(alarms), "B's rule raised no alarm"
    command = await ok(
        await client.post(
            f"/api/v1/devices/{B_DEVICE}/commands",
            json={"action": "engine_lock", "input": True},
            headers=boss,
        ),
        "command",
    )
    assert command["state"] == "succeeded", command
    csv = f"handle,URL\n{B_HANDLE},https://b.example/1\n"
    job = await ok(
        await client.post(
            "/api/v1/bulk",
            files={"file": (B_BULK, csv, "text/csv")},
            data={"wait": "true"},
            headers=boss,
        ),
        "bulk job",
    )
    await ok(await client.post("/api/v1/models", json=B_PUMP_MODEL, headers=boss), "model")
    template = {
        "name": B_TEMPLATE,
        "version": "1.0",
        "industry_code": "C3441",
        "items": [{"name": "flow", "type": "number", "index": 2000}],
    }
    await ok(
        await client.post(f"/api/v1/prefixes/{B_PREFIX}/templates", json=template, headers=boss),
        "data template",
    )
    letters = await ok(
        await client.get("/api/v1/telemetry/dead-letters", headers=boss), "dead letters"
    )
    assert letters["total"] >= 1, "B's out-of-range sample left no dead letter"
    b_admin = core.User(0, users["b_admin"].name, Role.ENTERPRISE_ADMIN, b.id)
    b_zones = [
        await ok(
            await client.post(
                "/api/v1/security/zones", json={"name": name, "sl_target": 2}, headers=boss
            ),
            "zone",
        )
        for name in (B_ZONE, "b-only-zone-2")
    ]
    conduit = await ok(
        await client.post(
            "/api/v1/security/conduits",
            json={"name": "b-only-conduit", "zone_a": b_zones[0]["id"], "zone_b": b_zones[1]["id"]},
            headers=boss,
        ),
        "conduit",
    )
    conduit_2 = await ok(
        await client.post(
            "/api/v1/security/conduits",
            json={
                "name": "b-only-conduit-2",
                "zone_a": b_zones[0]["id"],
                "zone_b": b_zones[1]["id"],
            },
            headers=boss,
        ),
        "second conduit",
    )
    asset, asset_2 = [
        await ok(
            await client.post(
                "/api/v1/security/assets",
                json={"name": name, "ips": [ip], "zone_id": b_zones[0]["id"]},
                headers=boss,
            ),
            "asset",
        )
        for name, ip in ((B_ASSET, "10.66.0.1"), ("b-only-asset-2", "10.66.0.2"))
    ]
    a_asset = await ok(
        await client.post(
            "/api/v1/security/assets", json={"name": "a-asset"}, headers=users["a_admin"].bearer
        ),
        "A's asset",
    )
    board = telemetry.Dashboards(state.engine, platform.devices.lookup, platform.devices.model_of)
    board = board.create(b_admin, "b-only-board", b.id)
    display, _ = telemetry.Displays(state.engine).create(b_admin, name="b-only-display")
    notes = notify.Notifications(state.engine)
    hook = {"url": "https://b-only.example.com/hook", "secret": "b-only-signing-key"}
    channel = notes.create_channel(b_admin, None, "b-only-channel", "webhook", hook)
    subscription = notes.create_rule(
        b_admin, channel.id, {"name": "b-only-subscription", "kinds": ["alarm.raised"]}
    )
    b_taxii = await _taxii_of_b(client, boss)
    a_admin = core.User(0, users["a_admin"].name, Role.ENTERPRISE_ADMIN, a.id)
    a_hook = {"url": "https://a.example.com/hook", "secret": "a-only-signing-key"}
    a_channel = notes.create_channel(a_admin, None, "a-channel", "webhook", a_hook)
    a_subscription = notes.create_rule(
        a_admin, a_channel.id, {"name": "a-subscription", "kinds": ["alarm.raised"]}
    )
    b_case = await _security_case(state, b_admin)
    b_regulation = _regulation(state, b_admin)
    _relayed_alert(state)
    b_match = _b_vulnerability_match(state, b.id)
    a_boss = users["a_admin"].bearer
    a_device = {"id": A_DEVICE, "name": "甲方挖掘机", "model": EXCAVATOR, "protocol": "mqtt"}
    await ok(await client.post("/api/v1/devices", json=a_device, headers=a_boss), "A's device")
    a_rule = await ok(
        await client.post(
            "/api/v1/rules",
            json={"name": "a-rule", "device_id": A_DEVICE, "condition": "engine_temp > 90"},
            headers=a_boss,
        ),
        "A's rule",
    )
    return Tenants(
        client,
        users,
        {
            "device": B_DEVICE,
            "enterprise": b.id,
            "rule": rule["id"],
            "alarm": _first(alarms)["id"],
            "job": job["job_id"],
            "model": B_MODEL,
            "prefix": B_PREFIX,
            "template": f"{B_TEMPLATE}@1.0",
            "uscc": USCC_B,
            "token": spare,
            "api_token": spare_api,
            "session": spare_session,
            "user": b_user,
            "board": board.id,
            "display": display.id,
            "channel": channel.id,
            "notify_rule": subscription.id,
            "handle": B_RECORD,
            "application": b_application.id,
            **b_case,
            **b_regulation,
            **b_taxii,
            "asset": asset["id"],
            "zone": b_zones[0]["id"],
            "conduit": conduit["id"],
            "asset_2": asset_2["id"],
            "zone_2": b_zones[1]["id"],
            "conduit_2": conduit_2["id"],
            "vuln_match": b_match,
        },
        {
            "device": A_DEVICE,
            "rule": a_rule["id"],
            "enterprise": a.id,
            "channel": a_channel.id,
            "notify_rule": a_subscription.id,
            "asset": a_asset["id"],
        },
    )


def _regulation(state: AppState, b_admin: core.User) -> dict[str, Any]:
    """B under supervision with a confirmed grading (so obligations), an evidence file, and
    a notice sent to it (indunet.regulation)."""
    from indunet.regulation import Regulation

    svc = state.services["regulation"]
    assert isinstance(svc, Regulation)
    with state.engine.begin() as conn:
        rita = core.get_user(conn, "rita")
    assert rita is not None
    svc.set_profile(b_admin, b_admin.enterprise_id or 0, "industrial")
    sha = svc.upload(b_admin, USCC_B, "b-only.png", png())["sha256"]
    answers = {
        "sector": "key",
        "scale": "large",
        "networking": "deep",
        "incident_impact": "severe",
        "cii": "no",
    }
    grading = svc.start_grading(b_admin, USCC_B, answers, [sha], "b-only-grading")
    svc.submit_grading(b_admin, grading["uid"])
    svc.review_grading(rita, grading["uid"], "confirm", "", None)
    obligation = svc.enterprise(b_admin, USCC_B)["obligations"][0]["uid"]
    notice = svc.issue(
        rita, {"kind": "risk", "severity": "low", "title": "b-only-notice"}, {"uscc": [USCC_B]}
    )
    return {
        "grading": grading["uid"],
        "obligation": obligation,
        "reg_evidence": sha,
        "notice": notice["uid"],
    }


async def _security_case(state: AppState, b_admin: core.User) -> dict[str, Any]:
    """B's security alert, and a case of it with a task and an evidence file."""
    from indunet.security import Alert, Security
    from indunet.security.cases import AlertStore, add_task

    svc = state.services["security"]
    assert isinstance(svc, Security)
    store = svc.part("alerts")
    assert isinstance(store, AlertStore) and store.evidence is not None
    alert = Alert(time.time(), "b-only-rule", 1, 3, "b-only-alert", b_admin.enterprise_id)
    await store.raise_alerts([alert])
    case_id = store.cases.promote(b_admin, alert.id)
    store.cases.update(b_admin, case_id, title="b-only-case")
    task_id = add_task(store.cases, b_admin, case_id, "b-only-task")

    async def chunks() -> Any:
        yield b"b-only evidence"

    found = await store.evidence.upload(b_admin, case_id, "b.txt", "text/plain", chunks())
    return {"alert": alert.id, "case": case_id, "case_task": task_id, "evidence": found.id}


def _relayed_alert(state: AppState) -> None:
    """An alert summary a child instance relayed up (``GET /api/v1/federation/alerts``, the
    console's /federation): the installation's, no enterprise's, so overseers see it and
    every enterprise's user is refused the list (it carries B's marker to prove it)."""
    from indunet.federation.tables import alerts

    with state.engine.begin() as conn:
        conn.execute(
            alerts.insert().values(
                origin="b-child", path='["b-child"]', sender="b-child", alert="b" * 32,
                rule="b-only-rule", title="b-only-alert relayed up", level=12,
                techniques='["T0855"]', src_ip=None, dst_ip=None, first_seen=time.time(),
                last_seen=time.time(), count=1, received=time.time(),
            )
        )  # fmt: skip


async def _taxii_of_b(client: httpx.AsyncClient, boss: dict[str, str]) -> dict[str, str]:
    """B's TAXII collection, an object in it, and the status of the add that put it there."""
    cols = await client.get("/taxii2/api1/collections/", headers=boss)
    assert cols.status_code == 200, cols.text
    cid = cols.json()["collections"][0]["id"]
    indicator = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--6b1f3c2e-8d0a-4f7e-9a61-3c1d2e4f5a6b",
        "created": "2025-01-01T00:00:00.000Z",
        "modified": "2025-01-01T00:00:00.000Z",
        "name": "b-only-indicator",
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": "2025-01-01T00:00:00Z",
    }
    taxii = {"Content-Type": "application/taxii+json;version=2.1"}
    status = await client.post(
        f"/taxii2/api1/collections/{cid}/objects/",
        content=orjson.dumps({"objects": [indicator]}),
        headers=boss | taxii,
    )
    assert status.status_code == 202, status.text
    return {"collection": cid, "stix_object": indicator["id"], "taxii_status": status.json()["id"]}


def _b_vulnerability_match(state: AppState, enterprise_id: int) -> int:
    """B's PLC matched against a real CISA advisory (security.vulns); the match's id."""
    from pathlib import Path

    vulns = state.services["security"].part("vulns")
    plc = security.AssetFacts(
        9_001,
        enterprise_id,
        "Siemens",
        "b-only-plc",
        "V1.5.17",
        model_numbers=["6GK7443-1RX00-0XE0"],
    )
    vulns.matching.list_assets = lambda ids: [plc]
    csaf = Path(__file__).parents[1] / "security/vulns/csaf/2022/icsa-22-132-11.json"
    root = core.User(0, "isolation-root", Role.PLATFORM_ADMIN, None)
    vulns.import_bytes(root, "icsa-22-132-11.json", csaf.read_bytes())
    items, _ = vulns.matches(root, enterprise_id=enterprise_id)
    assert items, "B's PLC matched no advisory"
    return int(items[0]["id"])


async def _locked(_device: str, payload: Any) -> Any:
    return {"locked": bool(payload)}


def _items(listing: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = listing["items"] if isinstance(listing, dict) else listing
    return items


def _first(listing: Any) -> dict[str, Any]:
    return _items(listing)[0]


def leaks(text: str) -> Iterator[str]:
    """The markers of B's things found in ``text``."""
    return (m for m in B_MARKERS if m in text)
