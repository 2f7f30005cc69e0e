"""QC review: accept/reject on the record, override for failing plates, integrity checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.record.audit import read_entries
from tests.conftest import EXAMPLE, processed_copy, run_dirs


def process(export: Path, out: Path) -> Path:
    result = CliRunner().invoke(main, ["process", str(export), "--out", str(out)])
    assert result.exit_code in (0, 3), result.output
    return next(d for d in run_dirs(out) if d.name.startswith(export.stem))


def actions(folder: Path) -> list[str]:
    """The actions of a run's audit log, oldest first (the first is always the processing)."""
    return [e["action"] for e in read_entries(folder)]


@pytest.fixture
def accepted_run(tmp_path) -> Path:
    return processed_copy(EXAMPLE / "plate_001.xlsx", tmp_path / "out")


@pytest.fixture
def failing_run(tmp_path) -> Path:
    return processed_copy(EXAMPLE / "plate_002_rejected.csv", tmp_path / "out")


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_accepting_a_passing_plate_is_recorded_in_log_run_json_and_report(accepted_run):
    result = cli("review", str(accepted_run), "--accept", "--by", "Lin Wei", "--reason", "QC ok")
    assert result.exit_code == 0, result.output
    (_, entry) = read_entries(accepted_run)
    assert entry["action"] == "review-accept" and entry["by"] == "Lin Wei"
    assert entry["reason"] == "QC ok" and entry["override"] is False
    assert entry["time_utc"].endswith("+00:00") and entry["os_account"]
    record = json.loads((accepted_run / "run.json").read_text())
    assert entry["outputs_sha256"] == record["outputs_sha256"]
    assert record["review"]["status"] == "accepted" and record["review"]["by"] == "Lin Wei"
    assert '"status": "accepted"' in (accepted_run / "review.js").read_text()


def test_rejecting_is_recorded_too(accepted_run):
    assert (
        cli("review", str(accepted_run), "--reject", "--by", "Lin", "--reason", "smear").exit_code
        == 0
    )
    assert json.loads((accepted_run / "run.json").read_text())["review"]["status"] == "rejected"
    assert read_entries(accepted_run)[1]["action"] == "review-reject"


def test_accepting_a_failing_plate_needs_override_and_a_reason(failing_run):
    refused = cli("review", str(failing_run), "--accept", "--by", "Lin", "--reason", "looks fine")
    assert refused.exit_code == 2 and "--override" in refused.stderr
    assert actions(failing_run) == ["process"]
    ok = cli(
        "review", str(failing_run), "--accept", "--override",
        "--by", "Lin", "--reason", "S3/S4 swap documented; samples re-run elsewhere",
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    (_, entry) = read_entries(failing_run)
    assert entry["override"] is True and entry["verdict_by_rules"] == "rejected"
    assert json.loads((failing_run / "run.json").read_text())["review"]["override"] is True


def test_masking_after_review_returns_the_run_to_unreviewed_and_says_so(accepted_run):
    assert (
        cli("review", str(accepted_run), "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0
    )
    masked = cli("mask", str(accepted_run), "--well", "E4", "--reason", "bubble", "--by", "Wu")
    assert masked.exit_code == 0, masked.output
    assert "was accepted, now unreviewed" in masked.stderr
    record = json.loads((accepted_run / "run.json").read_text())
    assert record["review"]["status"] == "unreviewed"
    assert '"status": "unreviewed"' in (accepted_run / "review.js").read_text()
    _, review, mask = read_entries(accepted_run)
    assert review["action"] == "review-accept"
    assert mask["action"] == "mask" and mask["review_before"] == "accepted"
    again = cli("review", str(accepted_run), "--accept", "--by", "Lin", "--reason", "re-checked")
    assert again.exit_code == 0
    assert actions(accepted_run) == [
        "process",
        "review-accept",
        "mask",
        "review-accept",
    ]


@pytest.mark.parametrize(
    "name",
    ["results.csv", "results.xlsx", "wells.csv", "curve.json", "report.html", "dilutions.csv"],
)
def test_editing_any_output_by_hand_makes_accept_refuse_naming_the_file(accepted_run, name):
    path = accepted_run / name
    path.write_bytes(path.read_bytes() + b" ")
    result = cli("review", str(accepted_run), "--accept", "--by", "Lin", "--reason", "ok")
    assert result.exit_code == 2
    assert f"{name} was changed after processing" in result.stderr
    assert actions(accepted_run) == ["process"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--accept", "--reason", "ok"], "--by"),
        (["--accept", "--by", "Lin", "--reason", "   "], "reason"),
        (["--accept", "--by", "Lin"], "reason"),
        (["--by", "Lin", "--reason", "ok"], "--accept or --reject"),
        (["--reject", "--override", "--by", "Lin", "--reason", "x"], "--override"),
    ],
)
def test_review_without_name_reason_or_decision_is_refused(accepted_run, args, needle):
    result = cli("review", str(accepted_run), *args)
    assert result.exit_code == 2 and needle in result.stderr
    assert "Traceback" not in result.output
    assert actions(accepted_run) == ["process"]


def test_review_of_a_folder_that_is_not_a_run_is_refused(tmp_path):
    result = cli("review", str(tmp_path), "--accept", "--by", "Lin", "--reason", "ok")
    assert result.exit_code == 2 and "not an il6assay run folder" in result.stderr


def test_status_lists_runs_with_verdict_review_and_integrity(accepted_run, tmp_path):
    failing = process(EXAMPLE / "plate_002_rejected.csv", accepted_run.parent)
    cli("review", str(accepted_run), "--accept", "--by", "Lin", "--reason", "ok")
    (failing / "wells.csv").write_text("tampered")
    result = cli("status", str(accepted_run.parent), "--json")
    assert result.exit_code == 1, result.output  # one run is changed
    rows = {r["plate_id"]: r for r in json.loads(result.stdout)}
    ok = rows["plate_001"]
    assert ok["verdict"] == "accepted" and ok["review"] == "accepted" and ok["integrity"] == "ok"
    bad = rows["plate_002_rejected"]
    assert bad["verdict"] == "rejected" and bad["review"] == "unreviewed"
    assert "wells.csv was changed" in bad["integrity"]
    text = cli("status", str(accepted_run))
    assert text.exit_code == 0 and "review: accepted by Lin" in text.output
