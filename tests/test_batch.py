"""`il6assay batch`: a folder of good, rejected and corrupt exports, processed by worker processes.

The day's folder holds the example plate (accepted), the failing example
plate (rejected by its rules), a workbook that is not one (random bytes named
.xlsx) and a grid export cut short (7 rows): the good runs are written, the
corrupt ones reported with their one-line error, and the exit code says the
worst. Results are checked through the library (run folders, run.json).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.record.audit import read_entries
from il6assay.record.folder import open_run
from tests.conftest import EXAMPLE, FIXTURES, STANDARD_LAYOUT, run_dirs


def _copy_plate(src: Path, day: Path) -> None:
    """An example export with its sample sheet, and its layout pointing at the standard layout."""
    shutil.copy(src, day / src.name)
    shutil.copy(EXAMPLE / f"{src.stem}.samples.csv", day / f"{src.stem}.samples.csv")
    layout = (EXAMPLE / f"{src.stem}.layout.toml").read_text(encoding="utf-8")
    layout = layout.replace("../../plate_layouts/il6_96_standard.toml", STANDARD_LAYOUT.as_posix())
    (day / f"{src.stem}.layout.toml").write_text(layout, encoding="utf-8")


@pytest.fixture
def day(tmp_path: Path) -> Path:
    """A day's folder: one good, one rejected and two corrupt exports."""
    folder = tmp_path / "day"
    folder.mkdir()
    _copy_plate(EXAMPLE / "plate_001.xlsx", folder)
    _copy_plate(EXAMPLE / "plate_002_rejected.csv", folder)
    (folder / "corrupt.xlsx").write_bytes(bytes(range(256)) * 8)
    lines = (FIXTURES / "readers" / "grid_450_570.csv").read_text(encoding="utf-8").splitlines()
    (folder / "cut_short.csv").write_text("\n".join(lines[:8]) + "\n", encoding="utf-8")
    return folder


def batch(*args: str | Path) -> object:
    return CliRunner().invoke(main, ["batch", *[str(a) for a in args]])


def outcomes(result: object) -> list[dict]:
    return json.loads(result.stdout)  # type: ignore[attr-defined]


def test_batch_writes_every_good_run_reports_corrupt_files_and_exits_2(day, tmp_path):
    out = tmp_path / "runs"
    result = batch(day, "--out", out, "--jobs", "2", "--json")
    assert result.exit_code == 2, result.output
    runs = {open_run(p).record["export"]["file"]: open_run(p).record for p in run_dirs(out)}
    assert sorted(Path(f).name for f in runs) == ["plate_001.xlsx", "plate_002_rejected.csv"]
    assert [r["accepted"] for _, r in sorted(runs.items())] == [True, False]
    errors = [line for line in result.stderr.splitlines() if line.startswith("il6assay: ")]
    assert any("corrupt.xlsx" in e for e in errors)
    assert any("cut_short.csv" in e for e in errors)
    assert "Traceback" not in result.output
    assert len(list(out.glob("plotly-*.min.js"))) == 1
    index = (out / "index.html").read_text(encoding="utf-8")
    for p in run_dirs(out):
        assert f'href="{p.name}/report.html"' in index
    # rejected first: the order a reviewer works in
    assert index.index("plate_002_rejected") < index.index("plate_001-")
    assert "corrupt.xlsx" in index


def test_json_lists_every_plate_and_every_file_that_could_not_be_read(day, tmp_path):
    result = batch(day, "--out", tmp_path / "runs", "--jobs", "1", "--json")
    rows = outcomes(result)
    by_file = {Path(r["export"]).name: r for r in rows}
    assert set(by_file) == {"plate_001.xlsx", "plate_002_rejected.csv", "corrupt.xlsx",
                            "cut_short.csv"}  # fmt: skip
    assert by_file["plate_001.xlsx"]["status"] == "written"
    assert by_file["plate_001.xlsx"]["accepted"] is True
    assert by_file["plate_001.xlsx"]["samples"] == 32
    assert by_file["plate_001.xlsx"]["flags"]["ABOVE_ULOQ"] >= 1
    assert by_file["plate_002_rejected.csv"]["accepted"] is False
    assert by_file["corrupt.xlsx"]["status"] == "unreadable"
    assert "corrupt.xlsx" in by_file["corrupt.xlsx"]["error"]
    assert "\n" not in by_file["cut_short.csv"]["error"]


def test_a_second_batch_skips_the_plates_already_done(day, tmp_path):
    out = tmp_path / "runs"
    batch(day, "--out", out, "--jobs", "2")
    before = {p.name: (p / "run.json").stat().st_mtime_ns for p in run_dirs(out)}
    again = batch(day, "--out", out, "--json")
    rows = outcomes(again)
    assert again.exit_code == 2
    assert sorted(r["status"] for r in rows) == ["skipped", "skipped", "unreadable", "unreadable"]
    skipped = [r for r in rows if r["status"] == "skipped"]
    assert sorted(r["accepted"] for r in skipped) == [False, True]
    assert {p.name: (p / "run.json").stat().st_mtime_ns for p in run_dirs(out)} == before


def test_force_processes_again_into_a_new_folder_keeping_the_old_one_whole(day, tmp_path):
    out = tmp_path / "runs"
    batch(day / "plate_001.xlsx", "--out", out)
    (first,) = run_dirs(out)
    review = ["review", str(first), "--accept", "--by", "Lin", "--reason", "checked"]
    assert CliRunner().invoke(main, review).exit_code == 0
    refused = batch(day / "plate_001.xlsx", "--out", out, "--force")
    assert refused.exit_code == 2  # a reviewed run is replaced only when told why
    assert "accepted by Lin" in refused.stderr and "--reason" in refused.stderr
    assert not (out / ".replaced").exists()
    why = "new kit lot certificate"
    result = batch(day / "plate_001.xlsx", "--out", out, "--force", "--reason", why, "--json")
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in outcomes(result)] == ["replaced"]
    (folder,) = run_dirs(out)
    open_run(folder)  # whole and consistent: a new chain, unreviewed
    (processing,) = read_entries(folder)
    assert processing["action"] == "process"
    (kept,) = (out / ".replaced").iterdir()  # the old folder, its review included
    assert processing["replaces"] == {
        "run_dir": f".replaced/{kept.name}",
        "review": "accepted by Lin",
        "reason": why,
    }
    assert kept.name.startswith(folder.name + "-")
    assert [e["action"] for e in read_entries(kept)] == ["process", "review-accept"]


def test_exit_3_when_a_plate_fails_acceptance_and_0_when_all_are_accepted(day, tmp_path):
    (day / "corrupt.xlsx").unlink()
    (day / "cut_short.csv").unlink()
    assert batch(day, "--out", tmp_path / "a").exit_code == 3
    assert batch(day / "plate_001.xlsx", "--out", tmp_path / "b").exit_code == 0


def test_batch_skips_a_plate_process_already_made_from_the_same_inputs(day, tmp_path):
    out = tmp_path / "runs"
    first = CliRunner().invoke(main, ["process", str(day / "plate_001.xlsx"), "--out", str(out)])
    assert first.exit_code == 0, first.output
    rows = outcomes(batch(day / "plate_001.xlsx", "--out", out, "--json"))
    assert [r["status"] for r in rows] == ["skipped"]
    assert rows[0]["run_id"] == run_dirs(out)[0].name


def test_every_plate_of_a_multi_plate_export_is_a_run(tmp_path):
    export = FIXTURES / "readers" / "skanit_duplicate_names.xlsx"
    result = batch(export, "--layout", STANDARD_LAYOUT, "--allow-unmatched", "--out",
                   tmp_path / "runs", "--json")  # fmt: skip
    plates = sorted(r["plate_id"] for r in outcomes(result))
    assert plates == ["Plate 1", "Plate 1 (2)", "Plate 2"]
    ids = sorted(open_run(p).record["export"]["plate_id"] for p in run_dirs(tmp_path / "runs"))
    assert ids == plates


def test_a_missing_input_is_reported_and_the_rest_still_processed(day, tmp_path):
    result = batch(day / "plate_001.xlsx", tmp_path / "nope.xlsx", "--out", tmp_path / "r")
    assert result.exit_code == 2
    assert "nope.xlsx: no such file" in result.stderr
    assert len(run_dirs(tmp_path / "r")) == 1


def test_a_shared_plotly_js_altered_to_its_size_and_time_is_still_refused_in_one_process(
    day, tmp_path, monkeypatch
):
    """The index and status hash the shared copy once while it is unchanged (not once a run),
    and a same-size edit with its modification time set back is still seen (its ctime)."""
    import os
    import time

    from il6assay.record.report import plotly_js_name

    out = tmp_path / "runs"
    batch(day, "--out", out, "--jobs", "1")
    later = time.time_ns() + 5_000_000_000  # the copy is no longer fresh: it is remembered
    monkeypatch.setattr(time, "time_ns", lambda: later)
    status = CliRunner().invoke(main, ["status", str(out)])
    assert "plotly" not in status.output
    shared = out / plotly_js_name()
    before = shared.stat()
    data = shared.read_bytes()
    shared.write_bytes(data[:-9] + b"alert(1)\n")  # the same size
    os.utime(shared, ns=(before.st_atime_ns, before.st_mtime_ns))
    status = CliRunner().invoke(main, ["status", str(out)])
    assert status.exit_code == 1
    assert "is not plotly's own copy" in status.output
