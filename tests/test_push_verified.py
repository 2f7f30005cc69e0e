"""Push verifies numbers once: the study database remembers what it verified (issue 27, item 3).

A run folder's report and workbook are a pure function of the run processed
again from its inputs (rendering twice gives the same bytes); a run verified
once (by ``push`` or ``verify --db``) is remembered in ``verified_runs``, keyed
by its inputs, settings and tools and the run.json it found true, and is not
processed again; a folder changed after that is not the folder remembered,
and is processed and compared again, renderings included. Every command is
run as a user types it, against SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from il6assay.cli import main
from il6assay.record import verify
from tests.conftest import EXAMPLE, run_dirs
from tests.db_support import upgraded_db
from tests.test_integrity import rehash_everything


def cli(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plate processed and accepted once per module (copied by each test)."""
    out = tmp_path_factory.mktemp("accepted") / "runs"
    assert cli("process", EXAMPLE / "plate_001.xlsx", "--out", out).exit_code == 0
    (folder,) = run_dirs(out)
    assert cli("review", folder, "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0
    return folder


@pytest.fixture
def run(accepted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the accepted run (shared plotly.js beside it), nothing cached."""
    monkeypatch.setattr(verify, "_cache", {})  # every verification in this process is fresh
    dest = tmp_path / "runs" / accepted.name
    shutil.copytree(accepted.parent, dest.parent)
    return dest


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, upgraded study database: a SQLite file, or one on the session's PostgreSQL."""
    return upgraded_db(request, tmp_path, by_cli=True)


def verified_rows(url: str) -> list:
    """The study database's verified_runs rows."""
    from sqlalchemy.orm import Session

    from il6assay.db.engine import make_engine
    from il6assay.db.models import DbVerifiedRun

    engine = make_engine(url, must_exist=True)
    with Session(engine) as session:
        rows = session.scalars(select(DbVerifiedRun)).all()
        session.expunge_all()
    engine.dispose()
    return list(rows)


def never_processed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make processing again from inputs/ fail loudly: what follows must not need it."""

    def refuse(folder):
        raise AssertionError(f"{folder.path.name} was processed again")

    monkeypatch.setattr(verify, "_recompute", refuse)


def test_rendering_twice_from_the_same_recomputed_run_gives_the_same_bytes(run, tmp_path):
    from il6assay.record.folder import open_run, reprocess
    from il6assay.record.outputs import render_outputs
    from il6assay.settings import Settings

    folder = open_run(run)
    again = reprocess(folder, Settings.from_dict(folder.record["settings"]))
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        out.mkdir()
        render_outputs(again, out, report=True)
    for name in ("results.csv", "dilutions.csv", "wells.csv", "curve.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
        assert (first / name).read_bytes() == (run / name).read_bytes(), name
    # The report: the same bytes but for plotly's random element ids.
    report = [verify._report_text((d / "report.html").read_bytes()) for d in (first, second, run)]
    assert report[0] == report[1] == report[2]
    # The workbook: every part the same but docProps/core.xml (its creation time).
    with zipfile.ZipFile(first / "results.xlsx") as a, zipfile.ZipFile(run / "results.xlsx") as b:
        assert a.namelist() == b.namelist()
        for part in a.namelist():
            if part != "docProps/core.xml":
                assert a.read(part) == b.read(part), part


def test_a_run_verified_with_db_is_pushed_without_processing_it_again(run, db_url, monkeypatch):
    out = cli("verify", run, "--db", db_url)
    assert out.exit_code == 0 and "recomputed from inputs/: same results" in out.output
    (row,) = verified_rows(db_url)
    assert row.run_id == run.name and row.verified_for == "verify"
    assert (
        json.loads(row.outputs_sha256)
        == json.loads((run / "run.json").read_text())["outputs_sha256"]
    )
    never_processed(monkeypatch)
    again = cli("verify", run, "--db", db_url)
    assert again.exit_code == 0 and "not processed again" in again.output
    pushed = cli("push", run, "--db", db_url, "--by", "Lin")
    assert pushed.exit_code == 0 and "pushed 32 result(s)" in pushed.output
    assert len(verified_rows(db_url)) == 1  # remembered once
    chain = cli("db", "verify", "--db", db_url)
    assert chain.exit_code == 0 and "chain intact" in chain.output  # the record is chained


def test_a_run_pushed_once_is_not_processed_again_by_a_second_push(run, db_url, monkeypatch):
    assert cli("push", run, "--db", db_url, "--by", "Lin").exit_code == 0
    (row,) = verified_rows(db_url)
    assert row.verified_for == "push"
    never_processed(monkeypatch)
    again = cli("push", run, "--db", db_url, "--by", "Lin")
    assert again.exit_code == 0 and "already in the database; nothing changed" in again.output


def test_a_refused_push_remembers_nothing(accepted, tmp_path, db_url):
    out = tmp_path / "runs"
    assert cli("process", EXAMPLE / "plate_001.xlsx", "--out", out).exit_code == 0
    (unreviewed,) = run_dirs(out)
    refused = cli("push", unreviewed, "--db", db_url)
    assert refused.exit_code == 2 and "not accepted by review" in refused.stderr
    assert verified_rows(db_url) == []


def test_an_edited_report_fails_push_by_its_hash_after_verify(run, db_url):
    assert cli("verify", run, "--db", db_url).exit_code == 0
    report = run / "report.html"
    report.write_text(report.read_text(encoding="utf-8").replace("AML-005", "AML-055", 1))
    out = cli("push", run, "--db", db_url)
    assert out.exit_code == 2
    assert "report.html was changed after processing (its SHA-256 no longer matches" in out.stderr


def test_a_report_edited_with_every_hash_recomputed_is_processed_and_compared_again(run, db_url):
    assert cli("verify", run, "--db", db_url).exit_code == 0
    report = run / "report.html"
    report.write_text(report.read_text(encoding="utf-8").replace("AML-005", "AML-055", 1))
    rehash_everything(run)  # run.json is no longer the one remembered: no shortcut
    assert cli("status", run).exit_code == 0  # every hash and link agrees
    out = cli("push", run, "--db", db_url)
    assert out.exit_code == 2 and "report.html differs from what processing writes" in out.stderr
    assert len(verified_rows(db_url)) == 1  # only the untouched folder's verification


def test_a_run_processed_with_the_study_database_is_pushed_without_processing_it_again(
    tmp_path, db_url, monkeypatch
):
    monkeypatch.setenv("IL6ASSAY_DB", db_url)  # the study database process records into
    monkeypatch.setattr(verify, "_cache", {})
    out = tmp_path / "runs"
    assert cli("process", EXAMPLE / "plate_001.xlsx", "--out", out).exit_code == 0
    (folder,) = run_dirs(out)
    (row,) = verified_rows(db_url)
    assert row.run_id == folder.name and row.verified_for == "process"
    assert cli("review", folder, "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0
    never_processed(monkeypatch)
    checked = cli("verify", folder, "--db", db_url)
    assert checked.exit_code == 0 and "made from inputs/ on" in checked.output
    pushed = cli("push", folder, "--db", db_url, "--by", "Lin")
    assert pushed.exit_code == 0 and "pushed 32 result(s)" in pushed.output
