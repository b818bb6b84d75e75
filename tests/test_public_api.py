"""The public API of each subsystem is what its ``__init__`` exports; these lists pin it.

Changing a list here is a decision about the public API, to be made on purpose.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

from indunet import core, ids, web

CORE = [
    "AuthenticationFailed",
    "Conflict",
    "Enterprise",
    "Event",
    "EventBus",
    "EventType",
    "InMemoryEventBus",
    "IndunetError",
    "InvalidInput",
    "Logins",
    "NotFound",
    "PasswordChangeRequired",
    "PermissionDenied",
    "Role",
    "Settings",
    "Throttle",
    "TokenInfo",
    "TooManyAttempts",
    "User",
    "access",
    "accounts",
    "audit",
    "authenticate",
    "create_enterprise",
    "create_user",
    "ensure_admin",
    "get_enterprise",
    "get_enterprise_by_id",
    "get_user",
    "hash_secret",
    "issue_expiring_token",
    "issue_token",
    "list_enterprises",
    "list_tokens",
    "list_users",
    "make_engine",
    "make_uscc",
    "migrate",
    "new_secret",
    "regions",
    "revoke_token",
    "revoke_token_by_id",
    "sealed",
    "set_verified",
    "tls",
    "tokens",
    "user_for_token",
    "validate_uscc",
    "verify_secret",
]

IDS = [
    "HTTP_STATUS",
    "MIGRATIONS",
    "OPERATOR",
    "RC",
    "Allocation",
    "AnnounceFailed",
    "Answer",
    "AuthenticationFailed",
    "AuthenticationNeeded",
    "BulkJob",
    "BulkReport",
    "CredentialChecker",
    "DayCount",
    "HandleError",
    "HandleExists",
    "HandleNotFound",
    "HandleValue",
    "Hierarchy",
    "Hop",
    "HttpTransport",
    "InvalidHandle",
    "InvalidValue",
    "LocalTransport",
    "Node",
    "NodeRole",
    "NodeTransport",
    "NotAuthorized",
    "NotResponsible",
    "Perm",
    "PrefixCount",
    "Principal",
    "ReadOnlyCopy",
    "Referral",
    "Replica",
    "ReplicaStatus",
    "Resolver",
    "Site",
    "SiteError",
    "SiteLimits",
    "SitePolicy",
    "SiteRefused",
    "SiteUnavailable",
    "Template",
    "TemplateItem",
    "TemplateRegistry",
    "ValueExists",
    "ValuesNotFound",
    "admin_username",
    "allocate",
    "announce",
    "changelog",
    "daily",
    "delegate",
    "ecode",
    "embedded",
    "enterprise_prefixes",
    "get_job",
    "gs1",
    "handle",
    "import_file",
    "list_allocations",
    "oid",
    "parse_template",
    "parse_values",
    "primary_of",
    "single",
    "stored_base_url",
]

WEB = ["AppState", "build_state", "create_app", "open_database"]

SYNTAXES = ["handle", "oid", "ecode", "gs1"]


@pytest.mark.parametrize(
    ("module", "expected"), [(core, CORE), (ids, IDS), (web, WEB)], ids=["core", "ids", "web"]
)
def test_public_names_are_pinned(module: ModuleType, expected: list[str]) -> None:
    assert module.__all__ == expected


@pytest.mark.parametrize("module", [core, ids, web], ids=["core", "ids", "web"])
def test_every_public_name_exists_and_is_documented(module: ModuleType) -> None:
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
            assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"


@pytest.mark.parametrize("scheme", SYNTAXES)
def test_each_identifier_syntax_has_the_same_shape(scheme: str) -> None:
    mod = importlib.import_module(f"indunet.ids.syntax.{scheme}")
    assert scheme == mod.SCHEME
    for fn in ("parse", "format", "validate"):
        assert callable(getattr(mod, fn)), f"{scheme}.{fn} is missing"
        assert inspect.getdoc(getattr(mod, fn))
    with pytest.raises(ids.InvalidHandle):
        mod.validate("")
