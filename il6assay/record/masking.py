"""Masking and unmasking wells of a processed run, with a reason, on the record.

``mask_wells`` reprocesses the run from its own ``inputs/`` copies with the
wells excluded (the reads stay in wells.csv, status MASKED), rewrites the
run's outputs whole, returns the run to "unreviewed", and appends to the
audit log who, when, why, and the before/after of every value that changed.
A run whose outputs were edited by hand, or whose inputs no longer match
their recorded hashes, is refused: the record must describe what is there.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from il6assay.errors import InputError
from il6assay.record.audit import append_entry
from il6assay.record.folder import RunFolder, open_run, read_run, reprocess
from il6assay.run import Run

_SNAPSHOT = ("result", "conc_pg_ml", "flags")


def _snapshot(folder: RunFolder) -> dict[str, Any]:
    """The values a mask can change, as the run folder records them: results, curve, verdict."""
    curve = folder.curve
    return {
        "results": {row["sample"]: {k: row[k] for k in _SNAPSHOT} for row in folder.results},
        "params": curve.params,
        "lloq_pg_ml": curve.lloq_pg_ml,
        "uloq_pg_ml": curve.uloq_pg_ml,
        "accepted": curve.accepted,
    }


def _snapshot_of(run: Run) -> dict[str, Any]:
    """``_snapshot`` of a run in memory, as its folder will record it (nothing is read back)."""
    from il6assay.record.outputs import curve_json_value, table_text

    curve = curve_json_value(run)
    return {
        "results": {
            table_text(row["sample"]): {k: table_text(row.get(k)) for k in _SNAPSHOT}
            for row in run.result_rows()
        },
        "params": dict(curve["fit"].get("params") or {}),
        "lloq_pg_ml": curve["lloq_pg_ml"],
        "uloq_pg_ml": curve["uloq_pg_ml"],
        "accepted": curve["accepted"],
    }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    changes = []
    for key in ("accepted", "lloq_pg_ml", "uloq_pg_ml"):
        if before[key] != after[key]:
            changes.append({"what": key, "before": before[key], "after": after[key]})
    for name, value in before["params"].items():
        if value != after["params"].get(name):
            changes.append(
                {"what": f"curve {name}", "before": value, "after": after["params"].get(name)}
            )
    for sample in sorted(set(before["results"]) | set(after["results"])):
        old, new = before["results"].get(sample), after["results"].get(sample)
        if old != new:
            changes.append({"what": f"sample {sample}", "before": old, "after": new})
    return changes


def changes_between(before: RunFolder | Path, after: Run | Path) -> list[dict[str, Any]]:
    """What differs between a run folder and its refit's results, curve, range and verdict.

    ``after`` is best the refit in memory; a folder given by its path is read (``read_run``).
    """
    old = before if isinstance(before, RunFolder) else read_run(before)
    new = _snapshot(read_run(after)) if isinstance(after, Path) else _snapshot_of(after)
    return _diff(_snapshot(old), new)


def mask_wells(
    run_dir: str | Path,
    wells: list[str],
    reason: str,
    by: str,
    *,
    unmask: bool = False,
    extra: dict[str, Any] | None = None,
) -> tuple[Run, dict[str, Any]]:
    """Mask (or unmask) wells of a run, refit, rewrite its outputs, and record it all.

    ``extra`` adds keys to the audit entry (the web review's account of who masked).
    """
    folder = open_run(run_dir)
    action = "unmask" if unmask else "mask"
    if not reason or not reason.strip():
        raise InputError(f"a {action} needs a reason (--reason)", path=folder.path)
    if not by or not by.strip():
        raise InputError(f"a {action} needs the name of who decides (--by)", path=folder.path)
    wells = [w.strip().upper() for w in wells]
    if not wells:
        raise InputError(f"name the well(s) to {action} with --well", path=folder.path)
    settings = folder.record.run_settings()
    masked = set(settings.masked)
    if unmask:
        not_masked = [w for w in wells if w not in masked]
        if not_masked:
            raise InputError(f"well {not_masked[0]} is not masked", path=folder.path)
        masked -= set(wells)
    else:
        already = [w for w in wells if w in masked]
        if already:
            raise InputError(f"well {already[0]} is already masked", path=folder.path)
        masked |= set(wells)
    new_settings = replace(settings, masked=tuple(sorted(masked)))
    run = reprocess(folder, new_settings)
    before, after = _snapshot(folder), _snapshot_of(run)
    from il6assay.record.outputs import replace_run

    previous_review = folder.record.review.status
    entry: dict[str, Any] = {}

    def record_change(new_folder: Path, record: dict[str, Any]) -> None:
        entry.update(
            append_entry(
                new_folder,
                {
                    "action": action,
                    "by": by.strip(),
                    "reason": reason.strip(),
                    "wells": wells,
                    "masked_after": list(new_settings.masked),
                    "review_before": previous_review,
                    "review_after": "unreviewed",
                    "changes": _diff(before, after),
                    "outputs_sha256": record["outputs_sha256"],
                    **(extra or {}),
                },
                record=record,
            )
        )
        from il6assay.record.report import review_js_of

        # The report shows each mask's reason and the review history from review.js: the
        # log as opened (carried over whole) and the entry just appended.
        (new_folder / "review.js").write_text(
            review_js_of([*folder.entries, entry]), encoding="utf-8"
        )

    report = folder.record.report
    standalone = report is not None and report.embedded
    lang = report.lang if report is not None else "en"
    replace_run(
        run,
        folder.path,
        keep=("audit.jsonl",),
        before_swap=record_change,
        standalone_report=standalone,
        lang=lang,
    )
    return run, entry
