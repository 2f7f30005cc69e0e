"""A workbook of plain tables, streamed straight into its XLSX parts (no openpyxl).

What il6assay writes into a workbook is tables: a header row, then rows of
numbers and text, the header frozen. That needs a few XML parts in a ZIP
file, written here row by row; openpyxl (0.1-0.2 s to import, ~25 ms a
run's workbook) reads the result as it read its own: the same sheets, cells,
values and types. Text is stored as inline strings (never a formula, whatever
it starts with); numbers as numbers; True/False as booleans; an empty value
as no cell. Every part carries a fixed date, so the same tables give the same
bytes. Numbers are written to 16 significant digits, as openpyxl writes them;
characters XML cannot hold (control characters) as the OOXML escape
``_xHHHH_``, as Excel writes them (openpyxl refused them).
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from il6assay.plate.readers._common import column_letter

_DATE = (1980, 1, 1, 0, 0, 0)  # every part's date in the ZIP: the same tables, the same bytes
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_OOXML}.sheet.main+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_OOXML}.styles+xml"/>'
    "{sheets}</Types>"
)
_SHEET_TYPE = (
    f'<Override PartName="/xl/worksheets/sheet{{n}}.xml" ContentType="{_OOXML}.worksheet+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    "<sheets>{sheets}</sheets></workbook>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    "{sheets}"
    '<Relationship Id="rId{styles}" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
    "</sheetView></sheetViews><sheetData>"
)
_SHEET_TAIL = "</sheetData></worksheet>"


def _text(value: str) -> str:
    value = _ILLEGAL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", value)
    stripped = value.strip()
    space = ' xml:space="preserve"' if stripped and value != stripped else ""
    return f"<t{space}>{escape(value, quote=False)}</t>"


def _cell(ref: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        # 16 significant digits, as openpyxl (and Excel's own display precision) writes them
        return f'<c r="{ref}" t="n"><v>{value:.16g}</v></c>'
    text = str(value)
    if not text:
        return f'<c r="{ref}" t="inlineStr"/>'
    return f'<c r="{ref}" t="inlineStr"><is>{_text(text)}</is></c>'


def _sheet_rows(rows: Iterable[Sequence[Any]], guard: tuple[str, ...] = ()) -> Iterable[str]:
    """Each row's XML; text starting with one of ``guard`` gets a leading apostrophe first."""
    columns: list[str] = []
    for r, row in enumerate(rows, start=1):
        while len(columns) < len(row):
            columns.append(column_letter(len(columns)))
        cells = []
        n = str(r)
        for column, v in zip(columns, row, strict=False):
            # The common cells written here as _cell writes them (a workbook has thousands:
            # the calls cost more than the text); every other value by _cell.
            kind = type(v)
            if kind is float and v - v == 0.0:  # finite
                cells.append(f'<c r="{column}{n}" t="n"><v>{v:.16g}</v></c>')
                continue
            if v is None:  # no cell, as _cell writes it
                continue
            if guard and isinstance(v, str) and v.startswith(guard):
                v, kind = "'" + v, str
            if kind is str and v and _PLAIN.fullmatch(v):  # nothing to escape or preserve
                cells.append(f'<c r="{column}{n}" t="inlineStr"><is><t>{v}</t></is></c>')
            else:
                cells.append(_cell(column + n, v))
        yield f'<row r="{n}">{"".join(cells)}</row>'


# Text _text writes as it is: no character to escape or replace, no space at either end.
_PLAIN = re.compile(r"[^\x00-\x1f\ufffe\uffff&<>\s](?:[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff&<>]*"
                    r"[^\x00-\x1f\ufffe\uffff&<>\s])?")  # fmt: skip


def write_workbook(
    path: Path, sheets: dict[str, Iterable[Sequence[Any]]], guard: tuple[str, ...] = ()
) -> None:
    """Write an XLSX of one sheet per table (each a header row, then rows), header frozen.

    ``guard``: text starting with one of these is written with a leading apostrophe (a
    spreadsheet's formula guard), as if the rows held it so.
    """
    if not sheets:
        raise ValueError("a workbook needs at least one sheet")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:

        def part(name: str, text: str) -> None:
            info = zipfile.ZipInfo(name, _DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))

        n = len(sheets)
        types = "".join(_SHEET_TYPE.format(n=i) for i in range(1, n + 1))
        part("[Content_Types].xml", _CONTENT_TYPES.format(sheets=types))
        part("_rels/.rels", _ROOT_RELS)
        names = "".join(
            f'<sheet name="{escape(title)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, title in enumerate(sheets, start=1)
        )
        part("xl/workbook.xml", _WORKBOOK.format(sheets=names))
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
            f'2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        part("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.format(sheets=rels, styles=n + 1))
        part("xl/styles.xml", _STYLES)
        for i, rows in enumerate(sheets.values(), start=1):
            body = "".join(_sheet_rows(rows, guard))
            part(f"xl/worksheets/sheet{i}.xml", _SHEET_HEAD + body + _SHEET_TAIL)
