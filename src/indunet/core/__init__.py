"""Core: settings, database and migrations, enterprises, users and roles, tokens, audit, events."""

from indunet.core import access, accounts, audit, regions, sealed, tls, tokens
from indunet.core.db import make_engine, migrate
from indunet.core.enterprises import (
    Enterprise,
    create_enterprise,
    get_enterprise,
    get_enterprise_by_id,
    list_enterprises,
    set_verified,
)
from indunet.core.errors import (
    AuthenticationFailed,
    Conflict,
    IndunetError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from indunet.core.events import Event, EventBus, EventType, InMemoryEventBus
from indunet.core.logins import Logins
from indunet.core.secrets import hash_secret, new_secret, verify_secret
from indunet.core.settings import Settings
from indunet.core.throttle import Throttle, TooManyAttempts
from indunet.core.tokens import TokenInfo, list_tokens, revoke_token_by_id
from indunet.core.uscc import make_uscc, validate_uscc
from indunet.core.users import (
    PasswordChangeRequired,
    Role,
    User,
    authenticate,
    create_user,
    ensure_admin,
    get_user,
    issue_expiring_token,
    issue_token,
    list_users,
    revoke_token,
    user_for_token,
)

__all__ = [
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
