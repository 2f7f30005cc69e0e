"""The method profile (issue 24): adopted by a reviewer, enforced by `process`, checked by `push`.

A simulated validation study (tests/validation_support.py, built once for the
module) validates the range 8-280 pg/mL and dilutions 1:2 to 1:16; a
reviewer adopts it in a study database (SQLite and PostgreSQL); study plates
(fixtures/validation/study_plate*.layout.toml) are then processed with that
database configured, as a user types the commands.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from il6assay.cli import main
from tests.db_support import made_study_db
from tests.pg import backend_url
from tests.validation_support import QUIET, VALIDATION, build_study

PASSWORD = "correct horse battery staple"
SAMPLES = VALIDATION / "study_plate.samples.csv"
# On-plate truths: S01 between the plate's LLOQ (4.69) and the validated one (8).
ON_PLATE = {"S01": 6.0, "S02": 50.0, "S03": 50.0, "S04": 100.0}


@pytest.fixture(scope="module")
def validations(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two validation folders of one study: the plan's recovery limits differ (two profiles)."""
    root = tmp_path_factory.mktemp("profile-study")
    study = build_study(root)
    first, second = root / "validation-1", root / "validation-2"
    plan = root / "plan.toml"
    plan.write_text("recovery_pct = [75, 125]\nmrd = 2\n", encoding="utf-8")
    runs = [str(p) for p in study.runs]
    assert CliRunner().invoke(main, ["validate", *runs, "--out", str(first)]).exit_code == 0
    result = CliRunner().invoke(
        main, ["validate", *runs, "--plan", str(plan), "--out", str(second)]
    )
    assert result.exit_code == 0, result.stderr
    return first, second


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A study database holding a reviewer (boss) and a technician (tech), added by ``users
    add``; on SQLite a copy of one made once per session (tests/db_support.py)."""
    url = backend_url(request, tmp_path)
    if request.param == "sqlite":
        return made_study_db(
            Path(url), "boss and tech", lambda engine: add_users(engine.url.database)
        )
    result = CliRunner().invoke(main, ["db", "upgrade", "--db", url])
    assert result.exit_code == 0, result.output
    add_users(url)
    return url


def add_users(url: str) -> None:
    """``il6assay users add`` a reviewer (boss) and a technician (tech) to the database."""
    env = {"IL6ASSAY_PW": PASSWORD}
    for name, role, printed in (("boss", "reviewer", "Dr Boss"), ("tech", "technician", "A Tech")):
        args = ["users", "add", name, "--role", role, "--name", printed, "--db", url]
        args += ["--password-env", "IL6ASSAY_PW", "--by", "setup"]
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 0, result.output


def adopt(folder: Path, url: str, *extra: str, by: str = "boss"):
    return CliRunner().invoke(
        main,
        [
            "method",
            "adopt",
            str(folder),
            "--db",
            url,
            "--by",
            by,
            "--password-env",
            "IL6ASSAY_PW",
            *extra,
        ],
        env={"IL6ASSAY_PW": PASSWORD},
    )


def study_plate(tmp_path: Path, layout_name: str, seed: int = 7) -> tuple[Path, Path]:
    """A simulated study plate of ``layout_name`` written as a grid CSV export."""
    from il6assay.plate.layout import load_layout
    from il6assay.simulate import grid_text, simulate_plate

    layout_path = VALIDATION / layout_name
    layout = load_layout(layout_path)
    loaded = {
        spec.well: ON_PLATE[spec.sample]
        for spec in layout.wells.values()
        if spec.role == "sample" and spec.sample
    }
    sim = simulate_plate(layout, np.random.default_rng(seed), noise=QUIET, loaded=loaded)
    export = tmp_path / f"{layout_name.split('.')[0]}_{seed}.csv"
    export.write_text(grid_text(sim.plate), encoding="utf-8")
    return export, layout_path


def process(export: Path, layout: Path, out: Path, url: str | None):
    env = {"IL6ASSAY_DB": url} if url else {}
    result = CliRunner().invoke(
        main,
        [
            "process",
            str(export),
            "--layout",
            str(layout),
            "--samples",
            str(SAMPLES),
            "--out",
            str(out),
            "--json",
        ],
        env=env,
    )
    doc = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result, doc


def rows(doc: dict) -> dict[str, dict]:
    return {r["sample"]: r for r in doc["results"]}


def test_a_technician_cannot_adopt_and_a_wrong_password_is_refused(validations, db):
    result = adopt(validations[0], db, by="tech")
    assert result.exit_code == 2 and "admin or reviewer" in result.stderr
    wrong = CliRunner().invoke(
        main,
        [
            "method",
            "adopt",
            str(validations[0]),
            "--db",
            db,
            "--by",
            "boss",
            "--password-env",
            "PW2",
        ],
        env={"PW2": "not it"},
    )
    assert wrong.exit_code == 2 and "not accepted" in wrong.stderr
    show = CliRunner().invoke(main, ["method", "show", "--db", db])
    assert "no method profile adopted" in show.stdout


def test_an_edited_validation_json_is_refused_at_adoption(validations, db, tmp_path):
    import shutil

    folder = tmp_path / "edited"
    shutil.copytree(validations[0], folder)
    doc = json.loads((folder / "validation.json").read_text(encoding="utf-8"))
    doc["lloq"] = 4.0
    (folder / "validation.json").write_text(json.dumps(doc), encoding="utf-8")
    result = adopt(folder, db)
    assert result.exit_code == 2 and "lloq" in result.stderr and "validate again" in result.stderr


def test_a_plate_is_held_to_the_adopted_profile(validations, db, tmp_path):
    result = adopt(validations[0], db)
    assert result.exit_code == 0, result.stderr
    show = CliRunner().invoke(main, ["method", "show", "--db", db])
    assert "validated range 8-280 pg/mL" in show.stdout and "mid 60 ±20 % (required)" in show.stdout
    export, layout = study_plate(tmp_path, "study_plate.layout.toml")
    free, alone = process(export, layout, tmp_path / "alone", None)
    held, under = process(export, layout, tmp_path / "held", db)
    assert free.exit_code == 0 and held.exit_code == 0, held.stderr
    # Without a profile S01 (6 pg/mL on the plate) is a number; under it, <LLOQ at the validated 8.
    assert rows(alone)["S01"]["conc_pg_ml"] is not None
    s01 = rows(under)["S01"]
    assert s01["result"] == "<16.0" and s01["conc_pg_ml"] is None and "BELOW_LLOQ" in s01["flags"]
    assert under["lloq_pg_ml"] == 8.0 and alone["lloq_pg_ml"] < 8.0
    # 1:1000 is outside the validated dilutions: flagged, no number.
    s03 = rows(under)["S03"]
    assert "DILUTION_NOT_VALIDATED" in s03["flags"]
    assert s03["conc_pg_ml"] is None and s03["result"] == "not reportable"
    assert rows(under)["S02"]["conc_pg_ml"] == pytest.approx(100.0, rel=0.15)
    record = json.loads((Path(under["run_dir"]) / "run.json").read_text(encoding="utf-8"))
    profile = record["settings"]["method_profile"]
    assert profile["id"] == 1 and profile["lloq_pg_ml"] == 8.0
    with (Path(under["run_dir"]) / "results.csv").open(encoding="utf-8-sig") as fh:
        assert {r["sample"]: r["result"] for r in csv.DictReader(fh)}["S03"] == "not reportable"
    # verify recomputes the run under the profile run.json records: the same results.
    verify = CliRunner().invoke(main, ["verify", under["run_dir"]])
    assert verify.exit_code == 0, verify.output


def test_a_plate_missing_a_required_qc_level_is_rejected(validations, db, tmp_path):
    assert adopt(validations[0], db).exit_code == 0
    export, layout = study_plate(tmp_path, "study_plate_no_mid.layout.toml")
    result, doc = process(export, layout, tmp_path / "out", db)
    assert result.exit_code == 3 and doc["accepted"] is False
    assert "METHOD_QC" in doc["failed_rules"] and "mid" in doc["verdict"]


def test_a_run_processed_under_a_superseded_profile_is_refused_at_push(validations, db, tmp_path):
    assert adopt(validations[0], db).exit_code == 0
    export, layout = study_plate(tmp_path, "study_plate.layout.toml")
    _, old = process(export, layout, tmp_path / "old", db)
    review = ["review", old["run_dir"], "--accept", "--by", "Lin", "--reason", "checked"]
    assert CliRunner().invoke(main, review).exit_code == 0
    refused_without_reason = adopt(validations[1], db)
    assert refused_without_reason.exit_code == 2 and "--reason" in refused_without_reason.stderr
    result = adopt(validations[1], db, "--reason", "recovery limits of the SOP v2")
    assert result.exit_code == 0, result.stderr
    push = CliRunner().invoke(main, ["push", old["run_dir"], "--db", db, "--by", "Lin"])
    assert push.exit_code == 2
    assert "processed under profile 1" in push.stderr and "profile 2 is in force" in push.stderr
    shown = CliRunner().invoke(main, ["method", "show", "--db", db, "--all", "--json"])
    profiles = json.loads(shown.stdout)
    assert [p["status"] for p in profiles] == ["superseded", "current"]
    assert profiles[0]["superseded_by"] == 2 and profiles[1]["reason"].startswith("recovery")
    # The same plate processed again under the profile in force is pushed.
    _, new = process(export, layout, tmp_path / "new", db)
    # With review accounts in the study database, only an account's signed accept counts.
    review = ["review", new["run_dir"], "--accept", "--by", "boss", "--reason", "checked"]
    review += ["--db", db, "--password-env", "IL6ASSAY_PW"]
    signed = CliRunner().invoke(main, review, env={"IL6ASSAY_PW": PASSWORD})
    assert signed.exit_code == 0, signed.stderr
    pushed = CliRunner().invoke(main, ["push", new["run_dir"], "--db", db, "--by", "Lin"])
    assert pushed.exit_code == 0, pushed.stderr


def test_batch_with_the_study_database_holds_every_plate_to_the_profile(validations, db, tmp_path):
    assert adopt(validations[0], db).exit_code == 0
    export, layout = study_plate(tmp_path, "study_plate.layout.toml")
    out = tmp_path / "batch"
    args = ["batch", str(export), "--layout", str(layout), "--samples", str(SAMPLES)]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--db", db, "--jobs", "1"])
    assert result.exit_code == 0, result.output
    (folder,) = [p.parent for p in out.glob("*/run.json")]
    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert record["settings"]["method_profile"]["id"] == 1
    with (folder / "results.csv").open(encoding="utf-8-sig") as fh:
        results = {r["sample"]: r for r in csv.DictReader(fh)}
    assert results["S03"]["result"] == "not reportable"
    assert results["S01"]["result"] == "<16.0"
