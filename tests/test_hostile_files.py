"""Files that used to kill the process: each is now one line naming the file, exit 2.

- an XLSX export of 6 KB with one cell at XFD1048576 (the workbook library
  aborted: SIGABRT, exit 134, past every handler);
- a sample-sheet XLSX with a far cell (3.6 GB, then MemoryError);
- a layout TOML nested 10^5 deep (RecursionError);
- a full disk and a read-only folder (tests/test_crash_safety.py).

The workbooks are made here, small, from the reader fixtures.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.layout import load_layout
from il6assay.plate.layout_sheet import read_layout
from il6assay.plate.readers import read_export
from il6assay.plate.samples import load_samples

ROOT = Path(__file__).resolve().parents[1]
GRID_XLSX = ROOT / "fixtures" / "readers" / "grid_450_570.xlsx"
EXAMPLE = ROOT / "fixtures" / "example"
SHEET = "xl/worksheets/sheet1.xml"
IL6ASSAY = Path(sys.executable).with_name("il6assay")


def with_sheet_xml(src: Path, dst: Path, edit: object) -> Path:
    """Copy a workbook with its first sheet's XML passed through ``edit``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == SHEET:
                data = edit(data)  # type: ignore[operator]
            zout.writestr(item.filename, data)
    return dst


def far_cell(xml: bytes, ref: bytes = b"XFD1048576", row: bytes = b"1048576") -> bytes:
    cell = b'<row r="' + row + b'"><c r="' + ref + b'" t="n"><v>1</v></c></row>'
    return xml.replace(b"</sheetData>", cell + b"</sheetData>")


def far_dimension(xml: bytes) -> bytes:
    return xml.replace(b'<dimension ref="A1:M22" />', b'<dimension ref="A1:XFD1048576" />')


def one_line_exit_2(*args: str) -> str:
    """Run the il6assay command a user types; it must fail with exit 2 and one stderr line."""
    proc = subprocess.run(
        [str(IL6ASSAY), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_export_with_one_cell_at_xfd1048576_is_one_line_not_an_abort(tmp_path: Path) -> None:
    far = with_sheet_xml(GRID_XLSX, tmp_path / "far.xlsx", far_cell)
    assert far.stat().st_size < 8 * 1024  # as small as the file that aborted the reader library
    line = one_line_exit_2("inspect", str(far))
    assert str(far) in line
    assert "row 1048576" in line


@pytest.mark.parametrize(
    "edit",
    [far_dimension, lambda x: far_cell(x, b"ZZ50000", b"50000"), lambda x: far_cell(x, b"A1" * 0)],
    ids=["dimension", "area", "cell-without-ref"],
)
def test_sheet_extent_is_checked_before_the_workbook_library(tmp_path: Path, edit: object) -> None:
    path = with_sheet_xml(GRID_XLSX, tmp_path / "wide.xlsx", edit)
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError) as info:
        read_export(path)
    assert str(info.value).startswith(str(path))
    assert "beyond any plate's sheet" in info.value.message or "not a cell" in info.value.message
    # Refused from the XML, not after a dense grid was laid out (KB).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - usage < 50_000


def test_real_workbooks_still_read(tmp_path: Path) -> None:
    assert read_export(GRID_XLSX).plates
    assert read_export(EXAMPLE / "plate_001.xlsx").plates
    assert read_layout(ROOT / "plate_layouts" / "il6_96_standard.xlsx").wells


def sample_sheet_xlsx(path: Path, far: str | None) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["sample", "study_id", "visit"])
    ws.append(["P1", "AML-001", "D0"])
    if far:
        ws[far] = "x"
    wb.save(path)
    return path


def test_sample_sheet_with_a_far_cell_is_one_line_not_a_memory_error(tmp_path: Path) -> None:
    sheet = sample_sheet_xlsx(tmp_path / "far.samples.xlsx", "XFD1048576")
    assert sheet.stat().st_size < 8 * 1024
    line = one_line_exit_2(
        "process",
        str(EXAMPLE / "plate_001.xlsx"),
        "--layout",
        str(EXAMPLE / "plate_001.layout.toml"),
        "--samples",
        str(sheet),
        "--out",
        str(tmp_path / "runs"),
    )
    assert str(sheet) in line and "1048576" in line
    assert not (tmp_path / "runs").exists()
    assert load_samples(sample_sheet_xlsx(tmp_path / "ok.samples.xlsx", None)).rows


def test_sheet_layout_with_a_far_cell_is_refused(tmp_path: Path) -> None:
    layout = with_sheet_xml(
        ROOT / "plate_layouts" / "il6_96_standard.xlsx", tmp_path / "far.xlsx", far_cell
    )
    with pytest.raises(InputError) as info:
        read_layout(layout)
    assert "1048576" in str(info.value)


@pytest.mark.parametrize(
    "text",
    ["x = " + "[" * 100_000 + "]" * 100_000 + "\n", "x = " + "{a = " * 100_000 + "}" * 100_000],
    ids=["arrays", "inline-tables"],
)
def test_layout_nested_1e5_deep_is_one_line_not_a_recursion_error(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "deep.layout.toml"
    path.write_text(text, encoding="utf-8")
    line = one_line_exit_2("layout", "show", str(path))
    assert str(path) in line and "nested 100000 deep" in line


DOTTED_1E5 = {  # the text and the line of its long key
    "bare": ("[" + ".".join(["a"] * 100_000) + "]\nx = 1\n", 1),
    "quoted": ('x = 1\n["a"' + ' . "a"' * 99_999 + "]\ny = 1\n", 2),
}


@pytest.mark.parametrize(("text", "line"), DOTTED_1E5.values(), ids=DOTTED_1E5.keys())
def test_layout_with_keys_dotted_1e5_deep_is_refused_before_parsing(
    tmp_path: Path, text: str, line: int
) -> None:
    """tomllib spends seconds on a dotted key 10^5 long; a scan refuses it in milliseconds."""
    path = tmp_path / "dotted.layout.toml"
    path.write_text(text, encoding="utf-8")
    cpu = time.process_time()
    with pytest.raises(InputError) as info:
        load_layout(path)
    cpu = time.process_time() - cpu
    assert "keys nested 100000 deep" in info.value.message
    assert str(path) in str(info.value) and f"line {line}" in str(info.value)
    assert cpu < 1.0, f"{cpu:.2f} s CPU to refuse it"  # tomllib alone: ~6 s


def test_a_layout_key_just_within_the_bound_is_read_and_one_past_is_refused(
    tmp_path: Path,
) -> None:
    shipped = (ROOT / "plate_layouts" / "il6_96_standard.toml").read_text(encoding="utf-8")
    within = tmp_path / "within.toml"
    within.write_text(".".join(["k"] * 16) + " = 1.5\n" + shipped, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_layout(within)
    assert "nested" not in info.value.message  # refused for the unknown key, not for depth
    past = tmp_path / "past.toml"
    past.write_text(".".join(["k"] * 17) + " = 1.5\n" + shipped, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_layout(past)
    assert "keys nested 17 deep" in info.value.message


@pytest.mark.parametrize(
    "text",
    [DOTTED_1E5["bare"][0], "x = " + "[" * 100_000 + "]" * 100_000 + "\n"],
    ids=["dotted-keys", "nested-arrays"],
)
def test_il6assay_toml_nested_1e5_deep_is_one_line_naming_it(tmp_path: Path, text: str) -> None:
    (tmp_path / "il6assay.toml").write_text(text, encoding="utf-8")
    proc = subprocess.run(
        [str(IL6ASSAY), "process", str(EXAMPLE / "plate_001.xlsx")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "il6assay.toml" in lines[0], proc.stderr[-2000:]
    assert "nested 100000 deep" in lines[0]


def test_brackets_inside_strings_and_comments_do_not_count_as_nesting(tmp_path: Path) -> None:
    shipped = (ROOT / "plate_layouts" / "il6_96_standard.toml").read_text(encoding="utf-8")
    noise = '# [[[[[[[[[[[[[[[[[[[[\nnote = "[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{"\n'
    path = tmp_path / "ok.toml"
    path.write_text(noise + shipped, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_layout(path)
    assert "nested" not in info.value.message  # refused for the unknown key, not for depth


def test_a_batch_with_the_far_cell_export_writes_the_other_plates(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from il6assay.cli import main
    from tests.test_batch import _copy_plate

    day = tmp_path / "day"
    day.mkdir()
    _copy_plate(EXAMPLE / "plate_001.xlsx", day)
    with_sheet_xml(GRID_XLSX, day / "far.xlsx", far_cell)
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["batch", str(day), "--out", str(out), "--jobs", "2"])
    assert result.exit_code == 2  # one file could not be read; the other plate is written
    (far,) = [x for x in result.stderr.splitlines() if "far.xlsx" in x and "1048576" in x]
    assert far.startswith(f"il6assay: {day / 'far.xlsx'}")
    assert [p.name.split("-")[0] for p in out.iterdir() if (p / "run.json").is_file()] == [
        "plate_001"
    ]
