"""The study database decides: which signed decision lets a run in (docs/integrity.md).

When the study database holds review accounts (``web_accounts``), a review
decision counts only as an account's signature recorded in ``web_signatures``
(made in the review app, or by ``il6assay review`` asking for the account's
password); a mask counts only as one recorded in the audit table by an
account (``web-mask``/``cli-mask``). The run folder's audit log carries a
copy, and nothing written in the folder alone (a hand-written "signed"
accept, a restored backup) stands in for them. ``authorise_push`` is the
check ``push`` runs, in the transaction that stores the run:

- an accept signed for exactly this run and this content (the SHA-256 of its
  recorded output hashes);
- no rejection signed after it for this run or any run of the same export
  (its SHA-256), and none ever of this very content;
- every mask or unmask in the folder's log must be recorded in the database
  with the content it left;
- the signer must be someone other than who processed the run, and (under
  the ``strict`` policy) than who masked its wells, by the separation policy
  as the database holds it now.

Without accounts the folder's typed review (single-user) is what there is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from il6assay.db.models import DbAccount, DbAudit, DbSignature, DbWebSetting
from il6assay.errors import InputError
from il6assay.plate.hashing import sha256_bytes

SEPARATION = "separation_of_duties"  # the web_settings row (il6assay.web.accounts)
STRICT, OWN_MASKS, OFF = "strict", "allow-own-masks", "off"
MASK_ACTIONS = ("web-mask", "web-unmask", "cli-mask", "cli-unmask")
DECISIONS = ("accept", "reject")


@dataclass(frozen=True)
class Authority:
    """What let a run into the database: an account's signature, or a single-user review."""

    signed: bool
    signature_id: int | None = None
    signer: str | None = None  # the account's user name
    printed_name: str | None = None
    reason: str | None = None
    signed_utc: str | None = None
    override: bool = False

    def review_fields(self, review: dict[str, Any]) -> dict[str, Any]:
        """The ``runs`` table's review columns: the signature's, else the folder's typed review."""
        if self.signed:
            return {
                "reviewed_by": self.printed_name,
                "review_reason": self.reason,
                "reviewed_utc": self.signed_utc,
                "review_override": self.override,
            }
        return {
            "reviewed_by": review.get("by"),
            "review_reason": review.get("reason"),
            "reviewed_utc": review.get("time_utc"),
            "review_override": bool(review.get("override", False)),
        }

    def describe(self) -> str:
        """A few words for the push's message and audit row."""
        if not self.signed:
            return "single-user review (the database has no review accounts)"
        return f"accept signed by {self.printed_name} ({self.signer}), #{self.signature_id}"


def has_accounts(session: Session) -> bool:
    """Whether the study database holds review accounts (then decisions live in it)."""
    return session.scalar(select(DbAccount.id).limit(1)) is not None


def separation_policy(session: Session) -> str:
    """The separation-of-duties policy the database holds (strict unless an admin relaxed it)."""
    row = session.scalars(select(DbWebSetting).where(DbWebSetting.name == SEPARATION)).first()
    return row.value if row is not None else STRICT


def content_of(outputs_sha256: dict[str, Any]) -> str:
    """A run's content hash: the SHA-256 of its recorded output hashes (``runs.content_sha256``)."""
    return sha256_bytes(json.dumps(outputs_sha256, sort_keys=True))


def same_person(names: tuple[str, ...], claimed: str | None) -> bool:
    """Whether a name the run records is one of an account's names (case and spaces aside)."""
    if not claimed:
        return False
    key = " ".join(claimed.split()).casefold()
    return key in {" ".join(n.split()).casefold() for n in names if n}


def authorise_push(
    session: Session,
    *,
    run_id: str,
    export_sha256: str | None,
    content_sha256: str,
    processed_by: str | None,
    entries: list[dict[str, Any]],
) -> Authority:
    """The decision that lets this run be stored, or an InputError saying why none does."""
    if not has_accounts(session):
        return Authority(signed=False)
    about = DbSignature.run_id == run_id
    if export_sha256:
        about = or_(about, DbSignature.export_sha256 == export_sha256)
    decided = session.scalars(
        select(DbSignature)
        .where(about, DbSignature.decision.in_(DECISIONS))
        .order_by(DbSignature.id)
    ).all()
    # Every decision weighed here must be as its keyed chain entry says: a row edited or
    # inserted by someone who can write the database but not the key is refused, not trusted.
    from il6assay.db.chain_check import check_rows

    check_rows(session, "web_signatures", [d.id for d in decided])
    accepts = [
        d
        for d in decided
        if d.decision == "accept" and d.run_id == run_id and d.content_sha256 == content_sha256
    ]
    rejections = [d for d in decided if d.decision == "reject"]
    if not accepts:
        other = next((d for d in reversed(decided) if d.decision == "accept"), None)
        said = (
            f" (the newest, by {other.printed_name} ({other.username}) on {other.signed_utc}, "
            f"is for run {other.run_id}, content {other.content_sha256[:12]}; this run is "
            f"{run_id}, content {content_sha256[:12]})"
            if other is not None and not rejections
            else ""
        )
        if not rejections:
            raise InputError(
                "the study database has review accounts, and no account has signed an accept of "
                f"this run as it is{said} (a review typed into the folder does not count): sign "
                "it in the review app or with il6assay review RUN_DIR --accept --by ACCOUNT "
                "--reason TEXT"
            )
    last = accepts[-1] if accepts else None
    later = [d for d in rejections if last is None or d.id > last.id]
    if later:  # a rejection of any run of the export, after the accept (or with none)
        r = later[-1]
        where = "this run" if r.run_id == run_id else f"run {r.run_id} of the same export"
        raise InputError(
            f"{r.printed_name} ({r.username}) signed a rejection of {where} on "
            f"{r.signed_utc} ({r.reason}); a rejection stands for every run of the export"
        )
    assert last is not None
    undone = next((d for d in rejections if d.content_sha256 == content_sha256), None)
    if undone is not None:  # a restored folder accepted again: the rejection stands
        raise InputError(
            f"{undone.printed_name} ({undone.username}) signed a rejection of this very content "
            f"on {undone.signed_utc} ({undone.reason}); a later accept of it does not undo that "
            "(only a mask or unmask, signed, returns a run to review)"
        )
    _check_masks(session, run_id, entries)
    names = (last.username, last.printed_name)
    policy = separation_policy(session)
    if policy != OFF and same_person(names, processed_by):
        raise InputError(
            f"{last.printed_name} processed this run (run.json processed_by: {processed_by}) and "
            f"signed its accept; separation of duties ({policy}) needs another reviewer"
        )
    if policy == STRICT:
        for masker in _maskers(session, run_id, entries):
            if same_person(names, masker):
                raise InputError(
                    f"{last.printed_name} masked or unmasked wells of this run and signed its "
                    f"accept; separation of duties ({policy}) needs another reviewer"
                )
    return Authority(
        True, last.id, last.username, last.printed_name, last.reason, last.signed_utc, last.override
    )


def mask_record(
    via: str, run_id: str, entry: dict[str, Any], printed_name: str, username: str, reason: str
) -> DbAudit:
    """The audit row recording an account's mask (``via`` "web" or "cli") and what it left."""
    from il6assay.record.audit import os_account

    action = entry["action"]
    return DbAudit(
        time_utc=entry["time_utc"],
        os_account=os_account(),
        by_name=printed_name,
        action=f"{via}-{action}",
        run_id=run_id,
        what=f"{action} {', '.join(entry['wells'])} by account {username}",
        reason=reason.strip(),
        new_value=json.dumps(entry.get("outputs_sha256"), sort_keys=True),
    )


def _mask_records(session: Session, run_id: str) -> list[DbAudit]:
    return list(
        session.scalars(
            select(DbAudit)
            .where(DbAudit.run_id == run_id, DbAudit.action.in_(MASK_ACTIONS))
            .order_by(DbAudit.id)
        )
    )


def _check_masks(session: Session, run_id: str, entries: list[dict[str, Any]]) -> None:
    """Every mask or unmask in the folder's log is one an account recorded in the database."""
    recorded = {content_of(json.loads(r.new_value or "{}")) for r in _mask_records(session, run_id)}
    for line, entry in enumerate(entries, start=1):
        if entry.get("action") not in ("mask", "unmask"):
            continue
        if content_of(entry.get("outputs_sha256") or {}) not in recorded:
            raise InputError(
                f"audit.jsonl line {line} ({entry['action']} by {entry.get('by')}) is not a "
                "mask the study database recorded: with review accounts, wells are masked by "
                "an account (the review app, or il6assay mask ... --by ACCOUNT)"
            )


def _maskers(session: Session, run_id: str, entries: list[dict[str, Any]]) -> list[str]:
    names = [str(r.by_name) for r in _mask_records(session, run_id) if r.by_name]
    for entry in entries:
        if entry.get("action") in ("mask", "unmask"):
            names += [str(entry[k]) for k in ("account", "by") if entry.get(k)]
    return names
