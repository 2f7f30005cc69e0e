"""Accounts of the review app: named people with one role each, in the study database.

Passwords are hashed with argon2id (argon2-cffi, memory-hard); only the hash
is stored. Five wrong passwords in a row lock the account for 15 minutes
(each failure, the lockout and every account change go to the database's
audit table, never the password). A disabled account cannot sign in; its
history stays. Roles and what each may do:

technician    process plates (on the command line) and mask or unmask wells
reviewer      mask or unmask wells, accept or reject runs (signed)
data-manager  push accepted runs to the database and export
admin         manage accounts and the separation-of-duties setting
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from il6assay.db.engine import require_schema, writer
from il6assay.db.models import DbAccount, DbAudit, DbSession, DbWebSetting
from il6assay.errors import InputError
from il6assay.record.audit import now_utc, os_account

ROLES = ("technician", "reviewer", "data-manager", "admin")
PERMISSIONS: dict[str, frozenset[str]] = {
    "technician": frozenset({"view", "mask"}),
    "reviewer": frozenset({"view", "mask", "review"}),
    "data-manager": frozenset({"view", "push"}),
    "admin": frozenset({"view", "accounts"}),
}
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# At most this many password checks at once (argon2id takes 64 MiB and a core each), so
# a flood of sign-ins cannot take every core from the pages of people signed in.
_CHECKS = threading.BoundedSemaphore(1)
_dummy: list[str] = []  # an argon2id hash of a random password, checked for unknown accounts

# Separation of duties (docs/review.md): who may accept a plate.
SEPARATION = "separation_of_duties"
STRICT = "strict"  # neither who processed nor who masked may accept
OWN_MASKS = "allow-own-masks"  # who masked may accept (who processed may not)
OFF = "off"  # a one-person lab: anyone with the reviewer role may accept
SEPARATION_POLICIES = (STRICT, OWN_MASKS, OFF)


@dataclass(frozen=True)
class Account:
    """A signed-in person as the app sees them (never the password hash)."""

    id: int
    username: str
    printed_name: str
    role: str
    language: str | None = None  # the app's language this person chose (None: the site's)

    def may(self, permission: str) -> bool:
        """Whether this account's role grants ``permission``."""
        return permission in PERMISSIONS.get(self.role, frozenset())


def _hasher() -> Any:
    from argon2 import PasswordHasher

    # argon2id, RFC 9106 low-memory profile (64 MiB, 3 passes) on one lane: one check keeps
    # one core busy, never all of a small server's (a hash made with more lanes is remade at
    # its next successful sign-in).
    return PasswordHasher(parallelism=1)


def hash_password(password: str) -> str:
    """The argon2id hash of a password (refused when shorter than MIN_PASSWORD characters)."""
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters")
    return str(_hasher().hash(password))


def _audit(session: Session, action: str, by: str | None, what: str, reason: str | None = None):
    session.add(
        DbAudit(
            time_utc=now_utc(),
            os_account=os_account(),
            by_name=by,
            action=action,
            what=what,
            reason=reason,
        )
    )


def as_account(row: DbAccount) -> Account:
    """The app's view of an account row (never its password hash)."""
    return Account(row.id, row.username, row.printed_name, row.role, row.language)


def set_language(engine: Engine, account_id: int, lang: str) -> None:
    """Remember the review app's language an account chose (one of il6assay.messages.LANGS)."""
    from il6assay.messages import LANGS

    if lang not in LANGS:
        raise InputError(f"language {lang!r} is not one of {', '.join(LANGS)}")
    with Session(writer(engine)) as session, session.begin():
        row = session.get(DbAccount, account_id)
        if row is None:
            raise InputError("no such account")
        row.language = lang


def add_account(
    engine: Engine, username: str, printed_name: str, role: str, password: str, *, by: str
) -> Account:
    """Create an account (a unique lower-case user name, the printed name signatures carry)."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InputError(
            f"user name {username!r} must be 2-64 characters: lower-case letters, digits, . _ -"
        )
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not printed_name.strip():
        raise InputError("an account needs the person's printed name (--name)")
    hashed = hash_password(password)
    require_schema(engine)
    now = now_utc()
    try:
        with Session(writer(engine)) as session, session.begin():
            row = DbAccount(
                username=username,
                printed_name=printed_name.strip(),
                role=role,
                password_hash=hashed,
                active=True,
                failed_logins=0,
                locked_until_utc=None,
                created_utc=now,
                password_changed_utc=now,
            )
            session.add(row)
            _audit(session, "account-add", by, f"account {username} ({role}, {row.printed_name})")
            session.flush()
            return as_account(row)
    except IntegrityError:
        raise InputError(f"an account named {username} already exists") from None


def _get(session: Session, username: str) -> DbAccount:
    row = session.scalars(
        select(DbAccount).where(DbAccount.username == username.strip().lower())
    ).first()
    if row is None:
        raise InputError(f"no account named {username}")
    return row


def list_accounts(engine: Engine) -> list[dict[str, Any]]:
    """Every account: user name, printed name, role, active, locked (never the hash)."""
    require_schema(engine)
    now = now_utc()
    with Session(engine) as session:
        rows = session.scalars(select(DbAccount).order_by(DbAccount.username)).all()
        return [
            {
                "username": r.username,
                "printed_name": r.printed_name,
                "role": r.role,
                "active": r.active,
                "locked": bool(r.locked_until_utc and r.locked_until_utc > now),
                "created_utc": r.created_utc,
            }
            for r in rows
        ]


def _end_sessions(session: Session, account_id: int) -> int:
    """End every live browser session of the account (a password change or a disable)."""
    from sqlalchemy import update

    ended = session.execute(
        update(DbSession)
        .where(DbSession.account_id == account_id, DbSession.ended_utc.is_(None))
        .values(ended_utc=datetime.now(UTC).isoformat(timespec="microseconds"))
    )
    return int(ended.rowcount or 0)


def set_active(engine: Engine, username: str, active: bool, *, by: str, reason: str) -> None:
    """Disable (or enable again) an account; the change is audited with its reason.

    Disabling ends every browser session of the account at once.
    """
    if not reason.strip():
        raise InputError("say why (--reason)")
    require_schema(engine)
    with Session(writer(engine)) as session, session.begin():
        row = _get(session, username)
        row.active = active
        if active:
            row.failed_logins, row.locked_until_utc = 0, None
        else:
            _end_sessions(session, row.id)
        action = "account-enable" if active else "account-disable"
        _audit(session, action, by, f"account {row.username}", reason.strip())


def set_password(engine: Engine, username: str, password: str, *, by: str) -> None:
    """Give an account a new password (it also lifts a lockout and ends every session of the
    account); audited, never logged."""
    hashed = hash_password(password)
    require_schema(engine)
    with Session(writer(engine)) as session, session.begin():
        row = _get(session, username)
        row.password_hash, row.password_changed_utc = hashed, now_utc()
        row.failed_logins, row.locked_until_utc = 0, None
        _end_sessions(session, row.id)
        _audit(session, "account-password", by, f"account {row.username}: new password set")


def _dummy_hash() -> str:
    """The hash an unknown account's password is checked against (made once per process)."""
    if not _dummy:
        _dummy.append(str(_hasher().hash(secrets.token_urlsafe(24))))
    return _dummy[0]


def prepare_checks() -> None:
    """Make the unknown-account hash now, so even the first sign-in takes the usual time."""
    _dummy_hash()


def _verify(password_hash: str, password: str) -> bool:
    """One argon2id verification (one at a time: _CHECKS)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    with _CHECKS:
        try:
            return bool(_hasher().verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False


def authenticate(
    engine: Engine, username: str, password: str, *, purpose: str = "login"
) -> Account:
    """The account if the password is right; counts failures and locks after MAX_FAILURES.

    Every refusal is the same InputError text whatever the reason (no such
    account, disabled, wrong password), except a lockout, which says so; and
    each of the three does the same work, one argon2id verification (an
    unknown account's against a hash of a random password), so the time to
    answer tells none of them apart.
    """
    refused = InputError("user name or password not accepted")
    name = username.strip().lower()
    now = datetime.now(UTC)
    # The password is checked outside any write transaction: a slow hash never holds the
    # database's write lock (SQLite) while other people's pages wait for it.
    with Session(engine) as session:
        found = session.scalars(select(DbAccount).where(DbAccount.username == name)).first()
        seen = None if found is None else (found.id, found.password_hash, found.locked_until_utc)
    locked = seen is not None and bool(seen[2]) and seen[2] > now.isoformat(timespec="seconds")
    right = False
    if seen is None:
        _verify(_dummy_hash(), password)  # the same work as a real check
    elif not locked:
        right = _verify(seen[1], password)
    error: InputError | None = None
    with Session(writer(engine)) as session, session.begin():
        row = None if seen is None else session.get(DbAccount, seen[0])
        if row is None:
            _audit(session, f"{purpose}-failed", None, f"unknown account {username[:100]!r}")
            error = refused
        elif locked:
            _audit(session, f"{purpose}-refused", row.username, "account locked")
            error = InputError(
                f"account locked after {MAX_FAILURES} wrong passwords; try again after "
                f"{row.locked_until_utc} or ask an admin"
            )
        elif not right or not row.active or row.password_hash != seen[1]:
            row.failed_logins += 1
            what = "disabled account" if not row.active else "wrong password"
            if row.failed_logins >= MAX_FAILURES:
                row.locked_until_utc = (now + LOCKOUT).isoformat(timespec="seconds")
                what += f"; locked until {row.locked_until_utc}"
            _audit(session, f"{purpose}-failed", row.username, what)
            error = refused
        else:
            row.failed_logins, row.locked_until_utc = 0, None
            if _hasher().check_needs_rehash(row.password_hash):
                row.password_hash = _hasher().hash(password)
            if purpose == "login":
                _audit(session, "login", row.username, "signed in")
            account = as_account(row)
    if error is not None:
        raise error  # after the commit: the failure and the lockout are on the record
    return account


def separation_policy(engine: Engine) -> str:
    """The separation-of-duties policy in force (STRICT unless an admin relaxed it)."""
    with Session(engine) as session:
        row = session.scalars(select(DbWebSetting).where(DbWebSetting.name == SEPARATION)).first()
        return row.value if row is not None else STRICT


def set_separation_policy(engine: Engine, policy: str, *, by: str, reason: str) -> None:
    """Change the separation-of-duties policy; the change and its reason are audited."""
    if policy not in SEPARATION_POLICIES:
        raise InputError(f"policy {policy!r} is not one of {', '.join(SEPARATION_POLICIES)}")
    if not reason.strip():
        raise InputError("say why the policy changes (--reason)")
    require_schema(engine)
    with Session(writer(engine)) as session, session.begin():
        row = session.scalars(select(DbWebSetting).where(DbWebSetting.name == SEPARATION)).first()
        old = row.value if row is not None else STRICT
        if row is None:
            row = DbWebSetting(name=SEPARATION, value=policy, changed_utc="", changed_by="")
            session.add(row)
        row.value, row.changed_utc, row.changed_by = policy, now_utc(), by
        session.add(
            DbAudit(
                time_utc=now_utc(),
                os_account=os_account(),
                by_name=by,
                action="policy",
                what=SEPARATION,
                reason=reason.strip(),
                old_value=json.dumps(old),
                new_value=json.dumps(policy),
            )
        )
