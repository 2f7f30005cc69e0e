"""A run's audit log: append-only, hash-chained JSON Lines, one entry per change or decision.

Each entry records when (UTC, with zone), who said they did it (``by``), the
operating-system account that ran the command, the action, the reason, and
what changed (before/after of every affected value). ``append_entry`` adds the
chain's links to every entry:

- ``prev_sha256``: the SHA-256 of the previous line exactly as written
  (null on the first line, which is always the ``process`` entry written with
  the run folder);
- ``files_sha256``: the SHA-256 of each of the run's content files (every
  output, every input copy, and run.json without its ``review``) at that
  moment, and ``content_sha256``, the SHA-256 of that map.

``read_chain`` verifies the log from its first line: each link, that only
processing and (un)masking change the content, that every review names who
and why and overrides a rejected plate only with ``override``, and that the
run as it is now is the content the last entry saw. ``review_state`` derives
the review from the chain; run.json's ``review`` and review.js must agree
with it (``il6assay.record.folder.open_run``). Entries are only ever
appended, each flushed to disk before the command reports success.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from il6assay.errors import InputError
from il6assay.plate.hashing import sha256_bytes, sha256_file
from il6assay.record.changes import note_change
from il6assay.record.schema import RunChanged, content_files, load_record

AUDIT_FILE = "audit.jsonl"
# Actions that change a run's content (and so return it to "unreviewed").
CONTENT_ACTIONS = ("process", "mask", "unmask")
# Review actions and the review status each leaves.
REVIEW_ACTIONS = {"review-accept": "accepted", "review-reject": "rejected"}
LINK_KEYS = ("prev_sha256", "content_sha256", "files_sha256")
# An entry that voids an earlier one (by its line's SHA-256, ``voids_sha256``): a signed
# decision whose database record was never committed. Lines are never deleted.
VOID_ACTION = "void-signature"


def os_account() -> str:
    """The operating-system account running this process (never a name the user typed)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def disk_error(err: OSError, path: Path, *, then: str = "nothing was changed") -> InputError:
    """A full disk, a read-only folder or a missing permission, as one line naming the folder.

    ``then``: what that leaves, as the user should know it.
    """
    import errno

    why = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the folder is on a read-only file system",
        errno.EACCES: "no permission to write there",
        errno.EPERM: "no permission to write there",
    }.get(err.errno or 0, err.strerror or str(err) or type(err).__name__)
    return InputError(f"cannot write: {why}; {then}", path=path)


def now_utc() -> str:
    """The current time, ISO 8601 in UTC with its zone."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _line(entry: dict[str, Any]) -> str:
    """An entry as one line of the log (the bytes the next entry's ``prev_sha256`` hashes)."""
    return json.dumps(entry, ensure_ascii=False, sort_keys=True)


def files_sha256(folder: Path, record: dict[str, Any] | None = None) -> dict[str, str | None]:
    """The SHA-256 of each content file of the run as it is now (None for a missing file)."""
    record = load_record(folder) if record is None else record
    out: dict[str, str | None] = {}
    for name in content_files(record):
        path = folder / name
        out[name] = sha256_file(path) if path.is_file() else None
    body = {k: v for k, v in record.items() if k != "review"}
    out["run.json"] = sha256_bytes(_line(body))
    return out


def content_sha256(files: dict[str, str | None]) -> str:
    """The run's content digest: the SHA-256 of its files' digests."""
    return sha256_bytes(_line(files))


def _raw_lines(folder: Path) -> list[str] | None:
    path = folder / AUDIT_FILE
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RunChanged("audit.jsonl is not UTF-8 text", path=folder) from None
    return text.split("\n")


def line_sha256(entry: dict[str, Any]) -> str:
    """The SHA-256 of an entry's line as written (what the next line's ``prev_sha256`` holds)."""
    return sha256_bytes(_line(entry))


def chain_head(entries: list[dict[str, Any]]) -> str | None:
    """The ``prev_sha256`` the entry after ``entries`` (as read by ``read_chain``) must carry."""
    return line_sha256(entries[-1]) if entries else None


def next_link(folder: str | Path) -> dict[str, Any]:
    """The link fields the next entry of the folder's log gets (to sign an entry with them)."""
    folder = Path(folder)
    lines = [x for x in (_raw_lines(folder) or []) if x]
    files = files_sha256(folder)
    return {
        "prev_sha256": sha256_bytes(lines[-1]) if lines else None,
        "content_sha256": content_sha256(files),
        "files_sha256": files,
    }


def append_entry(
    folder: Path,
    entry: dict[str, Any],
    *,
    stamp: bool = True,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append one entry (time and OS account added unless ``stamp=False``) to the audit log.

    ``record``: the run.json its writer just wrote there (else it is read from the folder).

    The chain's links (``prev_sha256``, ``content_sha256``, ``files_sha256``) are
    computed here; an entry that already carries them (signed over them) must
    carry exactly these. The first entry of a log must be the ``process`` one.
    """
    folder = Path(folder)
    path = folder / AUDIT_FILE
    if not path.is_file() and entry.get("action") != "process":
        raise RunChanged(
            "audit.jsonl is missing: the run's history cannot be continued", path=folder
        )
    try:
        fh = path.open("a+", encoding="utf-8")
    except OSError as err:  # a read-only folder or a full disk: one line, nothing changed
        raise disk_error(err, folder) from None
    with fh:
        _lock(fh)
        fh.seek(0)
        lines = [x for x in fh.read().split("\n") if x]
        if not lines and entry.get("action") != "process":
            raise RunChanged(
                "audit.jsonl is missing or empty: the run's history cannot be continued",
                path=folder,
            )
        files = files_sha256(folder, record)
        link = {
            "prev_sha256": sha256_bytes(lines[-1]) if lines else None,
            "content_sha256": content_sha256(files),
            "files_sha256": files,
        }
        for key, value in link.items():
            if key in entry and entry[key] != value:
                raise InputError(
                    f"the audit entry's {key} is not the run's current one "
                    "(the run or its log changed since the entry was prepared)",
                    path=folder,
                )
        body = {"time_utc": now_utc(), "os_account": os_account(), **entry} if stamp else entry
        full = {**body, **link}
        fh.seek(0, os.SEEK_END)
        fh.write(_line(full) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    if entry.get("action") != "process":  # a new run: its folder's rename is seen instead
        note_change(folder)  # the review app's queue reads it again (il6assay.record.changes)
    return full


def _lock(fh: Any) -> None:
    """Hold an exclusive lock on the log while linking and writing (where the OS has one)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one writer per folder is assumed
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)


def read_entries(folder: Path) -> list[dict[str, Any]]:
    """Every entry of the folder's audit log, oldest first ([] when there is none); unchecked."""
    lines = _raw_lines(Path(folder)) or []
    out = []
    for n, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            raise RunChanged(f"audit.jsonl line {n} is not a complete entry", path=folder) from None
    return out


def read_chain(folder: str | Path, record: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The folder's audit log, verified from its first entry to the run as it is now."""
    folder = Path(folder)
    record = load_record(folder) if record is None else record

    def broken(message: str) -> RunChanged:
        return RunChanged(message, path=folder)

    lines = _raw_lines(folder)
    if lines is None:
        raise broken("audit.jsonl is missing: the run's history and review cannot be checked")
    if lines and lines[-1] == "":
        lines.pop()
    else:
        raise broken("audit.jsonl does not end with a complete entry (the log was cut or edited)")
    if not lines:
        raise broken("audit.jsonl is empty: the run's history was removed")
    entries: list[dict[str, Any]] = []
    reviews: list[tuple[str, dict[str, Any]]] = []  # since the content last changed
    prev_line: str | None = None
    for n, line in enumerate(lines, start=1):
        where = f"audit.jsonl line {n}"
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise broken(f"{where} is not a complete entry (the log was cut or edited)") from None
        if not isinstance(entry, dict):
            raise broken(f"{where} is not an entry (a JSON map)")
        action = entry.get("action")
        if not isinstance(action, str):
            raise broken(f"{where} has no action")
        if line != _line(entry):
            raise broken(f"{where} ({action}) was not written by il6assay (edited by hand)")
        expected = sha256_bytes(prev_line) if prev_line is not None else None
        if entry.get("prev_sha256") != expected:
            raise broken(
                f"{where} ({action}) does not link to the line before it "
                "(an entry was inserted, removed or edited)"
            )
        files = entry.get("files_sha256")
        if not isinstance(files, dict) or entry.get("content_sha256") != content_sha256(files):
            raise broken(f"{where} ({action}) has no valid record of the run's content")
        if n == 1 and action != "process":
            raise broken(f"{where} should be the run's processing, found {action}")
        if n > 1 and action == "process":
            raise broken(f"{where} records a second processing of the run")
        if n > 1 and action not in CONTENT_ACTIONS and files != entries[-1]["files_sha256"]:
            changed = _first_difference(entries[-1]["files_sha256"], files)
            raise broken(f"{where} ({action}) saw {changed} other than the line before it did")
        if action in CONTENT_ACTIONS:
            reviews = []
        if action in REVIEW_ACTIONS:
            _check_review(entry, where, broken)
            reviews.append((where, entry))
        entries.append(entry)
        prev_line = line
    now = files_sha256(folder, record)
    last = entries[-1]
    if last["files_sha256"] != now:
        changed = _first_difference(last["files_sha256"], now)
        raise broken(
            f"{changed} differs from what audit.jsonl last recorded "
            f"(line {len(entries)}, {last['action']}): changed after it, or the log was cut"
        )
    verdict = "accepted" if record["accepted"] else "rejected"
    for where, entry in reviews:
        if entry["verdict_by_rules"] != verdict:
            raise broken(
                f"{where} ({entry['action']}) reviewed a plate the rules "
                f"{entry['verdict_by_rules']}; run.json says {verdict}"
            )
    return entries


def _first_difference(before: dict[str, Any], after: dict[str, Any]) -> str:
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            return name
    return "the run's content"


def _check_review(entry: dict[str, Any], where: str, broken: Any) -> None:
    for key in ("by", "reason"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise broken(f"{where} ({entry['action']}) names no {key}")
    if not isinstance(entry.get("override"), bool):
        raise broken(f"{where} ({entry['action']}) does not say whether it overrides the rules")
    if entry.get("verdict_by_rules") not in ("accepted", "rejected"):
        raise broken(f"{where} ({entry['action']}) does not record the rules' verdict")
    if (
        entry["action"] == "review-accept"
        and entry["verdict_by_rules"] == "rejected"
        and not entry["override"]
    ):
        raise broken(f"{where} accepts a plate the rules rejected without --override")


def review_state(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's review as its (verified) audit log says: what run.json and review.js hold."""
    state: dict[str, Any] = {"status": "unreviewed"}
    voided = {e.get("voids_sha256") for e in entries if e.get("action") == VOID_ACTION}
    for entry in entries:
        action = entry.get("action")
        if voided and line_sha256(entry) in voided:
            continue  # a decision the log itself voids
        if action in CONTENT_ACTIONS:
            state = {"status": "unreviewed"}
        elif action in REVIEW_ACTIONS:
            state = review_of(entry)
    return state


def review_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The review a review entry records, as run.json's ``review`` holds it."""
    return {
        "status": REVIEW_ACTIONS[entry["action"]],
        "by": entry["by"],
        "reason": entry["reason"],
        "time_utc": entry.get("time_utc"),
        "os_account": entry.get("os_account"),
        "override": entry["override"],
    }
