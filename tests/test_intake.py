"""One intake for ``process`` and ``batch`` (il6assay.study.plate_intake): the same export with
the same options and il6assay.toml gives the same run folder from both commands, byte for
byte but for the documented volatile fields (docs/architecture.md, "One intake").

Each test stands in a project folder with its il6assay.toml and runs the commands a user
types (click's CliRunner), ``batch`` both one plate at a time (``--jobs 1``) and with
forked workers (``--jobs 2``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.record.audit import LINK_KEYS
from tests import pg
from tests.conftest import EXAMPLE, LAYOUTS, run_dirs
from tests.db_support import made_study_db

EXPORT = "plate_001.xlsx"
# Every option process takes that an absorbance plate can use (--ratio is TR-FRET's).
EVERY_OPTION = (
    "--reader", "grid", "--plate", "plate_001", "--read", "450", "--reference", "570",
    "--model", "5pl", "--zero-standard", "subtract", "--rules", "kit",
    "--fit-standards", "means", "--allow-unmatched", "--standalone-report",
    "--lang", "zh-CN", "--by", "Lin",
)  # fmt: skip


def il6(*args: str | Path) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (the working folder): the example plate and its sample sheet in day/,
    a sheet layout and the weighting's k named by il6assay.toml; no $IL6ASSAY_DB."""
    folder = tmp_path / "project"
    (folder / "day").mkdir(parents=True)
    shutil.copy(EXAMPLE / EXPORT, folder / "day" / EXPORT)
    shutil.copy(EXAMPLE / "plate_001.samples.csv", folder / "day" / "plate_001.samples.csv")
    shutil.copy(LAYOUTS / "il6_96_standard.xlsx", folder / "standard.xlsx")
    (folder / "il6assay.toml").write_text(
        'layout = "standard.xlsx"\nk_od = 0.02\nweighting = "1/(k^2+y^2)"\n', encoding="utf-8"
    )
    monkeypatch.delenv("IL6ASSAY_DB", raising=False)
    monkeypatch.chdir(folder)
    return folder


def _volatile_set_aside(folder: Path) -> dict[str, bytes | object]:
    """Every file of a run folder by its path: bytes, but for the documented volatile fields
    (run.json's ``created_utc``; each audit entry's ``time_utc`` and chain links)."""
    files: dict[str, bytes | object] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name == "run.json":
            doc = json.loads(path.read_text(encoding="utf-8"))
            assert doc.pop("created_utc")
            files[name] = doc
        elif name == "audit.jsonl":
            entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            for entry in entries:
                assert entry.pop("time_utc")
                for key in LINK_KEYS:
                    entry.pop(key, None)
            files[name] = entries
        else:
            files[name] = path.read_bytes()
    return files


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_process_and_batch_with_every_option_give_the_same_run_folder(project, jobs):
    processed = il6("process", Path("day") / EXPORT, "--out", "p", *EVERY_OPTION)
    assert processed.exit_code in (0, 3), processed.output
    batched = il6("batch", "day", "--out", "b", "--jobs", jobs, *EVERY_OPTION)
    assert batched.exit_code == processed.exit_code, batched.output
    (p,), (b,) = run_dirs(project / "p"), run_dirs(project / "b")
    assert p.name == b.name  # the same inputs and settings: the same run id
    p_files, b_files = _volatile_set_aside(p), _volatile_set_aside(b)
    assert sorted(p_files) == sorted(b_files)
    for name in p_files:
        assert p_files[name] == b_files[name], name
    run = p_files["run.json"]
    assert isinstance(run, dict)
    settings = run["settings"]  # every option and setting reached the run, in both
    assert (settings["model"], settings["zero_standard"], settings["rules"]) == (
        "5pl",
        "subtract",
        "kit",
    )
    assert (settings["fit_standards"], settings["k_od"], settings["plate"]) == (
        "means",
        0.02,
        "plate_001",
    )
    assert (settings["read"], settings["reference"]) == ("450", "570")
    assert run["report"] == {"plotly_js": "embedded", "lang": "zh-CN"}
    assert run["processed_by"] == "Lin" and run["allow_unmatched"] is True
    assert run["inputs"]["layout"][0]["copy"] == "inputs/layout/standard.xlsx"
    # standalone: process wrote no shared plotly.js beside the run folder
    assert [x.name for x in (project / "p").iterdir()] == [p.name]


def _study(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    """A fresh study database on the test's backend, made by db upgrade (on SQLite a copy of
    one made once per session, tests/db_support.py)."""
    if request.param == "sqlite":
        return made_study_db(tmp_path / f"{name}.db")
    url = pg.database_url(request)
    made = il6("db", "upgrade", "--db", url)
    assert made.exit_code == 0, made.output
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def two_studies(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """Two empty study databases alike (one for each command), on either backend."""
    return _study(request, tmp_path, "p"), _study(request, tmp_path, "b")


def test_with_a_study_database_process_and_batch_judge_and_record_a_plate_alike(
    project, two_studies
):
    p_db, b_db = two_studies
    targets = '[control_targets.low]\nmean = 8.0\nsd = 1.0\nsource = "certificate"\n'
    toml = project / "il6assay.toml"
    # batch's database from il6assay.toml, process's from --db (over il6assay.toml's)
    toml.write_text(f"db = {json.dumps(b_db)}\n" + toml.read_text() + targets, encoding="utf-8")
    processed = il6("process", Path("day") / EXPORT, "--out", "p", "--db", p_db, "--lang", "zh-CN")
    batched = il6("batch", "day", "--out", "b", "--jobs", "2", "--lang", "zh-CN")
    assert processed.exit_code == batched.exit_code == 3, (processed.output, batched.output)
    (p,), (b,) = run_dirs(project / "p"), run_dirs(project / "b")
    assert _volatile_set_aside(p) == _volatile_set_aside(b)
    curve = json.loads((p / "curve.json").read_text(encoding="utf-8"))
    (rule,) = [r for r in curve["rules"] if r["id"] == "WESTGARD"]
    assert rule["passed"] is False and "1-3s (low)" in rule["detail"]
    from il6assay.db.engine import make_engine
    from il6assay.study.store import load_qc

    for url in (p_db, b_db):  # each command recorded its run in its own database
        assert [q.run_id for q in load_qc(make_engine(url))] == [p.name]


def test_a_plate_an_option_cannot_find_is_the_same_one_line_error_from_process_and_batch(
    project,
):
    processed = il6("process", Path("day") / EXPORT, "--out", "p", "--plate", "plate_9")
    assert processed.exit_code == 2
    batched = il6("batch", "day", "--out", "b", "--jobs", "1", "--plate", "plate_9", "--json")
    assert batched.exit_code == 2
    (outcome,) = json.loads(batched.stdout)
    assert outcome["status"] == "unreadable"
    error = f"day/{EXPORT}: no plate 'plate_9' in the export (plates: plate_001)"
    assert processed.stderr.strip() == f"il6assay: {error}"
    assert outcome["error"] == error
    assert run_dirs(project / "b") == [] and not (project / "p").exists()


def test_both_commands_take_each_plate_through_the_one_intake(project, monkeypatch):
    from il6assay.study import plate_intake

    seen: list[str] = []
    real_process, real_write = plate_intake.process, plate_intake.write

    def process(intake, plate):
        seen.append(f"process {plate.run_id}")
        return real_process(intake, plate)

    def write(intake, run, **kwargs):
        seen.append(f"write {run.run_id}")
        return real_write(intake, run, **kwargs)

    monkeypatch.setattr(plate_intake, "process", process)
    monkeypatch.setattr(plate_intake, "write", write)
    assert il6("process", Path("day") / EXPORT, "--out", "p").exit_code == 0
    assert il6("batch", "day", "--out", "b", "--jobs", "1").exit_code == 0
    (p,), (b,) = run_dirs(project / "p"), run_dirs(project / "b")
    assert seen == [f"process {p.name}", f"write {p.name}", f"process {b.name}", f"write {b.name}"]
