"""Pushing accepted runs to the study database, reading them back: on SQLite and PostgreSQL.

Every test here runs against both backends (a real PostgreSQL server started
once per session, tests/pg.py); nothing is mocked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from il6assay.cli import main
from il6assay.db import push as push_module
from il6assay.db.engine import make_engine
from il6assay.db.models import SUPERSEDED, DbAudit, DbResult, DbRun, DbWell
from il6assay.db.push import push_runs
from il6assay.errors import InputError
from tests import pg
from tests.conftest import ROOT
from tests.db_support import copy_run, count, run_folder, snapshot


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file in tmp_path, or a fresh database on the session's server."""
    if request.param == "sqlite":
        return str(tmp_path / "study.db")
    return pg.database_url(request)


def invoke(*args: str | Path) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def results_rows(url: str, *extra: str) -> list[dict]:
    out = invoke("results", "--db", url, "--format", "json", *extra)
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


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
    assert len(out.output.strip().splitlines()) == 1
    assert snapshot(make_engine(db_url)) == before


def test_unaccepted_run_among_several_stops_the_push_before_any_is_written(db_url):
    invoke("db", "upgrade", "--db", db_url)
    before = snapshot(make_engine(db_url))
    out = invoke("push", run_folder("a"), run_folder("unreviewed"), "--db", db_url)
    assert out.exit_code == 2
    assert snapshot(make_engine(db_url)) == before


def test_repush_of_the_same_run_is_a_no_op_that_says_so(db_url):
    assert invoke("push", run_folder("a"), "--db", db_url).exit_code == 0
    before = snapshot(make_engine(db_url))
    out = invoke("push", run_folder("a"), "--db", db_url)
    assert out.exit_code == 0
    assert "already in the database; nothing changed" in out.output
    assert snapshot(make_engine(db_url)) == before


def test_reassay_without_supersede_is_refused_and_changes_nothing(db_url):
    assert invoke("push", run_folder("a"), "--db", db_url).exit_code == 0
    before = snapshot(make_engine(db_url))
    out = invoke("push", run_folder("a_reassay"), "--db", db_url)
    assert out.exit_code == 2
    assert "--supersede --reason" in out.output
    assert snapshot(make_engine(db_url)) == before
    out = invoke("push", run_folder("a_reassay"), "--db", db_url, "--supersede")
    assert out.exit_code == 2 and "needs a reason" in out.output
    assert snapshot(make_engine(db_url)) == before


def test_supersede_keeps_the_old_value_and_the_reason(db_url):
    assert invoke("push", run_folder("a"), "--db", db_url).exit_code == 0
    old = {(r["study_id"], r["visit"]): r for r in results_rows(db_url)}
    reason = "re-assayed unweighted after a pipetting error"
    out = invoke("push", run_folder("a_reassay"), "--db", db_url, "--supersede", "--reason", reason)
    assert out.exit_code == 0, out.output
    assert f"superseding {n_results('a')}" in out.output
    new = results_rows(db_url)
    assert len(new) == n_results("a")  # still one current row per study ID and visit
    assert {r["run_id"] for r in new} == {run_folder("a_reassay").name}
    engine = make_engine(db_url)
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
    history = invoke("history", "AML-004", "--db", db_url, "--json")
    assert history.exit_code == 0, history.output
    entries = [e for e in json.loads(history.output) if e["visit"] == "D0"]
    assert [e["status"] for e in entries] == ["superseded", "current"]
    assert entries[0]["supersede_reason"] == reason
    assert entries[0]["result"] == old[("AML-004", "D0")]["result"]
    text_out = invoke("history", "AML-004", "--db", db_url).output
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
    assert snapshot(make_engine(db_url)) == {}  # no schema, no rows: nothing written


def test_study_id_spelled_two_ways_in_the_sample_sheet_is_refused(db_url):
    out = invoke("push", run_folder("two_spellings"), "--db", db_url)
    assert out.exit_code == 2
    assert "spelled two ways" in out.output and "'aml-001'" in out.output
    assert len(out.output.strip().splitlines()) == 1


def test_study_id_spelled_differently_from_the_database_is_refused(db_url, tmp_path):
    assert invoke("push", run_folder("a"), "--db", db_url).exit_code == 0
    before = snapshot(make_engine(db_url))
    # two_spellings' own check would fire first; check the database rule directly
    from il6assay.db.push import check_spellings

    check_spellings(["AML-001", "AML-002"])
    with Session(make_engine(db_url)) as session, pytest.raises(InputError, match="stored"):
        push_module._check_against_database(session, [{"study_id": "aml-001 "}])
    assert snapshot(make_engine(db_url)) == before


def test_results_are_one_row_per_study_id_and_visit_and_wide_by_visit(db_url, tmp_path):
    assert invoke("push", run_folder("a"), "--db", db_url).exit_code == 0
    rows = results_rows(db_url)
    keys = [(r["study_id"], r["visit"]) for r in rows]
    assert len(keys) == len(set(keys))
    one = results_rows(db_url, "--study-id", "AML-001")
    assert {r["study_id"] for r in one} == {"AML-001"}
    wide = json.loads(invoke("results", "--db", db_url, "--wide", "--format", "json").output)
    assert len(wide) == len({r["study_id"] for r in rows})
    first = next(w for w in wide if w["study_id"] == "AML-001")
    visits = {r["visit"] for r in one}
    assert all(f"{v}_result" in first and f"{v}_run_id" in first for v in visits)
    csv_out = invoke("results", "--db", db_url)
    assert csv_out.output.splitlines()[0].startswith("study_id,visit,result,conc_pg_ml")
    xlsx = tmp_path / "results.xlsx"
    out = invoke("results", "--db", db_url, "--format", "xlsx", "--out", xlsx)
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


def test_database_named_by_environment_variable_or_default_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("push", run_folder("a")).exit_code == 0
    assert (tmp_path / "il6assay.db").is_file()
    monkeypatch.setenv("IL6ASSAY_DB", str(tmp_path / "other.db"))
    assert invoke("push", run_folder("b")).exit_code == 0
    assert {r["study_id"][:5] for r in results_rows(str(tmp_path / "other.db"))} == {"AML-1"}


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
        assert out.output.startswith("il6assay: cannot use database postgresql+psycopg://il6:***@")
        assert "secret" not in out.output
        assert len(out.output.strip().splitlines()) == 1


def test_missing_sqlite_database_is_not_created_by_reading(tmp_path):
    out = invoke("results", "--db", tmp_path / "none.db")
    assert out.exit_code == 2 and "no database at" in out.output
    assert not (tmp_path / "none.db").exists()
