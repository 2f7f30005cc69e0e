"""The sample sheet: which study subject and visit each sample label on the plate is.

A CSV or XLSX kept by the technician, one row per sample label, with columns
``sample``, ``study_id``, ``visit`` and optional ``dilution`` (overrides the
layout's) and ``note``. Column names are matched without regard to case,
spaces or underscores ("Study ID" is ``study_id``). Other columns are ignored
and never stored: results carry study IDs only, no names or dates of birth.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from il6assay.errors import InputError
from il6assay.plate.labels import did_you_mean

REQUIRED = ("sample", "study_id", "visit")
OPTIONAL = ("dilution", "note")


@dataclass(frozen=True)
class SampleRow:
    """One sample label's study keys, as the sheet gives them."""

    sample: str
    study_id: str
    visit: str
    dilution: float | None
    note: str
    line: int


@dataclass
class SampleSheet:
    """A parsed sample sheet: rows by sample label, and the columns it ignored."""

    path: Path
    rows: dict[str, SampleRow]
    ignored_columns: list[str]


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "_", str(name).strip().lower())


def _table(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    if not data.strip():
        raise InputError("the sample sheet is empty")
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_table(path)
    from il6assay.plate.readers.source import decode

    text = decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [list(r) for r in csv.reader(io.StringIO(text), dialect)]


def _xlsx_table(path: Path) -> list[list[str]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as err:
        raise InputError(f"not a readable XLSX workbook ({err})") from None
    try:
        ws = wb.worksheets[0]
        rows = []
        for row in ws.iter_rows(values_only=True):
            rows.append(["" if v is None else _cell_text(v) for v in row])
        return rows
    finally:
        wb.close()


def _cell_text(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def load_samples(path: str | Path) -> SampleSheet:
    """Read and check a sample sheet; a duplicate label or study key is an error."""
    path = Path(path)
    try:
        return _load(path)
    except InputError as err:
        raise err.at(path) from None


def _load(path: Path) -> SampleSheet:
    if not path.is_file():
        raise InputError("no such file")
    table = [r for r in _table(path) if any(c.strip() for c in r)]
    if not table:
        raise InputError("the sample sheet has no rows")
    header = [_key(c) for c in table[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; expected {', '.join(REQUIRED)} "
            f"(optional: {', '.join(OPTIONAL)})",
            where="line 1",
        )
    col = {name: header.index(name) for name in (*REQUIRED, *OPTIONAL) if name in header}
    ignored = [c for c, k in zip(table[0], header, strict=True) if k and k not in col]
    rows: dict[str, SampleRow] = {}
    seen_keys: dict[tuple[str, str, float], str] = {}
    for lineno, raw in enumerate(table[1:], start=2):

        def cell(name: str, raw: list[str] = raw) -> str:
            i = col.get(name)
            return raw[i].strip() if i is not None and i < len(raw) else ""

        where = f"line {lineno}"
        sample = cell("sample")
        if not sample:
            raise InputError("a row with no sample label", where=where)
        study_id, visit = cell("study_id"), cell("visit")
        if not study_id:
            raise InputError(f"sample '{sample}' has no study_id", where=where)
        if not visit:
            raise InputError(f"sample '{sample}' has no visit", where=where)
        if sample in rows:
            raise InputError(
                f"sample '{sample}' appears twice (first on line {rows[sample].line})", where=where
            )
        dilution = _dilution(cell("dilution"), sample, where)
        # One specimen may be run at several dilutions, never twice at the same one.
        key = (study_id, visit, dilution or 1.0)
        if key in seen_keys:
            raise InputError(
                f"study_id '{study_id}' visit '{visit}' at dilution {key[2]:g} is given to two "
                f"samples ('{seen_keys[key]}' and '{sample}')",
                where=where,
            )
        seen_keys[key] = sample
        rows[sample] = SampleRow(
            sample=sample,
            study_id=study_id,
            visit=visit,
            dilution=dilution,
            note=cell("note"),
            line=lineno,
        )
    return SampleSheet(path=path, rows=rows, ignored_columns=ignored)


def _dilution(text: str, sample: str, where: str) -> float | None:
    if not text:
        return None
    value = text.replace(",", ".") if re.fullmatch(r"\d+,\d+", text) else text
    if re.fullmatch(r"1\s*:\s*\d+(\.\d+)?", value):  # "1:10"
        value = value.split(":")[1]
    try:
        dilution = float(value)
    except ValueError:
        raise InputError(
            f"dilution '{text}' of sample '{sample}' is not a number (expected e.g. 10 or 1:10)",
            where=where,
        ) from None
    if not math.isfinite(dilution) or dilution <= 0:
        raise InputError(f"dilution '{text}' of sample '{sample}' must be > 0", where=where)
    return dilution


def match_samples(
    plate_labels: list[str],
    sheet: SampleSheet,
    allow_unmatched: bool = False,
    *,
    layout: str | Path | None = None,
) -> list[str]:
    """Check that plate samples and sheet rows match one to one.

    Returns warnings (when ``allow_unmatched``); otherwise a mismatch is an
    error. Each sheet row not on the plate names the plate label it most
    likely meant (case, spaces, a digit off). A layout with no sample wells
    is blamed on the layout (``layout``, its path), not on the sheet.
    """
    if not plate_labels and sheet.rows and not allow_unmatched:
        raise InputError(
            f"the layout has no sample wells, but the sample sheet {sheet.path.name} names "
            f"{len(sheet.rows)} sample(s) ({_listing(list(sheet.rows), 3)}): is this the plate's "
            "layout (not a kit-lot file or another plate's)? See `il6assay layout show`",
            path=layout,
        )
    on_plate = set(plate_labels)
    in_sheet = set(sheet.rows)
    no_row = [s for s in plate_labels if s not in in_sheet]
    not_on_plate = [s for s in sheet.rows if s not in on_plate]
    problems = []
    if no_row:
        problems.append(f"no sample-sheet row for {_listing(no_row)}")
    if not_on_plate:
        # Prefer the plate labels left without a row: that is where a typo comes from.
        named = [
            label + (did_you_mean(label, no_row) or did_you_mean(label, plate_labels))
            for label in not_on_plate
        ]
        problems.append(f"sheet rows not on the plate: {_listing(named)}")
    if problems and not allow_unmatched:
        if plate_labels and not on_plate & in_sheet:
            problems.insert(
                0,
                f"none of the sheet's {len(sheet.rows)} rows matches any of the plate's "
                f"{len(plate_labels)} samples: is it this plate's sample sheet"
                + (f" and {Path(layout).name} its layout" if layout is not None else "")
                + "?",
            )
        raise InputError(
            "; ".join(problems) + " (--allow-unmatched makes this a warning)", path=sheet.path
        )
    return problems


def _listing(labels: list[str], most: int = 8) -> str:
    shown = ", ".join(labels[:most])
    return shown + (f" and {len(labels) - most} more" if len(labels) > most else "")


def write_samples_template(sample_labels: list[str], out: str | Path) -> Path:
    """A sample sheet XLSX with one row per sample label, study_id and visit left to fill."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    out = Path(out)
    wb = Workbook()
    ws = wb.active
    ws.title = "samples"
    columns = (*REQUIRED, *OPTIONAL)
    for c, name in enumerate(columns, start=1):
        ws.cell(row=1, column=c, value=name).font = Font(bold=True)
        ws.column_dimensions[chr(ord("A") + c - 1)].width = 14
    for r, label in enumerate(dict.fromkeys(sample_labels), start=2):
        cell = ws.cell(row=r, column=1, value=label)
        cell.data_type = "s"  # a label is text, never a formula or a number
    ws.freeze_panes = "A2"
    tmp = out.with_name(f".{out.name}.partial")
    try:
        wb.save(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
