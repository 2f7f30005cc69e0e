"""Signed review decisions and masks from the web, with separation of duties.

A decision is an electronic signature (21 CFR 11.50, 11.200): the signer
types their password again; the signed record holds the printed name, the
time in UTC and in the server's local zone, the meaning ("approved" for an
accept, "rejected" for a reject, "reviewed" for a signed review that decides
nothing, e.g. a first reviewer's before a second approves), the reason and
the run's content hash (the SHA-256 of its recorded output hashes, the same as the database's
``runs.content_sha256``). The database first: one transaction moves the run's
change counter on (two reviewers deciding at once cannot both win, and a page
older than the run's last change is refused) and commits the
``web_signatures`` row holding the exact audit line the folder will get; then
that line goes to the run's audit log (run.json and review.js follow). A
folder that cannot be written withdraws the row. A kill between the two
leaves the folder behind the database, which ``copy_problem`` (``il6assay
status --db``) names and ``mend_copies`` (``il6assay repair --db``) mends, as
it voids a signed entry the database does not hold (docs/integrity.md).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from il6assay.db.engine import writer
from il6assay.db.models import DbAudit, DbRunState, DbSignature
from il6assay.errors import InputError
from il6assay.plate.hashing import sha256_bytes, sha256_file
from il6assay.record.audit import append_entry, next_link, now_utc, os_account, read_entries
from il6assay.record.folder import RunFolder, open_run, reprocess
from il6assay.settings import Settings
from il6assay.web.accounts import OFF, OWN_MASKS, Account, authenticate, separation_policy

MEANINGS = {"accept": "approved", "reject": "rejected", "review": "reviewed"}
STATEMENTS = {
    "review": "I reviewed this run; this signature records my review, not a decision.",
    "accept": "I reviewed this run and approve its results for reporting.",
    "reject": "I reviewed this run and reject its results: they are not to be reported.",
}


class Refused(Exception):
    """A request the rules refuse (the message says why); nothing was written."""


class NotAllowed(Refused):
    """This account may not do this: its role, or separation of duties, forbids it."""


def content_sha256(folder: RunFolder) -> str:
    """The run's content hash: SHA-256 of its recorded output hashes (as the database keys it)."""
    outputs = folder.record.get("outputs_sha256") or {}
    return sha256_bytes(json.dumps(outputs, sort_keys=True))


def run_version(engine: Engine, run_id: str) -> int:
    """How many changes (masks, unmasks, signatures) the web app has made to the run."""
    with Session(engine) as session:
        row = session.scalars(select(DbRunState).where(DbRunState.run_id == run_id)).first()
        return row.version if row is not None else 0


def _same_person(account: Account, name: str | None) -> bool:
    if not name:
        return False
    key = " ".join(name.split()).casefold()
    return key in {account.username.casefold(), " ".join(account.printed_name.split()).casefold()}


def maskers(folder: Path) -> list[str]:
    """Who masked or unmasked wells of the run (account name, else the name given)."""
    names = []
    for entry in read_entries(folder):
        if entry.get("action") in ("mask", "unmask"):
            name = entry.get("account") or entry.get("by")
            if name and name not in names:
                names.append(str(name))
    return names


def separation_check(engine: Engine, folder: RunFolder, account: Account, decision: str) -> dict:
    """Whether ``account`` may make ``decision``; raises Refused, else says what was relaxed."""
    policy = separation_policy(engine)
    processed_by = folder.record.get("processed_by")
    masked_by = maskers(folder.path)
    processed = _same_person(account, processed_by)
    masked = any(_same_person(account, n) for n in masked_by)
    relaxed = []
    if decision == "accept":
        if processed and policy != OFF:
            raise NotAllowed(
                f"{account.printed_name} processed this run (run.json processed_by: "
                f"{processed_by}); another reviewer must accept it (separation of duties)"
            )
        if masked and policy not in (OFF, OWN_MASKS):
            raise NotAllowed(
                f"{account.printed_name} masked or unmasked wells of this run; another reviewer "
                "must accept it (separation of duties)"
            )
    if processed:
        relaxed.append(f"the signer processed this run (policy {policy})")
    if masked:
        relaxed.append(f"the signer masked or unmasked wells of this run (policy {policy})")
    return {
        "policy": policy,
        "processed_by": processed_by,
        "masked_by": masked_by,
        "relaxed": relaxed,
    }


def _ensure_state(engine: Engine, run_id: str) -> None:
    with Session(engine) as session:
        if session.scalars(select(DbRunState.id).where(DbRunState.run_id == run_id)).first():
            return
    try:
        with Session(writer(engine)) as session, session.begin():
            session.add(DbRunState(run_id=run_id, version=0, updated_utc=now_utc()))
    except IntegrityError:
        pass  # another request made it first


def _advance(session: Session, run_id: str, seen_version: int) -> int:
    """Move the run's counter from ``seen_version`` on by one, or refuse (someone was first)."""
    moved = session.execute(
        update(DbRunState)
        .where(DbRunState.run_id == run_id, DbRunState.version == seen_version)
        .values(version=seen_version + 1, updated_utc=now_utc())
    )
    if moved.rowcount != 1:
        raise Refused(
            "the run was changed or decided by someone else since this page was opened: "
            "reload it and look again"
        )
    return seen_version + 1


def open_settled(run_dir: Path, *, tries: int = 20, pause: float = 0.1) -> RunFolder:
    """``open_run``, waiting out another request's write in progress.

    A decision swaps run.json and review.js in right after appending to the
    audit log; a request reading the folder in that instant sees the three
    disagree. Such a run is read again a few times (about 2 s in all); a folder
    that stays inconsistent is refused as ``open_run`` refuses it.
    """
    import time

    from il6assay.record.schema import RunChanged

    for _ in range(tries - 1):
        try:
            return open_run(run_dir)
        except RunChanged:
            time.sleep(pause)
    return open_run(run_dir)


def _check_unchanged(folder: RunFolder, seen_content: str) -> None:
    if content_sha256(folder) != seen_content:
        raise Refused("the run's outputs changed since this page was opened: reload it")


@dataclass
class Signed:
    """The outcome of a signature: the audit entry written and the database row's id."""

    entry: dict[str, Any]
    signature_id: int
    run_version: int


def sign_decision(
    engine: Engine,
    run_dir: Path,
    account: Account,
    password: str,
    decision: str,
    reason: str,
    *,
    seen_version: int,
    seen_content: str,
    override: bool = False,
) -> Signed:
    """Accept or reject a run with an electronic signature (see the module's docstring)."""
    if decision not in MEANINGS:
        raise Refused(f"decision must be one of {', '.join(MEANINGS)}")
    if not account.may("review"):
        raise NotAllowed(f"the {account.role} role cannot accept or reject runs")
    if not reason.strip():
        raise Refused("a decision needs a reason")
    try:
        signer = authenticate(engine, account.username, password, purpose="signature")
    except InputError as err:
        raise Refused(f"signature refused: {err.message}") from None
    if signer.id != account.id:
        raise Refused("signature refused: not the signed-in account")
    folder = open_settled(run_dir)
    _check_unchanged(folder, seen_content)
    status = (folder.record.get("review") or {}).get("status", "unreviewed")
    if status != "unreviewed" and decision != "review":
        raise Refused(
            f"the run is already {status}; a decision stands until a mask or unmask "
            "returns the run to review"
        )
    separation = separation_check(engine, folder, account, decision)
    run_id = folder.path.name
    _ensure_state(engine, run_id)
    moment = datetime.now(UTC)
    local = moment.astimezone()
    extra: dict[str, Any] = {"signed": True, "account": account.username}
    # 1. The database first (the authority): the signature row, holding the exact line the
    # folder's audit log will get, committed with the run's counter moved on.
    with Session(writer(engine)) as session, session.begin():
        version = _advance(session, run_id, seen_version)
        signature = {
            "printed_name": account.printed_name,
            "username": account.username,
            "role": account.role,
            "meaning": MEANINGS[decision],
            "statement": STATEMENTS[decision],
            "signed_utc": moment.isoformat(timespec="seconds"),
            "signed_local": local.isoformat(timespec="seconds"),
            "local_zone": local.tzname(),
            "content_sha256": seen_content,
            "run_version": version,
            "method": "password entered again at signing",
            "separation_of_duties": separation,
        }
        row = DbSignature(
            run_id=run_id,
            run_version=version,
            content_sha256=seen_content,
            account_id=account.id,
            username=account.username,
            printed_name=account.printed_name,
            role=account.role,
            decision=decision,
            meaning=MEANINGS[decision],
            reason=reason.strip(),
            override=override,
            signed_utc=signature["signed_utc"],
            signed_local=signature["signed_local"],
            separation=json.dumps(separation, ensure_ascii=False),
            audit_entry="",
            export_sha256=(folder.record["inputs"]["export"][0]).get("sha256"),  # binds the export
        )
        session.add(row)
        session.flush()  # a second signature of the same version fails here
        extra.update(signature=signature, signature_id=row.id)
        try:
            entry = _folder_copy(folder, decision, account, reason, status, override, extra)
        except InputError as err:
            raise Refused(err.message) from None
        row.audit_entry = json.dumps(entry, ensure_ascii=False, sort_keys=True)
        signature_id = row.id
    # 2. Then the folder's copy. Killed before it lands: the folder is behind the database,
    # which ``il6assay status --db`` names and ``il6assay repair --db`` completes from the row.
    try:
        entry = write_copy(folder.path, entry)
    except InputError as err:
        if _copy_landed(folder.path, signature_id):  # run.json/review.js behind: repair mends
            raise Refused(
                f"{err.message}; the signature is recorded and in audit.jsonl, run.json or "
                f"review.js is behind it: il6assay repair {folder.path} --by NAME"
            ) from None
        _withdraw(engine, signature_id, run_id, account, err.message)
        raise Refused(err.message) from None
    return Signed(entry, signature_id, version)


def _folder_copy(
    folder: RunFolder,
    decision: str,
    account: Account,
    reason: str,
    status: str,
    override: bool,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The exact audit line a signature adds to the folder's log (time, account, chain links)."""
    from il6assay.record.review import prepare_review

    if decision == "review":  # a signed review that decides nothing: status unchanged
        body = {"action": "review-signed", "by": account.printed_name, "reason": reason.strip(),
                "review_status": status,
                "outputs_sha256": folder.record.get("outputs_sha256", {}), **extra}  # fmt: skip
    else:
        _, body = prepare_review(folder.path, decision, account.printed_name, reason, override,
                                 extra)  # fmt: skip
    return {"time_utc": now_utc(), "os_account": os_account(), **body, **next_link(folder.path)}


def write_copy(run_dir: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append a signature's line to the run's audit log exactly as the database holds it, then
    bring run.json's review and review.js in step; refused if the log moved on since."""
    from il6assay.record.review import record_review, refresh_review_js

    if entry["action"] == "review-signed":
        written = append_entry(run_dir, entry, stamp=False)
        refresh_review_js(run_dir)  # the report's review history shows it
        return written
    return record_review(open_run(run_dir), entry)


def _copy_landed(run_dir: Path, signature_id: int) -> bool:
    """Whether the folder's audit log holds the copy of signature ``signature_id``."""
    try:
        return any(e.get("signature_id") == signature_id for e in read_entries(run_dir))
    except (InputError, OSError):
        return True  # the log cannot be read: never withdraw what may be there


def _withdraw(engine: Engine, signature_id: int, run_id: str, account: Account, why: str) -> None:
    """Delete a committed signature whose folder copy could not be written (the run is as it
    was); the deletion is chained and recorded in the database's audit table."""
    with Session(writer(engine)) as session, session.begin():
        row = session.get(DbSignature, signature_id)
        if row is not None:
            session.delete(row)
        session.add(
            DbAudit(
                time_utc=now_utc(),
                os_account=os_account(),
                by_name=account.printed_name,
                action="web-signature-withdrawn",
                run_id=run_id,
                what=f"signature #{signature_id} withdrawn: the run folder could not be written",
                reason=why,
                new_value=None,
            )
        )


@dataclass
class MaskPreview:
    """A refit with wells masked or unmasked, written aside for the reviewer to look at first."""

    id: str
    run_id: str
    account_id: int
    wells: list[str]
    unmask: bool
    seen_version: int
    seen_content: str
    folder: Path  # the preview run folder (its report.html is shown)
    root: Path  # the folder holding it and its plotly.js
    changes: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = ""
    results_sha256: str = ""
    made: float = 0.0  # time.monotonic() when shown, for expiry


def preview_mask(
    run_dir: Path,
    account: Account,
    wells: list[str],
    *,
    unmask: bool,
    seen_version: int,
    seen_content: str,
    previews: Path,
) -> MaskPreview:
    """Refit the run with ``wells`` masked (or unmasked) into a preview folder; nothing kept yet."""
    from il6assay.record.masking import changes_between
    from il6assay.record.outputs import write_run

    if not account.may("mask"):
        raise NotAllowed(f"the {account.role} role cannot mask or unmask wells")
    folder = open_settled(run_dir)
    _check_unchanged(folder, seen_content)
    wells = sorted({w.strip().upper() for w in wells if w.strip()})
    if not wells:
        raise Refused("choose a well on the plate map")
    settings = Settings.from_dict(folder.record["settings"])
    masked = set(settings.masked)
    if unmask:
        if not set(wells) <= masked:
            raise Refused(f"well {sorted(set(wells) - masked)[0]} is not masked")
        masked -= set(wells)
    else:
        if set(wells) & masked:
            raise Refused(f"well {sorted(set(wells) & masked)[0]} is already masked")
        masked |= set(wells)
    try:
        run = reprocess(folder, replace(settings, masked=tuple(sorted(masked))))
    except InputError as err:
        raise Refused(err.message) from None
    preview_id = secrets.token_hex(16)
    root = Path(tempfile.mkdtemp(prefix=f"{preview_id}-", dir=previews))
    target = write_run(run, root)
    return MaskPreview(
        id=preview_id,
        run_id=folder.path.name,
        account_id=account.id,
        wells=wells,
        unmask=unmask,
        seen_version=seen_version,
        seen_content=seen_content,
        folder=target,
        root=root,
        changes=[
            {"what": c["what"], "before": shown(c["before"]), "after": shown(c["after"])}
            for c in changes_between(folder, run)
        ],
        verdict=run.verdict,
        results_sha256=sha256_file(target / "results.csv"),
    )


def shown(value: Any) -> str:
    """A changed value as a reviewer reads it (a sample's result and flags; numbers to 4 s.f.)."""
    if isinstance(value, dict):
        parts = [f"{value.get('result') or 'no result'}"]
        with contextlib.suppress(ValueError):  # censored: no number
            parts.append(f"[{float(value.get('conc_pg_ml') or ''):.4g} pg/mL]")
        if value.get("flags"):
            parts.append(f"({value['flags']})")
        return " ".join(parts)
    if isinstance(value, float):
        return f"{value:.4g}"
    return "none" if value is None else str(value)


def commit_mask(
    engine: Engine, run_dir: Path, account: Account, preview: MaskPreview, reason: str
) -> dict[str, Any]:
    """Keep a previewed mask: the run refitted on the record (audit log and database)."""
    from il6assay.record.masking import mask_wells

    if not account.may("mask"):
        raise NotAllowed(f"the {account.role} role cannot mask or unmask wells")
    if preview.account_id != account.id:
        raise NotAllowed("this preview belongs to another account")
    if not reason.strip():
        raise Refused("a mask needs a reason")
    folder = open_settled(run_dir)
    _check_unchanged(folder, preview.seen_content)
    _ensure_state(engine, preview.run_id)
    action = "unmask" if preview.unmask else "mask"
    with Session(writer(engine)) as session, session.begin():
        version = _advance(session, preview.run_id, preview.seen_version)
        extra = {
            "account": account.username,
            "role": account.role,
            "via": "web",
            "previewed": {"results_sha256": preview.results_sha256, "verdict": preview.verdict},
            "run_version": version,
        }
        try:
            _, entry = mask_wells(
                folder.path,
                preview.wells,
                reason,
                account.printed_name,
                unmask=preview.unmask,
                extra=extra,
            )
        except InputError as err:
            raise Refused(err.message) from None
        session.add(
            DbAudit(
                time_utc=entry["time_utc"],
                os_account=os_account(),
                by_name=account.printed_name,
                action=f"web-{action}",
                run_id=preview.run_id,
                what=f"{action} {', '.join(preview.wells)} by account {account.username}",
                reason=reason.strip(),
                new_value=json.dumps(entry.get("outputs_sha256"), sort_keys=True),
            )
        )
    discard_preview(preview)
    return entry


def discard_preview(preview: MaskPreview) -> None:
    """Delete a preview's folder (its read-only input copies made writable first)."""
    import stat

    for p in preview.root.rglob("*"):
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    shutil.rmtree(preview.root, ignore_errors=True)


def _separation(row: DbSignature) -> Any:
    """A signature row's separation-of-duties record (a malformed one is a clean refusal)."""
    from il6assay.db.chain_check import ChainBroken

    try:
        return json.loads(row.separation)
    except ValueError:
        raise ChainBroken(f"web_signatures #{row.id} is malformed (its separation)") from None


def signatures(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    """Every signature on a run in the database, oldest first (refused if the chain is broken)."""
    from il6assay.db.chain_check import check_rows

    with Session(engine) as session:
        rows = session.scalars(
            select(DbSignature).where(DbSignature.run_id == run_id).order_by(DbSignature.id)
        ).all()
        check_rows(session, "web_signatures", [r.id for r in rows])
        return [
            {
                "id": r.id,
                "printed_name": r.printed_name,
                "username": r.username,
                "role": r.role,
                "decision": r.decision,
                "meaning": r.meaning,
                "reason": r.reason,
                "override": r.override,
                "signed_utc": r.signed_utc,
                "signed_local": r.signed_local,
                "content_sha256": r.content_sha256,
                "run_version": r.run_version,
                "separation": _separation(r),
            }
            for r in rows
        ]


def database_events(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    """The database audit table's rows about a run (pushes, web masks), oldest first."""
    from il6assay.db.chain_check import check_rows

    with Session(engine) as session:
        rows = session.scalars(
            select(DbAudit).where(DbAudit.run_id == run_id).order_by(DbAudit.id)
        ).all()
        check_rows(session, "audit", [r.id for r in rows])
        return [
            {
                "time_utc": r.time_utc,
                "by": r.by_name,
                "action": r.action,
                "what": r.what,
                "reason": r.reason,
            }
            for r in rows
        ]


# -- a signing interrupted between the database and the folder: named, then mended ---------

SIGNED_ACTIONS = ("review-accept", "review-reject", "review-signed")


@dataclass
class CopyState:
    """How a run folder's signed entries stand against the database's signature rows."""

    behind: list[dict[str, Any]]  # rows' lines for the run's content that audit.jsonl lacks
    ahead: list[tuple[int, dict[str, Any]]]  # (line, entry): signed, the database holds none


def copy_state(engine: Engine, run_dir: Path) -> CopyState:
    """Compare the run's audit log with the ``web_signatures`` rows of its run id."""
    from il6assay.record.audit import VOID_ACTION, line_sha256
    from il6assay.record.folder import read_record

    run_dir = Path(run_dir)
    entries = read_entries(run_dir)
    current = sha256_bytes(json.dumps(dict(read_record(run_dir).outputs_sha256), sort_keys=True))
    with Session(engine) as session:
        rows = session.scalars(
            select(DbSignature).where(DbSignature.run_id == run_dir.name).order_by(DbSignature.id)
        ).all()
        held: dict[int, tuple[str, dict[str, Any]]] = {}
        for r in rows:
            with contextlib.suppress(ValueError):  # a malformed row: db verify names it
                held[r.id] = (r.content_sha256, json.loads(r.audit_entry or "{}"))
    logged = {e.get("signature_id") for e in entries}
    behind = [
        line
        for sid, (content, line) in held.items()
        if line and sid not in logged and line not in entries and content == current
    ]
    lines = [line for _, line in held.values()]
    voided = {e.get("voids_sha256") for e in entries if e.get("action") == VOID_ACTION}
    ahead = []
    for n, e in enumerate(entries, start=1):
        if e.get("action") not in SIGNED_ACTIONS or e.get("signed") is not True:
            continue
        row = held.get(e.get("signature_id"))  # type: ignore[arg-type]
        same = row is not None and row[1].get("signature") == e.get("signature")
        if e not in lines and not same and line_sha256(e) not in voided:
            ahead.append((n, e))
    return CopyState(behind, ahead)


def _who(entry: dict[str, Any]) -> str:
    sig = entry.get("signature") or {}
    return f"{entry.get('action')} by {sig.get('printed_name') or entry.get('by')}"


def copy_problem(engine: Engine, run_dir: Path, db: str) -> str | None:
    """What ``il6assay status --db`` says of a run whose signed entries and rows disagree."""
    state = copy_state(engine, run_dir)
    mend = f"`il6assay repair {run_dir} --db {db} --by NAME`"
    if state.ahead:
        n, e = state.ahead[0]
        return (
            f"audit.jsonl line {n} ({_who(e)}) claims a signature the study database does not "
            f"hold (a signing interrupted before its commit, or written by hand): {mend} voids it"
        )
    if state.behind:
        e = state.behind[0]
        return (
            f"the study database holds signature #{e.get('signature_id')} ({_who(e)}) that "
            f"audit.jsonl lacks (a signing interrupted before the folder's copy): {mend} copies it"
        )
    return None


def mend_copies(engine: Engine, run_dir: Path, by: str) -> list[str]:
    """Void signed entries the database does not hold; copy rows the log lacks (appends only).

    run.json's review and review.js are then behind the log: ``repair_run`` rewrites them.
    """
    from il6assay.record.audit import LINK_KEYS, VOID_ACTION, line_sha256

    state = copy_state(engine, run_dir)
    done = []
    for n, e in state.ahead:
        append_entry(
            run_dir,
            {
                "action": VOID_ACTION,
                "by": by,
                "reason": "the study database holds no signature for this entry: the signing "
                "was interrupted before its commit (or the entry was not made by il6assay)",
                "voided_line": n,
                "voids_sha256": line_sha256(e),
            },
        )
        done.append(f"voided audit.jsonl line {n} ({_who(e)}): the database holds no signature")
    for e in state.behind:
        append_entry(run_dir, {k: v for k, v in e.items() if k not in LINK_KEYS}, stamp=False)
        done.append(
            f"copied signature #{e.get('signature_id')} ({_who(e)}) from the study database "
            "into audit.jsonl"
        )
    return done
