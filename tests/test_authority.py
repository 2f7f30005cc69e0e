"""The study database decides what is stored; a run folder cannot set its own checks (issue 21).

Each test is one way a red team got a plate stored that should not have been,
done as a user types it (the ``il6assay`` command), with the input that broke
it: a Westgard rejection lost by processing again without the database, an
edited ``version`` with a replaced input copy, a sample sheet with columns
il6assay ignores, decisions typed into a folder while the database holds
review accounts. Database cases run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from il6assay.cli import main
from il6assay.db.engine import make_engine
from il6assay.db.models import DbRun, DbSignature
from il6assay.db.read import current_results
from tests.conftest import EXAMPLE, run_dirs
from tests.db_support import upgraded_db
from tests.test_integrity import record, rehash_everything, write_record
from tests.web_support import PASSWORD, Client, accounts_copy, add_people, serving, sign_form

PLATE = EXAMPLE / "plate_001.xlsx"
SHEET = EXAMPLE / "plate_001.samples.csv"
REJECTING_TARGETS = {"low": (14.0, 1.5), "high": (130.0, 8.0)}  # the low control reads 20.3
_made: dict[str, Path] = {}


def cli(*args: str | Path, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


@pytest.fixture(autouse=True)
def no_configured_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test in its own working folder, no study database named unless it names one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IL6ASSAY_DB", raising=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, upgraded study database on either backend."""
    return upgraded_db(request, tmp_path, by_cli=True)


@pytest.fixture
def accounts(request: pytest.FixtureRequest, db_url: str) -> str:
    """The study database holding the lab's accounts (tech: Tang Hui, technician; lin and
    chen: reviewers), under the strict separation policy it starts with (on SQLite the empty
    copy replaced by one of a database made with them once per session)."""
    if not db_url.startswith("postgresql"):
        return accounts_copy(request, Path(db_url))
    add_people(make_engine(db_url))
    return db_url


def processed(name: str, tmp_path_factory: pytest.TempPathFactory, *args: str) -> Path:
    """The example plate processed once per session (``args`` added), as the technician."""
    if name not in _made:
        out = tmp_path_factory.mktemp(name) / "runs"
        made = cli("process", PLATE, "--out", out, "--by", "tech", *args)
        assert made.exit_code == 0, made.output
        (_made[name],) = run_dirs(out)
    return _made[name]


def copy_run(source: Path, target: Path) -> Path:
    """A private copy of a run folder (with the shared plotly.js beside it)."""
    shutil.copytree(source.parent, target / "runs")
    return target / "runs" / source.name


@pytest.fixture
def run(tmp_path_factory, tmp_path) -> Path:
    """An unreviewed run of the example plate, processed by the technician (tech)."""
    return copy_run(processed("plain", tmp_path_factory), tmp_path / "mine")


def signed(*args: str | Path):
    """An il6assay command whose account password comes from $PW."""
    return cli(*args, "--password-env", "PW", env={"PW": PASSWORD})


# --- Westgard: a rejection recorded for an export binds every run of it -------------------


def test_a_westgard_rejection_binds_the_same_export_processed_again_without_the_database(
    db_url, tmp_path, monkeypatch
):
    lab = tmp_path / "lab"
    lab.mkdir()
    monkeypatch.chdir(lab)  # its il6assay.toml names the study database and the targets
    lines = [f"db = {json.dumps(db_url)}"]
    for level, (mean, sd) in REJECTING_TARGETS.items():
        lines += [f"[control_targets.{level}]", f"mean = {mean}", f"sd = {sd}"]
    (lab / "il6assay.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejected = CliRunner().invoke(main, ["process", str(PLATE), "--out", str(lab / "runs")])
    assert rejected.exit_code == 3 and "WESTGARD" in rejected.output
    (first,) = run_dirs(lab / "runs")
    # The same export where no database is configured: the same run id, no Westgard rule.
    monkeypatch.chdir(tmp_path)
    again = cli("process", PLATE, "--out", tmp_path / "elsewhere")
    assert again.exit_code == 0, again.output
    (second,) = run_dirs(tmp_path / "elsewhere")
    assert second.name == first.name and record(second)["accepted"] is True
    assert cli("review", second, "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0
    refused = cli("push", second, "--db", db_url)
    assert refused.exit_code == 2, refused.output
    assert "recorded a Westgard rejection of this export" in refused.stderr
    assert current_results(make_engine(db_url)) == []
    # Processed again with the database, under targets the controls pass: still rejected.
    (lab / "il6assay.toml").write_text(f"db = {json.dumps(db_url)}\n", encoding="utf-8")
    monkeypatch.chdir(lab)
    rerun = CliRunner().invoke(
        main, ["process", str(PLATE), "--out", str(lab / "again"), "--weighting", "1/y"]
    )
    assert rerun.exit_code == 3, rerun.output
    (third,) = run_dirs(lab / "again")
    rule = next(
        r for r in json.loads((third / "curve.json").read_text())["rules"] if r["id"] == "WESTGARD"
    )
    assert rule["passed"] is False and f"run {first.name}" in rule["detail"]


# --- verification: nothing in the folder sets how strictly it is checked ------------------


def _swapped_sheet(path: Path) -> Path:
    """The example sheet with AML-005's and AML-001's study IDs swapped."""
    with SHEET.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index("study_id")
    ids = {"AML-001": "AML-005", "AML-005": "AML-001"}
    for row in rows[1:]:
        row[col] = ids.get(row[col], row[col])
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_an_edited_version_with_a_replaced_input_copy_is_found_and_not_pushed(
    run, db_url, tmp_path
):
    """The red team's case: another version string disarmed the run-id check, and AML-005
    was stored with another specimen's value, "reviewed by" a real reviewer."""
    forged = tmp_path / "forged"
    made = cli("process", PLATE, "--samples", _swapped_sheet(tmp_path / "s.csv"), "--out", forged)
    assert made.exit_code == 0
    (donor,) = run_dirs(forged)
    for name in ("results.csv", "dilutions.csv", "results.xlsx", "wells.csv", "curve.json"):
        shutil.copyfile(donor / name, run / name)
    copy = run / "inputs" / "samples" / SHEET.name
    copy.chmod(0o644)
    shutil.copyfile(donor / "inputs" / "samples" / "s.csv", copy)
    doc = record(run)
    doc["version"] = "0.1.9"
    write_record(run, doc)
    rehash_everything(run)
    out = cli("verify", run)
    assert out.exit_code == 1
    assert "is not the run id its input copies, settings and version (0.1.9) give" in out.output
    assert cli("review", run, "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0
    refused = cli("push", run, "--db", db_url)
    assert refused.exit_code == 2 and "(0.1.9) give" in refused.stderr
    assert current_results(make_engine(db_url)) == []


def test_an_edited_version_alone_is_found(run):
    doc = record(run)
    doc["version"] = "0.0.1"
    write_record(run, doc)
    rehash_everything(run)
    out = cli("verify", run)
    assert out.exit_code == 1 and "(0.0.1) give" in out.output


def test_another_version_still_compares_the_report_within_the_tolerance(run, monkeypatch):
    from il6assay.record import verify

    monkeypatch.setattr(verify, "__version__", "9.9.9")
    assert cli("verify", run).exit_code == 0
    report = run / "report.html"
    text = report.read_text(encoding="utf-8")
    assert "AML-005" in text
    report.write_text(text.replace("AML-005", "AML-055", 1), encoding="utf-8")
    rehash_everything(run)
    out = cli("verify", run)
    assert out.exit_code == 1 and "report.html differs" in out.output and "AML-055" in out.output


def test_a_sample_sheet_with_columns_il6assay_ignores_verifies_and_pushes(db_url, tmp_path):
    with SHEET.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    # Columns il6assay does not read (plate, purpose and collection_date it now does).
    rows[0] += ["freezer_box", "aliquot", "comment"]
    for row in rows[1:]:
        row += ["B7", "2", "thawed once"]
    sheet = tmp_path / "elsewhere" / "visit sheet.csv"
    sheet.parent.mkdir()
    with sheet.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    assert cli("process", PLATE, "--samples", sheet, "--out", tmp_path / "runs").exit_code == 0
    (folder,) = run_dirs(tmp_path / "runs")
    assert record(folder)["warnings"] == [
        "visit sheet.csv: ignored column(s) freezer_box, aliquot, comment (not stored)"
    ]
    assert cli("verify", folder).exit_code == 0
    assert cli("review", folder, "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0
    pushed = cli("push", folder, "--db", db_url)
    assert pushed.exit_code == 0, pushed.output
    assert len(current_results(make_engine(db_url))) > 0


# --- decisions live in the study database when it holds accounts -------------------------


def test_without_accounts_the_typed_review_works_and_says_it_is_single_user(run, db_url):
    out = cli("review", run, "--accept", "--by", "Lin", "--reason", "ok", "--db", db_url)
    assert out.exit_code == 0 and "single-user review: unsigned" in out.stderr
    pushed = cli("push", run, "--db", db_url)
    assert pushed.exit_code == 0 and "single-user review" in pushed.output


def test_a_signed_accept_by_another_reviewer_is_pushed_and_named(run, accounts):
    out = signed("review", run, "--accept", "--by", "lin", "--reason", "ok", "--db", accounts)
    assert out.exit_code == 0, out.output
    assert "signed by account lin and recorded in the study database" in out.stderr
    pushed = cli("push", run, "--db", accounts)
    assert pushed.exit_code == 0, pushed.output
    assert "accept signed by Lin Wei (lin)" in pushed.output
    with make_engine(accounts).connect() as conn:
        stored = conn.execute(select(DbRun.reviewed_by, DbRun.review_reason)).one()
        (signature,) = conn.execute(select(DbSignature.signed_utc, DbSignature.id)).all()
        pushed_by = conn.execute(select(DbRun.reviewed_utc)).scalar_one()
    assert tuple(stored) == ("Lin Wei", "ok") and pushed_by == signature[0]
    assert f"#{signature[1]}" in pushed.output


def test_a_wrong_password_signs_nothing(run, accounts):
    out = cli(
        "review", run, "--accept", "--by", "lin", "--reason", "ok", "--db", accounts,
        "--password-env", "PW", env={"PW": "not the password"},
    )  # fmt: skip
    assert out.exit_code == 2 and "user name or password not accepted" in out.stderr
    assert record(run)["review"]["status"] == "unreviewed"


def test_the_technician_cannot_process_review_and_push_when_accounts_exist(run, accounts):
    own = CliRunner().invoke(
        main,
        ["review", str(run), "--accept", "--by", "tech", "--reason", "ok", "--db", accounts],
        input=PASSWORD + "\n",  # asked for, as a person types it
    )
    assert "password of account tech" in own.stderr
    assert own.exit_code == 2 and "technician role cannot review runs" in own.stderr
    # A typed accept (no database named: single-user) does not count with the database.
    assert cli("review", run, "--accept", "--by", "tech", "--reason", "ok").exit_code == 0
    refused = cli("push", run, "--db", accounts)
    assert refused.exit_code == 2 and "no account has signed an accept" in refused.stderr
    assert current_results(make_engine(accounts)) == []


def test_a_reviewer_cannot_accept_a_run_they_processed(tmp_path_factory, tmp_path, accounts):
    mine = copy_run(processed("plain", tmp_path_factory), tmp_path / "mine")
    doc = record(mine)
    doc["processed_by"] = "lin"
    write_record(mine, doc)
    rehash_everything(mine)
    out = signed("review", mine, "--accept", "--by", "lin", "--reason", "ok", "--db", accounts)
    assert out.exit_code == 2 and "separation of duties" in out.stderr


def test_a_hand_written_signed_accept_in_the_folder_is_refused(run, accounts):
    from il6assay.record.review import review_run

    review_run(
        run, "accept", "Lin Wei", "ok",
        extra={"signed": True, "account": "lin", "signature": {"meaning": "approved"}},
    )  # fmt: skip
    refused = cli("push", run, "--db", accounts)
    assert refused.exit_code == 2 and "no account has signed an accept" in refused.stderr


def test_a_folder_restored_from_before_a_signed_rejection_is_refused_even_with_supersede(
    run, accounts, tmp_path
):
    backup = tmp_path / "backup"
    shutil.copytree(run.parent, backup)
    out = signed("review", run, "--reject", "--by", "chen", "--reason", "high CV", "--db", accounts)
    assert out.exit_code == 0, out.output
    shutil.rmtree(run.parent)
    shutil.copytree(backup, run.parent)  # the backup: unreviewed again
    assert cli("review", run, "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0
    refused = cli("push", run, "--db", accounts, "--supersede", "--reason", "restored")
    assert refused.exit_code == 2
    assert "Chen Yu (chen) signed a rejection of this run" in refused.stderr
    # Restored again and signed by another reviewer: the very content rejected stays rejected.
    shutil.rmtree(run.parent)
    shutil.copytree(backup, run.parent)
    again = signed("review", run, "--accept", "--by", "lin", "--reason", "ok", "--db", accounts)
    assert again.exit_code == 0, again.output
    refused = cli("push", run, "--db", accounts, "--supersede", "--reason", "restored")
    assert refused.exit_code == 2 and "signed a rejection of this very content" in refused.stderr
    assert current_results(make_engine(accounts)) == []


def test_a_rejection_signed_in_the_review_app_binds_a_restored_backup(run, accounts, tmp_path):
    """The red team's case: the web app's signed rejection, a backup from before it restored,
    a typed accept, then ``push --supersede``."""
    backup = tmp_path / "backup"
    shutil.copytree(run.parent, backup)
    with serving(make_engine(accounts), [run.parent]) as base:
        chen = Client(base)
        assert chen.login("chen").url.endswith("/queue")
        form = sign_form(chen.get(f"/runs/{run.name}").text)
        form.update(decision="reject", reason="low control drifts", password=PASSWORD)
        reply = chen.post(f"/runs/{run.name}/sign", form)
        assert reply.status == 200 and "signed: rejected by Chen Yu" in reply.text
    shutil.rmtree(run.parent)
    shutil.copytree(backup, run.parent)
    assert cli("review", run, "--accept", "--by", "Chen Yu", "--reason", "ok").exit_code == 0
    refused = cli("push", run, "--db", accounts, "--supersede", "--reason", "restored")
    assert refused.exit_code == 2 and "signed a rejection of this run" in refused.stderr
    with make_engine(accounts).connect() as conn:
        (export,) = conn.execute(select(DbSignature.export_sha256)).one()
    assert export == record(run)["inputs"]["export"][0]["sha256"]
    assert current_results(make_engine(accounts)) == []


def test_a_mask_typed_into_the_folder_does_not_count_with_accounts(run, accounts):
    typed = cli("mask", run, "--well", "B3", "--reason", "bubble", "--by", "Tang Hui")
    assert typed.exit_code == 0, typed.output
    out = signed("review", run, "--accept", "--by", "lin", "--reason", "ok", "--db", accounts)
    assert out.exit_code == 0, out.output
    refused = cli("push", run, "--db", accounts)
    assert refused.exit_code == 2 and "is not a mask the study database recorded" in refused.stderr


def test_a_signed_mask_counts_and_its_masker_may_not_accept_under_strict(run, accounts):
    masked = signed(
        "mask", run, "--well", "B3", "--reason", "bubble", "--by", "chen", "--db", accounts
    )
    assert masked.exit_code == 0, masked.output
    own = signed("review", run, "--accept", "--by", "chen", "--reason", "ok", "--db", accounts)
    assert own.exit_code == 2 and "separation of duties" in own.stderr
    out = signed("review", run, "--accept", "--by", "lin", "--reason", "ok", "--db", accounts)
    assert out.exit_code == 0, out.output
    pushed = cli("push", run, "--db", accounts)
    assert pushed.exit_code == 0, pushed.output
    with make_engine(accounts).connect() as conn:
        (sig,) = conn.execute(select(DbSignature.export_sha256)).all()
    assert sig[0] == record(run)["inputs"]["export"][0]["sha256"]


def test_a_named_database_that_cannot_be_opened_refuses_the_review(run, tmp_path):
    out = cli("review", run, "--accept", "--by", "lin", "--reason", "ok", "--db", tmp_path / "x.db")
    assert out.exit_code == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "no study database at" in out.stderr
    assert record(run)["review"]["status"] == "unreviewed"


def test_a_push_of_several_runs_stores_none_when_one_lacks_a_signed_accept(
    run, accounts, tmp_path_factory, tmp_path
):
    other = copy_run(processed("weighted", tmp_path_factory, "--weighting", "1/y"), tmp_path / "o")
    out = signed("review", run, "--accept", "--by", "lin", "--reason", "ok", "--db", accounts)
    assert out.exit_code == 0, out.output
    assert cli("review", other, "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0  # typed
    refused = cli("push", run, other, "--db", accounts)
    assert refused.exit_code == 2 and "no account has signed an accept" in refused.stderr
    assert other.name in refused.stderr
    with make_engine(accounts).connect() as conn:
        assert conn.execute(select(DbRun.id)).all() == []
