"""Pushing accepted runs to the study database, reading them back: on SQLite and PostgreSQL.

Every test here runs against both backends (a real PostgreSQL server started
once per session, tests/pg.py); nothing is mocked.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from il6assay.cli import main
from il6assay.db import push as push_module
from il6assay.db import result_rows
from il6assay.db.engine import make_engine, upgrade
from il6assay.db.models import SUPERSEDED, DbAudit, DbDilution, DbResult, DbRun, DbWell
from il6assay.db.push import push_runs
from il6assay.errors import InputError
from il6assay.qc.dilutions import combine_rows
from il6assay.qc.results import SampleResult
from tests.conftest import EXAMPLE, ROOT
from tests.db_support import (
    copy_run,
    count,
    distinct_export,
    error_lines,
    pushed_db,
    run_folder,
    snapshot,
    upgraded_db,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new study database (made by db upgrade): a SQLite file, or one on the session's server."""
    return upgraded_db(request, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_with_a(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A study database (made by db upgrade) with run "a" pushed by ``il6assay push``."""
    return pushed_db(request, tmp_path, "a")


def invoke(*args: str | Path) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def results_rows(url: str, *extra: str) -> list[dict]:
    out = invoke("results", "--db", url, "--format", "json", *extra)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def n_results(name: str) -> int:
    with (run_folder(name) / "results.csv").open(encoding="utf-8-sig") as fh:
        return sum(1 for _ in fh) - 1


def test_accepted_run_is_pushed_and_read_back_with_its_run_and_input_hash(db_url):
    folder = run_folder("a")
    out = invoke("push", folder, "--db", db_url, "--by", "Chen")
    assert out.exit_code == 0, out.output
    assert f"pushed {n_results('a')} result(s)" in out.output
    rows = results_rows(db_url)
    assert len(rows) == n_results("a")
    record = json.loads((folder / "run.json").read_text())
    export_sha = record["inputs"]["export"][0]["sha256"]
    assert {r["run_id"] for r in rows} == {record["run_id"]}
    assert {r["export_sha256"] for r in rows} == {export_sha}
    censored = next(r for r in rows if r["study_id"] == "AML-001" and r["visit"] == "D0")
    assert censored["result"].startswith("<") and censored["conc_pg_ml"] is None
    assert "BELOW_LLOQ" in censored["flags"]
    engine = make_engine(db_url)
    assert count(engine, DbWell) == 96
    with Session(engine) as session:
        run = session.scalars(select(DbRun)).one()
        assert run.reviewed_by == "Lin" and run.pushed_by == "Chen" and run.pushed_os_account
        assert session.scalars(select(DbAudit).where(DbAudit.action == "push")).one()


@pytest.mark.parametrize("name, status", [("unreviewed", "unreviewed"), ("rejected", "rejected")])
def test_unaccepted_run_cannot_be_pushed(db_url, name, status):
    invoke("db", "upgrade", "--db", db_url)
    before = snapshot(make_engine(db_url))
    out = invoke("push", run_folder(name), "--db", db_url)
    assert out.exit_code == 2
    assert f"review status: {status}" in out.output
    assert len(error_lines(out)) == 1
    assert snapshot(make_engine(db_url)) == before


def test_unaccepted_run_among_several_stops_the_push_before_any_is_written(db_url):
    invoke("db", "upgrade", "--db", db_url)
    before = snapshot(make_engine(db_url))
    out = invoke("push", run_folder("a"), run_folder("unreviewed"), "--db", db_url)
    assert out.exit_code == 2
    assert snapshot(make_engine(db_url)) == before


def test_repush_of_the_same_run_is_a_no_op_that_says_so(db_with_a):
    before = snapshot(make_engine(db_with_a))
    out = invoke("push", run_folder("a"), "--db", db_with_a)
    assert out.exit_code == 0
    assert "already in the database; nothing changed" in out.output
    assert snapshot(make_engine(db_with_a)) == before


def test_reassay_without_supersede_is_refused_and_changes_nothing(db_with_a):
    before = snapshot(make_engine(db_with_a))
    out = invoke("push", run_folder("a_reassay"), "--db", db_with_a)
    assert out.exit_code == 2
    assert "--supersede --reason" in out.output
    assert snapshot(make_engine(db_with_a)) == before
    out = invoke("push", run_folder("a_reassay"), "--db", db_with_a, "--supersede")
    assert out.exit_code == 2 and "needs a reason" in out.output
    assert snapshot(make_engine(db_with_a)) == before


def test_supersede_keeps_the_old_value_and_the_reason(db_with_a):
    old = {(r["study_id"], r["visit"]): r for r in results_rows(db_with_a)}
    reason = "re-assayed unweighted after a pipetting error"
    out = invoke(
        "push", run_folder("a_reassay"), "--db", db_with_a, "--supersede", "--reason", reason
    )
    assert out.exit_code == 0, out.output
    assert f"superseding {n_results('a')}" in out.output
    new = results_rows(db_with_a)
    assert len(new) == n_results("a")  # still one current row per study ID and visit
    assert {r["run_id"] for r in new} == {run_folder("a_reassay").name}
    engine = make_engine(db_with_a)
    with Session(engine) as session:
        kept = session.scalars(select(DbResult).where(DbResult.status == SUPERSEDED)).all()
        assert len(kept) == n_results("a")
        for row in kept:
            assert row.supersede_reason == reason
            successor = session.get(DbResult, row.superseded_by)
            assert successor.status == "current"
            assert (successor.study_id, successor.visit) == (row.study_id, row.visit)
            assert row.result == old[(row.study_id, row.visit)]["result"]
        audit = session.scalars(select(DbAudit).where(DbAudit.action == "supersede")).all()
        assert len(audit) == n_results("a")
        assert all(a.reason == reason and a.old_value and a.new_value for a in audit)
    history = invoke("history", "AML-004", "--db", db_with_a, "--json")
    assert history.exit_code == 0, history.output
    entries = [e for e in json.loads(history.stdout) if e["visit"] == "D0"]
    assert [e["status"] for e in entries] == ["superseded", "current"]
    assert entries[0]["supersede_reason"] == reason
    assert entries[0]["result"] == old[("AML-004", "D0")]["result"]
    text_out = invoke("history", "AML-004", "--db", db_with_a).output
    assert reason in text_out and run_folder("a").name in text_out


def test_push_killed_mid_run_leaves_the_database_as_before(db_url, monkeypatch):
    engine = make_engine(db_url)
    push_runs(engine, [run_folder("b")])
    before = snapshot(engine)
    real = push_module.result_from_row
    calls = {"n": 0}

    def dies_after_three(row, run_pk):
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("killed mid-run")
        return real(row, run_pk)

    monkeypatch.setattr(push_module, "result_from_row", dies_after_three)
    with pytest.raises(RuntimeError, match="killed mid-run"):
        push_runs(engine, [run_folder("a")])
    assert calls["n"] == 4  # three rows were written (flushed) before the failure
    assert snapshot(engine) == before
    monkeypatch.undo()
    push_runs(engine, [run_folder("a")])  # and the same push then goes through whole
    assert count(engine, DbResult, status="current") == n_results("a") + n_results("b")


def test_changed_run_folder_is_refused_naming_the_file(db_url, tmp_path):
    folder = copy_run("a", tmp_path)
    results = folder / "results.csv"
    results.write_text(results.read_text(encoding="utf-8-sig").replace("5.60", "6.60"))
    out = invoke("push", folder, "--db", db_url)
    assert out.exit_code == 2
    assert "results.csv was changed after processing" in out.output
    assert count(make_engine(db_url), DbRun) == 0  # nothing written


def test_study_id_spelled_two_ways_in_the_sample_sheet_is_refused(db_url):
    out = invoke("push", run_folder("two_spellings"), "--db", db_url)
    assert out.exit_code == 2
    assert "spelled two ways" in out.output and "'aml-001'" in out.output
    assert len(error_lines(out)) == 1


def test_study_id_spelled_differently_from_the_database_is_refused(db_with_a, tmp_path):
    before = snapshot(make_engine(db_with_a))
    # two_spellings' own check would fire first; check the database rule directly
    from il6assay.db.push import check_spellings

    check_spellings(["AML-001", "AML-002"])
    with Session(make_engine(db_with_a)) as session, pytest.raises(InputError, match="stored"):
        push_module._check_against_database(session, [{"study_id": "aml-001 "}])
    assert snapshot(make_engine(db_with_a)) == before


def test_fullwidth_study_id_is_the_same_subject_and_a_unicode_dash_another_spelling(db_with_a):
    before = snapshot(make_engine(db_with_a))
    with (run_folder("fullwidth") / "results.csv").open(encoding="utf-8-sig") as fh:
        assert "AML-001" in {r["study_id"] for r in csv.DictReader(fh)}  # NFKC on reading
    out = invoke("push", run_folder("fullwidth"), "--db", db_with_a)
    assert out.exit_code == 2 and "--supersede" in out.output  # the same specimens again
    out = invoke("push", run_folder("unicode_dash"), "--db", db_with_a)
    assert out.exit_code == 2
    assert "is stored in the database as 'AML-0" in out.output and "AML\u20100" in out.output
    assert snapshot(make_engine(db_with_a)) == before


def test_results_are_one_row_per_study_id_and_visit_and_wide_by_visit(db_with_a, tmp_path):
    rows = results_rows(db_with_a)
    keys = [(r["study_id"], r["visit"]) for r in rows]
    assert len(keys) == len(set(keys))
    one = results_rows(db_with_a, "--study-id", "AML-001")
    assert {r["study_id"] for r in one} == {"AML-001"}
    wide = json.loads(invoke("results", "--db", db_with_a, "--wide", "--format", "json").stdout)
    assert len(wide) == len({r["study_id"] for r in rows})
    first = next(w for w in wide if w["study_id"] == "AML-001")
    visits = {r["visit"] for r in one}
    assert all(f"{v}_result" in first and f"{v}_run_id" in first for v in visits)
    csv_out = invoke("results", "--db", db_with_a)
    assert csv_out.stdout.splitlines()[0].startswith("study_id,visit,result,conc_pg_ml")
    xlsx = tmp_path / "results.xlsx"
    out = invoke("results", "--db", db_with_a, "--format", "xlsx", "--out", xlsx)
    assert out.exit_code == 0 and xlsx.stat().st_size > 0
    from openpyxl import load_workbook

    ws = load_workbook(xlsx).active
    assert ws.max_row == len(rows) + 1


def test_concurrent_pushes_of_different_runs_all_land_in_full(db_url):
    names = ["a", "b", "c"]
    folders = [run_folder(n) for n in names]  # processed before the race starts
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "il6assay.cli", "push", str(f), "--db", db_url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in folders
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "pushed" in out
    engine = make_engine(db_url)
    assert count(engine, DbRun) == 3
    assert count(engine, DbWell) == 3 * 96
    for name, folder in zip(names, folders, strict=True):
        with Session(engine) as session:
            run = session.scalars(select(DbRun).where(DbRun.run_id == folder.name)).one()
            assert count(engine, DbResult, run_pk=run.id, status="current") == n_results(name)
    assert count(engine, DbAudit, action="push") == 3


def test_audit_table_is_append_only(db_url):
    engine = make_engine(db_url)
    push_runs(engine, [run_folder("a")])
    for statement in ("UPDATE audit SET reason = 'edited'", "DELETE FROM audit"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert count(engine, DbAudit) == n_results("a") + 1


def test_push_to_a_mistyped_database_is_refused_and_creates_no_second_one(tmp_path):
    study = tmp_path / "study.db"
    assert invoke("db", "upgrade", "--db", study).exit_code == 0
    out = invoke("push", run_folder("a"), "--db", tmp_path / "studdy.db")
    assert out.exit_code == 2
    assert f"no study database at {tmp_path / 'studdy.db'}" in out.output
    assert "il6assay db upgrade" in out.output
    assert not (tmp_path / "studdy.db").exists()
    for args in (("results",), ("history", "AML-001")):
        out = invoke(*args, "--db", tmp_path / "studdy.db")
        assert out.exit_code == 2 and "no study database at" in out.output
    assert not (tmp_path / "studdy.db").exists()


def test_db_upgrade_creates_the_database_saying_so(tmp_path):
    out = invoke("db", "upgrade", "--db", tmp_path / "new.db")
    assert out.exit_code == 0, out.output
    assert "new study database created" in out.stdout
    assert out.stderr.startswith(f"study database: {tmp_path / 'new.db'} (from --db)")
    assert (tmp_path / "new.db").is_file()


def test_an_empty_file_or_server_database_without_schema_is_refused(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    out = invoke("push", run_folder("a"), "--db", empty)
    assert out.exit_code == 2 and "holds no study database" in out.output
    assert empty.stat().st_size == 0


def test_no_database_named_anywhere_is_refused_and_no_file_is_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IL6ASSAY_DB", raising=False)
    out = invoke("push", run_folder("a"))
    assert out.exit_code == 2
    assert "no study database named" in out.output and "il6assay.toml" in out.output
    assert list(tmp_path.iterdir()) == []


def test_database_named_by_environment_variable_or_il6assay_toml_is_said_on_stderr(
    tmp_path, monkeypatch
):
    project, elsewhere = tmp_path / "study", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    monkeypatch.delenv("IL6ASSAY_DB", raising=False)
    assert invoke("db", "upgrade", "--db", project / "il6.db").exit_code == 0
    (project / "il6assay.toml").write_text('db = "il6.db"\n')
    monkeypatch.chdir(project)
    out = invoke("push", run_folder("a"))
    assert out.exit_code == 0, out.output
    toml_path = project / "il6assay.toml"
    assert out.stderr.splitlines()[0] == f"study database: {project / 'il6.db'} (from {toml_path})"
    assert results_rows(str(project / "il6.db"))
    other = elsewhere / "other.db"
    assert invoke("db", "upgrade", "--db", other).exit_code == 0
    monkeypatch.setenv("IL6ASSAY_DB", str(other))  # the variable beats il6assay.toml
    out = invoke("push", run_folder("b"))
    assert out.exit_code == 0, out.output
    assert f"study database: {other} (from $IL6ASSAY_DB)" in out.stderr
    assert {r["study_id"][:5] for r in results_rows(str(other))} == {"AML-1"}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://il6:secret@127.0.0.1:1/study",
        "postgresql://il6:secret@127.0.0.1:1/study",
    ],
)
def test_unreachable_database_is_one_line_exit_2_and_hides_the_password(url):
    for args in (("push", run_folder("a")), ("results",), ("db", "upgrade")):
        out = invoke(*args, "--db", url)
        assert out.exit_code == 2
        assert error_lines(out)[0].startswith(
            "il6assay: cannot use database postgresql+psycopg://il6:***@"
        )
        assert "secret" not in out.output
        assert len(error_lines(out)) == 1


def test_missing_sqlite_database_is_not_created_by_reading(tmp_path):
    out = invoke("results", "--db", tmp_path / "none.db")
    assert out.exit_code == 2 and "no study database at" in out.output
    assert not (tmp_path / "none.db").exists()


# --- one specimen's dilutions on different plates --------------------------------------------
#
# The example plate processed again with sample sheets that give a few of its samples to
# specimens DIL-0xx (visit D0) at chosen dilutions; every other sample gets a study ID of
# its own plate ("A-P01"), so the plates share only the DIL specimens. On plate_001:
# P10 reads >ULOQ neat, P11 is in range at 1:10 (930 pg/mL); P03, P04, P05, P06 are in range.
PLATES: dict[str, dict[str, tuple[str, str]]] = {
    # plate A: every DIL specimen neat
    "A": {"P10": ("DIL-010", ""), "P05": ("DIL-005", ""), "P04": ("DIL-004", ""),
          "P06": ("DIL-006", "")},
    # plate B: 1:10 in range; x1.15 agrees; P04 at 1:2 doubles (rises); P03 x4 falls below P06
    "B": {"P11": ("DIL-010", "10"), "P05": ("DIL-005", "1.15"), "P04": ("DIL-004", "2"),
          "P03": ("DIL-006", "4")},
    # plate C: DIL-010 at 1:10 again (a re-assay of plate B's dilution), fitted unweighted
    "C": {"P11": ("DIL-010", "10")},
}  # fmt: skip
PLATE_WEIGHTING = {"C": "none"}
_plates: dict[str, Path] = {}


def dilution_plate(name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Plate ``name`` of PLATES processed, reviewed and accepted (once per session)."""
    if name in _plates:
        return _plates[name]
    from il6assay.record.outputs import write_run
    from il6assay.record.review import review_run
    from il6assay.run import process_plate
    from il6assay.settings import Settings

    recipe = PLATES[name]
    settings = Settings()
    if name in PLATE_WEIGHTING:
        settings = replace(settings, weighting=PLATE_WEIGHTING[name])
    root = tmp_path_factory.mktemp(f"plate_{name}")
    with (EXAMPLE / "plate_001.samples.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["study_id"] = f"{name}-{row['sample']}"
        if row["sample"] in recipe:
            row["study_id"], row["dilution"] = recipe[row["sample"]]
            row["visit"], row["note"] = "D0", ""
    sheet = root / f"plate_{name}.samples.csv"
    with sheet.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    export = distinct_export(
        EXAMPLE / "plate_001.xlsx", root / "export", 30 + sorted(PLATES).index(name)
    )
    run = process_plate(export, EXAMPLE / "plate_001.layout.toml", sheet, settings)
    folder = write_run(run, root, report=False)
    review_run(folder, "accept", "Lin", "checked the curve and controls")
    _plates[name] = folder
    return folder


@pytest.fixture
def plates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Plates A, B and C of PLATES."""
    return {name: dilution_plate(name, tmp_path_factory) for name in PLATES}


def csv_row(folder: Path, file: str, study_id: str) -> dict[str, str]:
    """The one row of ``file`` (results.csv or dilutions.csv) for study_id."""
    with (folder / file).open(encoding="utf-8-sig", newline="") as fh:
        (row,) = [r for r in csv.DictReader(fh) if r["study_id"] == study_id]
    return row


def current(url: str, study_id: str) -> dict:
    """The one current result of study_id, as `il6assay results` gives it."""
    (row,) = results_rows(url, "--study-id", study_id)
    return row


def push_ok(url: str, *folders: Path, extra: tuple[str, ...] = ()) -> str:
    """Push folders with `il6assay push`; it must succeed. Returns its output."""
    out = invoke("push", *folders, "--db", url, *extra)
    assert out.exit_code == 0, out.output
    return out.output


def test_stored_dilution_rows_combine_to_what_the_plate_itself_reported():
    # The database combines rows rebuilt from dilutions.csv with the plate's own rules.
    folder = run_folder("a")
    with (folder / "dilutions.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    specimens: dict[tuple[str, str], list[SampleResult]] = {}
    for r in rows:
        specimens.setdefault((r["study_id"], r["visit"]), []).append(SampleResult.from_row(r))
    with (folder / "results.csv").open(encoding="utf-8-sig", newline="") as fh:
        reported = {(r["study_id"], r["visit"]): r for r in csv.DictReader(fh)}
    assert any(len(v) > 1 for v in specimens.values())  # AML-010 D0: P10 neat and P11 at 1:10
    for key, samples in specimens.items():
        again = combine_rows(samples).row(folder.name, None, None)
        for column in ("result", "flags", "sample", "dilutions", "n_wells"):
            assert str(again[column]) == reported[key][column], (key, column)
        assert str(again["dilution"]) == reported[key]["dilution"]


def test_above_range_on_one_plate_and_in_range_on_another_combine_without_supersede(db_url, plates):
    a, b = plates["A"], plates["B"]
    assert csv_row(a, "results.csv", "DIL-010")["result"].startswith(">")
    push_ok(db_url, a)
    out = push_ok(db_url, b)  # no --supersede: dilution 10 is new for DIL-010
    assert "4 specimen(s) combined across plates" in out and "DIL-010 D0" in out
    diluted = csv_row(b, "dilutions.csv", "DIL-010")
    row = current(db_url, "DIL-010")
    assert row["result"] == diluted["result"] and row["flags"] == ""
    assert row["conc_pg_ml"] == pytest.approx(float(diluted["conc_pg_ml"]))
    assert row["lloq_pg_ml"] == pytest.approx(float(diluted["lloq_pg_ml"]))  # the 1:10 limits
    assert row["uloq_pg_ml"] == pytest.approx(float(diluted["uloq_pg_ml"]))
    assert row["dilution"] == "10" and row["dilutions"] == "P10@1 P11@10"
    assert row["run_id"] == b.name and row["source_runs"] == f"{a.name} {b.name}"
    both = results_rows(db_url, "--dilutions", "--study-id", "DIL-010")
    assert [(r["dilution"], r["run_id"], r["status"]) for r in both] == [
        (1, a.name, "current"),
        (10, b.name, "current"),
    ]
    assert both[0]["result"] == csv_row(a, "dilutions.csv", "DIL-010")["result"]
    engine = make_engine(db_url)
    with Session(engine) as session:
        (audit,) = session.scalars(
            select(DbAudit).where(DbAudit.study_id == "DIL-010", DbAudit.action == "combine")
        ).all()
        assert json.loads(audit.old_value)["result"].startswith(">")
        assert json.loads(audit.new_value)["result"] == diluted["result"]
        assert audit.reason == f"combined with dilution 10 from run {b.name} (another plate)"
        old = session.scalars(
            select(DbResult).where(DbResult.study_id == "DIL-010", DbResult.status == SUPERSEDED)
        ).one()
        assert old.supersede_reason == audit.reason
        assert session.get(DbResult, old.superseded_by).status == "current"
    history = json.loads(invoke("history", "DIL-010", "--db", db_url, "--json").stdout)
    assert [(e["status"], e["action"]) for e in history] == [
        ("superseded", "add"),
        ("current", "combine"),
    ]
    text_out = invoke("history", "DIL-010", "--db", db_url).output
    assert "combined with dilution 10" in text_out and "combined from P10@1 P11@10" in text_out


def test_plates_pushed_in_either_order_give_the_same_combined_result(db_url, plates, tmp_path):
    push_ok(db_url, plates["B"])
    push_ok(db_url, plates["A"])
    reverse = current(db_url, "DIL-010")
    other = str(tmp_path / "other.db")
    upgrade(make_engine(other))
    push_ok(other, plates["A"], plates["B"])
    forward = current(other, "DIL-010")
    for column in ("result", "conc_pg_ml", "flags", "dilution", "dilutions", "lloq_pg_ml"):
        assert reverse[column] == forward[column], column
    assert reverse["source_runs"] == f"{plates['B'].name} {plates['A'].name}"


def test_in_range_dilutions_on_two_plates_that_agree_are_averaged(db_url, plates):
    push_ok(db_url, plates["A"], plates["B"])
    neat = float(csv_row(plates["A"], "dilutions.csv", "DIL-005")["conc_pg_ml"])
    diluted = float(csv_row(plates["B"], "dilutions.csv", "DIL-005")["conc_pg_ml"])
    assert abs(diluted / neat - 1) < 0.2
    row = current(db_url, "DIL-005")
    assert row["conc_pg_ml"] == pytest.approx((neat + diluted) / 2, rel=1e-5)
    assert row["dilution"] == "1;1.15" and row["flags"] == ""
    assert row["dilutions"] == "P05@1 P05@1.15"


def test_dilutions_on_two_plates_that_disagree_are_flagged_and_a_rise_is_a_suspected_hook(
    db_url, plates
):
    push_ok(db_url, plates["A"], plates["B"])
    rising = current(db_url, "DIL-004")  # 1:2 on plate B reads twice the neat value
    assert rising["flags"].split(";") == ["DILUTION_DISAGREE", "HOOK_SUSPECTED"]
    assert rising["result"] == csv_row(plates["B"], "dilutions.csv", "DIL-004")["result"]
    falling = current(db_url, "DIL-006")  # 1:4 on plate B reads half the neat value
    flags = falling["flags"].split(";")
    assert "DILUTION_DISAGREE" in flags and "HOOK_SUSPECTED" not in flags
    # The 1:4 well reads a quarter of the specimen, near the LLOQ: its CI says so.
    assert set(flags) <= {"DILUTION_DISAGREE", "NEAR_LLOQ"}
    assert falling["result"] == csv_row(plates["B"], "dilutions.csv", "DIL-006")["result"]
    assert falling["dilution"] == "4"


def test_same_dilution_on_another_plate_needs_supersede_and_supersedes_only_that_dilution(
    db_url, plates
):
    a, b, c = plates["A"], plates["B"], plates["C"]
    push_ok(db_url, a, b)
    engine = make_engine(db_url)
    before = snapshot(engine)
    out = invoke("push", c, "--db", db_url)
    assert out.exit_code == 2 and len(error_lines(out)) == 1
    assert "1 specimen(s) already have a current result (e.g. DIL-010 D0 at dilution 10" in (
        out.output
    )
    assert f"from run {b.name}" in out.output and "--supersede --reason TEXT" in out.output
    assert snapshot(engine) == before
    reason = "1:10 re-assayed: plate B's P11 wells were scratched"
    out = push_ok(db_url, c, extra=("--supersede", "--reason", reason))
    assert "superseding 1 (DIL-010 D0)" in out
    with Session(engine) as session:
        rows = session.scalars(
            select(DbDilution).where(DbDilution.study_id == "DIL-010").order_by(DbDilution.id)
        ).all()
        runs = {r.id: r.run_id for r in session.scalars(select(DbRun))}
        got = [(runs[r.run_pk], r.dilution, r.status, r.supersede_reason) for r in rows]
        assert got == [
            (a.name, 1.0, "current", None),
            (b.name, 10.0, "superseded", reason),
            (c.name, 10.0, "current", None),
        ]
        assert rows[1].superseded_by == rows[2].id
        (audit,) = session.scalars(
            select(DbAudit).where(DbAudit.study_id == "DIL-010", DbAudit.run_id == c.name)
        ).all()
        assert audit.action == "supersede" and audit.reason == reason
        assert audit.old_value and audit.new_value
    row = current(db_url, "DIL-010")  # plate A's neat row combined with plate C's 1:10
    assert row["result"] == csv_row(c, "dilutions.csv", "DIL-010")["result"]
    assert row["run_id"] == c.name and row["source_runs"] == f"{a.name} {c.name}"
    assert row["dilutions"] == "P10@1 P11@10"
    assert current(db_url, "DIL-005")["source_runs"] == f"{a.name} {b.name}"  # untouched


def test_push_killed_while_combining_leaves_the_database_as_before(db_url, plates, monkeypatch):
    engine = make_engine(db_url)
    push_runs(engine, [plates["A"]])
    before = snapshot(engine)
    real = result_rows.combine_rows  # push combines dilutions through il6assay.db.result_rows
    calls = {"n": 0}

    def dies_on_the_second(rows):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("killed mid-run")
        return real(rows)

    monkeypatch.setattr(result_rows, "combine_rows", dies_on_the_second)
    with pytest.raises(RuntimeError, match="killed mid-run"):
        push_runs(engine, [plates["B"]])
    assert snapshot(engine) == before
    monkeypatch.undo()
    push_runs(engine, [plates["B"]])
    labels = 0
    for plate in (plates["A"], plates["B"]):  # every sample label of both plates is kept
        with (plate / "dilutions.csv").open(encoding="utf-8-sig") as fh:
            labels += sum(1 for _ in fh) - 1
    assert count(engine, DbDilution, status="current") == labels


# --- superseding never loses information silently (issue 12, item 6) -------------------------


def test_a_number_replaced_by_a_censored_result_needs_supersede_and_is_named(db_with_a):
    engine = make_engine(db_with_a)
    before = snapshot(engine)
    out = invoke("push", run_folder("swap"), "--db", db_with_a)
    assert out.exit_code == 2 and "--supersede" in out.output
    assert snapshot(engine) == before
    reason = "sample tubes P01 and P04 were swapped"
    out = invoke("push", run_folder("swap"), "--db", db_with_a, "--supersede", "--reason", reason)
    assert out.exit_code == 0, out.output
    assert (
        "1 reported number(s) replaced by a censored result (--supersede): AML-004 D0 12.1 -> <4.69"
        in out.stdout
    )
    with Session(engine) as session:
        audit = session.scalars(
            select(DbAudit).where(
                DbAudit.study_id == "AML-004", DbAudit.visit == "D0", DbAudit.action == "supersede"
            )
        ).one()
    assert "reported number replaced by a censored result (12.1 -> <4.69)" in audit.what
    assert json.loads(audit.new_value)["loses"] == push_module.NUMBER_TO_CENSORED
    assert json.loads(audit.old_value)["result"] == "12.1" and audit.reason == reason


def test_results_of_a_plate_accepted_only_by_override_replace_nothing_unsaid(db_with_a):
    engine = make_engine(db_with_a)
    before = snapshot(engine)
    out = invoke("push", run_folder("override"), "--db", db_with_a)
    assert out.exit_code == 2 and "--supersede" in out.output
    assert snapshot(engine) == before
    reason = "the reviewer accepted the plate by override"
    out = invoke(
        "push", run_folder("override"), "--db", db_with_a, "--supersede", "--reason", reason
    )
    assert out.exit_code == 0, out.output
    assert "replaced by those of a plate accepted only by override (--supersede)" in out.stdout
    assert "AML-004 D0 12.1 -> no result" in out.stdout
    with Session(engine) as session:
        rows = session.scalars(select(DbAudit).where(DbAudit.action == "supersede")).all()
    assert rows and all(
        json.loads(r.new_value)["loses"] == push_module.OVERRIDE_PLATE for r in rows
    )
    assert all("plate accepted only by override" in r.what for r in rows)


def test_an_override_plate_adding_new_specimens_needs_no_supersede(db_url):
    out = invoke("push", run_folder("override"), "--db", db_url)
    assert out.exit_code == 0, out.output
    assert "override" not in out.stdout  # nothing was replaced


def test_wide_export_headers_built_from_visit_labels_are_guarded_against_formulas(db_url, tmp_path):
    from openpyxl import load_workbook

    from il6assay.record.outputs import write_run
    from il6assay.record.review import review_run
    from il6assay.run import process_plate

    visit = '=HYPERLINK("http://evil.example/","D0")'
    text = (EXAMPLE / "plate_001.samples.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    for row in rows[1:]:
        if row[2] == "D0":
            row[2] = visit
    sheet = tmp_path / "evil.samples.csv"
    with sheet.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    run = process_plate(EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.layout.toml", sheet)
    folder = write_run(run, tmp_path / "runs", report=False)
    review_run(folder, "accept", "Lin", "checked")
    assert invoke("push", folder, "--db", db_url).exit_code == 0
    out = invoke("results", "--db", db_url, "--wide")
    assert out.exit_code == 0, out.output
    header = next(csv.reader([out.stdout.splitlines()[0]]))
    evil = [h for h in header if "HYPERLINK" in h]
    assert evil and all(h.startswith("'=") for h in evil)
    xlsx = tmp_path / "wide.xlsx"
    assert (
        invoke("results", "--db", db_url, "--wide", "--format", "xlsx", "--out", xlsx).exit_code
        == 0
    )
    cells = [
        c
        for c in next(load_workbook(xlsx).active.iter_rows(max_row=1))
        if "HYPERLINK" in str(c.value)
    ]
    assert cells and all(c.data_type == "s" and c.value.startswith("'=") for c in cells)


def test_a_study_id_typed_on_the_command_line_is_read_in_its_normal_form(db_with_a):
    out = invoke("history", "\uff21\uff2d\uff2c-004", "--db", db_with_a, "--json")
    assert out.exit_code == 0, out.output
    assert {e["study_id"] for e in json.loads(out.stdout)} == {"AML-004"}
    assert {r["study_id"] for r in results_rows(db_with_a, "--study-id", " AML-004 ")} == {
        "AML-004"
    }
    out = invoke("results", "--db", db_with_a, "--study-id", "AML-\u200b004")
    assert out.exit_code == 2 and "U+200B ZERO WIDTH SPACE" in out.output
