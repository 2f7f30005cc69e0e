"""Finishing or undoing what a killed command left in a folder of runs.

Every command that changes a run folder leaves, after kill -9 at any point,
the run as it was, the run as it would be, or one of these states, which
``il6assay status`` names and ``il6assay repair`` (``repair_run``) mends:

- **a run folder missing, set aside as ``.<run id>.old-<tag>``** (a mask,
  unmask or ``batch --force`` killed between its two renames): the folder set
  aside is put back; the unfinished ``.<run id>.partial-<tag>`` is removed.
  The command's change is undone, never half-kept.
- **an earlier run set aside and not yet filed** (``batch --force`` killed
  after its new run was in place): a ``.<run id>.old-<tag>`` whose audit log
  is not part of the run's own is moved to ``.replaced/<run id>-<UTC time>``;
  one whose history the run's log holds (a mask's previous state) is removed.
- **run.json's review or review.js behind the audit log** (a review killed
  after its audit entry): both are rewritten from the verified log, and the
  repair is recorded in it (who, when, what).
- **a signed decision and the study database out of step** (a web decision
  killed between its commit and the folder's copy, or a folder signed by a
  process killed before its commit): named by ``il6assay status --db`` and
  mended by ``il6assay repair --db`` (``il6assay.web.decisions.mend_copies``,
  then the rewrite above).

Anything else that fails the run's checks (an edited output, a broken chain)
is not an interrupted command, and repair refuses it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from il6assay.errors import InputError
from il6assay.record.audit import AUDIT_FILE, append_entry, now_utc, read_entries, review_state
from il6assay.record.folder import ReviewOutOfStep, open_run
from il6assay.record.outputs import PARTIAL, STASH, TRASH, disk_error, remove_folder
from il6assay.record.results_folder import REPLACED_DIR  # batch --force: earlier runs, whole
from il6assay.record.schema import RECORD_FILE, REVIEW_JS, RunChanged

_LEFTOVER = re.compile(rf"^\.(?P<run>.+)\.(?P<kind>{PARTIAL}|{STASH}|{TRASH})-[^.]+$")


def leftovers(parent: Path, name: str | None = None) -> dict[str, dict[str, list[Path]]]:
    """Unfinished (``partial``) and set-aside (``old``) run folders in ``parent``, by run id."""
    found: dict[str, dict[str, list[Path]]] = {}
    if not parent.is_dir():
        return found
    for p in sorted(parent.iterdir()):
        m = _LEFTOVER.match(p.name)
        if m is None or not p.is_dir() or (name is not None and m["run"] != name):
            continue
        found.setdefault(m["run"], {PARTIAL: [], STASH: [], TRASH: []})[m["kind"]].append(p)
    return found


def _history_held(stash: Path, folder: Path) -> bool:
    """Whether ``folder``'s audit log begins with ``stash``'s (nothing of the stash is lost)."""
    try:
        held = (stash / AUDIT_FILE).read_bytes()
    except OSError:
        return not (stash / RECORD_FILE).exists()  # a half-removed copy: no run any more
    try:
        return (folder / AUDIT_FILE).read_bytes().startswith(held)
    except OSError:
        return False


def interrupted(paths: list[Path]) -> list[dict[str, Any]]:
    """Rows for ``il6assay status``: runs a killed command left missing or with a run set aside."""
    rows: list[dict[str, Any]] = []
    for p in paths:
        if (p / RECORD_FILE).is_file() or (not p.exists() and not p.name.startswith(".")):
            parents = {p.parent: p.name}
        elif p.is_dir():
            parents = {p: None}
        else:
            continue
        for parent, only in parents.items():
            for run_id, kinds in leftovers(parent, only).items():
                folder = parent / run_id
                for stash in kinds[STASH]:
                    if folder.exists() and _history_held(stash, folder):
                        continue  # a finished mask's previous state: litter, not a problem
                    rows.append(_row(folder, stash))
    return rows


def _row(folder: Path, stash: Path) -> dict[str, Any]:
    if folder.exists():
        what = (
            f"an earlier run of it was set aside as {stash.name} by an interrupted "
            f"`batch --force`; `il6assay repair {folder} --by NAME` files it in {REPLACED_DIR}/"
        )
    else:
        what = (
            f"the run folder is missing: a mask, unmask or `batch --force` was interrupted "
            f"between its two renames, the run is set aside as {stash.name}; "
            f"`il6assay repair {folder} --by NAME` puts it back"
        )
    from il6assay.record.review import unknown_status

    return unknown_status(folder, what)


def repair_run(path: str | Path, by: str) -> list[str]:
    """Mend what an interrupted command left of the run at ``path``; returns what was done.

    Refuses (InputError) a run whose problem is not an interrupted command's.
    """
    folder = Path(path)
    if not by or not by.strip():
        raise InputError("a repair needs the name of who repairs (--by)", path=folder)
    try:
        if folder.is_dir() and not (folder / RECORD_FILE).exists():  # a folder of runs
            names = {p.name for p in folder.iterdir() if (p / RECORD_FILE).is_file()}
            names = {n for n in names if not n.startswith(".")} | set(leftovers(folder))
            return [f"{n}: {line}" for n in sorted(names) for line in _repair(folder / n, by)]
        return _repair(folder, by.strip())
    except OSError as err:
        raise disk_error(err, folder) from None


def _repair(folder: Path, by: str) -> list[str]:
    done: list[str] = []
    empty: dict[str, list[Path]] = {PARTIAL: [], STASH: [], TRASH: []}
    kinds = leftovers(folder.parent, folder.name).get(folder.name, empty)
    stashes = sorted(kinds[STASH], key=lambda p: p.stat().st_mtime)
    if not folder.exists():
        whole = [s for s in stashes if (s / RECORD_FILE).is_file() and (s / AUDIT_FILE).is_file()]
        if not whole and (kinds[PARTIAL] or kinds[TRASH]):
            for partial in kinds[PARTIAL] + kinds[TRASH]:  # a run never written: nothing to keep
                remove_folder(partial)
                done.append(f"removed the unfinished {partial.name}")
            return done
        if not whole:
            raise InputError("no such run folder, and no run set aside to put back", path=folder)
        os.rename(whole[-1], folder)
        stashes.remove(whole[-1])
        done.append(f"put back {whole[-1].name} (the command that set it aside was interrupted)")
    for partial in kinds[PARTIAL] + kinds[TRASH]:
        remove_folder(partial)
        done.append(f"removed the unfinished {partial.name}")
    for stash in stashes:
        if _history_held(stash, folder):
            remove_folder(stash)
            done.append(f"removed {stash.name} (a previous state; audit.jsonl holds its history)")
        else:
            aside = replaced_name(folder)
            aside.parent.mkdir(exist_ok=True)
            os.rename(stash, aside)
            done.append(
                f"filed {stash.name} (an earlier run) as {aside.relative_to(folder.parent)}"
            )
    for litter in (folder / f".{RECORD_FILE}.partial", folder / f".{REVIEW_JS}.partial"):
        if litter.exists():
            litter.unlink()
            done.append(f"removed {litter.name}")
    try:
        open_run(folder)
    except ReviewOutOfStep as err:
        done.append(_rederive_review(folder, by, err.message))
    except RunChanged as err:
        raise InputError(
            f"{err.message}: not what an interrupted command leaves, so repair leaves it as it is",
            path=folder,
        ) from None
    return done


def _rederive_review(folder: Path, by: str, problem: str) -> str:
    """Rewrite run.json's review and review.js from the verified log, recording the repair."""
    from il6assay.record.audit import read_chain
    from il6assay.record.folder import read_record
    from il6assay.record.report import review_js_of

    record = read_record(folder).raw  # to rewrite: its review is what is out of step
    read_chain(folder, record)  # the log itself must verify: it is what the review is made from
    append_entry(
        folder,
        {
            "action": "repair",
            "by": by,
            "reason": "a command was interrupted: run.json's review and review.js are rewritten "
            "from audit.jsonl",
            "problem": problem.split("; if a review was interrupted")[0],
        },
    )
    entries = read_entries(folder)
    review = review_state(entries)
    texts = [(RECORD_FILE, json.dumps(dict(record, review=review), indent=2, ensure_ascii=False))]
    if record.get("report") is not None:
        texts.append((REVIEW_JS, review_js_of(entries)))
    for name, text in texts:
        tmp = folder / f".{name}.partial"
        tmp.write_text(text + ("\n" if name == RECORD_FILE else ""), encoding="utf-8")
        os.replace(tmp, folder / name)
    said = review["status"] + (f" by {review['by']}" if review.get("by") else "")
    return f"run.json's review and review.js rewritten from audit.jsonl ({said})"


def replaced_name(folder: Path) -> Path:
    """Where a run folder replaced by ``batch --force`` is kept: ``.replaced/<run id>-<UTC>``."""
    stamp = now_utc().replace(":", "").replace("-", "").split("+")[0]
    aside = folder.parent / REPLACED_DIR / f"{folder.name}-{stamp}"
    n = 1
    while aside.exists():
        n += 1
        aside = aside.with_name(f"{folder.name}-{stamp}-{n}")
    return aside
