"""Decisions and masks made on the command line by an account of the study database.

When the configured study database holds review accounts, ``il6assay
review`` and ``il6assay mask``/``unmask`` act as the account named by
``--by`` and only with its password (asked for, or read from the variable
``--password-env`` names): a review is the same electronic signature the
review app makes (``il6assay.web.decisions.sign_decision``: role, separation
of duties, a ``web_signatures`` row, a copy in the folder's audit log); a
mask is recorded in the database's audit table (``cli-mask``) with the
content it left, as the app records its masks. Without accounts (or
without a study database) the typed, single-user review and mask of the
folder are all there is, and the commands say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from il6assay.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from il6assay.web.accounts import Account

SINGLE_USER = (
    "single-user review: unsigned, no study database with review accounts is configured "
    "(with accounts, decisions are signed by an account and recorded in the database)"
)


def accounts_database(db: str | None) -> Engine | None:
    """The configured study database when it holds review accounts; None when none is named
    or it has no accounts. A named database that cannot be opened is an InputError."""
    from sqlalchemy.orm import Session

    from il6assay.db.decisions import has_accounts
    from il6assay.db.engine import locate, make_engine, require_schema

    try:
        locate(db)
    except InputError:
        return None  # no study database named anywhere: single-user
    engine = make_engine(db, must_exist=True)
    require_schema(engine)
    with Session(engine) as session:
        return engine if has_accounts(session) else None


def signed_in(engine: Engine, username: str, password: str) -> Account:
    """The account ``username`` if ``password`` is its own (failures counted, as at sign-in)."""
    from il6assay.web.accounts import authenticate

    if not username.strip():
        raise InputError("--by must name your account in the study database")
    return authenticate(engine, username, password, purpose="signature")


@dataclass
class Prepared:
    """A run checked for a signed decision: its folder, version counter and content hash."""

    run_dir: Path
    seen_version: int
    seen_content: str


def _refused(err: Exception) -> InputError:
    return InputError(str(err))


def sign_reviews(
    engine: Engine,
    run_dirs: list[Path],
    account: Account,
    password: str,
    decision: str,
    reason: str,
    *,
    override: bool = False,
) -> list[Any]:
    """Sign one decision for several runs: every run is checked before any is signed."""
    from il6assay.record.folder import open_run
    from il6assay.web.decisions import (
        Refused,
        content_sha256,
        run_version,
        separation_check,
        sign_decision,
    )

    if not account.may("review"):
        raise InputError(f"{account.username}: the {account.role} role cannot review runs")
    prepared = []
    for run_dir in run_dirs:
        folder = open_run(run_dir)
        status = folder.record.review.status
        if status != "unreviewed":
            raise InputError(
                f"the run is already {status}; a decision stands until a mask or unmask "
                "returns the run to review",
                path=folder.path,
            )
        try:
            separation_check(engine, folder, account, decision)
        except Refused as err:
            raise _refused(err).at(folder.path) from None
        prepared.append(
            Prepared(folder.path, run_version(engine, folder.path.name), content_sha256(folder))
        )
    signed = []
    for p in prepared:
        try:
            signed.append(
                sign_decision(
                    engine,
                    p.run_dir,
                    account,
                    password,
                    decision,
                    reason,
                    seen_version=p.seen_version,
                    seen_content=p.seen_content,
                    override=override,
                )
            )
        except Refused as err:
            raise _refused(err).at(p.run_dir) from None
    return signed


def signed_mask(
    engine: Engine,
    run_dir: Path,
    account: Account,
    wells: list[str],
    reason: str,
    *,
    unmask: bool,
) -> tuple[Any, dict[str, Any]]:
    """Mask (or unmask) wells as ``account``; the mask is recorded in the database's audit."""
    from sqlalchemy.orm import Session

    from il6assay.db.decisions import mask_record
    from il6assay.db.engine import writer
    from il6assay.record.masking import mask_wells

    if not account.may("mask"):
        raise InputError(f"{account.username}: the {account.role} role cannot mask or unmask wells")
    with Session(writer(engine)) as session, session.begin():
        run, entry = mask_wells(
            run_dir,
            wells,
            reason,
            account.printed_name,
            unmask=unmask,
            extra={"account": account.username, "role": account.role, "via": "cli"},
        )
        session.add(
            mask_record(
                "cli", Path(run_dir).name, entry, account.printed_name, account.username, reason
            )
        )
    return run, entry
