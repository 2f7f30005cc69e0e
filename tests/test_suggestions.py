"""A slip is named with what was meant: sample labels, study IDs, layout or sheet; run names.

The database tests run on SQLite and PostgreSQL (tests/pg.py), as tests/test_db.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.errors import InputError
from il6assay.plate.labels import nearest_label
from il6assay.run import make_run_id, process_plate
from tests.conftest import EXAMPLE, LAYOUTS, STANDARD_LAYOUT, run_dirs
from tests.db_support import pushed_db

PLATE = [f"P{n:02d}" for n in range(1, 37)]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("p05", "P05"),  # case
        ("P 05", "P05"),  # a space
        ("P-05", "P05"),  # a dash
        ("Ｐ０５", "P05"),  # full-width, as a Chinese input method types it
        ("P5", "P05"),  # one edit from P05, P15, P25, P35: the nearest number
        ("P37", "P36"),  # a digit off (P07, P17, P27 too: the nearest number wins)
        ("P350", "P35"),  # a digit added
        ("P53", "P35"),  # two digits swapped
    ],
)
def test_the_nearest_label_is_named_for_case_spaces_and_a_digit_off(typed, meant):
    assert nearest_label(typed, PLATE) == meant


def test_no_suggestion_for_a_label_unlike_any_other():
    assert nearest_label("AML-004", PLATE) is None
    assert nearest_label("X", []) is None


def _sheet(tmp_path: Path, rename: dict[str, str]) -> Path:
    text = (EXAMPLE / "plate_001.samples.csv").read_text(encoding="utf-8")
    for old, new in rename.items():
        text = text.replace(f"\n{old},", f"\n{new},")
    path = tmp_path / "samples.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_sample_sheet_row_in_the_wrong_case_names_the_plate_label_meant(tmp_path):
    sheet = _sheet(tmp_path, {"P05": "p05"})
    with pytest.raises(InputError) as err:
        process_plate(EXAMPLE / "plate_001.xlsx", STANDARD_LAYOUT, sheet)
    message = str(err.value)
    assert message.startswith(f"{sheet}: no sample-sheet row for P05")
    assert "sheet rows not on the plate: p05 (did you mean 'P05'?)" in message


def test_the_cli_names_a_digit_off_in_the_sample_sheet(tmp_path):
    sheet = _sheet(tmp_path, {"P12": "P 21", "P21": "P12x"})
    result = CliRunner().invoke(
        main,
        ["process", str(EXAMPLE / "plate_001.xlsx"), "--layout", str(STANDARD_LAYOUT),
         "--samples", str(sheet), "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no sample-sheet row for P12, P21" in result.stderr
    assert "P 21 (did you mean 'P21'?)" in result.stderr
    assert "P12x (did you mean 'P12'?)" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_kit_lot_file_given_as_the_layout_is_blamed_on_the_layout_not_the_sheet(tmp_path):
    lot = LAYOUTS / "kit_lots" / "il6_default_lot.toml"
    sheet = EXAMPLE / "plate_001.samples.csv"
    with pytest.raises(InputError) as err:
        process_plate(EXAMPLE / "plate_001.xlsx", lot, sheet)
    assert err.value.path == str(lot.resolve())
    assert "the layout has no sample wells, but the sample sheet plate_001.samples.csv" in str(
        err.value
    )


def test_another_plates_sample_sheet_is_named_as_the_wrong_sheet(tmp_path):
    sheet = tmp_path / "other.samples.csv"
    rows = ["sample,study_id,visit"] + [f"Q{n:02d},AML-{n:03d},D0" for n in range(1, 37)]
    sheet.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        process_plate(EXAMPLE / "plate_001.xlsx", STANDARD_LAYOUT, sheet)
    assert err.value.path == str(sheet)
    assert "none of the sheet's 36 rows matches any of the plate's 33 samples" in str(err.value)
    assert "is it this plate's sample sheet and il6_96_standard.toml its layout?" in str(err.value)


# Run folder names
# ================


def _run_id(tmp_path: Path, name: str) -> str:
    export = tmp_path / name
    export.write_bytes((EXAMPLE / "plate_001.xlsx").read_bytes())
    run = process_plate(export, STANDARD_LAYOUT, EXAMPLE / "plate_001.samples.csv")
    assert run.run_id == make_run_id(run)
    return run.run_id


@pytest.mark.parametrize(
    ("name", "readable"),
    [
        ("第一板.xlsx", "第一板"),  # was "-7611ab2fa8": an option to every command
        ("板2.xlsx", "板2"),  # was "2-…"
        ("第一板 plate 001.xlsx", "第一板_plate_001"),  # was "plate_001-…": another plate's name
        ("-plate 3.xlsx", "plate_3"),  # never starts with '-'
        ("..hidden.xlsx", "hidden"),  # nor with '.'
        ("Plätte\u200b7.xlsx", "Plätte_7"),  # an invisible character is not dropped silently
        ("Pla\u0308tte.xlsx", "Plätte"),  # decomposed and composed letters are one name (NFC)
        ("!!!.xlsx", "plate"),  # nothing readable left: a neutral word, never an empty name
    ],
)
def test_run_names_keep_unicode_letters_and_digits_and_never_start_with_a_dash(
    tmp_path, name, readable
):
    run_id = _run_id(tmp_path, name)
    stem, digest = run_id.rsplit("-", 1)
    assert stem == readable and len(digest) == 10
    assert not run_id.startswith(("-", "."))


def test_a_chinese_named_run_is_not_taken_for_another_plate_or_an_option(tmp_path):
    plain = _run_id(tmp_path, "plate_001.xlsx")
    chinese = _run_id(tmp_path, "第一板 plate 001.xlsx")
    assert plain.rsplit("-", 1)[0] != chinese.rsplit("-", 1)[0]
    # Two names that read alike once their punctuation is gone still get different folders.
    assert _run_id(tmp_path, "plate 001.xlsx") != _run_id(tmp_path, "plate_001.xlsx")


def test_status_and_review_take_a_chinese_run_folder_as_a_folder(tmp_path):
    export = tmp_path / "第一板.xlsx"
    export.write_bytes((EXAMPLE / "plate_001.xlsx").read_bytes())
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["process", str(export), "--layout", str(STANDARD_LAYOUT),
         "--samples", str(EXAMPLE / "plate_001.samples.csv"), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = run_dirs(out)
    assert run.name.startswith("第一板-")
    # Relative names, as a technician types them in the results folder.
    here = os.getcwd()
    os.chdir(out)
    try:
        for args in (
            ["status", run.name],
            ["review", run.name, "--accept", "--by", "Lin", "--reason", "ok"],
        ):
            done = CliRunner().invoke(main, args)
            assert done.exit_code == 0, done.output
            assert "No such option" not in done.output
    finally:
        os.chdir(here)


# Study IDs in the database
# =========================


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database holding run "a" of tests/db_support.py (AML-001 ... AML-035), pushed."""
    return pushed_db(request, tmp_path, "a", "--by", "Chen", by_cli=True)


@pytest.mark.parametrize("command", ["history", "results"])
def test_an_unknown_study_id_suggests_the_nearest_stored_one(db_url, command):
    args = ["history", "aml-004"] if command == "history" else ["results", "--study-id", "aml-004"]
    result = CliRunner().invoke(main, [*args, "--db", db_url])
    assert result.exit_code == 2
    assert "no results for study ID 'aml-004' in the database (did you mean 'AML-004'?)" in (
        result.stderr
    )


def test_a_known_study_id_still_gives_its_history(db_url):
    result = CliRunner().invoke(main, ["history", "AML-004", "--db", db_url])
    assert result.exit_code == 0, result.output
