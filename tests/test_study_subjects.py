"""Every result on the right subject (issue 25, issue 21 item 6): each input of the issue's "Why".

The O/0 ID, the Cyrillic ID, the copied export, another plate's sheet, a
two-plate export given one sheet, the Excel lock file, "1,000" in a layout
cell; the roster. Database tests run on SQLite and PostgreSQL (tests/pg.py);
runs are the example plate processed for real, each from its own export bytes.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from il6assay.cli import main
from il6assay.db.engine import make_engine
from il6assay.db.models import DbIsr, DbResult, DbSubject
from il6assay.errors import InputError
from il6assay.plate.layout import load_layout
from il6assay.plate.layout_sheet import layout_csv
from il6assay.plate.samples import load_samples
from il6assay.plate.study_ids import latin_look_alike, nearest, scripts, skeleton
from tests.conftest import EXAMPLE, KIT_LAYOUT, run_dirs
from tests.db_support import distinct_export, pushed_db, run_folder, snapshot, upgraded_db

READERS = EXAMPLE.parent / "readers"
CYRILLIC_A = "\u0410"  # А, CYRILLIC CAPITAL LETTER A


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def write_sheet(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def example_rows(**extra: str) -> list[dict[str, str]]:
    with (EXAMPLE / "plate_001.samples.csv").open(encoding="utf-8-sig", newline="") as fh:
        return [{**row, **extra} for row in csv.DictReader(fh)]


# --- skeletons (Unicode TR39) ----------------------------------------------------------------


def test_letter_o_and_digit_zero_i_l_and_one_fold_to_one_skeleton():
    assert skeleton("AML-0O4") == skeleton("AML-004") == skeleton("aml-oo4")
    assert skeleton("AML-I1l") == skeleton("AML-111")
    assert skeleton("AML-004") != skeleton("AML-005")


def test_cyrillic_and_greek_look_alikes_fold_to_latin_and_are_named_mixed():
    assert skeleton(CYRILLIC_A + "ML-001") == skeleton("AML-001")
    assert skeleton("\u0391ML-001") == skeleton("AML-001")  # Greek capital alpha
    assert scripts(CYRILLIC_A + "ML-001") == ["CYRILLIC", "LATIN"]
    assert scripts("AML-001") == ["LATIN"]
    assert latin_look_alike(CYRILLIC_A + "ML-001") == "AML-001"


def test_nearest_enrolled_ids_are_ranked_by_folded_distance():
    assert nearest("AML-0O4", ["AML-104", "AML-004", "BML-999", "AML-040"])[0] == "AML-004"


# --- the sample sheet -----------------------------------------------------------------------


def test_sheet_writing_aml_0o4_beside_aml_004_is_refused_naming_it(tmp_path):
    rows = example_rows()
    rows[4]["study_id"] = "AML-0O4"  # P05, letter O, beside P04's AML-004
    with pytest.raises(InputError, match="'AML-0O4' is confusable with 'AML-004'"):
        load_samples(write_sheet(tmp_path / "s.csv", rows))


def test_cyrillic_letter_in_a_latin_study_id_is_refused_at_process_naming_its_look(tmp_path):
    rows = example_rows()
    rows[0]["study_id"] = CYRILLIC_A + "ML-001"
    sheet = write_sheet(tmp_path / "s.csv", rows)
    out = invoke("process", EXAMPLE / "plate_001.xlsx", "--samples", sheet, "--out", tmp_path / "o")
    assert out.exit_code == 2, out.output
    assert "mixes Cyrillic and Latin letters (it looks like 'AML-001')" in out.output
    assert "line 2" in out.output and "Traceback" not in out.output
    assert not (tmp_path / "o").exists()


def test_thousands_separator_in_a_sheet_dilution_is_refused_naming_the_line(tmp_path):
    rows = example_rows()
    rows[2]["dilution"] = "1,000"
    with pytest.raises(
        InputError,
        match=r"line 4: dilution of sample 'P03' is '1,000', written with a thousands sep",
    ):
        load_samples(write_sheet(tmp_path / "s.csv", rows))
    rows[2]["dilution"] = "2,5"  # a decimal comma is still read
    assert load_samples(write_sheet(tmp_path / "s.csv", rows)).rows["P03"].dilution == 2.5


def test_thousands_separator_in_a_layout_conc_cell_is_refused_naming_the_cell(tmp_path):
    text = layout_csv(load_layout(EXAMPLE / "plate_001.layout.toml"))
    head, conc = text.split("conc,", 1)
    conc = conc.replace("A,300,300,", 'A,"1,000",300,', 1)
    layout = tmp_path / "plate_001.layout.csv"
    layout.write_text(head + "conc," + conc, encoding="utf-8")
    out = invoke("process", EXAMPLE / "plate_001.xlsx", "--layout", layout, "--out", tmp_path / "o")
    assert out.exit_code == 2, out.output
    assert "conc is '1,000', written with a thousands separator" in out.output
    assert "(well A1)" in out.output and "plate_001.layout.csv" in out.output


def test_another_plates_sheet_is_refused_by_its_plate_or_export_column(tmp_path):
    export = EXAMPLE / "plate_001.xlsx"
    for column, value, said in (
        ("plate", "plate_007", "names plate(s) plate_007, not plate 'plate_001'"),
        ("export", "plate_007.xlsx", "is for export 'plate_007.xlsx', not 'plate_001.xlsx'"),
    ):
        sheet = write_sheet(tmp_path / f"{column}.csv", example_rows(**{column: value}))
        out = invoke("process", export, "--samples", sheet, "--out", tmp_path / "o")
        assert out.exit_code == 2, out.output
        assert said in out.output
    # the sheet that names this plate and export is taken
    sheet = write_sheet(
        tmp_path / "right.csv", example_rows(plate="plate_001", export="plate_001.xlsx")
    )
    out = invoke("process", export, "--samples", sheet, "--out", tmp_path / "o")
    assert out.exit_code == 0, out.output


def _standard_sheet(path: Path, plates: list[str] | None) -> Path:
    layout = load_layout(KIT_LAYOUT)
    labels = list(dict.fromkeys(s.sample for s in layout.wells.values() if s.role == "sample"))
    rows = []
    for plate in plates or [""]:
        for i, label in enumerate(labels, start=1):
            row = {"sample": label, "study_id": f"{plate or 'X'}-{i:03d}", "visit": "D0"}
            rows.append({"plate": plate, **row} if plates else row)
    return write_sheet(path, rows)


def test_two_plate_export_given_one_sheet_is_refused_unless_the_sheet_names_each_plate(tmp_path):
    # The export was made on the 0.2 layout's plan (kit controls): judged by the kit rules.
    export = READERS / "softmax_three_plates.txt"
    kit = ["--layout", KIT_LAYOUT, "--rules", "kit"]
    one = _standard_sheet(tmp_path / "one.csv", None)
    out = invoke("process", export, *kit, "--samples", one, "--out", tmp_path)
    assert out.exit_code == 2, out.output
    assert "holds 2 plates (P1, P2) and the sample sheet names none" in out.output
    both = _standard_sheet(tmp_path / "both.csv", ["P1", "P2"])
    out = invoke("process", export, *kit, "--samples", both, "--out", tmp_path / "o")
    assert out.exit_code == 0, out.output
    for folder in run_dirs(tmp_path / "o"):
        with (folder / "results.csv").open(encoding="utf-8-sig") as fh:
            ids = {r["study_id"].split("-")[0] for r in csv.DictReader(fh)}
        assert ids == {folder.name.split("_")[-1].split("-")[0]}  # P1's IDs on P1 only


def test_batch_skips_an_excel_lock_file_with_a_note(tmp_path):
    day = tmp_path / "day"
    day.mkdir()
    shutil.copy(EXAMPLE / "plate_001.xlsx", day / "plate_001.xlsx")
    (day / "~$plate_001.xlsx").write_bytes(b"\x0bLin" + b"\0" * 150)  # what Excel leaves
    (day / ".~lock.plate_001.xlsx#").write_text(",Lin,lab-pc,06.12.2026 09:00,file:///", "utf-8")
    out = invoke(
        "batch",
        day,
        "--layout",
        EXAMPLE / "plate_001.layout.toml",
        "--samples",
        EXAMPLE / "plate_001.samples.csv",
        "--out",
        tmp_path / "out",
        "--jobs",
        "1",
    )
    assert out.exit_code == 0, out.output
    assert "note:" in out.output and "~$plate_001.xlsx: skipped, an office lock file" in out.output
    assert ".~lock.plate_001.xlsx#: skipped" in out.output
    assert "1 written" in out.output and "0 not read" in out.output


# --- the study database: roster, look-alikes, copies, ISR ------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return upgraded_db(request, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_with_a(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A study database (made by db upgrade) with run "a" pushed by ``il6assay push``."""
    return pushed_db(request, tmp_path, "a")


_folders: dict[str, Path] = {}


def processed(name: str, rows: list[dict[str, str]], root: Path, tag: int) -> Path:
    """The example plate from its own export bytes with ``rows`` as its sheet, accepted."""
    if name in _folders:
        return _folders[name]
    from il6assay.record.outputs import write_run
    from il6assay.record.review import review_run
    from il6assay.run import process_plate
    from il6assay.settings import Settings

    folder = root / name
    folder.mkdir()
    export = distinct_export(EXAMPLE / "plate_001.xlsx", folder / "export", tag)
    sheet = write_sheet(folder / "plate_001.samples.csv", rows)
    run = process_plate(export, EXAMPLE / "plate_001.layout.toml", sheet, replace(Settings()))
    out = write_run(run, folder / "runs", report=False)
    review_run(out, "accept", "Lin", "checked the curve and controls")
    _folders[name] = out
    return out


def renamed(prefix: str, edit: dict[str, str] | None = None, **extra: str) -> list[dict[str, str]]:
    rows = example_rows(**extra)
    for row in rows:
        row["study_id"] = row["study_id"].replace("AML-0", prefix)
        row["study_id"] = (edit or {}).get(row["sample"], row["study_id"])
    return rows


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("subjects")
    cyrillic_ame = "\u0410\u041c\u0415-0"  # АМЕ-0, every letter Cyrillic: one script
    return {
        "zero_o": processed("zero_o", renamed("AML-5", {"P05": "AML-0O4"}), root, 50),
        "ame": processed("ame", renamed("AME-0"), root, 51),
        "cyrillic_ame": processed("cyrillic_ame", renamed(cyrillic_ame), root, 52),
        "isr": processed("isr", example_rows(purpose="isr"), root, 53),
        "isr_orphan": processed("isr_orphan", renamed("AML-7", purpose="isr"), root, 54),
    }


def roster(path: Path, ids: list[str], site: str = "Shanghai") -> Path:
    return write_sheet(path, [{"study_id": i, "site": site} for i in ids])


def test_without_a_roster_an_id_confusable_with_a_stored_one_is_refused_at_push(db_with_a, runs):
    before = snapshot(make_engine(db_with_a))
    out = invoke("push", runs["zero_o"], "--db", db_with_a)
    assert out.exit_code == 2, out.output
    assert "'AML-0O4' is confusable with 'AML-004'" in out.output
    assert snapshot(make_engine(db_with_a)) == before


def test_an_id_stored_before_0012_without_a_skeleton_still_blocks_its_look_alike(db_with_a, runs):
    from sqlalchemy import text

    engine = make_engine(db_with_a)
    with engine.begin() as conn:  # as rows stored before migration 0012 are
        conn.execute(text("UPDATE sample_results SET study_skeleton = NULL"))
    out = invoke("push", runs["zero_o"], "--db", db_with_a)
    assert out.exit_code == 2 and "'AML-0O4' is confusable with 'AML-004'" in out.output


def test_with_a_roster_ids_off_it_are_refused_at_push_and_process_naming_the_nearest(
    db_url, runs, tmp_path
):
    enrolled = [f"AML-{i:03d}" for i in range(1, 37)] + [f"AME-{i:03d}" for i in range(1, 37)]
    out = invoke("subjects", "import", roster(tmp_path / "r.csv", enrolled), "--db", db_url)
    assert out.exit_code == 0, out.output
    assert "72 subject(s) enrolled, 0 already on the roster" in out.output
    assert invoke("push", runs["ame"], "--db", db_url).exit_code == 0
    out = invoke("push", runs["zero_o"], "--db", db_url)
    assert out.exit_code == 2
    assert "'AML-501' is not on the study roster" in out.output  # the first off the roster
    out = invoke("push", runs["cyrillic_ame"], "--db", db_url)
    assert out.exit_code == 2, out.output
    assert "is not on the study roster (it looks like enrolled 'AME-001')" in out.output
    # process, with the study database configured: refused before any folder is written
    rows = example_rows()
    rows[3]["study_id"] = "AML-099"  # P04
    sheet = write_sheet(tmp_path / "s.csv", rows)
    out = invoke(
        "process",
        EXAMPLE / "plate_001.xlsx",
        "--samples",
        sheet,
        "--out",
        tmp_path / "o",
        env={"IL6ASSAY_DB": db_url},
    )
    assert out.exit_code == 2, out.output
    assert "'AML-099' is not on the study roster (nearest enrolled: 'AML-009'" in out.output
    assert not (tmp_path / "o").exists()


def test_batch_with_a_roster_refuses_the_plate_with_an_id_off_it_and_writes_the_others(
    db_url, tmp_path
):
    enrolled = [f"AML-{i:03d}" for i in range(1, 37)]
    assert (
        invoke("subjects", "import", roster(tmp_path / "r.csv", enrolled), "--db", db_url).exit_code
        == 0
    )
    day = tmp_path / "day"
    day.mkdir()
    for name in ("good", "off"):
        shutil.copy(EXAMPLE / "plate_001.xlsx", day / f"{name}.xlsx")
    write_sheet(day / "good.samples.csv", example_rows())
    rows = example_rows()
    rows[3]["study_id"] = "AML-099"  # P04: not enrolled
    write_sheet(day / "off.samples.csv", rows)
    layout = EXAMPLE / "plate_001.layout.toml"
    out = invoke(
        "batch", day, "--layout", layout, "--out", tmp_path / "o", "--db", db_url, "--jobs", "1",
        "--json",
    )  # fmt: skip
    assert out.exit_code == 2, out.output
    outcomes = {Path(o["export"]).stem: o for o in json.loads(out.stdout)}
    assert outcomes["off"]["status"] == "unreadable" and outcomes["off"]["run_dir"] is None
    assert "'AML-099' is not on the study roster" in outcomes["off"]["error"]
    assert outcomes["good"]["status"] == "written"
    assert [p.name.split("-")[0] for p in run_dirs(tmp_path / "o")] == ["good"]


def test_roster_reimport_adds_never_drops_and_refuses_a_changed_site(db_url, tmp_path):
    first = roster(tmp_path / "r1.csv", ["AML-001", "AML-002"])
    assert invoke("subjects", "import", first, "--db", db_url).exit_code == 0
    second = roster(tmp_path / "r2.csv", ["AML-002", "AML-003"])
    out = invoke("subjects", "import", second, "--db", db_url)
    assert out.exit_code == 0, out.output
    assert "1 subject(s) enrolled, 1 already on the roster; 1 enrolled before" in out.output
    moved = roster(tmp_path / "r3.csv", ["AML-003"], site="Suzhou")
    out = invoke("subjects", "import", moved, "--db", db_url)
    assert out.exit_code == 2 and "enrolled with site 'Shanghai', the file says 'Suzhou'" in (
        out.output
    )
    look = roster(tmp_path / "r4.csv", ["AML-0O3"])
    out = invoke("subjects", "import", look, "--db", db_url)
    assert out.exit_code == 2 and "'AML-0O3' is confusable with 'AML-003'" in out.output
    with Session(make_engine(db_url)) as session:
        ids = sorted(session.scalars(select(DbSubject.study_id)))
    assert ids == ["AML-001", "AML-002", "AML-003"]


def test_a_copied_export_is_refused_at_push_naming_the_run_even_with_supersede(db_url, tmp_path):
    copy = tmp_path / "plate_001 - Copy.xlsx"
    shutil.copy(EXAMPLE / "plate_001.xlsx", copy)
    out = invoke(
        "process",
        copy,
        "--layout",
        EXAMPLE / "plate_001.layout.toml",
        "--samples",
        EXAMPLE / "plate_001.samples.csv",
        "--out",
        tmp_path / "o",
    )
    assert out.exit_code == 0, out.output
    (folder,) = run_dirs(tmp_path / "o")
    review = invoke("review", folder, "--accept", "--by", "Lin", "--reason", "checked")
    assert review.exit_code == 0, review.output
    assert invoke("push", run_folder("a"), "--db", db_url).exit_code == 0
    for extra in ((), ("--supersede", "--reason", "re-assay")):
        out = invoke("push", folder, "--db", db_url, *extra)
        assert out.exit_code == 2, out.output
        assert f"is already in the study as run {run_folder('a').name}" in out.output


def test_isr_repeats_are_stored_beside_the_originals_which_stay_current(db_with_a, runs):
    engine = make_engine(db_with_a)
    before = snapshot(engine)["sample_results"]
    out = invoke("push", runs["isr"], "--db", db_with_a)
    assert out.exit_code == 0, out.output
    assert "incurred-sample repeat(s) stored beside their originals" in out.output
    assert snapshot(engine)["sample_results"] == before  # nothing replaced or superseded
    with Session(engine) as session:
        repeats = session.scalars(select(DbIsr)).all()
        originals = {r.id: r for r in session.scalars(select(DbResult))}
    assert len(repeats) == len(before)
    for isr in repeats:
        original = originals[isr.original_result_pk]
        assert (original.study_id, original.visit, original.status) == (
            isr.study_id,
            isr.visit,
            "current",
        )
    out = invoke("push", runs["isr_orphan"], "--db", db_with_a)
    assert out.exit_code == 2 and "has no result in the study to compare it with" in out.output


def test_worklist_is_cut_into_sheets_of_the_layouts_sample_labels():
    from il6assay.study.summary import fit_worklist, worklist_paths

    rows = [{"sample": f"P{i:02d}", "study_id": f"AML-{i:03d}", "visit": "D0"} for i in range(72)]
    labels = [f"S{i}" for i in range(36)]
    sheets = fit_worklist(rows, labels)
    assert [len(s) for s in sheets] == [36, 36]
    assert [r["sample"] for r in sheets[1]] == labels
    assert [r["study_id"] for s in sheets for r in s] == [r["study_id"] for r in rows]
    assert [p.name for p in worklist_paths(Path("next.csv"), 2)] == ["next_1.csv", "next_2.csv"]


def test_summary_worklist_with_a_layout_is_a_sheet_that_layout_takes(db_with_a, tmp_path):
    layout = EXAMPLE / "plate_001.layout.toml"
    out = invoke(
        "summary", "--db", db_with_a, "--worklist", tmp_path / "next.csv", "--layout", layout
    )
    assert out.exit_code == 0, out.output
    capacity = len({s.sample for s in load_layout(layout).wells.values() if s.role == "sample"})
    assert f"written to 1 sheet(s) of at most {capacity}" in out.output
    sheet = load_samples(tmp_path / "next.csv")
    labels = [s.sample for s in load_layout(layout).samples()]
    assert sheet.rows and set(sheet.rows) <= set(labels)


def test_lot_bridge_is_signed_with_a_review_accounts_password(db_url):
    from il6assay.db.models import DbAccount, DbLotBridge
    from il6assay.study.qc import ControlValue
    from il6assay.study.store import record_qc
    from tests.study_support import run_qc
    from tests.web_support import PASSWORD, add_people

    engine = make_engine(db_url)
    add_people(engine)
    old, new = run_qc(0, 20.0, 120.0, lot="L1"), run_qc(1, 21.0, 126.0, lot="L2")
    for qc, mid in ((old, 60.0), (new, 63.6)):
        qc.controls.append(ControlValue("mid", 60.0, mid, 2, 2, ["G3", "H3"]))
    record_qc(engine, [old, new])
    args = ["lots", "bridge", "--old", old.run_id, "--new", new.run_id, "--by", "lin"]
    wrong = CliRunner().invoke(main, [*args, "--db", db_url], input="not it\n")
    assert wrong.exit_code == 2 and "user name or password not accepted" in wrong.output
    with Session(engine) as session:
        assert session.scalars(select(DbLotBridge)).all() == []
    right = CliRunner().invoke(main, [*args, "--db", db_url, "--json"], input=PASSWORD + "\n")
    assert right.exit_code == 0, right.output
    expected = math.exp((math.log(1.05) + math.log(1.05) + math.log(1.06)) / 3)
    assert json.loads(right.stdout)["ratio"] == pytest.approx(expected)
    with Session(engine) as session:
        (row,) = session.scalars(select(DbLotBridge)).all()
        lin = session.scalars(select(DbAccount).where(DbAccount.username == "lin")).one()
        assert (row.account_id, row.signed_by, row.passed) == (lin.id, "Lin Wei (lin)", True)
        assert (row.old_lot, row.new_lot, row.n_pairs) == ("L1", "L2", 3)


def test_isr_select_favours_the_specimen_nearest_a_cutoff_and_refuses_a_bad_fraction(
    db_with_a, tmp_path
):
    sheet = tmp_path / "isr.csv"
    out = invoke(
        "isr", "select", "--db", db_with_a, "--cutoff", "12", "--seed", "1", "--out", sheet
    )
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    with (run_folder("a") / "results.csv").open(encoding="utf-8-sig") as fh:
        numbers = [r for r in csv.DictReader(fh) if r["conc_pg_ml"]]
    nearest_12 = min(numbers, key=lambda r: abs(math.log(float(r["conc_pg_ml"]) / 12)))
    assert (rows[0]["study_id"], rows[0]["visit"]) == (nearest_12["study_id"], nearest_12["visit"])
    assert len(rows) == round(0.1 * len(numbers)) and rows[0]["purpose"] == "isr"
    assert load_samples(sheet).rows  # a sample sheet il6assay reads
    bad = invoke("isr", "select", "--db", db_with_a, "--fraction", "10", "--out", sheet)
    assert bad.exit_code == 2 and "--fraction 10 is not between 0 and 1" in bad.output
