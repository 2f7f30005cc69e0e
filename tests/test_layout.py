"""Plate layouts: the shipped layouts, wellmap's semantics, and refused layouts.

Small layouts are written inline to tmp_path (as wellmap's own tests do); most
include ``std.toml``, a minimal valid standard curve in column 1, so that each
case only shows what it is about.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.layout import Layout, WellSpec, load_layout

LAYOUTS = Path(__file__).resolve().parents[1] / "plate_layouts"
ROWS = "ABCDEFGH"

# Six non-zero levels and a zero, one well each, A1-G1.
STD = """
[well]
A1 = { role = "standard", level = "S1", conc = 320 }
B1 = { role = "standard", level = "S2", conc = 160 }
C1 = { role = "standard", level = "S3", conc = 80 }
D1 = { role = "standard", level = "S4", conc = 40 }
E1 = { role = "standard", level = "S5", conc = 20 }
F1 = { role = "standard", level = "S6", conc = 10 }
G1 = { role = "standard", level = "S7", conc = 0 }
"""


def write(tmp_path: Path, main: str, **others: str) -> Path:
    """Write ``layout.toml`` (and other files, '__' standing for '/') plus std.toml."""
    for name, text in {"std.toml": STD, **others}.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    path = tmp_path / "layout.toml"
    path.write_text(main)
    return path


def refused(path: Path, *fragments: str, file: Path | None = None) -> str:
    """Load a bad layout; check the message starts with the file and names the problem."""
    with pytest.raises(InputError) as info:
        load_layout(path)
    message = str(info.value)
    assert message.startswith((f"{file or path}, ", f"{file or path}: ")), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# What wellmap reads, and what we read, in comparable form
# =========================================================


def _value(x: object) -> object:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def wellmap_reading(path: Path) -> tuple[dict[str, tuple], str | None]:
    """wellmap's own reading: (role, level, nominal, low, high, sample, dilution) by well."""
    wellmap = pytest.importorskip("wellmap")
    df, meta = wellmap.load(path, meta=True)
    reading = {}
    for row in df.to_dict("records"):
        role = _value(row.get("role"))
        if role is None or role == "empty":
            continue
        conc = _value(row.get("conc"))
        low = high = None
        if role in ("control", "qc"):
            tol = _value(row.get("tolerance_pct")) or 20
            low, high = conc * (1 - tol / 100), conc * (1 + tol / 100)
        dilution = _value(row.get("dilution")) or 1.0
        reading[row["well"]] = (
            role,
            _value(row.get("level")),
            None if conc is None else float(conc),
            low,
            high,
            _value(row.get("sample")),
            float(dilution),
        )
    return reading, meta.extras.get("kit_lot")


def our_reading(layout: Layout) -> tuple[dict[str, tuple], str | None]:
    """Our reading in the same form as wellmap_reading()."""
    reading = {
        s.well: (s.role, s.level, s.nominal, s.low, s.high, s.sample, s.dilution)
        for s in layout.wells.values()
    }
    return reading, layout.kit_lot


def assert_reads_as_wellmap(path: Path) -> Layout:
    layout = load_layout(path)
    assert our_reading(layout) == wellmap_reading(path)
    return layout


# The shipped layout
# ==================


def expected_standard_plate(concs: list[float]) -> dict[str, WellSpec]:
    """The shipped plate map, written out from its description."""
    wells: dict[str, WellSpec] = {}
    for r, conc in zip(ROWS, concs, strict=True):
        for col in (1, 2):
            well = f"{r}{col}"
            wells[well] = WellSpec(well, "standard", level=f"S{ROWS.index(r) + 1}", nominal=conc)
    for well in ("A3", "B3"):
        wells[well] = WellSpec(well, "blank")
    qcs = [("low", 12.0), ("mid", 60.0), ("high", 240.0)]  # in duplicate, before and after
    for col in (3, 12):
        for n, (level, conc) in enumerate(qcs):
            for r in ROWS[2 + 2 * n : 4 + 2 * n]:
                wells[f"{r}{col}"] = WellSpec(
                    f"{r}{col}", "qc", level=level, nominal=conc, low=conc * 0.8, high=conc * 1.2
                )
    for n in range(32):  # P01-P32, horizontal pairs down columns 4-5, 6-7, 8-9, 10-11
        r, col = ROWS[n % 8], 4 + 2 * (n // 8)
        for well in (f"{r}{col}", f"{r}{col + 1}"):
            wells[well] = WellSpec(well, "sample", sample=f"P{n + 1:02d}")
    for r in "AB":  # P33, a vertical pair at the top of column 12
        wells[f"{r}12"] = WellSpec(f"{r}12", "sample", sample="P33")
    return wells


DEFAULT_LOT = [300, 150, 75, 37.5, 18.75, 9.375, 4.6875, 0]
LOT_A1234 = [250, 125, 62.5, 31.25, 15.625, 7.8125, 3.90625, 0]


def test_shipped_layout_reads_to_the_documented_plate_map() -> None:
    layout = load_layout(LAYOUTS / "il6_96_standard.toml")
    expected = expected_standard_plate(DEFAULT_LOT)
    assert len(expected) == 96
    for r in ROWS:
        for col in range(1, 13):
            well = f"{r}{col}"
            assert layout.wells.get(well) == expected.get(well), well
    assert set(layout.wells) == set(expected)
    assert list(layout.wells)[:14] == [f"A{c}" for c in range(1, 13)] + ["B1", "B2"]
    assert layout.kit_lot == "default"
    assert layout.files == [LAYOUTS / "il6_96_standard.toml"]  # a copy works on its own


def test_a_copy_of_the_shipped_layout_reads_on_its_own(tmp_path: Path) -> None:
    copy = tmp_path / "my_plate.toml"
    copy.write_bytes((LAYOUTS / "il6_96_standard.toml").read_bytes())
    assert load_layout(copy).wells == load_layout(LAYOUTS / "il6_96_standard.toml").wells


def test_shipped_layout_helpers_list_wells_by_role_in_plate_order() -> None:
    layout = load_layout(LAYOUTS / "il6_96_standard.toml")
    assert [s.well for s in layout.standards()][:4] == ["A1", "A2", "B1", "B2"]
    assert [s.well for s in layout.blanks()] == ["A3", "B3"]
    assert layout.controls() == []
    assert [(s.well, s.level) for s in layout.qcs()][:3] == [
        ("C3", "low"),
        ("C12", "low"),
        ("D3", "low"),
    ]
    assert len(layout.qcs()) == 12
    assert [s.well for s in layout.samples()][:3] == ["A4", "A5", "A6"]
    assert len(layout.samples()) == 66
    assert layout.standard_levels() == [(f"S{n + 1}", c) for n, c in enumerate(DEFAULT_LOT)]


@pytest.mark.parametrize(
    "path", sorted(LAYOUTS.rglob("*.toml")), ids=lambda p: str(p.relative_to(LAYOUTS))
)
def test_every_shipped_layout_reads_as_wellmap_reads_it(path: Path) -> None:
    assert_reads_as_wellmap(path)


def test_lab_layout_takes_its_lot_file_over_the_default_lot() -> None:
    layout = assert_reads_as_wellmap(LAYOUTS / "example_lab_layout.toml")
    assert layout.wells == expected_standard_plate(LOT_A1234)
    assert layout.kit_lot == "A1234"
    assert [p.name for p in layout.files] == [
        "example_lab_layout.toml",
        "il6_96_standard.toml",
        "example_lot_A1234.toml",
    ]


def test_lot_file_listed_before_the_standard_layout_loses(tmp_path: Path) -> None:
    # The later include wins, so this order keeps the default lot.
    path = tmp_path / "lab.toml"
    path.write_text(
        f'[meta]\ninclude = ["{LAYOUTS}/kit_lots/example_lot_A1234.toml", '
        f'"{LAYOUTS}/il6_96_standard.toml"]\n'
    )
    layout = assert_reads_as_wellmap(path)
    assert layout.kit_lot == "default"
    assert layout.standard_levels()[0] == ("S1", 300.0)


def test_lab_layouts_own_values_beat_every_include(tmp_path: Path) -> None:
    path = tmp_path / "lab.toml"
    path.write_text(
        f'kit_lot = "B777"\n[meta]\ninclude = ["{LAYOUTS}/il6_96_standard.toml", '
        f'"{LAYOUTS}/kit_lots/example_lot_A1234.toml"]\n'
        "[block.2x1]\nA1.conc = 280\n"
    )
    layout = assert_reads_as_wellmap(path)
    assert layout.kit_lot == "B777"
    assert layout.standard_levels()[:2] == [("S1", 280.0), ("S2", 125.0)]


# wellmap's semantics, checked against wellmap itself
# ====================================================

SEMANTICS = {
    "well-beats-block": """
        [meta]
        include = "std.toml"
        [block.2x2.B3]
        role = "sample"
        sample = "X"
        [well.B3]
        sample = "Y"
    """,
    "smaller-block-beats-larger": """
        [meta]
        include = "std.toml"
        [block.4x4.A3]
        role = "sample"
        sample = "big"
        [block.2x1.B4]
        sample = "small"
    """,
    "block-beats-row-and-col": """
        [meta]
        include = "std.toml"
        [row.'A,C,...,G']
        role = "blank"
        [col.'4-6']
        role = "blank"
        [block.1x2.A5]
        role = "sample"
        sample = "P"
    """,
    "row-spans-only-occupied-columns": """
        [meta]
        include = "std.toml"
        [row.H]
        role = "blank"
        [well.C5]
        role = "sample"
        sample = "P"
    """,
    "row-and-col-combine-different-keys": """
        # Rows span only columns 1-2 here, so their levels reach standards only.
        [col.'1,2']
        role = "standard"
        [row]
        A = { level = "S1", conc = 100 }
        B = { level = "S2", conc = 50 }
        C = { level = "S3", conc = 25 }
        D = { level = "S4", conc = 12.5 }
        E = { level = "S5", conc = 6.25 }
        F = { level = "S6", conc = 3.125 }
        G = { level = "S7", conc = 1.5625 }
        H = { level = "S8", conc = 0 }
    """,
    "irow-and-icol": """
        [meta]
        include = "std.toml"
        [irow.C]
        role = "blank"
        [icol.12]
        role = "blank"
    """,
    "well-patterns": """
        [meta]
        include = "std.toml"
        [well.'A3,C5,...,E7']
        role = "blank"
        [well.'H2-H4']
        role = "control"
        level = "low"
        conc = 5
        tolerance_pct = 30
        [block.2x1.'A10,C10,...,G10']
        role = "sample"
        sample = "pair"
    """,
    "dotted-and-inline-keys": """
        block.1x2.A3 = { role = "sample", sample = "s" }
        [meta]
        include = "std.toml"
        [well]
        a4.role = "blank"
        H12 = { role = "empty" }
    """,
}


@pytest.mark.parametrize("case", SEMANTICS)
def test_small_layout_reads_as_wellmap_reads_it(tmp_path: Path, case: str) -> None:
    text = "\n".join(line.strip() for line in SEMANTICS[case].splitlines())
    assert_reads_as_wellmap(write(tmp_path, text))


def test_row_spans_only_the_columns_other_sections_occupy(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[row.H]\nrole = "blank"\n[well.C5]\n'
    text += 'role = "sample"\nsample = "P"\n'
    layout = load_layout(write(tmp_path, text))
    assert [s.well for s in layout.blanks()] == ["H1", "H2", "H3", "H4", "H5"]


def test_later_include_beats_earlier_and_including_file_beats_both(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[meta]\ninclude = ["first.toml", "second.toml"]\n[well.B5]\nsample = "mine"\n',
        **{
            "first.toml": 'kit_lot = "first"\n[meta]\ninclude = "std.toml"\n'
            '[block.2x2.A5]\nrole = "sample"\nsample = "first"\n',
            "second.toml": 'kit_lot = "second"\n[block.2x2.A5]\nsample = "second"\n',
        },
    )
    layout = assert_reads_as_wellmap(path)
    assert layout.kit_lot == "second"
    assert {s.well: s.sample for s in layout.samples()} == {
        "A5": "second",
        "A6": "second",
        "B5": "mine",
        "B6": "second",
    }


def test_nested_include_is_read_relative_to_its_including_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[meta]\ninclude = "sub/mid.toml"\n',
        **{
            "sub__mid.toml": '[meta]\ninclude = ["deeper/leaf.toml", "../std.toml"]\n'
            '[well.A3]\nsample = "mid"\n',
            "sub__deeper__leaf.toml": '[well.A3]\nrole = "sample"\nsample = "leaf"\n',
        },
    )
    layout = assert_reads_as_wellmap(path)
    assert layout.wells["A3"].sample == "mid"
    assert [p.relative_to(tmp_path).as_posix() for p in layout.files] == [
        "layout.toml",
        "sub/mid.toml",
        "sub/deeper/leaf.toml",
        "std.toml",
    ]


def test_file_included_twice_is_listed_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[meta]\ninclude = ["a.toml", "std.toml"]\n',
        **{"a.toml": '[meta]\ninclude = "std.toml"\n'},
    )
    assert [p.name for p in load_layout(path).files] == ["layout.toml", "a.toml", "std.toml"]


def test_sample_dilution_defaults_to_neat(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[well.A5]\nrole = "sample"\nsample = "P"\n'
    assert load_layout(write(tmp_path, text)).wells["A5"].dilution == 1.0


# Refused layouts
# ===============


def test_toml_syntax_error_is_refused_with_its_line(tmp_path: Path) -> None:
    refused(write(tmp_path, '[well.A1]\nrole = "blank"\nconc 5\n'), "line 3", "invalid TOML")


def test_unknown_role_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, '[meta]\ninclude = "std.toml"\n[well.A5]\nrole = "standrad"\n')
    refused(path, "[well.A5]", "unknown role 'standrad'", "did you mean 'standard'?")


def test_unknown_parameter_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[block.2x1.A5]\nrole = "sample"\nsample = "P"\n'
    text += "dilutoin = 10\n"
    refused(write(tmp_path, text), "[block.2x1.A5]", "'dilutoin'", "did you mean 'dilution'?")


def test_unknown_top_level_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, 'kit_lott = "A1"\n[meta]\ninclude = "std.toml"\n')
    refused(path, "'kit_lott'", "did you mean 'kit_lot'?")


def test_unknown_section_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    refused(write(tmp_path, '[blok.2x1.A1]\nrole = "blank"\n'), "[blok]", "did you mean [block]?")


def test_top_level_well_parameter_is_refused(tmp_path: Path) -> None:
    # wellmap keeps top-level keys as notes: this dilution would reach no well.
    refused(write(tmp_path, 'dilution = 10\n[meta]\ninclude = "std.toml"\n'), "'dilution'")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[expt]\nrole = "sample"\n', "[expt]"),
        ('[plate.X.well.A1]\nrole = "blank"\n', "[plate.NAME]"),
        ('[meta]\nconcat = "other.toml"\n', "meta.concat"),
        ('[meta]\nalert = "check B3"\n', "meta.alert"),
        ('[meta]\ninclude = { path = "std.toml", shift = "A1 to B1" }\n', "shift"),
    ],
    ids=["expt", "plate", "meta-concat", "meta-alert", "include-shift"],
)
def test_wellmap_features_outside_the_subset_are_refused(
    tmp_path: Path, text: str, fragment: str
) -> None:
    refused(write(tmp_path, text), fragment)


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("[well.A13]", "'A13'"),
        ("[well.'H11-H13']", "'H13'"),
        ("[block.2x1.A12]", "'A13'"),
        ("[block.1x2.H5]", "'I5'"),
        ("[row.I]", "row 'I'"),
        ("[col.13]", "column '13'"),
    ],
)
def test_well_outside_the_plate_is_refused_naming_it(
    tmp_path: Path, section: str, fragment: str
) -> None:
    text = f'[meta]\ninclude = "std.toml"\n{section}\nrole = "blank"\n'
    refused(write(tmp_path, text), fragment, "outside the 96-well plate")


def test_unparsable_well_is_refused_as_wellmap_words_it(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[well.A1x]\nrole = "blank"\n'
    refused(write(tmp_path, text), "Cannot parse well 'A1x', expected 'A1', 'B2', etc.")


def test_sample_well_with_a_standard_concentration_is_refused(tmp_path: Path) -> None:
    # The block's conc is meant for the standard in A1 but also reaches sample A2.
    text = '[meta]\ninclude = "std.toml"\n[well.A2]\nrole = "sample"\nsample = "P"\n'
    text += "[block.2x1.A1]\nconc = 320\n"
    refused(write(tmp_path, text), "well A2", "is a sample", "'conc' from [block.2x1.A1]")


def test_blank_well_with_a_sample_label_is_refused(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[block.2x1.A5]\nrole = "sample"\nsample = "P"\n'
    text += '[well.A6]\nrole = "blank"\n'
    refused(write(tmp_path, text), "well A6", "is a blank", "'sample'")


def test_row_and_column_giving_one_well_two_roles_is_refused(tmp_path: Path) -> None:
    # wellmap would silently let the row win (row > col); we refuse to guess.
    text = '[meta]\ninclude = "std.toml"\n[row.B]\nrole = "blank"\n'
    text += '[col.5]\nrole = "sample"\nsample = "P"\n'
    path = write(tmp_path, text)
    refused(path, "well B5", "[row.B]", "[col.5]", "equally specific")
    reading, _ = wellmap_reading(path)
    assert reading["B5"][0] == "blank"


def test_two_rows_giving_one_well_two_samples_is_refused(tmp_path: Path) -> None:
    # Rows are case-insensitive, so both sections are row H; wellmap would
    # take whichever comes later.
    text = '[meta]\ninclude = "std.toml"\n[row.H]\nrole = "sample"\nsample = "P1"\n'
    text += '[row.h]\nsample = "P2"\n'
    refused(write(tmp_path, text), "well H1", "[row.H]", "[row.h]", "equally specific")


def test_two_blocks_of_one_size_disagreeing_are_refused(tmp_path: Path) -> None:
    # wellmap would take the later block; after an include that is the included file's.
    text = '[meta]\ninclude = "std.toml"\n[block.2x1.A5]\nrole = "sample"\nsample = "P1"\n'
    text += '[block.1x2.A6]\nrole = "sample"\nsample = "P2"\n'
    refused(write(tmp_path, text), "well A6", "[block.2x1.A5]", "[block.1x2.A6]")


def test_equally_specific_sections_that_agree_are_accepted(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[row.B]\nrole = "blank"\n[col.5]\nrole = "blank"\n'
    assert_reads_as_wellmap(write(tmp_path, text))


def test_well_with_parameters_but_no_role_is_refused(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[well.A5]\nsample = "P"\n'
    refused(write(tmp_path, text), "well A5", "no role")


@pytest.mark.parametrize("missing", ["conc", "level"])
def test_standard_without_conc_or_level_is_refused(tmp_path: Path, missing: str) -> None:
    params = {"conc": "conc = 5", "level": 'level = "S9"'}
    del params[missing]
    text = '[meta]\ninclude = "std.toml"\n[well.A5]\nrole = "standard"\n'
    text += "\n".join(params.values()) + "\n"
    refused(write(tmp_path, text), "well A5", "is a standard", f"no '{missing}'")


def test_two_concentrations_for_one_standard_level_are_refused(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[well.A5]\nrole = "standard"\nlevel = "S1"\n'
    text += "conc = 300\n"
    refused(write(tmp_path, text), "standard level 'S1'", "320 (A1)", "300 (A5)")


def test_negative_concentration_is_refused(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[well.A5]\nrole = "standard"\nlevel = "S8"\n'
    text += "conc = -5\n"
    refused(write(tmp_path, text), "[well.A5]", "conc -5 is negative")


def test_concentration_given_as_text_is_refused(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[well.A5]\nrole = "standard"\nlevel = "S8"\n'
    text += 'conc = "5"\n'
    refused(write(tmp_path, text), "[well.A5]", 'conc = "5" is not a number')


def test_sample_without_a_label_is_refused(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[block.2x1.A5]\nrole = "sample"\n'
    refused(write(tmp_path, text), "well A5", "is a sample", "no 'sample'")


@pytest.mark.parametrize("dilution", ["0", "-10"])
def test_dilution_not_above_zero_is_refused(tmp_path: Path, dilution: str) -> None:
    text = '[meta]\ninclude = "std.toml"\n[well.A5]\nrole = "sample"\nsample = "P"\n'
    text += f"dilution = {dilution}\n"
    refused(write(tmp_path, text), "[well.A5]", f"dilution {dilution} is not > 0")


def test_control_without_conc_is_refused(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[block.1x2.A5]\nrole = "control"\nlevel = "low"\n'
    refused(write(tmp_path, text), "well A5", "is a control", "no 'conc'")


def test_layout_with_five_standard_levels_is_refused(tmp_path: Path) -> None:
    text = "[block.2x1]\n" + "".join(
        f'{r}1 = {{ role = "standard", level = "S{n + 1}", conc = {c} }}\n'
        for n, (r, c) in enumerate(zip("ABCDEF", [100, 50, 25, 12.5, 6.25, 0], strict=True))
    )
    path = tmp_path / "five.toml"
    path.write_text(text)
    message = refused(path)
    assert message == (f"{path}: layout has 5 non-zero standard levels; ICH M10 needs at least 6")


def test_missing_included_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[meta]\ninclude = ["std.toml", "kit_lots/nope.toml"]\n')
    refused(path, "[meta] include", "'kit_lots/nope.toml' does not exist")


def test_include_cycle_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[meta]\ninclude = ["std.toml", "a.toml"]\n',
        **{
            "a.toml": '[meta]\ninclude = "b.toml"\n',
            "b.toml": '[meta]\ninclude = "a.toml"\n',
        },
    )
    refused(path, "include cycle: a.toml -> b.toml -> a.toml", file=tmp_path / "b.toml")


def test_layout_including_itself_is_refused(tmp_path: Path) -> None:
    refused(write(tmp_path, '[meta]\ninclude = "layout.toml"\n'), "include cycle")


def test_error_in_an_included_file_names_that_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[meta]\ninclude = ["std.toml", "kit_lots/lot.toml"]\n',
        **{"kit_lots__lot.toml": "[block.2x1.A1]\nconc = -300\n"},
    )
    refused(path, "[block.2x1.A1]", "negative", file=tmp_path / "kit_lots" / "lot.toml")


def test_missing_layout_file_is_refused(tmp_path: Path) -> None:
    refused(tmp_path / "nope.toml", "does not exist")


# Hostile includes and numbers (issue 12)
# =======================================


def test_include_chain_2000_deep_is_refused_at_the_depth_limit(tmp_path: Path) -> None:
    from il6assay.plate.layout import MAX_INCLUDE_DEPTH

    for i in range(2000):
        (tmp_path / f"c{i}.toml").write_text(f'[meta]\ninclude = "c{i + 1}.toml"\n')
    (tmp_path / "c2000.toml").write_text(STD)
    deepest = tmp_path / f"c{MAX_INCLUDE_DEPTH}.toml"
    refused(tmp_path / "c0.toml", "nested more than 32 files deep", file=deepest)


def test_include_diamond_reads_each_file_once(tmp_path: Path, monkeypatch) -> None:
    """Each file includes the next twice: 2^30 reads without the cache, 31 with it."""
    from il6assay.plate import layout as layout_module

    depth = 30
    for i in range(depth):
        (tmp_path / f"d{i}.toml").write_text(
            f'[meta]\ninclude = ["d{i + 1}.toml", "d{i + 1}.toml"]\n'
        )
    (tmp_path / f"d{depth}.toml").write_text(STD)
    reads: list[Path] = []
    real_read = layout_module._read_toml
    monkeypatch.setattr(layout_module, "_read_toml", lambda p: reads.append(p) or real_read(p))
    layout = load_layout(tmp_path / "d0.toml")
    assert len(reads) == depth + 1
    assert len({p.resolve() for p in reads}) == depth + 1
    assert len(layout.standards()) == 7 and len(layout.files) == depth + 1


@pytest.mark.parametrize("dilution", ["1e308", "0.5", "2000000", "inf"])
def test_dilution_outside_1_to_a_million_is_refused(tmp_path: Path, dilution: str) -> None:
    text = '[meta]\ninclude = "std.toml"\n[well.A5]\nrole = "sample"\nsample = "P"\n'
    text += f"dilution = {dilution}\n"
    expected = "is not a number" if dilution == "inf" else "is not between 1 and 1000000"
    refused(write(tmp_path, text), "[well.A5]", expected)


@pytest.mark.parametrize(
    "label, char", [(r"P\u200b01", "U+200B"), (r"\u202eP01", "U+202E"), (r"P\u000001", "U+0000")]
)
def test_sample_label_with_an_invisible_or_control_character_is_refused(
    tmp_path: Path, label: str, char: str
) -> None:
    text = '[meta]\ninclude = "std.toml"\n[well.A5]\nrole = "sample"\n'
    text += f'sample = "{label}"\n'  # a TOML escape: the file itself is plain ASCII
    refused(write(tmp_path, text), "[well.A5]", char)


def test_fullwidth_sample_label_is_read_in_its_normal_form(tmp_path: Path) -> None:
    text = '[meta]\ninclude = "std.toml"\n[well.A5]\nrole = "sample"\nsample = "Ｐ０１"\n'
    layout = load_layout(write(tmp_path, text))
    assert [w.sample for w in layout.samples()] == ["P01"]
