"""Handle response codes (RFC 3652 numbering, as the Handle.Net REST API uses) and their errors."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from indunet.core import IndunetError


class RC(IntEnum):
    """Response codes of the Handle protocol, as used in ``responseCode``."""

    SUCCESS = 1
    ERROR = 2
    SERVER_TOO_BUSY = 3
    PROTOCOL_ERROR = 4
    #: Handle.Net's RC_SERVER_BACKUP: this server holds a copy and takes no administration.
    SERVER_BACKUP = 7
    HANDLE_NOT_FOUND = 100
    HANDLE_ALREADY_EXISTS = 101
    INVALID_HANDLE = 102
    VALUES_NOT_FOUND = 200
    VALUE_ALREADY_EXISTS = 201
    INVALID_VALUE = 202
    SERVER_NOT_RESPONSIBLE = 301
    SERVICE_REFERRAL = 302
    PREFIX_REFERRAL = 303
    NOT_AUTHORIZED = 400
    ACCESS_DENIED = 401
    AUTHENTICATION_NEEDED = 402
    AUTHENTICATION_FAILED = 403
    INVALID_CREDENTIAL = 404
    AUTHENTICATION_TIMEOUT = 405
    UNABLE_TO_AUTHENTICATE = 406


#: HTTP status for each response code, as in the Handle.Net REST API. Referrals (302/303) are
#: real HTTP redirects, so generic HTTP clients can follow them. Missing or failed credentials
#: (402-406) are HTTP 401, which pyhandle reports as HandleAuthenticationError; "not authorized"
#: (400) and "access denied" (401) are 403. "Values not found" is 400 on writes; a resolution
#: whose type/index filter matches nothing is answered HTTP 200 with responseCode 200.
HTTP_STATUS: dict[int, int] = {
    RC.SUCCESS: 200,
    RC.ERROR: 500,
    RC.SERVER_TOO_BUSY: 503,
    RC.PROTOCOL_ERROR: 400,
    RC.SERVER_BACKUP: 403,
    RC.HANDLE_NOT_FOUND: 404,
    RC.HANDLE_ALREADY_EXISTS: 409,
    RC.INVALID_HANDLE: 400,
    RC.VALUES_NOT_FOUND: 400,
    RC.VALUE_ALREADY_EXISTS: 409,
    RC.INVALID_VALUE: 400,
    RC.SERVER_NOT_RESPONSIBLE: 404,
    RC.SERVICE_REFERRAL: 302,
    RC.PREFIX_REFERRAL: 303,
    RC.NOT_AUTHORIZED: 403,
    RC.ACCESS_DENIED: 403,
    RC.AUTHENTICATION_NEEDED: 401,
    RC.AUTHENTICATION_FAILED: 401,
    RC.INVALID_CREDENTIAL: 401,
    RC.AUTHENTICATION_TIMEOUT: 401,
    RC.UNABLE_TO_AUTHENTICATE: 401,
}


class HandleError(IndunetError):
    """An identifier operation failed with a Handle response code."""

    rc: RC = RC.ERROR

    def __init__(
        self,
        message: str,
        *,
        rc: RC | None = None,
        detail: Any = None,
        reason: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, detail=detail, reason=reason, params=params)
        if rc is not None:
            self.rc = rc
        self.status = HTTP_STATUS.get(self.rc, 500)
        self.code = self.rc.name.lower()


class InvalidHandle(HandleError):
    """The identifier is malformed."""

    rc = RC.INVALID_HANDLE


class HandleNotFound(HandleError):
    """No such identifier."""

    rc = RC.HANDLE_NOT_FOUND


class HandleExists(HandleError):
    """The identifier is already registered."""

    rc = RC.HANDLE_ALREADY_EXISTS


class InvalidValue(HandleError):
    """A value is malformed, too large, of an unknown type, or breaks a template."""

    rc = RC.INVALID_VALUE


class ValuesNotFound(HandleError):
    """None of the asked-for values exist."""

    rc = RC.VALUES_NOT_FOUND


class ValueExists(HandleError):
    """A value with that index is already there."""

    rc = RC.VALUE_ALREADY_EXISTS


class NotResponsible(HandleError):
    """This node does not hold the identifier's prefix."""

    rc = RC.SERVER_NOT_RESPONSIBLE


class ReadOnlyCopy(HandleError):
    """This node is a disaster-recovery copy (``ids.replica``): writes go to the primary."""

    rc = RC.SERVER_BACKUP


class AuthenticationNeeded(HandleError):
    """A write came without credentials."""

    rc = RC.AUTHENTICATION_NEEDED


class AuthenticationFailed(HandleError):
    """Credentials were given and are wrong."""

    rc = RC.AUTHENTICATION_FAILED


class NotAuthorized(HandleError):
    """The caller is authenticated but holds no admin right for this operation."""

    rc = RC.NOT_AUTHORIZED


class SiteUnavailable(HandleError):
    """Every site of a prefix failed, or the resolution ran out of time (details are logged)."""

    rc = RC.ERROR

    def __init__(
        self,
        message: str,
        *,
        detail: Any = None,
        reason: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, detail=detail, reason=reason, params=params)
        self.status = 502
        self.code = "site_unavailable"
