"""Layouts as sheets: XLSX/CSV grids read into the same Layout as TOML; template, show, samples.

The sheet twins in plate_layouts/ are made by plate_layouts/make_sheet_layouts.py;
every other sheet here is written inline, a comment each on what it exercises.
"""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from il6assay.cli import main
from il6assay.errors import InputError
from il6assay.plate.layout import load_layout
from il6assay.plate.layout_sheet import layout_csv, read_layout, write_layout_template
from il6assay.plate.samples import load_samples
from il6assay.run import process_plate
from tests.conftest import EXAMPLE, LAYOUTS, STANDARD_LAYOUT

TWINS = [
    ("il6_96_standard.toml", "il6_96_standard.xlsx"),
    ("il6_96_standard.toml", "il6_96_standard.csv"),
    ("example_lab_layout.toml", "example_lab_layout.xlsx"),
]


@pytest.mark.parametrize(("toml_name", "sheet_name"), TWINS)
def test_a_sheet_layout_and_its_toml_twin_give_identical_wells(toml_name, sheet_name):
    toml, sheet = load_layout(LAYOUTS / toml_name), read_layout(LAYOUTS / sheet_name)
    assert sheet.wells == toml.wells
    assert list(sheet.wells) == list(toml.wells)
    assert sheet.kit_lot == toml.kit_lot
    assert sheet.files == [(LAYOUTS / sheet_name).resolve()]


def _results(run):
    return [
        (s.sample, s.dilution, s.result, s.conc_pg_ml, s.flags, [w.name for w in s.wells])
        for s in run.samples
    ]


def test_a_sheet_layout_and_its_toml_twin_give_identical_results():
    export, samples = EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.samples.csv"
    by_toml = process_plate(export, STANDARD_LAYOUT, samples)
    by_sheet = process_plate(export, LAYOUTS / "il6_96_standard.xlsx", samples)
    assert _results(by_sheet) == _results(by_toml)
    assert by_sheet.result_rows()[0]["result"] == by_toml.result_rows()[0]["result"]
    assert [r.passed for r in by_sheet.rules] == [r.passed for r in by_toml.rules]
    assert (by_sheet.lloq, by_sheet.uloq) == (by_toml.lloq, by_toml.uloq)


def test_layout_template_then_process_with_it_reproduces_the_standard_layouts_results(tmp_path):
    template = tmp_path / "my_plate.xlsx"
    made = CliRunner().invoke(
        main,
        ["layout", "template", "--from", str(EXAMPLE / "plate_001.layout.toml"), str(template)],
    )
    assert made.exit_code == 0, made.output
    out = tmp_path / "out"
    export, samples = EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.samples.csv"
    ran = CliRunner().invoke(
        main,
        ["process", str(export), "--layout", str(template), "--samples", str(samples),
         "--out", str(out), "--json"],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    import json

    summary = json.loads(ran.stdout)
    expected = process_plate(export, STANDARD_LAYOUT, samples)
    assert [(r["study_id"], r["result"]) for r in summary["results"]] == [
        (r["study_id"], r["result"]) for r in expected.result_rows()
    ]
    # The run folder keeps the sheet layout as its input copy, and masking reprocesses from it.
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    assert (run_dir / "inputs" / "layout" / "my_plate.xlsx").is_file()
    masked = CliRunner().invoke(
        main, ["mask", str(run_dir), "--well", "A5", "--reason", "bubble", "--by", "Lin"]
    )
    assert masked.exit_code in (0, 3), masked.output


def test_the_layout_template_has_drop_down_roles_and_a_grid_per_property(tmp_path):
    out = write_layout_template(load_layout(STANDARD_LAYOUT), tmp_path / "t.xlsx")
    wb = load_workbook(out)
    assert wb.sheetnames == ["role", "label", "conc", "dilution", "tolerance_pct", "README"]
    ws = wb["role"]
    (validation,) = ws.data_validations.dataValidation
    assert validation.type == "list"
    assert validation.formula1 == (
        '"standard,blank,control,qc,sample,empty,pool,selectivity,stability"'
    )
    assert str(validation.sqref) == "B2:M9"
    assert ws["B2"].value == "standard" and ws["D4"].value == "qc"
    assert wb["label"]["E6"].value == "P05" and wb["conc"]["B2"].value == 300
    assert [ws["A11"].value, ws["B11"].value] == ["kit_lot", "default"]


def test_an_empty_template_filled_in_by_hand_reads_as_a_layout(tmp_path):
    # A technician's plate: standards down column 1 only (no replicate), one sample row.
    out = write_layout_template(None, tmp_path / "blank.xlsx")
    wb = load_workbook(out)
    concs = [500, 250, 125, 62.5, 31.25, 15.6, 7.8, 0]
    for r, conc in enumerate(concs):
        wb["role"].cell(row=r + 2, column=2, value="Standard ")  # case and spaces: ignored
        wb["label"].cell(row=r + 2, column=2, value=f"S{r + 1}")
        wb["conc"].cell(row=r + 2, column=2, value=conc)
    for c in range(3, 7):
        wb["role"].cell(row=2, column=c, value="sample")
        wb["label"].cell(row=2, column=c, value=f"X{c // 2}")
        wb["dilution"].cell(row=2, column=c, value="1:10")
    wb.save(out)
    layout = read_layout(out)
    assert [s.nominal for s in layout.standards()] == concs
    assert layout.wells["A2"].sample == "X1" and layout.wells["A2"].dilution == 10.0
    assert layout.kit_lot is None


def _csv_layout(tmp_path, edit=None):
    """The standard layout as a CSV sheet layout, with one cell changed by ``edit``."""
    rows = list(csv.reader(layout_csv(load_layout(STANDARD_LAYOUT)).splitlines()))
    if edit:
        edit(rows)
    path = tmp_path / "layout.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _cell(rows, grid, well):
    """(row index, column index) of ``well`` in the CSV grid titled ``grid``."""
    top = next(i for i, r in enumerate(rows) if r and r[0] == grid)
    return top + 1 + "ABCDEFGH".index(well[0]), int(well[1:])


def _set(grid, well, value):
    def edit(rows):
        i, j = _cell(rows, grid, well)
        rows[i][j] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # A typo in a role: the cell and the well, and the role meant.
        (_set("role", "C5", "sampel"), "line 6, field 6 (well C5): unknown role 'sampel'"),
        (_set("role", "C5", "sampel"), "(did you mean 'sample'?)"),
        # A concentration on a sample well: the same rule as TOML, naming both cells.
        (
            _set("conc", "C5", "12"),
            "well C5: well is a sample (from line 6, field 6) but gets 'conc' from line 26, "
            "field 6; 'conc' is for standard, control and qc wells",
        ),
        # A negative nominal, and text where a number belongs.
        (_set("conc", "A1", "-3"), "line 24, field 2 (well A1): conc -3.0 is negative"),
        (
            _set("dilution", "A4", "ten"),
            'line 34, field 5 (well A4): dilution = "ten" is not a number',
        ),
        # Two nominals for one level: the TOML reader's check.
        (
            _set("conc", "A2", "250"),
            "conc at line 24, field 2 and line 24, field 3: standard level 'S1' has two "
            "concentrations, 300 (A1) and 250 (A2)",
        ),
        # A label on a blank well.
        (_set("label", "A3", "B1"), "line 14, field 4 (well A3): label 'B1' on a blank well"),
    ],
)
def test_a_bad_cell_is_named_by_sheet_cell_and_well(tmp_path, edit, message):
    path = _csv_layout(tmp_path, edit)
    with pytest.raises(InputError) as err:
        read_layout(path)
    assert str(err.value).startswith(f"{path}, ")
    assert message in str(err.value)


def test_an_xlsx_error_names_the_sheet_and_cell(tmp_path):
    out = write_layout_template(load_layout(STANDARD_LAYOUT), tmp_path / "t.xlsx")
    wb = load_workbook(out)
    wb["tolerance_pct"]["D4"] = 150  # well C3, the low control
    wb.create_sheet("Notes")
    wb.save(out)
    with pytest.raises(InputError, match="sheet 'Notes' is not a layout grid"):
        read_layout(out)
    del wb["Notes"]
    wb.save(out)
    with pytest.raises(InputError) as err:
        read_layout(out)
    assert "sheet 'tolerance_pct' D4 (well C3): tolerance_pct 150 is not between 0 and 100" in str(
        err.value
    )


def test_a_row_out_of_order_and_a_384_well_grid_are_refused(tmp_path):
    def swap(rows):
        i, _ = _cell(rows, "role", "C1")
        rows[i][0], rows[i + 1][0] = "D", "C"

    with pytest.raises(InputError, match="expected row letter 'C' here, found 'D'"):
        read_layout(_csv_layout(tmp_path, swap))
    wide = tmp_path / "wide.csv"
    wide.write_text("role," + ",".join(str(n) for n in range(1, 25)) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="a layout is a 96-well plate, columns 1-12"):
        read_layout(wide)


def test_a_gbk_semicolon_csv_with_chinese_labels_and_decimal_commas_reads(tmp_path):
    # Excel on a Chinese-locale PC saves GBK; a European one, semicolons and decimal commas.
    text = layout_csv(load_layout(STANDARD_LAYOUT)).replace(",", ";")
    text = text.replace("4.6875", "4,6875").replace("P05", "样本05")
    path = tmp_path / "布局.csv"
    path.write_bytes(text.encode("gbk"))
    layout = read_layout(path)
    assert layout.wells["E4"].sample == "样本05"
    assert layout.wells["G1"].nominal == 4.6875


@pytest.mark.parametrize(
    "name",
    ["il6_96_standard.toml", "example_lab_layout.toml", "il6_96_standard.xlsx",
     "il6_96_standard.csv", "kit_lots/il6_default_lot.toml"],
)  # fmt: skip
def test_layout_show_draws_every_shipped_layout(tmp_path, name):
    page = tmp_path / "layout.html"
    result = CliRunner().invoke(main, ["layout", "show", str(LAYOUTS / name), "--html", str(page)])
    assert result.exit_code == 0, result.output
    layout = read_layout(LAYOUTS / name)
    grid = result.stdout.splitlines()
    row_a = next(line for line in grid if line.startswith(" A "))
    assert "S1" in row_a
    if layout.samples():
        assert "P01" in row_a and "blank" in row_a
    text = page.read_text(encoding="utf-8")
    assert 'class="standard" title="A1 standard S1"' in text
    if name.startswith("kit_lots"):
        assert "no sample wells: a standards-only layout" in result.stdout
    elif name.endswith(".toml"):
        assert "33 sample(s) without a dilution" in result.stdout
    else:
        assert "odd: nothing" in result.stdout  # the twins state every dilution


def test_layout_show_says_what_looks_odd(tmp_path):
    def odd(rows):
        for grid in ("role", "label", "conc"):  # S2 loses its replicate in B2
            _set(grid, "B2", "")(rows)
        _set("label", "A5", "p 01")(rows)  # P01's second well becomes "p 01"

    result = CliRunner().invoke(main, ["layout", "show", str(_csv_layout(tmp_path, odd))])
    assert result.exit_code == 0, result.output
    assert "standard level 'S2' is in one well only (B1): no replicate" in result.stdout
    assert "sample 'p 01' is in one well only (A5)" in result.stdout
    assert "sample labels 'P01' and 'p 01' differ only by case or spaces" in result.stdout


def test_samples_template_writes_one_row_per_sample_label_ready_for_study_ids(tmp_path):
    out = tmp_path / "samples.xlsx"
    result = CliRunner().invoke(main, ["samples", "template", str(STANDARD_LAYOUT), str(out)])
    assert result.exit_code == 0, result.output
    ws = load_workbook(out).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("sample", "study_id", "visit", "dilution", "note")
    assert [r[0] for r in rows[1:]] == [f"P{n:02d}" for n in range(1, 34)]
    # Filled in, it is a sample sheet the plate accepts.
    for r in range(2, 35):
        ws.cell(row=r, column=2, value=f"AML-{r:03d}")
        ws.cell(row=r, column=3, value="D0")
    ws.parent.save(out)
    run = process_plate(EXAMPLE / "plate_001.xlsx", STANDARD_LAYOUT, load_samples(out))
    assert {s.study_id for s in run.samples} == {f"AML-{r:03d}" for r in range(2, 35)}


def test_samples_template_of_a_kit_lot_file_is_refused_naming_the_layout(tmp_path):
    lot = LAYOUTS / "kit_lots" / "il6_default_lot.toml"
    result = CliRunner().invoke(main, ["samples", "template", str(lot), str(tmp_path / "s.xlsx")])
    assert result.exit_code == 2
    assert f"{lot}: the layout has no sample wells" in result.stderr


def test_layout_template_refuses_to_overwrite(tmp_path):
    out = tmp_path / "t.xlsx"
    out.write_bytes(b"mine")
    result = CliRunner().invoke(main, ["layout", "template", str(out)])
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert out.read_bytes() == b"mine"


def test_a_sheet_layout_beside_the_export_is_found_by_the_convention(tmp_path):
    export = tmp_path / "plate_007.xlsx"
    export.write_bytes((EXAMPLE / "plate_001.xlsx").read_bytes())
    (tmp_path / "plate_007.layout.csv").write_text(
        layout_csv(load_layout(STANDARD_LAYOUT)), encoding="utf-8"
    )
    (tmp_path / "plate_007.samples.csv").write_bytes(
        (EXAMPLE / "plate_001.samples.csv").read_bytes()
    )
    result = CliRunner().invoke(main, ["process", str(export), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    assert (run_dir / "inputs" / "layout" / "plate_007.layout.csv").is_file()


def test_the_csv_twin_is_what_make_sheet_layouts_writes_from_the_toml():
    # An edit to il6_96_standard.toml not carried to its twins fails here (and above).
    expected = layout_csv(load_layout(STANDARD_LAYOUT))
    assert (LAYOUTS / "il6_96_standard.csv").read_text(encoding="utf-8") == expected


def test_a_broken_or_hostile_workbook_layout_is_one_line_not_a_traceback(tmp_path):
    broken = tmp_path / "layout.xlsx"
    broken.write_bytes(b"not a workbook at all")
    result = CliRunner().invoke(main, ["layout", "show", str(broken)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"il6assay: {broken}: not a readable XLSX workbook (neither a zip nor an OLE "
        "container); save the layout from Excel again"
    )
    truncated = tmp_path / "cut.xlsx"
    truncated.write_bytes((LAYOUTS / "il6_96_standard.xlsx").read_bytes()[:3000])
    result = CliRunner().invoke(main, ["layout", "show", str(truncated)])
    assert result.exit_code == 2 and "not a readable XLSX workbook" in result.stderr
    assert "Traceback" not in result.output


def test_any_edit_of_a_csv_layout_is_read_or_refused_in_one_line(tmp_path):
    # Random cells of the standard layout's CSV twin replaced by random text: never a traceback.
    from hypothesis import given, settings
    from hypothesis import strategies as st

    rows = list(csv.reader(layout_csv(load_layout(STANDARD_LAYOUT)).splitlines()))
    cells = [(i, j) for i, r in enumerate(rows) for j in range(len(r))]
    path = tmp_path / "fuzz.csv"

    # text()'s default alphabet (every character UTF-8 encodes: all but the surrogates), named
    # by category: the same characters without building the codec's table (~1 s of CPU).
    cell_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=6)

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(cells), cell_text), min_size=1, max_size=4))
    def check(edits):
        edited = [list(r) for r in rows]
        for (i, j), text in edits:
            edited[i][j] = text
        with path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(edited)
        try:
            read_layout(path)
        except InputError as err:
            assert "\n" not in str(err) and str(err).startswith(str(path))

    check()
