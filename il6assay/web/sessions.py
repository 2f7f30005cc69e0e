"""Browser sessions kept in the study database, so an idle or signed-out session is dead.

The cookie holds a random 256-bit token; the database holds only its SHA-256
(a copy of the database does not let anyone in), the account, a per-session
CSRF token and when it was last used (written at most once a minute, so most
pages only read). A session unused for the idle timeout (15 minutes by default)
is ended; signing out ends it at once; a disabled
account's sessions stop working on their next request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from il6assay.db.engine import writer
from il6assay.db.models import DbAccount, DbSession
from il6assay.web.accounts import Account, as_account

IDLE_TIMEOUT = timedelta(minutes=15)
# A session's last use is written at most this often (and at least 15 times per idle timeout):
# a page is then a read, not a write; a session may end up to this much before its timeout.
TOUCH = timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def start_session(engine: Engine, account: Account) -> tuple[str, str]:
    """A new session for ``account``: (the cookie's token, the session's CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _stamp(_now())
    with Session(writer(engine)) as session, session.begin():
        session.add(
            DbSession(
                token_sha256=_digest(token),
                account_id=account.id,
                csrf_token=csrf,
                created_utc=now,
                last_seen_utc=now,
                ended_utc=None,
            )
        )
    return token, csrf


def resume_session(
    engine: Engine, token: str | None, idle: timedelta = IDLE_TIMEOUT
) -> tuple[Account, str] | None:
    """The account and CSRF token of a live session (its idle clock restarted), else None."""
    if not token:
        return None
    now = _now()
    with Session(engine) as session:  # most pages: a read, no write lock taken
        row = _open_row(session, token)
        if row is None:
            return None
        account = session.get(DbAccount, row.account_id)
        seen = datetime.fromisoformat(row.last_seen_utc)
        if seen + min(TOUCH, idle / 15) > now and account is not None and account.active:
            found = as_account(account)
            return found, row.csrf_token
    with Session(writer(engine)) as session, session.begin():
        row = _open_row(session, token)
        if row is None:
            return None
        account = session.get(DbAccount, row.account_id)
        if datetime.fromisoformat(row.last_seen_utc) + idle < now:
            row.ended_utc = _stamp(now)  # idle too long: ended for good
            return None
        if account is None or not account.active:
            row.ended_utc = _stamp(now)
            return None
        row.last_seen_utc = _stamp(now)
        found = as_account(account)
        return found, row.csrf_token


def _open_row(session: Session, token: str) -> DbSession | None:
    """The session row of ``token`` while it has not ended, else None."""
    row = session.scalars(select(DbSession).where(DbSession.token_sha256 == _digest(token))).first()
    return None if row is None or row.ended_utc is not None else row


def end_session(engine: Engine, token: str | None) -> None:
    """Sign out: the session can never be used again."""
    if not token:
        return
    with Session(writer(engine)) as session, session.begin():
        row = session.scalars(
            select(DbSession).where(DbSession.token_sha256 == _digest(token))
        ).first()
        if row is not None and row.ended_utc is None:
            row.ended_utc = _stamp(_now())


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the form's."""
    return bool(given) and secrets.compare_digest(expected.encode(), (given or "").encode())
