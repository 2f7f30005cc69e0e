"""Plate layouts drawn as grids in a spreadsheet (XLSX or CSV), read into the same Layout.

Labs draw plates as 8x12 grids in Excel; wellmap TOML stays the reference
format, and a sheet layout is read into exactly the ``Layout`` that
``il6assay.plate.layout.load_layout`` makes from TOML, through the same
checks (roles, the parameters each role takes, numbers, one concentration
per standard level, ICH M10's six non-zero levels). Errors name the sheet
and cell, and the well.

The format, one grid per property (``role`` is required)::

    role   1         2         3        4       ...  12        <- header: 1..12 across
    A      standard  standard  blank    sample  ...  sample
    ...                                                        <- rows A..H down the side
    H      standard  standard  empty    sample  ...  sample

- ``role``: standard, blank, control, sample or empty (a blank cell is an
  empty well); case and surrounding spaces are ignored.
- ``label``: a standard's or control's level (``S1``, ``low``), a sample's
  label (``P01``).
- ``conc``: a standard's or control's nominal pg/mL.
- ``dilution``: a sample's dilution factor (``10`` or ``1:10``; default 1).
- ``tolerance_pct``: a control's acceptance range, ± % (default 20).
- ``kit_lot``: a line of its own, ``kit_lot`` then the lot in the next cell.

In an XLSX each grid is a sheet named after its property (the grid may
also carry its title in its top-left corner cell); sheets named ``README``
or ``lists`` (as ``il6assay layout template`` writes them) are not read,
any other sheet is refused. In a CSV (comma, semicolon or tab; UTF-8, GBK
or cp1252 as exports are) the grids follow one another, each titled in its
top-left corner cell or on the line above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from il6assay.errors import InputError
from il6assay.plate.labels import fold
from il6assay.plate.layout import load_layout
from il6assay.plate.layout_wells import (
    N_COLS,
    N_ROWS,
    ROLES,
    ROWS,
    Layout,
    WellSpec,
    check_standards,
    check_value,
    did_you_mean,
    expected_one_of,
    specs_from_wells,
)

GRIDS = ("role", "label", "conc", "dilution", "tolerance_pct", "spike", "condition", "hours")
VALIDATION_GRIDS = ("spike", "condition", "hours")  # docs/validation.md
# What a ``label`` cell names, by role (validation roles: docs/validation.md).
LABEL_KEY = {
    "standard": "level",
    "control": "level",
    "qc": "level",
    "stability": "level",
    "sample": "sample",
    "pool": "sample",
    "selectivity": "source",
}
# Other spellings of a grid's title (after folding: no case, spaces, '_', units).
_GRID_ALIASES = {
    "role": "role",
    "label": "label",
    "conc": "conc",
    "concentration": "conc",
    "nominal": "conc",
    "dilution": "dilution",
    "tolerancepct": "tolerance_pct",
    "tolerance": "tolerance_pct",
    "spike": "spike",
    "condition": "condition",
    "hours": "hours",
}
SKIPPED_SHEETS = ("readme", "lists")
SHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv", ".tsv")
_RANK = (3, 0)  # every cell speaks for its own well, as a [well] section would
_DELIMITERS = (",", ";", "\t")


def is_sheet_layout(path: str | Path) -> bool:
    """True for a layout to read as a sheet: an XLSX/XLS workbook, or a .csv/.tsv file."""
    path = Path(path)
    if path.suffix.lower() in SHEET_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0"))


def read_layout(path: str | Path) -> Layout:
    """A layout from a wellmap TOML file or a sheet (XLSX/CSV), whichever the file is."""
    return load_sheet_layout(path) if is_sheet_layout(path) else load_layout(path)


@dataclass
class _Cell:
    """One grid cell: its text and where it is, for errors."""

    text: str
    where: str  # the cell: "sheet 'conc' E6", "line 14, field 5"
    well: str

    @property
    def at(self) -> str:
        """The cell and its well, for an error: "sheet 'conc' E6 (well C4)"."""
        return f"{self.where} (well {self.well})"


def load_sheet_layout(path: str | Path) -> Layout:
    """Read a sheet layout (XLSX or CSV grids) into a Layout, with the TOML reader's checks."""
    from il6assay.plate.readers.source import Source

    shown = Path(path)
    try:
        source = Source(shown)
        source.check_size()
        grids, kit_lot = _read_grids(source)
        specs = _specs(grids)
        try:
            check_standards(specs)
        except InputError as err:
            # It names wells ("300 (A1) and 250 (A2)"): say which cells hold their values.
            wells = re.findall(r"\(([A-H]\d{1,2})\)", err.message)
            if wells and "conc" in grids:
                err.where = "conc at " + " and ".join(grids["conc"][w].where for w in wells)
            raise
    except InputError as err:
        raise err.at(shown) from None
    return Layout(path=shown.resolve(), files=[shown.resolve()], wells=specs, kit_lot=kit_lot)


def stated_dilutions(path: str | Path) -> set[str] | None:
    """Wells of a sheet layout whose dilution cell is filled (None for a TOML layout)."""
    if not is_sheet_layout(path):
        return None
    from il6assay.plate.readers.source import Source

    grids, _ = _read_grids(Source(Path(path)))
    dilution = grids.get("dilution", {})
    return {well for well, cell in dilution.items() if cell.text}


# Reading the grids
# =================


def _read_grids(source: Any) -> tuple[dict[str, dict[str, _Cell]], str | None]:
    """Every grid by property (well -> cell), and the kit lot, from a workbook or a CSV."""
    from il6assay.plate.readers._common import sheet_where

    sheets: list[tuple[str | None, list[list[str]], Any]] = []
    if source.is_zip or source.is_ole:
        names = source.sheet_names
        for name in names:
            if fold(name) in SKIPPED_SHEETS:
                continue
            title = _grid_name(name)
            if title is None:
                raise InputError(
                    f"sheet '{name}' is not a layout grid; expected sheets named "
                    + ", ".join(GRIDS)
                    + " (and README, lists, which are not read)"
                    + did_you_mean(name, GRIDS)
                )

            def where(i: int, j: int, name: str = name) -> str:
                return sheet_where(name, i, j)

            sheets.append((title, source.sheet_rows(name), where))
    elif source.path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        raise InputError(
            f"not a readable {source.path.suffix.lstrip('.').upper()} workbook "
            "(neither a zip nor an OLE container); save the layout from Excel again"
        )
    else:
        text = source.text
        rows = _csv_rows(text)

        def where(i: int, j: int) -> str:
            return f"line {i + 1}, field {j + 1}"

        sheets.append((None, rows, where))

    grids: dict[str, dict[str, _Cell]] = {}
    first_at: dict[str, str] = {}
    kit_lot: str | None = None
    for sheet_title, rows, where in sheets:
        found, lot = _grids_in(rows, sheet_title, where)
        for prop, cells, at in found:
            if prop in grids:
                raise InputError(
                    f"a second '{prop}' grid (the first is at {first_at[prop]}); "
                    "expected one grid per property",
                    where=at,
                )
            grids[prop], first_at[prop] = cells, at
        if lot is not None:
            if kit_lot is not None and lot[0] != kit_lot:
                raise InputError(
                    f"kit_lot '{lot[0]}' differs from kit_lot '{kit_lot}' given before",
                    where=lot[1],
                )
            kit_lot = lot[0]
    if "role" not in grids:
        raise InputError(
            "no 'role' grid: expected a grid (1-12 across, A-H down) titled 'role'"
            + (" or a sheet named 'role'" if source.is_zip or source.is_ole else "")
        )
    return grids, kit_lot


def _csv_rows(text: str) -> list[list[str]]:
    import csv
    import io

    lines = text.splitlines()
    delimiter = max(_DELIMITERS, key=lambda d: sum(line.count(d) for line in lines[:50]))
    return [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _grid_name(text: str) -> str | None:
    """The property a title names ('Conc (pg/mL)' -> 'conc'), or None."""
    bare = re.sub(r"\(.*?\)|%", "", text)
    return _GRID_ALIASES.get(fold(bare).replace(".", ""))


def _header_at(cells: list[str]) -> int | None:
    """The corner column j when cells j+1 .. j+12 read 1 .. 12 (a grid's header), else None."""
    numbers = [str(n) for n in range(1, N_COLS + 1)]
    for j in range(len(cells)):
        if cells[j + 1 : j + 1 + N_COLS] == numbers:
            if any(cells[:j]) or any(cells[j + 1 + N_COLS :]):
                return None
            return j
    return None


def _grids_in(
    rows: list[list[str]], sheet_title: str | None, where: Any
) -> tuple[list[tuple[str, dict[str, _Cell], str]], tuple[str, str] | None]:
    """The grids of one sheet (property, cells by well, where) and its kit_lot line."""
    found: list[tuple[str, dict[str, _Cell], str]] = []
    kit_lot: tuple[str, str] | None = None
    pending: tuple[str, str] | None = None  # a title line waiting for its grid
    i = 0
    while i < len(rows):
        cells = [c.strip() for c in rows[i]]
        filled = [(j, c) for j, c in enumerate(cells) if c]
        if not filled:
            i += 1
            continue
        corner = _header_at(cells)
        if corner is None:
            j0, first = filled[0]
            if fold(first) == "kitlot":
                if len(filled) == 1:  # an empty kit_lot line, as a blank template has
                    i += 1
                    continue
                if len(filled) != 2:
                    raise InputError(
                        "a kit_lot line needs the lot in the next cell, e.g. kit_lot | A1234",
                        where=where(i, j0),
                    )
                kit_lot = (filled[1][1], where(i, filled[1][0]))
            elif len(filled) == 1 and _grid_name(first) is not None:
                pending = (first, where(i, j0))
            else:
                numbers = [c for _, c in filled if c.isdigit()]
                extra = (
                    "; a layout is a 96-well plate, columns 1-12"
                    if len(numbers) >= N_COLS and numbers[:1] == ["1"]
                    else ""
                )
                raise InputError(
                    f"unexpected '{first}'; expected a grid (a header 1-12 across, rows A-H "
                    f"down), a title ({', '.join(GRIDS)}) on the line above it, or a kit_lot "
                    f"line{extra}",
                    where=where(i, j0),
                )
            i += 1
            continue
        # A grid: its title from the corner cell, the line above, or the sheet's name.
        title_text, title_where = (
            (cells[corner], where(i, corner)) if cells[corner] else (pending or (None, None))
        )
        prop = _grid_name(title_text) if title_text else sheet_title
        if title_text and prop is None:
            raise InputError(
                f"grid title '{title_text}' is not a property; "
                + expected_one_of(title_text, GRIDS, quoted=False),
                where=title_where,
            )
        if prop is None:
            raise InputError(
                f"grid without a title; put {', '.join(GRIDS)} in its top-left cell "
                "or on the line above",
                where=where(i, corner),
            )
        if sheet_title is not None and prop != sheet_title:
            raise InputError(
                f"grid titled '{title_text}' on sheet for '{sheet_title}'; "
                "expected one property per sheet",
                where=title_where,
            )
        pending = None
        grid: dict[str, _Cell] = {}
        for r in range(N_ROWS):
            k = i + 1 + r
            row = [c.strip() for c in rows[k]] if k < len(rows) else []
            letter = row[corner] if corner < len(row) else ""
            if letter.upper() != ROWS[r] or any(row[:corner]):
                raise InputError(
                    f"'{prop}' grid: expected row letter '{ROWS[r]}' here, found "
                    + (f"'{letter}'" if letter else "nothing")
                    + " (a layout has rows A-H, in order)",
                    where=where(k, corner),
                )
            if any(row[corner + 1 + N_COLS :]):
                j = next(j for j in range(corner + 1 + N_COLS, len(row)) if row[j])
                raise InputError(
                    f"'{prop}' grid: a value beyond column 12 ('{row[j]}'); "
                    "a layout is a 96-well plate",
                    where=where(k, j),
                )
            for c in range(N_COLS):
                j = corner + 1 + c
                text = row[j] if j < len(row) else ""
                well = f"{ROWS[r]}{c + 1}"
                grid[well] = _Cell(text, where(k, j), well)
        k = i + 1 + N_ROWS
        if k < len(rows) and rows[k] and len(rows[k]) > corner:
            letter = rows[k][corner].strip()
            if re.fullmatch(r"[I-Pi-p]", letter):
                raise InputError(
                    f"'{prop}' grid has a row '{letter}'; a layout is a 96-well plate (rows A-H)",
                    where=where(k, corner),
                )
        found.append((prop, grid, where(i, corner)))
        i += 1 + N_ROWS
    return found, kit_lot


# From cells to wells
# ===================


def _number(cell: _Cell, key: str) -> Any:
    from il6assay.plate.samples import refuse_thousands

    text = cell.text
    refuse_thousands(text, key, cell.at)
    value: Any = text
    if re.fullmatch(r"-?\d+,\d+", text):
        text = text.replace(",", ".")  # a decimal comma (semicolon-separated files)
    if key == "dilution" and re.fullmatch(r"1\s*:\s*\d+(\.\d+)?", text):
        text = text.split(":")[1].strip()
    try:
        value = float(text)
        if value.is_integer() and key != "conc":
            value = int(value)
    except ValueError:
        value = text  # check_value says what is wrong with it
    return value


def _specs(grids: dict[str, dict[str, _Cell]]) -> dict[str, WellSpec]:
    """Each well's parameters from its cells, checked as layout.py checks a TOML file's."""
    says: dict[tuple[int, int], list[tuple[tuple[int, int], str, dict[str, Any]]]] = {}
    for r in range(N_ROWS):
        for c in range(N_COLS):
            well = f"{ROWS[r]}{c + 1}"
            cells = {prop: grids[prop][well] for prop in GRIDS if prop in grids}
            role_cell = cells.pop("role")
            given = {prop: cell for prop, cell in cells.items() if cell.text}
            well_says: list[tuple[tuple[int, int], str, dict[str, Any]]] = []
            role = role_cell.text.lower()
            if role:
                if role not in ROLES:
                    raise InputError(
                        f"unknown role '{role_cell.text}'; " + expected_one_of(role, ROLES),
                        where=role_cell.at,
                    )
                well_says.append((_RANK, role_cell.where, {"role": role}))
            for prop, cell in given.items():
                label = cell.where
                if prop == "label":
                    if role in LABEL_KEY:
                        key, value = LABEL_KEY[role], cell.text
                    elif role:
                        raise InputError(
                            f"label '{cell.text}' on a{'n' if role == 'empty' else ''} {role} "
                            f"well (role at {role_cell.where}); labels are for standard, "
                            "control, qc, sample and validation wells",
                            where=cell.at,
                        )
                    else:
                        key, value = "label", cell.text
                elif prop == "condition":
                    key, value = prop, cell.text
                else:
                    key, value = prop, _number(cell, prop)
                if role or key != "label":
                    check_value(key, value, cell.at)
                well_says.append((_RANK, label, {key: value}))
            if well_says:
                says[r, c] = well_says
    return specs_from_wells(says)


# Writing a sheet layout
# ======================

ROLE_FILLS = {  # the role sheet's cell colours (ARGB), as `layout show` draws them
    "standard": "FFC6DBEF",
    "blank": "FFE0E0E0",
    "control": "FFFDD0A2",
    "qc": "FFFDAE6B",
    "sample": "FFC7E9C0",
    "empty": "FFFFFFFF",
    "pool": "FFDADAEB",
    "selectivity": "FFFCC5C0",
    "stability": "FFFFF2AE",
}
_README = [
    "An il6assay plate layout, one grid per sheet (il6assay.plate.layout_sheet).",
    "role: pick standard, blank, control, qc, sample or empty from each cell's list "
    "(a blank cell is an empty well).",
    "label: a standard's, control's or QC's level (S1, low), a sample's label (P01).",
    "conc: the nominal pg/mL of a standard (the kit lot's insert), control or in-matrix QC.",
    "dilution: a sample's dilution factor (10 or 1:10; empty is 1, neat).",
    "tolerance_pct: a control's or QC's acceptance range, ± % (empty is 20).",
    "kit_lot: on the role sheet, the lot in the cell after 'kit_lot'.",
    "Validation wells (docs/validation.md): qc (label = level, conc), pool (label = pool, "
    "spike), selectivity (label = source, spike), stability (label = level, condition, hours).",
    "Keep the 1-12 header and the A-H row letters; sheets other than these are refused.",
    "Check it with: il6assay layout show THIS.xlsx",
]


def layout_grids(layout: Layout | None) -> dict[str, list[list[Any]]]:
    """The property grids (8 rows of 12 values, None for an empty cell) of a layout."""
    grids = {prop: [[None] * N_COLS for _ in range(N_ROWS)] for prop in GRIDS}
    for spec in layout.wells.values() if layout is not None else ():
        r, c = ROWS.index(spec.well[0]), int(spec.well[1:]) - 1
        grids["role"][r][c] = spec.role
        if spec.role in ("standard", "control", "qc"):
            grids["label"][r][c] = spec.level
            grids["conc"][r][c] = _plain(spec.nominal)
        if spec.role in ("control", "qc") and spec.nominal and spec.high is not None:
            grids["tolerance_pct"][r][c] = _plain(round((spec.high / spec.nominal - 1) * 100, 9))
        if spec.role == "sample":
            grids["label"][r][c] = spec.sample
            grids["dilution"][r][c] = _plain(spec.dilution)
        if spec.role in ("qc", "pool", "selectivity", "stability"):
            grids["label"][r][c] = getattr(spec, LABEL_KEY[spec.role])
            grids["conc"][r][c] = _plain(spec.nominal)
            grids["spike"][r][c] = _plain(spec.spike)
            grids["condition"][r][c] = spec.condition
            grids["hours"][r][c] = _plain(spec.hours)
    return grids


def _plain(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() and abs(value) < 1e15 else float(value)


def write_layout_template(layout: Layout | None, out: str | Path) -> Path:
    """An XLSX sheet layout, pre-filled from ``layout`` (or empty), with drop-down roles."""
    from openpyxl import Workbook
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    out = Path(out)
    grids = layout_grids(layout)
    wb = Workbook()
    wb.remove(wb.active)
    area = f"B2:{chr(ord('A') + N_COLS)}{N_ROWS + 1}"
    for prop in GRIDS:
        if prop in VALIDATION_GRIDS and all(v is None for row in grids[prop] for v in row):
            continue  # a validation grid only for a layout that has validation wells
        ws = wb.create_sheet(prop)
        ws.cell(row=1, column=1, value=prop).font = Font(bold=True)
        for c in range(N_COLS):
            ws.cell(row=1, column=c + 2, value=c + 1).font = Font(bold=True)
        for r in range(N_ROWS):
            ws.cell(row=r + 2, column=1, value=ROWS[r]).font = Font(bold=True)
            for c in range(N_COLS):
                value = grids[prop][r][c]
                if value is not None:
                    cell = ws.cell(row=r + 2, column=c + 2, value=value)
                    if isinstance(value, str):
                        cell.data_type = "s"  # a label is text, never a formula
        for c in range(N_COLS + 1):
            ws.column_dimensions[chr(ord("A") + c)].width = 10 if c else 4
        ws.freeze_panes = "B2"
        if prop == "role":
            roles = DataValidation(
                type="list",
                formula1='"' + ",".join(ROLES) + '"',
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="role",
                error="Pick one of: " + ", ".join(ROLES),
            )
            ws.add_data_validation(roles)
            roles.add(area)
            for role, colour in ROLE_FILLS.items():
                fill = PatternFill(start_color=colour, end_color=colour, fill_type="solid")
                ws.conditional_formatting.add(
                    area, CellIsRule(operator="equal", formula=[f'"{role}"'], fill=fill)
                )
            ws.cell(row=N_ROWS + 3, column=1, value="kit_lot")
            if layout is not None and layout.kit_lot:
                ws.cell(row=N_ROWS + 3, column=2, value=layout.kit_lot).data_type = "s"
    readme = wb.create_sheet("README")
    for i, line in enumerate(_README, start=1):
        readme.cell(row=i, column=1, value=line)
    if layout is not None:
        readme.cell(row=len(_README) + 2, column=1, value=f"Made from {layout.path.name}.")
    tmp = out.with_name(f".{out.name}.partial")
    try:
        wb.save(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def layout_csv(layout: Layout) -> str:
    """The layout as a CSV sheet layout: a kit_lot line, then one titled grid per property."""
    import csv
    import io

    grids = layout_grids(layout)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if layout.kit_lot:
        writer.writerow(["kit_lot", layout.kit_lot])
    for prop in GRIDS:
        if all(v is None for row in grids[prop] for v in row):
            continue
        writer.writerow([])
        writer.writerow([prop, *range(1, N_COLS + 1)])
        for r in range(N_ROWS):
            writer.writerow([ROWS[r], *("" if v is None else v for v in grids[prop][r])])
    return buf.getvalue()
