"""Writing a run folder: whole or not at all, never over an existing one.

Everything is written into a hidden temporary folder beside the target and
renamed into place only when complete, so a crash or a full disk leaves no
half-written run. ``run.json`` is written last and carries the SHA-256 of every
other output, so a later hand edit can be detected.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from il6assay import __version__
from il6assay.errors import InputError
from il6assay.plate.hashing import sha256_bytes, sha256_file
from il6assay.qc.m10 import QC_ROLES
from il6assay.qc.results import FLAGS, RESULT_COLUMNS
from il6assay.qc.tables import result_and_dilution_rows
from il6assay.record import versions
from il6assay.record.audit import disk_error
from il6assay.run import Run

# What verify compares a run's recorded versions with (a test stands in another version here).
library_versions = versions.library_versions

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe; other values pass."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return safe_text(value)


def table_text(value: Any) -> str:
    """The text a run's CSV table holds for ``value``, as the run folder reads it back.

    What ``write_csv`` writes (floats as ``repr``, as the csv module does), without the
    formula guard (``il6assay.record.schema.unguarded``): masking compares a refit in
    memory with the folder's tables without writing and reading them again.
    """
    from il6assay.record.schema import unguarded

    value = _csv_value(value)
    if isinstance(value, str):
        return unguarded(value)
    return repr(value) if isinstance(value, float) else str(value)


def curve_json_value(run: Run) -> dict[str, Any]:
    """curve.json's content as a reader of the written file gets it (plain JSON values)."""
    return json.loads(json.dumps(curve_document(run), default=_json_default))


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """A UTF-8 CSV (with BOM, so Excel on a Chinese-locale PC reads it right), formula-safe."""
    _write_csv_text(path, csv_text(columns, rows))


def _write_csv_text(path: Path, text: str) -> None:
    """``csv_text``'s text as write_csv's file: UTF-8 with a BOM, line ends as they are."""
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        fh.write(text)


def csv_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """The text of write_csv's file (without its BOM): a header, then each row's cells."""
    finite, guarded = math.isfinite, FORMULA_PREFIXES
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        # _csv_value of each cell, inline: a run's tables have thousands of cells
        writer.writerow(
            [
                ""
                if v is None or (isinstance(v, float) and not finite(v))
                else "'" + v
                if isinstance(v, str) and v.startswith(guarded)
                else v
                for v in map(row.get, columns)
            ]
        )
    return buffer.getvalue()


def write_xlsx(path: Path, sheets: dict[str, tuple[list[str], list[dict[str, Any]]]]) -> None:
    """An XLSX with one sheet per table; text cells are stored as text, never formulas.

    Streamed row by row (il6assay.record.xlsx), the header frozen; empty and
    non-finite values are no cell.
    """
    from il6assay.record.xlsx import write_workbook

    def table(columns: list[str], rows: list[dict[str, Any]]) -> Iterator[list[Any]]:
        yield [str(name) for name in columns]  # --wide builds them from visits
        for row in rows:
            yield list(map(row.get, columns))

    # safe_text of every cell, by the writer as it writes each (thousands of cells a run)
    tables = {title: table(*content) for title, content in sheets.items()}
    write_workbook(path, tables, guard=FORMULA_PREFIXES)


def curve_document(run: Run) -> dict[str, Any]:
    """curve.json: the fit, standards' recoveries, LLOQ/ULOQ and every verdict with its rule."""
    controls = [
        {
            "well": w.name,
            "level": w.spec.level,
            "nominal_pg_ml": w.spec.nominal,
            "range_pg_ml": [w.spec.low, w.spec.high],
            "conc_pg_ml": w.conc,
            "recovery_pct": w.recovery_pct,
            "passed": bool(w.passed),
            "flags": w.flags,
        }
        for w in run.wells
        if w.spec.role in QC_ROLES
    ]
    return {
        "run_id": run.run_id,
        "unit": "pg/mL",
        "fit": run.curve.summary(),
        "zero_standard": run.settings.zero_standard,
        "read": run.read,
        "reference": run.reference,
        "standards": [lv.to_dict() for lv in run.levels],
        "lloq_pg_ml": run.lloq,
        "uloq_pg_ml": run.uloq,
        "curve_warnings": run.curve.warnings,
        "detection": run.detection,
        "noise": run.noise,
        "model_comparison": run.comparison,
        "controls": controls,
        **_m10_document(run),
        "rules": [r.to_dict() for r in run.rules],
        "accepted": run.accepted,
        "verdict": run.verdict,
        "flags": FLAGS,
    }


def _m10_document(run: Run) -> dict[str, Any]:
    """curve.json's keys of the m10 rules: the profile, the QCs' reportable values, the standard
    levels left out of the refit and the first fit (through them) beside the refitted "fit".

    Under the kit rules curve.json keeps il6assay 0.2's shape (run.json's settings name the
    profile), so that runs processed before the profiles existed verify by recomputation.
    """
    if run.settings.rules != "m10":
        return {}
    return {
        "rules_profile": run.settings.rules,
        "fit_standards": run.settings.fit_standards,
        "qcs": run.qcs,
        "excluded_levels": [
            {"level": lv.level, "nominal_pg_ml": lv.nominal, "reason": lv.reason}
            for lv in run.excluded_levels
        ],
        "first_fit": run.first_curve.summary() if run.first_curve is not None else None,
    }


def _copy_inputs(run: Run, inputs_dir: Path) -> dict[str, list[dict[str, str]]]:
    """Byte-for-byte, read-only copies of the files that made the run, with their hashes.

    Layout files keep their paths relative to the layout, so its includes still resolve.
    """
    record: dict[str, list[dict[str, str]]] = {}
    for kind, paths in run.input_files().items():
        if not paths:
            continue
        # Relative to the files' common folder, so that a layout's relative
        # includes ("../plate_layouts/...") resolve among the copies too.
        resolved = [p.resolve() for p in paths]
        base = Path(os.path.commonpath([r.parent for r in resolved]))
        for p, real in zip(paths, resolved, strict=True):
            rel = real.relative_to(base)
            target = inputs_dir / kind / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            data = p.read_bytes()  # read once: the copy's bytes are the bytes hashed
            target.write_bytes(data)
            _read_only(target)
            record.setdefault(kind, []).append(
                {
                    "file": str(p),
                    "copy": target.relative_to(inputs_dir.parent).as_posix(),
                    "sha256": sha256_bytes(data),
                }
            )
    return record


def _read_only(path: Path) -> None:
    """An input copy becomes a read-only file (its folder stays removable)."""
    os.chmod(path, os.stat(path).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _output_files(folder: Path) -> list[str]:
    """Every file in ``folder`` but the input copies (no part named "inputs"), by relative
    POSIX name, in the order of their paths (what sorted(folder.rglob("*")) lists)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "inputs"]
        base = Path(root).relative_to(folder).parts
        found += [
            (*base, name)
            for name in files
            if name != "inputs" and os.path.isfile(os.path.join(root, name))
        ]
    return ["/".join(parts) for parts in sorted(found)]


# A run folder being written is ``.<run id>.partial-<tag>``, never a run until renamed
# into place; a run folder set aside while its replacement is renamed in is
# ``.<run id>.old-<tag>``. A kill between the two renames leaves the second and
# no run folder: ``il6assay status`` names it and ``il6assay repair`` puts it back
# (il6assay.record.repair).
PARTIAL, STASH, TRASH = "partial", "old", "trash"


def stash_of(folder: Path, tmp: Path) -> Path:
    """Where ``folder`` is set aside while ``tmp`` (its replacement) is renamed into place."""
    return folder.with_name(f".{folder.name}.{STASH}-{tmp.name.rsplit('-', 1)[-1]}")


def replace_run(
    run: Run,
    folder: Path,
    keep: tuple[str, ...] = (),
    before_swap: Callable[[Path, dict[str, Any]], None] | None = None,
    standalone_report: bool = False,
    lang: str = "en",
) -> None:
    """Rewrite an existing run folder whole: new outputs swapped in, ``keep`` files carried over.

    ``before_swap(new_folder, record)`` runs on the complete new folder (``record``: the
    run.json written there) before it replaces the old one (to record the change there):
    all of it, or nothing.
    A full disk or a read-only folder is an InputError, with the run as it was.
    """
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{PARTIAL}-", dir=folder.parent))
    except OSError as err:
        raise disk_error(err, folder) from None
    old = stash_of(folder, tmp)
    try:
        if not standalone_report:
            from il6assay.record.report import ensure_shared_plotly

            ensure_shared_plotly(folder.parent)
        record = _write_all(run, tmp, report=True, standalone=standalone_report, lang=lang)
        for name in keep:
            if (folder / name).exists():
                shutil.copy2(folder / name, tmp / name)
        if before_swap is not None:
            before_swap(tmp, record)
        _swap_in(tmp, folder, old)
    except BaseException as err:
        if old.exists() and not folder.exists():
            os.rename(old, folder)
        _remove_tree(tmp)
        if isinstance(err, OSError):
            raise disk_error(err, folder) from None
        raise
    remove_folder(old)


def _swap_in(new: Path, folder: Path, old: Path) -> None:
    """Set ``folder`` aside as ``old`` and rename ``new`` into its place (two renames)."""
    os.rename(folder, old)
    os.rename(new, folder)


def remove_folder(path: Path) -> None:
    """Delete a run folder (or an unfinished or set-aside one), read-only input copies included.

    Renamed first to ``.<name>.trash-<tag>``, so a kill midway leaves no half-deleted run
    under a name that says "run" or "set aside".
    """
    if not path.exists():
        return
    tag = path.name.rsplit("-", 1)[-1] if "-" in path.name else "x"
    name = path.name[1:].rsplit(".", 1)[0] if path.name.startswith(".") else path.name
    trash = path.with_name(f".{name}.{TRASH}-{tag}")
    if path != trash:
        os.rename(path, trash)
    _remove_tree(trash)


def _remove_tree(path: Path) -> None:
    """Delete a run folder, read-only input copies included."""
    if not path.exists():
        return
    for p in path.rglob("*"):
        if p.is_dir():
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    shutil.rmtree(path, ignore_errors=True)


def write_run(
    run: Run,
    out_dir: str | Path,
    *,
    report: bool = True,
    standalone_report: bool = False,
    lang: str = "en",
    replacing: Path | None = None,
    note: dict[str, Any] | None = None,
) -> Path:
    """Write the run folder under ``out_dir``; refuse if it exists. Returns its path.

    ``lang``: the report's language, "en" or "zh-CN" (recorded in run.json's "report").
    ``replacing``: the existing run folder is moved there (whole, by one rename)
    once the new one is complete and renamed into its place (``batch --force``);
    ``note`` adds keys to the processing entry of the new run's audit log.
    A full disk or a read-only folder is an InputError and leaves nothing behind.
    """
    out_dir = Path(out_dir)
    final = out_dir / run.run_id
    if final.exists() and replacing is None:
        raise InputError(
            f"run folder {final} already exists (these inputs and settings were processed "
            "before); remove it or choose another --out"
        )
    made = [p for p in (out_dir, *out_dir.parents) if not p.exists()]  # removed if refused
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{run.run_id}.{PARTIAL}-", dir=out_dir))
    except OSError as err:
        _remove_made(made)
        raise disk_error(err, out_dir) from None
    plotly_made: Path | None = None
    old = stash_of(final, tmp)
    try:
        _write_all(run, tmp, report=report, standalone=standalone_report, lang=lang)
        from il6assay.record.audit import append_entry

        # The first link of the run's audit chain.
        append_entry(tmp, {**process_entry(run), **(note or {})})
        if report and not standalone_report:
            # The shared plotly.js copy only once the run folder is whole: a refused
            # run leaves nothing behind in --out.
            # Copied if missing, replaced if it is not plotly's own (il6assay.record.report).
            from il6assay.record.report import ensure_shared_plotly, plotly_js_name

            existed = (out_dir / plotly_js_name()).is_file()
            shared = ensure_shared_plotly(out_dir)
            plotly_made = None if existed else shared
        if replacing is not None and final.exists():
            _swap_in(tmp, final, old)
            os.rename(old, replacing)
        else:
            os.rename(tmp, final)
    except BaseException as err:
        if old.exists() and not final.exists():
            os.rename(old, final)
        _remove_tree(tmp)
        if plotly_made is not None:
            plotly_made.unlink(missing_ok=True)
        _remove_made(made)
        if isinstance(err, OSError):
            raise disk_error(err, out_dir) from None
        raise
    return final


def _remove_made(made: list[Path]) -> None:
    for folder in made:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if still empty


# Files of a run folder that record its review, not its results: never hashed
# as outputs (a review changes them, and the audit log says how).
REVIEW_FILES = ("review.js", "audit.jsonl")


def _write_all(
    run: Run, folder: Path, *, report: bool, standalone: bool = False, lang: str = "en"
) -> dict[str, Any]:
    results, dilutions = result_and_dilution_rows(
        run.specimens, run.samples, run.run_id, run.lloq, run.uloq
    )
    well_cols, wells = run.well_rows()
    text = csv_text(RESULT_COLUMNS, results)
    _write_csv_text(folder / "results.csv", text)
    if len(dilutions) != len(results) or any(
        d is not r for d, r in zip(dilutions, results, strict=True)
    ):
        text = csv_text(RESULT_COLUMNS, dilutions)  # else the same rows: the same text
    _write_csv_text(folder / "dilutions.csv", text)
    write_xlsx(
        folder / "results.xlsx", {"results": (RESULT_COLUMNS, results), "wells": (well_cols, wells)}
    )
    write_csv(folder / "wells.csv", well_cols, wells)
    _write_json(folder / "curve.json", curve_document(run))
    if report:
        from il6assay.record.report import write_report

        write_report(run, folder / "report.html", standalone=standalone, lang=lang)
    inputs = _copy_inputs(run, folder / "inputs")
    outputs = {name: sha256_file(folder / name) for name in _output_files(folder)}
    doc = run_document(run, inputs, outputs)
    doc["report"] = {**_report_record(standalone), "lang": lang} if report else None
    if report:
        from il6assay.record.report import review_js_of

        # Nothing reviewed yet: the log's first entry (processing) comes once the folder is whole.
        (folder / "review.js").write_text(review_js_of([]), encoding="utf-8")
    _write_json(folder / "run.json", doc)
    return doc


def render_outputs(
    run: Run, folder: Path, *, report: bool, standalone: bool = False, lang: str = "en"
) -> None:
    """Write every file of a run folder into ``folder`` (no audit log): as verification needs."""
    _write_all(run, folder, report=report, standalone=standalone, lang=lang)


def process_entry(run: Run) -> dict[str, Any]:
    """The audit log's first entry: the run as processed (its content hash is added)."""
    return {
        "action": "process",
        "run_id": run.run_id,
        "settings": run.settings.to_dict(),
        "verdict_by_rules": "accepted" if run.accepted else "rejected",
        "review_after": "unreviewed",
        **(
            {
                "excluded_standards": [
                    f"{lv.level} ({lv.nominal:g} pg/mL): {lv.reason}" for lv in run.excluded_levels
                ],
                "reason": "ICH M10 section 4.3.2: failed standard levels rejected, curve refitted",
            }
            if run.excluded_levels
            else {}
        ),
    }


def _report_record(standalone: bool) -> dict[str, str]:
    from il6assay.record.report import plotly_js_name

    if standalone:
        return {"plotly_js": "embedded"}
    return {"plotly_js": f"../{plotly_js_name()}"}


def run_document(run: Run, inputs: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    """run.json: provenance of every number in the folder."""
    return {
        "run_folder_format": 2,  # il6assay.record.schema.RUN_FOLDER_FORMAT: hash-chained log
        "run_id": run.run_id,
        "tool": "il6assay",
        "version": __version__,
        "created_utc": run.processed_utc or datetime.now(UTC).isoformat(timespec="seconds"),
        "export": {
            "file": str(run.export.path),
            "format": run.export.format,
            "plate_id": run.plate.id,
            "metadata": run.plate.metadata,
            "reads": list(run.plate.reads),
            "read": run.read,
            "reference": run.reference,
        },
        "kit_lot": run.layout.kit_lot,
        "inputs": inputs,
        "settings": run.settings.to_dict(),
        "allow_unmatched": run.allow_unmatched,
        "libraries": versions.library_versions(),
        "accepted": run.accepted,
        "verdict": run.verdict,
        "review": {"status": "unreviewed"},
        # Who processed the plate (process --by, else the OS account): the web review's
        # separation of duties refuses their acceptance (docs/review.md).
        "processed_by": run.processed_by or _os_account(),
        "warnings": run.warnings,
        "outputs_sha256": outputs,
    }


def _os_account() -> str:
    from il6assay.record.audit import os_account

    return os_account()


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    # json.dumps(doc, indent=2, ensure_ascii=False, default=_json_default), the same text
    path.write_text(
        json.dumps(doc, indent=2, ensure_ascii=False, default=_json_default) + "\n",
        encoding="utf-8",
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
