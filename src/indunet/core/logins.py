"""Logins over the network: throttled per account and per source address, failures audited.

Every way in that takes a password (``POST /api/v1/auth/token``, the console's login form,
Handle Basic auth) goes through one ``Logins``. A failure is recorded in the audit log with
the source as actor (``source:<address>``), action ``login.failed``, the account as target
and the channel in ``detail.via``; attempts refused by the throttle are not checked and not
recorded (the throttle bounds how many failures one source can write there). A failure that
locks the account or the source is followed by ``login.locked`` (``detail.locked``:
``account`` or ``source``, ``detail.seconds``): once per lock, since a locked key takes no
attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

from indunet.core import audit
from indunet.core.accounts import note_login
from indunet.core.errors import IndunetError
from indunet.core.throttle import Throttle
from indunet.core.users import User, authenticate

T = TypeVar("T")


def account_key(account: str) -> tuple[str, str]:
    """Throttle key of an account (case-folded, so ``Admin`` and ``admin`` share it)."""
    return ("account", account.strip().casefold()[:400])


def source_key(source: str) -> tuple[str, str]:
    """Throttle key of a source address."""
    return ("source", source[:100])


class Logins:
    """The throttle of this process and the audited password check."""

    def __init__(self, throttle: Throttle | None = None) -> None:
        self.throttle = throttle if throttle is not None else Throttle()

    def attempt(
        self,
        engine: sa.Engine,
        account: str,
        source: str,
        via: str,
        check: Callable[[], T],
        *,
        per_account: bool = True,
    ) -> T:
        """Run ``check`` throttled; any 401 error it raises counts as a failed login.

        Raises ``TooManyAttempts`` without calling ``check`` while the account or the source
        is locked. ``per_account=False`` throttles by source only: for identities anyone can
        name (a Handle prefix key ``300:0.NA/<prefix>`` is public), an account lock would let
        any stranger lock the key's owner out.
        """
        keys = (account_key(account), source_key(source)) if per_account else (source_key(source),)
        self.throttle.check(*keys)
        try:
            result = check()
        except IndunetError as exc:
            if exc.status != 401:
                raise
            locked = self.throttle.failed(*keys)
            with engine.begin() as conn:
                audit.record(
                    conn, f"source:{source}", "login.failed", f"user:{account}", {"via": via}
                )
                # a lock is a fact of its own: an account locked by failures from many
                # addresses is guessing no single source shows
                for (kind, _), seconds in locked:
                    audit.record(
                        conn,
                        f"source:{source}",
                        "login.locked",
                        f"user:{account}",
                        {"via": via, "locked": kind, "seconds": round(seconds)},
                    )
            raise
        if per_account:
            self.throttle.succeeded(keys[0])
        return result

    def password(
        self, engine: sa.Engine, username: str, password: str, *, source: str, via: str
    ) -> User:
        """The user with this username and password, throttled and audited; the user's last
        login is noted."""

        def check() -> User:
            with engine.connect() as conn:
                return authenticate(conn, username, password)

        user = self.attempt(engine, username, source, via, check)
        with engine.begin() as conn:
            note_login(conn, user)
            # audited as failures are, as the installation's (a failure names an account that
            # may not exist, so it has no enterprise): a success from a source that was
            # guessing passwords is what the "success after failures" rule looks for
            audit.record(
                conn, f"source:{source}", "login.succeeded", f"user:{user.username}", {"via": via}
            )
        return user
