"""One typed door to a run folder, and commands given what a shell glob over a results folder gives.

``il6assay.record.folder.RunFolder`` parses run.json, curve.json, the tables and
the audit log once, checked; nothing else in the package opens run.json,
curve.json or results.csv for reading (a source scan, with its justified
exceptions). Every command taking RUN_DIR... is run as a user types it over a
results folder written by ``batch``: the shared files are skipped with a note.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.errors import InputError
from il6assay.record.folder import open_run, read_run
from il6assay.record.masking import changes_between
from il6assay.record.results_folder import SHARED_FILES, shared_file
from il6assay.record.schema import unguarded
from tests.conftest import EXAMPLE, ROOT, run_dirs

PACKAGE = ROOT / "il6assay"
IL6ASSAY = Path(sys.executable).parent / "il6assay"


def il6(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def batch_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder as ``batch`` leaves it: two runs, plotly.js, index.html, the lock."""
    out = tmp_path_factory.mktemp("batch") / "runs"
    done = il6("batch", EXAMPLE, "--out", out, "--jobs", "1")
    assert done.exit_code == 3, done.output  # plate_002 fails the acceptance rules
    return out


@pytest.fixture
def results(batch_folder: Path, tmp_path: Path) -> Path:
    """A fresh copy of the results folder, for a test that changes it."""
    copy = tmp_path / "runs"
    shutil.copytree(batch_folder, copy)
    return copy


def globbed(folder: Path) -> list[str]:
    """What the shell gives for ``folder/*``: every entry but hidden ones, sorted."""
    return sorted(str(p) for p in folder.iterdir() if not p.name.startswith("."))


# --- the typed door ---


def test_a_run_folder_is_parsed_once_into_typed_frozen_values(batch_folder):
    (first, _) = run_dirs(batch_folder)
    folder = open_run(first)
    record = folder.record
    assert record.run_id == first.name and record.export.plate_id == "plate_001"
    assert record.review.status == "unreviewed" and record.accepted is True
    assert record.report is not None and not record.report.embedded
    assert record.input_copy("samples").copy.startswith("inputs/samples/")
    with pytest.raises(dataclasses.FrozenInstanceError):  # and every other change
        record.verdict = "accepted"  # type: ignore[misc]
    with pytest.raises(TypeError):
        record.settings["masked"] = ["B4"]  # type: ignore[index]
    with pytest.raises(TypeError):
        record["verdict"] = "accepted"
    raw = record.raw  # for writing: a copy, the record unchanged
    raw["review"]["status"] = "accepted"
    assert record.review.status == "unreviewed" and record["review"]["status"] == "unreviewed"
    on_disk = json.loads((first / "run.json").read_text(encoding="utf-8"))
    assert record.raw == on_disk and dict(record) == on_disk
    assert json.loads(json.dumps(record)) == on_disk  # still run.json's dict, for old callers
    # curve.json and the tables: parsed on first use, then the same objects.
    assert folder.curve is folder.curve and folder.results is folder.results
    assert folder.curve.lloq_pg_ml == on_disk_curve(first)["lloq_pg_ml"]
    assert folder.curve.raw == on_disk_curve(first)
    assert [r["sample"] for r in folder.results][:2] == ["P01", "P02"]
    assert len(folder.wells) == 96 and folder.audit[0]["action"] == "process"


def on_disk_curve(folder: Path) -> dict:
    return json.loads((folder / "curve.json").read_text(encoding="utf-8"))


def test_a_malformed_curve_json_is_one_line_naming_the_file_and_key(results):
    (first, _) = run_dirs(results)
    doc = on_disk_curve(first)
    doc["accepted"] = "yes"
    (first / "curve.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError, match=r"curve\.json is malformed: accepted should be true or"):
        _ = read_run(first).curve
    (first / "curve.json").write_text("{", encoding="utf-8")
    with pytest.raises(InputError, match=r"curve\.json is not valid JSON"):
        _ = read_run(first).curve


def test_a_results_table_without_its_columns_is_refused_naming_the_column(results):
    (first, _) = run_dirs(results)
    (first / "results.csv").write_text("sample,result\nP01,<4.69\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"results\.csv is malformed: it has no column study_id"):
        _ = read_run(first).results


def test_a_cell_guarded_against_a_spreadsheet_formula_is_read_as_it_was_meant():
    assert unguarded("'=HYPERLINK(1)") == "=HYPERLINK(1)" and unguarded("'-5") == "-5"
    assert unguarded("'quoted") == "'quoted" and unguarded(None) == "" and unguarded("'") == "'"


def test_masking_reads_the_run_once_and_records_what_it_writes_without_reading_it_back(
    results, monkeypatch
):
    (first, _) = run_dirs(results)
    before = results.parent / "before"
    shutil.copytree(first, before)
    reads: list[Path] = []
    real_open = io.open

    def watching(file, mode="r", *args, **kwargs):
        # Read as text (parsed); the writer hashing each file it wrote ("rb") is no read-back.
        if Path(str(file)).name in ("run.json", "curve.json", "results.csv") and mode in "rt":
            reads.append(Path(str(file)))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", watching)
    done = il6("mask", first, "--well", "E4", "--reason", "bubble", "--by", "Lin")
    monkeypatch.undo()
    assert done.exit_code == 0, done.output
    assert not [p for p in reads if p.parent != first]  # nothing read in the new folder
    assert [p.name for p in reads].count("curve.json") == 1  # reprocess and snapshot share it
    assert [p.name for p in reads].count("results.csv") == 1
    # What the audit says changed is what the folders hold, read from disk afterwards.
    entry = open_run(first).audit[-1]
    assert entry["action"] == "mask" and entry["changes"]
    assert entry["changes"] == changes_between(before, first)  # both folders read from disk
    assert entry["outputs_sha256"] == open_run(first).record.outputs_sha256


# Functions outside record/folder.py and record/schema.py that may name run.json, curve.json or
# results.csv beside a read, each with why.
ALLOWED_READERS = {
    ("record/verify.py", "_compare_record"): "reads the scratch folder's run.json it just "
    "rendered to compare with the recorded one (a scratch folder is no run folder)",
    ("record/verify.py", "_compare_curve"): "compares curve.json's bytes with the recomputed "
    "file's, and parses the scratch copy; the recorded one comes from RunFolder.curve",
    ("record/repair.py", "_history_held"): "reads a set-aside copy's audit.jsonl bytes; of "
    "run.json it only asks whether it exists",
}


def test_no_module_but_the_run_folder_opens_run_json_curve_json_or_results_csv():
    names = {"run.json", "curve.json", "results.csv"}
    reads = {"read_text", "read_bytes", "open", "DictReader", "reader", "load", "loads"}
    found = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in ("record/folder.py", "record/schema.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            nodes = list(ast.walk(fn))
            named = any(isinstance(n, ast.Constant) and n.value in names for n in nodes) or any(
                isinstance(n, ast.Name) and n.id in ("RECORD_FILE", "CURVE_FILE") for n in nodes
            )
            calls = {
                n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
                for n in nodes
                if isinstance(n, ast.Call)
            }
            if named and calls & reads:
                found.add((rel, fn.name))
    assert found == set(ALLOWED_READERS)


# --- shell globs over a results folder ---


def test_every_file_batch_leaves_beside_its_runs_is_a_known_shared_file(batch_folder):
    others = [p for p in batch_folder.iterdir() if not (p / "run.json").is_file()]
    assert {p.name for p in others} >= {"index.html", ".il6assay-batch.lock"}
    assert [p.name for p in others if shared_file(p) is None] == []
    assert len(SHARED_FILES) == len({pattern for pattern, _, _ in SHARED_FILES})
    from il6assay.study.batch import LOCK_FILE

    assert shared_file(batch_folder / LOCK_FILE) == "the batch lock"


def test_review_over_a_shell_glob_reviews_every_run_and_notes_each_shared_file(results):
    """Typed in a shell: ``il6assay review runs/* --reject ...``, the shell expanding the glob."""
    done = subprocess.run(
        f"{IL6ASSAY} review runs/* --reject --by Lin --reason 'control drift'",
        shell=True,
        cwd=results.parent,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "skipped" in line]
    assert len(notes) == 2, done.stderr
    assert any(line.startswith("runs/plotly-") and "shared plotly.js" in line for line in notes)
    assert any(line.startswith("runs/index.html: skipped") for line in notes)
    assert all(open_run(p).record.review.status == "rejected" for p in run_dirs(results))


def test_status_verify_mask_unmask_and_repair_take_a_glob_expanded_list(results):
    args = globbed(results)
    assert len(args) == 4  # two runs, plotly.js, index.html
    status = il6("status", *args)
    assert status.exit_code == 0, status.output
    assert status.stdout.count("rules:") == 2 and status.stderr.count("skipped") == 2
    verify = il6("verify", *args)
    assert verify.exit_code == 0 and verify.stdout.count(": verified") == 2, verify.output
    for action in ("mask", "unmask"):
        done = il6(action, *args, "--well", "E4", "--reason", "bubble?", "--by", "Lin")
        assert done.exit_code == 3, done.output  # plate_002 still fails the acceptance rules
        assert done.stderr.count("skipped") == 2 and done.stderr.count("refitted") == 2
        assert [open_run(p).audit[-1]["action"] for p in run_dirs(results)] == [action] * 2
    repaired = il6("repair", *args, "--by", "Lin")
    assert repaired.exit_code == 0, repaired.output
    assert repaired.stderr.count("nothing to repair") == 2 and repaired.stderr.count("skipped") == 2
    # validate reads accepted runs only: it gets to the runs, past the shared files.
    validated = il6("validate", *args, "--out", results.parent / "validation")
    assert validated.exit_code == 2 and validated.stderr.count("skipped") == 2
    assert "not accepted: validation uses accepted runs only" in validated.stderr


def test_push_takes_a_glob_expanded_list_of_accepted_runs(results, tmp_path):
    db = tmp_path / "study.db"
    assert il6("db", "upgrade", "--db", db).exit_code == 0
    args = globbed(results)
    accepted = il6(
        "review", *args, "--accept", "--override", "--by", "Lin", "--reason", "study decision"
    )
    assert accepted.exit_code == 0, accepted.output
    # The example's two plates hold the same specimens: the second is a re-assay of them.
    pushed = il6("push", *args, "--db", db, "--by", "Lin", "--supersede", "--reason", "re-assay")
    assert pushed.exit_code == 0, pushed.output
    assert pushed.stdout.count(": pushed 32 result(s)") == 2, pushed.output
    assert pushed.stderr.count("skipped") == 2


def test_a_path_that_is_neither_a_run_nor_a_shared_file_is_one_line_exit_2(results):
    (results / "notes.txt").write_text("bench notes", encoding="utf-8")
    done = il6("status", *globbed(results))
    assert done.exit_code == 2
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("il6assay:")]
    assert "notes.txt" in line and "neither a run folder nor a file il6assay shares" in line
    only_shared = il6("review", results / "index.html", "--reject", "--by", "Lin", "--reason", "x")
    assert only_shared.exit_code == 2 and "no run folder named" in only_shared.stderr


def test_the_review_apps_change_journal_a_review_writes_is_a_known_shared_file(results):
    from il6assay.record.results_folder import shared_file

    runs = run_dirs(results)
    done = il6("review", runs[0], "--reject", "--by", "Lin", "--reason", "bubbles")
    assert done.exit_code == 0, done.output
    journal = results / ".il6assay-changes"
    assert journal.is_file() and shared_file(journal) == "the review app's journal of changed runs"
    status = il6("status", *runs, journal)  # as a glob that takes dot files gives them
    assert status.exit_code == 0 and "skipped" in status.stderr, status.output
