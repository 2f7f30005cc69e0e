"""What the review app shows a reviewer: a readable plate map, the queue's order, honest axes.

The plate map tells faults, censored results, masked wells and roles apart
(as the offline report does) and gives each well's OD and result; the queue
puts rejected plates first, then Westgard warnings, then the rest, saying
each failed rule once; a mask keeps the run's processed time; the standard
curve's y axis spans the data, never an extrapolated asymptote.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from il6assay.cli import main
from il6assay.db.engine import make_engine, upgrade
from il6assay.web.runs import plate_map, queue
from tests.conftest import FIXTURES, SHARED, needs_shared
from tests.web_support import results_folder, run_folder


def cells(folder: Path) -> dict[str, dict[str, str]]:
    return {c["well"]: c for line in plate_map(folder) for c in line}


def test_the_plate_map_tells_faults_censored_masked_and_roles_apart_with_od_and_result(tmp_path):
    results = results_folder(tmp_path, "by_tech")
    folder = run_folder(results, "by_tech")
    wells = cells(folder)
    samples = [c for c in wells.values() if c["role"] == "sample"]
    censored = [c for c in samples if c["kind"] == "censored"]
    faults = [c for c in wells.values() if c["kind"] == "fault"]
    # A good plate: many censored samples (normal results), few faults, told apart.
    assert len(censored) > 10 and len(faults) < 5
    assert all(c["mark"] in ("<", ">") for c in censored)
    assert all(c["mark"] == "✕" for c in faults)
    assert {c["role"] for c in wells.values()} >= {"standard", "blank", "qc", "sample"}
    a4 = wells["A4"]  # P01, below the LLOQ: its OD and result as wells.csv and results.csv say
    with (folder / "wells.csv").open(encoding="utf-8-sig", newline="") as fh:
        od = float(next(r for r in csv.DictReader(fh) if r["well"] == "A4")["od"])
    with (folder / "results.csv").open(encoding="utf-8-sig", newline="") as fh:
        p01 = next(r for r in csv.DictReader(fh) if r["sample"] == "P01")
    assert p01["result"].startswith("<") and a4["od"] == f"{od:.3f}"
    assert a4["result"] == f"{p01['result']} pg/mL" and "BELOW_LLOQ" in a4["flags"]
    assert wells["A1"]["recovery_pct"] and not wells["A1"]["result"]  # a standard: its recovery
    done = CliRunner().invoke(
        main, ["mask", str(folder), "--well", "A4", "--reason", "bubble", "--by", "Lin Wei"]
    )
    assert done.exit_code == 0, done.output
    assert cells(folder)["A4"]["kind"] == "masked" and cells(folder)["A4"]["mark"] == "M"


def test_the_queue_puts_rejected_plates_first_says_each_failure_once_and_masks_keep_the_time(
    tmp_path,
):
    engine = make_engine(str(tmp_path / "study.db"))
    upgrade(engine)
    results = results_folder(tmp_path, "by_tech", "rejected", "by_lin")
    masked = run_folder(results, "by_lin")
    processed = json.loads((masked / "run.json").read_text())["created_utc"]
    done = CliRunner().invoke(
        main, ["mask", str(masked), "--well", "A4", "--reason", "bubble", "--by", "Lin Wei"]
    )
    assert done.exit_code == 0, done.output
    assert json.loads((masked / "run.json").read_text())["created_utc"] == processed
    # The older accepted run carries a Westgard 1-2s warning (as study.check records it).
    warned = run_folder(results, "by_tech")
    record = json.loads((warned / "run.json").read_text())
    record["warnings"] = ["WESTGARD_WARNING: 1-2s (low)"]
    (warned / "run.json").write_text(json.dumps(record))
    rows = queue(engine, [results], review="all")
    assert [r["run_id"] for r in rows] == [
        run_folder(results, "rejected").name,
        warned.name,
        masked.name,
    ]
    assert rows[1]["warning"] == "WESTGARD_WARNING: 1-2s (low)"
    assert not rows[0]["failed"].startswith("rejected")
    assert rows[0]["failed"].startswith("QUANTIFICATION_RANGE")


@needs_shared
def test_the_curves_y_axis_spans_the_data_not_an_open_ended_fits_asymptote():
    from il6assay.record.report import curve_figure
    from il6assay.run import process_plate
    from il6assay.settings import Settings

    export = SHARED / "reference_exports" / "gen5_abs630_stdcurve.txt"
    folder = FIXTURES / "gen5_abs630"
    run = process_plate(
        export,
        folder / "gen5_abs630_stdcurve.layout.toml",
        folder / "gen5_abs630_stdcurve.samples.csv",
        Settings(read="630"),
    )
    assert run.curve.open_ends == ("upper",)
    fig = curve_figure(run)
    top_od = max(w.od for w in run.wells if w.od is not None and w.spec.role == "standard")
    low, high = fig["layout"]["yaxis"]["range"]
    assert top_od < high <= 1.1 * top_od and low <= 0
    fitted = max(max(t["y"]) for t in fig["data"] if t.get("mode") == "lines")
    assert fitted > high  # the extrapolated line runs on past the axis: cut, not followed
