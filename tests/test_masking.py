"""Masking: a reviewer's exclusion of a well, refitted, rewritten, and on the record."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.record.audit import read_entries
from tests.conftest import EXAMPLE, processed_copy, run_dirs


def actions(folder: Path) -> list[str]:
    """The actions of a run's audit log, oldest first (the first is always the processing)."""
    return [e["action"] for e in read_entries(folder)]


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return processed_copy(EXAMPLE / "plate_001.xlsx", tmp_path / "out")


def rows(folder: Path, name: str, key: str) -> dict[str, dict[str, str]]:
    with (folder / name).open(encoding="utf-8-sig") as fh:
        return {r[key]: r for r in csv.DictReader(fh)}


def mask(*args: str):
    return CliRunner().invoke(main, ["mask", *args])


def test_masking_a_sample_replicate_keeps_its_read_and_recomputes_from_the_other(run_dir):
    before = rows(run_dir, "results.csv", "sample")["P05"]
    result = mask(str(run_dir), "--well", "E4", "--reason", "bubble", "--by", "Lin")
    assert result.exit_code == 0, result.output
    wells = rows(run_dir, "wells.csv", "well")
    assert wells["E4"]["status"] == "MASKED" and "MASKED" in wells["E4"]["flags"]
    assert wells["E4"]["read_450"] != ""  # the original read is never deleted
    assert wells["E4"]["od"] == ""
    after = rows(run_dir, "results.csv", "sample")["P05"]
    assert "MISSING_REPLICATE" in after["flags"]
    assert after["od_mean"] == wells["E5"]["od"][: len(after["od_mean"])] or float(
        after["od_mean"]
    ) == pytest.approx(float(wells["E5"]["od"]))
    assert after["result"] != before["result"]
    (_, entry) = read_entries(run_dir)
    assert entry["action"] == "mask" and entry["by"] == "Lin" and entry["reason"] == "bubble"
    assert entry["wells"] == ["E4"] and entry["time_utc"].endswith("+00:00")
    assert entry["os_account"]
    change = next(c for c in entry["changes"] if c["what"] == "sample P05")
    assert change["before"]["result"] == before["result"]
    assert change["after"]["result"] == after["result"]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["settings"]["masked"] == ["E4"]
    assert record["review"]["status"] == "unreviewed"


def test_masking_a_standard_refits_the_curve_and_logs_the_parameters(run_dir):
    curve_before = json.loads((run_dir / "curve.json").read_text())["fit"]["params"]
    assert mask(str(run_dir), "--well", "D1", "--reason", "tip", "--by", "Lin").exit_code == 0
    curve_after = json.loads((run_dir / "curve.json").read_text())["fit"]
    assert curve_after["n_points"] == 15
    assert curve_after["params"] != curve_before
    (_, entry) = read_entries(run_dir)
    assert {"curve a", "curve b", "curve c", "curve d"} <= {c["what"] for c in entry["changes"]}


def test_unmask_restores_the_original_results_and_both_steps_are_logged(run_dir):
    original = (run_dir / "results.csv").read_bytes()
    assert mask(str(run_dir), "--well", "E4", "--reason", "bubble", "--by", "Lin").exit_code == 0
    assert (run_dir / "results.csv").read_bytes() != original
    result = CliRunner().invoke(
        main,
        ["unmask", str(run_dir), "--well", "E4", "--reason", "no bubble after all", "--by", "Wu"],
    )
    assert result.exit_code == 0, result.output
    assert (run_dir / "results.csv").read_bytes() == original
    assert actions(run_dir) == ["process", "mask", "unmask"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--well", "E4", "--by", "Lin"], "reason"),
        (["--well", "E4", "--reason", "  ", "--by", "Lin"], "reason"),
        (["--well", "E4", "--reason", "bubble"], "--by"),
        (["--reason", "bubble", "--by", "Lin"], "--well"),
        (["--well", "Z99", "--reason", "bubble", "--by", "Lin"], "Z99"),
    ],
)
def test_a_mask_without_reason_name_or_valid_well_is_refused_and_changes_nothing(
    run_dir, args, needle
):
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    result = mask(str(run_dir), *args)
    assert result.exit_code == 2
    assert needle in result.stderr and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before


def test_masking_twice_or_unmasking_an_unmasked_well_is_refused(run_dir):
    assert mask(str(run_dir), "--well", "E4", "--reason", "bubble", "--by", "Lin").exit_code == 0
    again = mask(str(run_dir), "--well", "E4", "--reason", "bubble", "--by", "Lin")
    assert again.exit_code == 2 and "already masked" in again.stderr
    un = CliRunner().invoke(
        main, ["unmask", str(run_dir), "--well", "A4", "--reason", "x", "--by", "y"]
    )
    assert un.exit_code == 2 and "not masked" in un.stderr


def test_a_run_edited_by_hand_is_refused_naming_the_file(run_dir):
    path = run_dir / "results.csv"
    path.write_text(path.read_text().replace("<4.69", "3.10"))
    result = mask(str(run_dir), "--well", "E4", "--reason", "bubble", "--by", "Lin")
    assert result.exit_code == 2 and "results.csv was changed" in result.stderr


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    result = mask(str(tmp_path), "--well", "E4", "--reason", "bubble", "--by", "Lin")
    assert result.exit_code == 2 and "not an il6assay run folder" in result.stderr


def test_masking_several_runs_checks_them_all_first_and_refuses_two_runs_of_one_plate(
    run_dir, tmp_path
):
    out = run_dir.parent
    again = CliRunner().invoke(
        main, ["process", str(EXAMPLE / "plate_001.xlsx"), "--out", str(out), "--model", "5pl"]
    )
    assert again.exit_code in (0, 3), again.output
    first, second = run_dirs(out)
    refused = mask(str(first), str(second), "--well", "E4", "--reason", "bubble", "--by", "Lin")
    assert refused.exit_code == 2 and "processed twice" in refused.stderr
    assert actions(first) == actions(second) == ["process"]
    other = tmp_path / "other"
    made = CliRunner().invoke(
        main, ["process", str(EXAMPLE / "plate_002_rejected.csv"), "--out", str(other)]
    )
    assert made.exit_code == 3
    (failing,) = run_dirs(other)
    original = (failing / "review.js").read_bytes()
    (failing / "review.js").write_text("window.IL6_REVIEW = {};\n")  # a changed run
    refused = mask(str(first), str(failing), "--well", "E4", "--reason", "bubble", "--by", "Lin")
    assert refused.exit_code == 2 and "review.js" in refused.stderr
    assert actions(first) == ["process"]  # the good run was not masked either
    (failing / "review.js").write_bytes(original)
    both = mask(str(first), str(failing), "--well", "E4", "--reason", "bubble", "--by", "Lin")
    assert both.exit_code == 3, both.output  # the failing plate still fails its rules
    assert actions(first) == actions(failing) == ["process", "mask"]
