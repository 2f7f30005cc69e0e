"""The sample sheet: which study subject and visit each sample label on the plate is.

A CSV or XLSX kept by the technician, one row per sample label, with columns
``sample``, ``study_id``, ``visit`` and optional ``dilution`` (overrides the
layout's) and ``note``. Column names are matched without regard to case,
spaces or underscores ("Study ID" is ``study_id``). Other columns are ignored
and never stored: results carry study IDs only, no names or dates of birth.

One subject, one spelling: sample labels, study IDs and visits are
NFKC-normalised (fullwidth ``ＡＭＬ-００１`` is ``AML-001``) and trimmed; a
control or format character in them (zero-width space, bidi overrides such as
RLO, a newline, NUL) is refused naming the line and column. A field over
128 KB, a bare CR in a file with LF line ends, a column given twice and a
dilution outside 1 to 10^6 are refused too; a file whose only line ends are
CRs (classic Mac) is read with CR line ends.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from il6assay.errors import InputError
from il6assay.plate.labels import did_you_mean
from il6assay.plate.study_ids import check_distinct, check_script
from il6assay.plate.study_ids import (
    spelling_key as spelling_key,
)  # re-exported: push imports it here

REQUIRED = ("sample", "study_id", "visit")
OPTIONAL = ("dilution", "note", "plate", "export", "purpose", "collection_date")
PURPOSES = ("", "study", "isr")  # isr: an incurred-sample repeat, stored beside the original
MAX_FIELD_CHARS = 128 * 1024  # Python's csv module refuses longer fields; so does il6assay
MIN_DILUTION, MAX_DILUTION = 1.0, 1e6
# Control (Cc), format (Cf: zero-width, bidi overrides), line/paragraph separators,
# surrogates, private-use and unassigned code points have no place in a label.
_REFUSED_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"))


def clean_label(text: str, what: str = "label", where: str | None = None) -> str:
    """A study ID, visit or sample label NFKC-normalised and trimmed; control characters refused."""
    value = unicodedata.normalize("NFKC", text).strip()
    for ch in value:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise InputError(
                f"{what} {value!a} holds {_char_name(ch)}: a control or invisible "
                "character; retype it in the sheet",
                where=where,
            )
    return value


def _char_name(ch: str) -> str:
    name = unicodedata.name(ch, "")
    code = f"U+{ord(ch):04X}"
    return f"{code} {name}" if name else code


@dataclass(frozen=True)
class SampleRow:
    """One sample label's study keys, as the sheet gives them."""

    sample: str
    study_id: str
    visit: str
    dilution: float | None
    note: str
    line: int
    plate: str = ""
    export: str = ""
    purpose: str = ""  # "" (a study result) or "isr" (an incurred-sample repeat)
    collection_date: str = ""


@dataclass
class SampleSheet:
    """A parsed sample sheet: rows by sample label, and the columns it ignored."""

    path: Path
    rows: dict[str, SampleRow]
    ignored_columns: list[str]
    # With a ``plate`` column: the rows of each plate (by the plate as written); ``rows``
    # is then empty until ``for_plate`` picks one plate's rows.
    by_plate: dict[str, dict[str, SampleRow]] | None = None

    def for_plate(self, plate_id: str, export_name: str) -> SampleSheet:
        """This sheet for one plate of an export: rows picked by ``plate``, ``export`` checked."""
        named = {
            r.export for rows in (self.by_plate or {"": self.rows}).values() for r in rows.values()
        }
        named.discard("")
        for name in sorted(named):
            if name.casefold() != export_name.casefold():
                raise InputError(
                    f"the sample sheet is for export '{name}', not '{export_name}': "
                    "is it this plate's sheet (or is the export a copy)?",
                    path=self.path,
                )
        if self.by_plate is None:
            return self
        rows = next(
            (rows for p, rows in self.by_plate.items() if p.casefold() == plate_id.casefold()),
            None,
        )
        if rows is None:
            raise InputError(
                f"the sample sheet names plate(s) {', '.join(sorted(self.by_plate))}, "
                f"not plate '{plate_id}' of this export: is it this plate's sheet?",
                path=self.path,
            )
        return SampleSheet(self.path, rows, self.ignored_columns)


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "_", str(name).strip().lower())


def read_table(path: Path) -> list[list[str]]:
    """The rows of a CSV (any delimiter, encoding) or the first sheet of an XLSX, as text."""
    return _table(path)


class _Commas(csv.Dialect):
    """What csv.Sniffer finds for a plain comma table without quotes (``sheet_dialect``)."""

    delimiter = ","
    quotechar = '"'
    doublequote = False
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL


class _CommasSpaced(_Commas):
    skipinitialspace = True


def sheet_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """The CSV dialect of a sample sheet's text: csv.Sniffer's on its first 4 KB (comma,
    semicolon or tab), else Excel's.

    The sniffer tallies every ASCII character on every line (~0.4 ms a sheet). A sample
    without quotes whose first ten lines all hold the same number of commas and no
    semicolon or tab is one it always calls comma-separated, unquoted (its
    ``_guess_delimiter`` finds only the comma consistent on every line of its first
    chunk): that answer is given without it, the same dialect to the attribute. Any
    other text is sniffed.
    """
    sample = text[:4096]
    if '"' not in sample and "'" not in sample:
        lines = [line for line in sample.split("\n") if line][:10]
        commas = lines[0].count(",") if lines else 0
        if commas and all(
            line.count(",") == commas and ";" not in line and "\t" not in line for line in lines
        ):
            spaced = lines[0].count(",") == lines[0].count(", ")
            return _CommasSpaced if spaced else _Commas
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _table(path: Path) -> list[list[str]]:
    from il6assay.plate.readers.source import Source, decode

    data = Source(path).data  # a file too large for a sample sheet is refused unread
    if not data.strip():
        raise InputError("the sample sheet is empty")
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_table(data)

    text = _line_ends(decode(data))
    reader = csv.reader(io.StringIO(text, newline=""), sheet_dialect(text))
    rows = []
    try:
        for row in reader:
            rows.append(list(row))
    except csv.Error as err:
        line = f"line {reader.line_num}"
        if "field larger" in str(err):
            raise InputError(
                f"a field longer than {MAX_FIELD_CHARS // 1024} KB; a sample sheet holds "
                "short labels (is this the right file?)",
                where=line,
            ) from None
        raise InputError(f"not a readable CSV ({err})", where=line) from None
    return rows


def _line_ends(text: str) -> str:
    """CRLF and LF as they are; CR alone as line ends only when the file has no LF at all."""
    if "\r" not in text:
        return text
    if "\n" not in text:
        return text.replace("\r", "\n")
    bare = re.search(r"\r(?!\n)", text)
    if bare is not None:
        line = text.count("\n", 0, bare.start()) + 1
        raise InputError(
            "a bare carriage return (CR) inside a line of a file with LF line ends; "
            "save the sheet again as CSV",
            where=f"line {line}",
        )
    return text


def _xlsx_table(data: bytes) -> list[list[str]]:
    import zipfile
    from io import BytesIO

    from openpyxl import load_workbook

    from il6assay.plate.readers.source import check_xlsx

    check_xlsx(data)  # sizes, DTDs and every sheet's extent, before openpyxl sees it
    try:
        wb = load_workbook(BytesIO(data), read_only=True, data_only=True)
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
    for i, name in enumerate(header):
        if name and name in header[:i]:
            raise InputError(
                f"column '{table[0][i].strip()}' is given twice (columns {header.index(name) + 1} "
                f"and {i + 1}); keep one",
                where="line 1",
            )
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
    by_plate: dict[str, dict[str, SampleRow]] | None = {} if "plate" in col else None
    seen_keys: dict[tuple[str, str, str, float], str] = {}
    for lineno, raw in enumerate(table[1:], start=2):
        where = f"line {lineno}"

        def cell(name: str, raw: list[str] = raw, where: str = where) -> str:
            i = col.get(name)
            text = raw[i].strip() if i is not None and i < len(raw) else ""
            if len(text) > MAX_FIELD_CHARS:
                raise InputError(
                    f"column {name} is longer than {MAX_FIELD_CHARS // 1024} KB", where=where
                )
            if name in ("sample", "study_id", "visit", "plate", "export"):
                return clean_label(text, f"column {name}", where)
            return text

        sample = cell("sample")
        if not sample:
            raise InputError("a row with no sample label", where=where)
        study_id, visit = cell("study_id"), cell("visit")
        if not study_id:
            raise InputError(f"sample '{sample}' has no study_id", where=where)
        check_script(study_id, where)
        if not visit:
            raise InputError(f"sample '{sample}' has no visit", where=where)
        plate = cell("plate")
        if by_plate is not None:
            if not plate:
                raise InputError(f"sample '{sample}' has no plate", where=where)
            rows = by_plate.setdefault(plate, {})
        if sample in rows:
            raise InputError(
                f"sample '{sample}' appears twice (first on line {rows[sample].line})", where=where
            )
        dilution = _dilution(cell("dilution"), sample, where)
        purpose = cell("purpose").casefold()
        if purpose not in PURPOSES:
            raise InputError(
                f"purpose '{cell('purpose')}' of sample '{sample}' is not one of "
                "study, isr (or empty)",
                where=where,
            )
        # One specimen may be run at several dilutions, never twice at the same one
        # (on one plate; an incurred-sample repeat is a specimen's second look).
        key = (plate, study_id, visit, dilution or 1.0)
        if key in seen_keys:
            raise InputError(
                f"study_id '{study_id}' visit '{visit}' at dilution {key[3]:g} is given to two "
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
            plate=plate,
            export=cell("export"),
            purpose=purpose,
            collection_date=_date(cell("collection_date"), sample, where),
        )
    every = [r for rs in (by_plate or {"": rows}).values() for r in rs.values()]
    purposes: dict[tuple[str, str, str], SampleRow] = {}
    for r in every:
        first = purposes.setdefault((r.plate, r.study_id, r.visit), r)
        if first.purpose != r.purpose:
            raise InputError(
                f"study_id '{r.study_id}' visit '{r.visit}' is an incurred-sample repeat (purpose "
                f"isr) on one line and not on another (lines {first.line} and {r.line})",
                where=f"line {r.line}",
            )
    check_distinct([r.study_id for r in every])  # AML-0O4 beside AML-004: one subject, one look
    if by_plate is not None:
        return SampleSheet(path=path, rows={}, ignored_columns=ignored, by_plate=by_plate)
    return SampleSheet(path=path, rows=rows, ignored_columns=ignored)


def _date(text: str, sample: str, where: str) -> str:
    """A collection date as ISO 8601 (YYYY-MM-DD, as XLSX dates are read); anything else refused."""
    if not text:
        return ""
    from datetime import date, datetime

    value = text[:10] if re.fullmatch(r"\d{4}-\d{2}-\d{2}( 00:00:00)?", text) else text
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        try:
            return datetime.fromisoformat(text).date().isoformat()
        except ValueError:
            raise InputError(
                f"collection_date '{text}' of sample '{sample}' is not a date (write YYYY-MM-DD)",
                where=where,
            ) from None


_THOUSANDS = re.compile(r"[-+]?\d{1,3}([,.'\u00a0\u202f ]\d{3})+([.,]\d+)?")


def refuse_thousands(text: str, what: str, where: str | None) -> None:
    """Refuse a number written with a thousands separator ("1,000"), naming the cell.

    "1,000" is one thousand to one reader and one (a decimal comma) to another; the
    sheet must say which: 1000, or 1.0.
    """
    value = text.strip()
    decimal_point = re.fullmatch(r"[-+]?\d+\.\d+", value) is not None  # 1.000 is one
    if _THOUSANDS.fullmatch(value) and not decimal_point:
        raise InputError(
            f"{what} is '{value}', written with a thousands separator (one thousand, or one "
            "with a decimal comma?); write the number without it (1000, or 1.0)",
            where=where,
        )


def _dilution(text: str, sample: str, where: str) -> float | None:
    if not text:
        return None
    refuse_thousands(text, f"dilution of sample '{sample}'", where)
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
    if not math.isfinite(dilution) or not MIN_DILUTION <= dilution <= MAX_DILUTION:
        raise InputError(
            f"dilution '{text}' of sample '{sample}' is not between 1 and 1000000 "
            "(a dilution factor: 10 for 1:10)",
            where=where,
        )
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
    columns = (*REQUIRED, "dilution", "note")  # plate, export, purpose, collection_date: optional
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
