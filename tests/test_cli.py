"""`il6assay process` end to end: outputs, exit codes, discovery, and every bad input.

Bad input must give one line on stderr naming the file and the problem, exit
2, no traceback, and no output folder at all.
"""

from __future__ import annotations

import csv
import json
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from tests.conftest import EXAMPLE, STANDARD_LAYOUT, run_dirs

EXPORT = EXAMPLE / "plate_001.xlsx"
REJECTED = EXAMPLE / "plate_002_rejected.csv"
SAMPLES = EXAMPLE / "plate_001.samples.csv"


def run_cli(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, *needles: str) -> str:
    """Assert a bad-input outcome: exit 2, one stderr line containing needles, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def copy_example(tmp_path: Path, name: str = "plate_001.xlsx") -> Path:
    stem = Path(name).stem
    for f in EXAMPLE.glob(f"{stem}*"):
        shutil.copy(f, tmp_path / f.name)
    layout = tmp_path / f"{stem}.layout.toml"
    layout.write_text(f'[meta]\ninclude = "{STANDARD_LAYOUT.as_posix()}"\n')
    return tmp_path / name


@pytest.fixture(scope="module")
def example_run(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("out")
    result = run_cli("process", EXPORT, "--out", out, "--json")
    (folder,) = run_dirs(out)
    return folder, result


def test_example_plate_is_accepted_with_exit_0_and_json_summary(example_run):
    folder, result = example_run
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["accepted"] is True
    assert summary["run_dir"] == str(folder)
    assert len(summary["results"]) == 32  # 33 sample labels, P10 and P11 one specimen
    assert "accepted" in result.stderr


def test_run_folder_holds_every_output_and_read_only_inputs(example_run):
    folder, _ = example_run
    names = {p.name for p in folder.iterdir()}
    assert {
        "results.csv",
        "results.xlsx",
        "wells.csv",
        "curve.json",
        "run.json",
        "report.html",
        "inputs",
    } <= names
    copies = sorted(
        p.relative_to(folder / "inputs").as_posix()
        for p in (folder / "inputs").rglob("*")
        if p.is_file()
    )
    assert "export/plate_001.xlsx" in copies
    assert "samples/plate_001.samples.csv" in copies
    assert any(c.endswith("il6_96_standard.toml") for c in copies)
    assert (folder / "inputs" / "export" / "plate_001.xlsx").read_bytes() == EXPORT.read_bytes()
    for p in (folder / "inputs").rglob("*"):
        if p.is_file():
            assert not p.stat().st_mode & stat.S_IWUSR, p


def test_run_json_records_hashes_of_inputs_and_every_output(example_run):
    import hashlib

    folder, _ = example_run
    run = json.loads((folder / "run.json").read_text())
    assert run["inputs"]["export"][0]["sha256"] == hashlib.sha256(EXPORT.read_bytes()).hexdigest()
    for name, digest in run["outputs_sha256"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert set(run["outputs_sha256"]) >= {
        "results.csv",
        "results.xlsx",
        "wells.csv",
        "curve.json",
        "report.html",
    }
    assert run["settings"]["weighting"] == "1/(k^2+y^2)"
    assert run["libraries"]["scipy"]


def test_results_are_keyed_to_study_ids_with_censored_text_not_numbers(example_run):
    folder, _ = example_run
    with (folder / "results.csv").open(encoding="utf-8-sig") as fh:
        rows = {r["sample"]: r for r in csv.DictReader(fh)}
    required = [
        "study_id",
        "visit",
        "sample",
        "dilution",
        "n_wells",
        "od_mean",
        "od_cv_pct",
        "conc_pg_ml",
        "result",
        "flags",
        "run_id",
    ]
    assert list(rows["P01"])[: len(required)] == required
    assert rows["P01"]["study_id"] == "AML-001" and rows["P01"]["result"] == "<4.69"
    assert rows["P01"]["conc_pg_ml"] == "" and "BELOW_LLOQ" in rows["P01"]["flags"]
    # P11 is P10's specimen at 1:10: one result, from the dilution in range, near the
    # truth of 900; each dilution keeps its own row in dilutions.csv.
    assert "P10" not in rows and "P11" not in rows
    both = rows["P10+P11"]
    assert both["study_id"] == "AML-010" and both["dilution"] == "10"
    assert 720 <= float(both["conc_pg_ml"]) <= 1080
    assert both["dilutions"] == "P10@1 P11@10"
    with (folder / "dilutions.csv").open(encoding="utf-8-sig") as fh:
        per_dilution = {r["sample"]: r for r in csv.DictReader(fh)}
    assert len(per_dilution) == 33
    assert per_dilution["P10"]["result"] == ">300" and per_dilution["P10"]["conc_pg_ml"] == ""
    assert per_dilution["P11"]["conc_pg_ml"] == both["conc_pg_ml"]
    # P33 has a well the reader printed as OVER: saturated, kept, reported above the ULOQ.
    assert rows["P33"]["result"] == ">300"
    assert "SATURATED" in rows["P33"]["flags"].split(";")
    with (folder / "wells.csv").open(encoding="utf-8-sig") as fh:
        wells = {r["well"]: r for r in csv.DictReader(fh)}
    assert len(wells) == 96
    assert wells["B12"]["read_450"] == "OVER" and wells["B12"]["status"] == "SATURATED"
    assert wells["B12"]["od"] == ""
    assert wells["A1"]["role"] == "standard" and wells["A3"]["role"] == "blank"
    assert wells["G3"]["role"] == "qc" and wells["H12"]["role"] == "qc"
    # Both raw reads stay; the OD is 450 - 570.
    a1 = wells["A1"]
    assert float(a1["od"]) == pytest.approx(float(a1["read_450"]) - float(a1["read_570"]))


def test_curve_json_names_the_rule_behind_every_verdict(example_run):
    folder, _ = example_run
    curve = json.loads((folder / "curve.json").read_text())
    assert curve["accepted"] is True
    assert curve["lloq_pg_ml"] == 4.6875 and curve["uloq_pg_ml"] == 300
    for rule in curve["rules"]:
        assert rule["source"] and rule["description"] and "passed" in rule
    assert {r["id"] for r in curve["rules"]} == {
        "CURVE_FIT",
        "QUANTIFICATION_RANGE",
        "STANDARD_LEVELS",
        "STANDARD_SHARE",
        "QC_DESIGN",
        "CONTROLS",
        "QC_RANGE",
    }
    assert {r["profile"] for r in curve["rules"]} == {"m10"} and curve["rules_profile"] == "m10"
    assert all(r["section"] for r in curve["rules"])
    assert set(curve["fit"]["stderr"]) == {"a", "b", "c", "d"}


def test_report_html_embeds_plotly_and_needs_no_network(example_run):
    folder, _ = example_run
    page = (folder / "report.html").read_text()
    import re

    # plotly.js itself mentions cdn.plot.ly (a geo-map default); what matters is
    # that no script or stylesheet is loaded from the network.
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", page)
    assert "Plotly.newPlot" in page or "Plotly.react" in page
    assert "LLOQ" in page and "AML-001" in page


def test_rejected_plate_exits_3_and_still_writes_marked_results(tmp_path):
    export = copy_example(tmp_path, REJECTED.name)
    result = run_cli("process", export, "--out", tmp_path / "out")
    assert result.exit_code == 3, result.output
    assert "rejected" in result.stderr
    (folder,) = run_dirs(tmp_path / "out")
    with (folder / "results.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert all("PLATE_REJECTED" in r["flags"] for r in rows)
    curve = json.loads((folder / "curve.json").read_text())
    failed = {r["id"] for r in curve["rules"] if r["passed"] is False}
    assert "CONTROLS" in failed


def test_layout_and_samples_are_found_beside_the_export(tmp_path):
    export = copy_example(tmp_path)
    result = run_cli("process", export, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output


def test_project_file_names_the_default_layout(tmp_path, monkeypatch):
    export = copy_example(tmp_path)
    (tmp_path / "plate_001.layout.toml").unlink()
    (tmp_path / "il6assay.toml").write_text(f'layout = "{STANDARD_LAYOUT.as_posix()}"\n')
    monkeypatch.chdir(tmp_path)
    result = run_cli("process", export)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "il6assay-results").is_dir()


def test_missing_layout_says_which_flag_gives_it(tmp_path, monkeypatch):
    export = copy_example(tmp_path)
    (tmp_path / "plate_001.layout.toml").unlink()
    monkeypatch.chdir(tmp_path)  # no il6assay.toml here either
    result = run_cli("process", export, "--out", tmp_path / "out")
    one_line_error(result, "plate_001.xlsx", "--layout")
    assert not (tmp_path / "out").exists()


def test_missing_sample_sheet_says_which_flag_gives_it(tmp_path):
    export = copy_example(tmp_path)
    (tmp_path / "plate_001.samples.csv").unlink()
    result = run_cli("process", export, "--out", tmp_path / "out")
    one_line_error(result, "plate_001.xlsx", "--samples")
    assert not (tmp_path / "out").exists()


def test_existing_run_folder_is_never_overwritten(tmp_path):
    export = copy_example(tmp_path)
    assert run_cli("process", export, "--out", tmp_path / "out").exit_code == 0
    (folder,) = run_dirs(tmp_path / "out")
    before = (folder / "results.csv").read_bytes()
    result = run_cli("process", export, "--out", tmp_path / "out")
    one_line_error(result, "already exists")
    assert (folder / "results.csv").read_bytes() == before
    assert len(run_dirs(tmp_path / "out")) == 1


BAD_GRID = "450\n,1,2,3,4,5,6,7,8,9,10,11,12\n" + "\n".join(
    r + "," + ",".join("0.5" for _ in range(12)) for r in "ABCDEFG"
)


def bad_case(tmp_path: Path, case: str) -> tuple[list[str], str]:
    """Set up one bad-input case; returns (argv, text the error must contain)."""
    export = copy_example(tmp_path)
    argv = ["process", str(export), "--out", str(tmp_path / "out")]
    if case == "no such file":
        return ["process", str(tmp_path / "nope.xlsx")], "nope.xlsx"
    if case == "empty file":
        export.write_bytes(b"")
        return argv, "plate_001.xlsx: the file is empty"
    if case == "corrupt xlsx":
        export.write_bytes(EXPORT.read_bytes()[:700])
        return argv, "plate_001.xlsx"
    if case == "unknown format":
        export.write_text("hello, this is not a plate\n")
        return argv, "plate_001.xlsx"
    if case == "grid not 8x12":
        csv_export = export.with_suffix(".csv")
        csv_export.write_text(BAD_GRID)
        return ["process", str(csv_export), "--out", str(tmp_path / "out")], "8x12"
    if case == "text in a numeric cell":
        csv_export = export.with_suffix(".csv")
        csv_export.write_text(BAD_GRID + "\nH," + ",".join(["0.5"] * 5 + ["oops"] + ["0.5"] * 6))
        return ["process", str(csv_export), "--out", str(tmp_path / "out")], "oops"
    layout = tmp_path / "plate_001.layout.toml"
    include = f'[meta]\ninclude = "{STANDARD_LAYOUT.as_posix()}"\n'
    if case == "layout well outside the plate":
        layout.write_text(include + '[well.A13]\nrole = "blank"\n')
        return argv, "A13"
    if case == "layout gives two roles to one well":
        layout.write_text(include + '[well.A4]\nrole = "sample"\nconc = 5\n')
        return argv, "A4"
    if case == "layout with five standard levels":
        levels = [300, 150, 75, 37.5, 18.75, 0]
        layout.write_text(
            "".join(
                f'[block.2x1.{"ABCDEFGH"[i]}1]\nrole = "standard"\nlevel = "S{i + 1}"\nconc = {c}\n'
                for i, c in enumerate(levels)
            )
            + "".join(
                f"[block.2x1.{'ABCDEFGH'[i % 8]}{4 + 2 * (i // 8)}]\n"
                f'role = "sample"\nsample = "P{i + 1:02d}"\n'
                for i in range(32)
            )
        )
        return argv, "5 non-zero standard levels"
    sheet = tmp_path / "plate_001.samples.csv"
    rows = sheet.read_text().splitlines()
    if case == "sample sheet duplicate study id":
        rows[2] = rows[2].replace("AML-002", "AML-001")
        sheet.write_text("\n".join(rows) + "\n")
        return argv, "AML-001"
    if case == "sample sheet missing study id":
        rows[3] = rows[3].replace("AML-003", "")
        sheet.write_text("\n".join(rows) + "\n")
        return argv, "study_id"
    if case == "sample not on the sheet":
        sheet.write_text("\n".join(r for r in rows if not r.startswith("P07,")) + "\n")
        return argv, "P07"
    raise AssertionError(case)


BAD_CASES = [
    "no such file",
    "empty file",
    "corrupt xlsx",
    "unknown format",
    "grid not 8x12",
    "text in a numeric cell",
    "layout well outside the plate",
    "layout gives two roles to one well",
    "layout with five standard levels",
    "sample sheet duplicate study id",
    "sample sheet missing study id",
    "sample not on the sheet",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, case):
    argv, needle = bad_case(tmp_path, case)
    result = CliRunner().invoke(main, argv)
    line = one_line_error(result, needle)
    assert line.startswith("il6assay: ")
    assert not (tmp_path / "out").exists() or not run_dirs(tmp_path / "out")


def test_allow_unmatched_turns_a_sheet_mismatch_into_a_warning(tmp_path):
    export = copy_example(tmp_path)
    sheet = tmp_path / "plate_001.samples.csv"
    sheet.write_text(
        "\n".join(r for r in sheet.read_text().splitlines() if not r.startswith("P07,")) + "\n"
    )
    result = run_cli("process", export, "--out", tmp_path / "out", "--allow-unmatched", "--json")
    assert result.exit_code == 0, result.output
    assert "warning" in result.stderr and "P07" in result.stderr
    rows = {r["sample"]: r for r in json.loads(result.stdout)["results"]}
    assert rows["P07"]["study_id"] == "" and "NO_STUDY_ID" in rows["P07"]["flags"]


def test_readers_command_lists_the_formats():
    result = run_cli("readers")
    assert result.exit_code == 0
    assert "gen5" in result.output and "grid" in result.output


def test_inspect_json_gives_format_plates_and_reads(tmp_path):
    result = run_cli("inspect", EXPORT, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["format"] == "grid"
    (plate,) = doc["plates"]
    assert set(plate["reads"]) == {"450", "570"}
    assert plate["reads"]["450"]["B12"] == "SATURATED"
    assert len(plate["reads"]["450"]) == 96


def test_multi_plate_export_asks_which_plate_to_process():
    from il6assay.errors import InputError
    from il6assay.plate.export import Export, Plate
    from il6assay.plate.readers import read_export
    from il6assay.run import choose_plate

    reads = read_export(EXPORT).plates[0].reads
    both = Export(
        format="grid", path=EXPORT, plates=[Plate("first", reads), Plate("second", reads)]
    )
    with pytest.raises(InputError, match="choose one with --plate"):
        choose_plate(both, None)
    assert choose_plate(both, "second").id == "second"
    with pytest.raises(InputError, match="no plate 'third'"):
        choose_plate(both, "third")


def test_384_well_plate_is_refused_for_processing_even_when_named():
    from il6assay.errors import InputError
    from il6assay.plate.export import Export, Plate, empty_grid
    from il6assay.run import choose_plate

    big = Plate(id="big", reads={"450": empty_grid(16, 24)}, rows=16, cols=24)
    with pytest.raises(InputError, match="96-well"):
        choose_plate(Export(format="t", path=EXPORT, plates=[big]), "big")
