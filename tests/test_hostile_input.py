"""Bad and hostile input: each is one InputError line naming the file, in bounded time and memory.

Zip bombs, XML entities (billion laughs, external entities), truncated
workbooks, unknown kinds, empty files, broken grids, two plates where one was
expected, unreadable encodings, oversized files and reader software's native
binaries (Gen5 ``.xpt``, SoftMax Pro ``.sda``/``.sdax``).
"""

from __future__ import annotations

import importlib
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.errors import InputError
from il6assay.plate.readers import READER_MODULES, Source, detect, read_export
from il6assay.plate.readers.source import MAX_FILE_BYTES, OLE_MAGIC, decode
from il6assay.run import choose_plate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
GRID_XLSX = FIXTURES / "grid_450_570.xlsx"
SHEET = "xl/worksheets/sheet1.xml"


def refused(path: Path, reader: str | None = None) -> InputError:
    """The InputError reading ``path`` raises; it must be one line naming the file."""
    with pytest.raises(InputError) as info:
        read_export(path, reader=reader)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}")
    return info.value


def rewrite_xlsx(src: Path, dst: Path, replace: dict[str, bytes]) -> None:
    """Copy a workbook, replacing (or adding) the named members' bytes."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, replace.get(item.filename, zin.read(item.filename)))
        for name, data in replace.items():
            if name not in zin.namelist():
                zout.writestr(name, data)


def sheet_xml() -> bytes:
    with zipfile.ZipFile(GRID_XLSX) as z:
        return z.read(SHEET)


def with_prolog(extra: bytes) -> bytes:
    """The grid sheet's XML with an XML declaration and ``extra`` before the root element."""
    return b'<?xml version="1.0" encoding="UTF-8"?>' + extra + sheet_xml()


def test_zip_bomb_is_refused_from_declared_sizes_in_bounded_time_and_memory(
    tmp_path: Path,
) -> None:
    # A sheet that really inflates to 256 MB from a file of a few hundred KB.
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(GRID_XLSX) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for item in zin.infolist():
            if item.filename != SHEET:
                z.writestr(item.filename, zin.read(item.filename))
        with z.open(SHEET, "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0"?><worksheet>')
            chunk = b" " * 2**20
            for _ in range(256):
                fh.write(chunk)
    assert bomb.stat().st_size < 2**20
    tracemalloc.start()
    start = time.perf_counter()
    err = refused(bomb)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "zip bomb" in err.message
    assert elapsed < 1.0
    assert peak < 20 * 2**20


def test_small_zip_bomb_is_refused_by_its_compression_ratio(tmp_path: Path) -> None:
    # 16 MB of one byte: under the total limit, but a 1000-fold ratio no sheet has.
    path = tmp_path / "ratio.xlsx"
    rewrite_xlsx(GRID_XLSX, path, {"xl/sharedStrings.xml": b"<sst>" + b"\0" * (16 * 2**20)})
    err = refused(path)
    assert "xl/sharedStrings.xml" in err.message
    assert "zip bomb" in err.message


def test_billion_laughs_dtd_is_refused_before_any_parser(tmp_path: Path) -> None:
    dtd = b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
    dtd += b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    dtd += b"]>"
    xml = with_prolog(dtd).replace(b"<t>", b"<t>&lol9;", 1)
    path = tmp_path / "laughs.xlsx"
    rewrite_xlsx(GRID_XLSX, path, {SHEET: xml})
    start = time.perf_counter()
    err = refused(path)
    assert time.perf_counter() - start < 1.0
    assert SHEET in err.message
    assert "DTD" in err.message


def test_external_entity_is_refused_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("0.999")
    dtd = f'<!DOCTYPE x [<!ENTITY ext SYSTEM "file://{secret}">]>'.encode()
    xml = with_prolog(dtd).replace(b"<t>", b"<t>&ext;", 1)
    path = tmp_path / "xxe.xlsx"
    rewrite_xlsx(GRID_XLSX, path, {SHEET: xml})
    assert "DTD" in refused(path).message


def test_dtd_hidden_after_a_comment_is_still_refused(tmp_path: Path) -> None:
    xml = with_prolog(b'<!-- <fake/> --><!DOCTYPE x [<!ENTITY e "1">]>')
    path = tmp_path / "hidden.xlsx"
    rewrite_xlsx(GRID_XLSX, path, {SHEET: xml})
    assert "DTD" in refused(path).message


def test_utf16_xml_part_with_a_dtd_is_refused(tmp_path: Path) -> None:
    xml = with_prolog(b'<!DOCTYPE x [<!ENTITY e "1">]>').decode("utf-8")
    xml = xml.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    path = tmp_path / "utf16.xlsx"
    rewrite_xlsx(GRID_XLSX, path, {SHEET: xml.encode("utf-16")})
    assert "DTD" in refused(path).message


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9])
def test_truncated_xlsx_is_one_line_naming_the_file(tmp_path: Path, keep: float) -> None:
    data = GRID_XLSX.read_bytes()
    path = tmp_path / "cut.xlsx"
    path.write_bytes(data[: int(len(data) * keep)])
    assert "not a readable XLSX workbook" in refused(path).message


def test_corrupt_member_of_xlsx_is_refused(tmp_path: Path) -> None:
    data = bytearray(GRID_XLSX.read_bytes())
    with zipfile.ZipFile(GRID_XLSX) as z:
        info = z.getinfo(SHEET)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5
    data[start : start + 40] = b"\xff" * 40
    path = tmp_path / "corrupt.xlsx"
    path.write_bytes(bytes(data))
    assert "not a readable XLSX workbook" in refused(path).message


def test_unknown_kind_names_the_closest_reader_and_keeps_every_reason(tmp_path: Path) -> None:
    # One line names the closest reader and why; the full list is on the
    # error (shown by `inspect --verbose`), one reason per reader.
    path = tmp_path / "notes.txt"
    path.write_text("Shopping list\neggs, milk\n")
    err = refused(path)
    assert err.message.startswith("not a plate-reader export this tool reads; closest: ")
    assert "inspect --verbose" in err.message
    names = [importlib.import_module(m).NAME for m in READER_MODULES]
    assert sum(f"{name} (" in err.message for name in names) == 1
    assert [r.split(":", 1)[0] for r in err.reasons] == names


@pytest.mark.parametrize("content", [b"", b"   \r\n\t\n"])
def test_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    assert refused(path).message == "the file is empty"


def grid_lines(rows: str = "ABCDEFGH", cols: int = 12) -> list[str]:
    header = "," + ",".join(str(c) for c in range(1, cols + 1))
    return ["450 nm", header] + [",".join([r] + ["0.1"] * cols) for r in rows]


def test_grid_with_a_row_missing_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(grid_lines(rows="ABCDEGH")) + "\n")
    err = refused(path)
    assert err.message == "grid is not 8x12: found rows A, B, C, D, E, G, H"
    assert err.where == "line 2"


def test_grid_with_a_column_missing_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("\n".join(grid_lines(cols=11)) + "\n")
    err = refused(path)
    assert err.message == "grid is not 8x12: found columns 1-11"
    assert err.where == "line 2"


def test_two_plates_where_one_is_expected_say_how_to_choose() -> None:
    export = read_export(FIXTURES / "softmax_duplicate_names.txt")
    with pytest.raises(InputError) as info:
        choose_plate(export, None)
    assert "choose one with --plate" in str(info.value)
    assert "Plate1, Plate1 (2)" in str(info.value)
    assert str(info.value).startswith(str(FIXTURES / "softmax_duplicate_names.txt"))
    assert choose_plate(export, "Plate1 (2)").id == "Plate1 (2)"


def test_unreadable_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "garbled.csv"
    path.write_bytes(b"450 nm\n,1,2,3\nA,\x81\xff,0.1\n")
    err = refused(path)
    assert "cannot decode the file's text" in err.message
    assert err.where == "line 3"


def test_oversized_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as fh:
        fh.write(b"450 nm\n,1,2,3,4,5,6,7,8,9,10,11,12\n")
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk or memory used
    assert "too large for a plate-reader export" in refused(path).message


def ole_file(path: Path, stream: str = "Contents") -> Path:
    """A minimal file with the OLE2 signature and a directory entry named ``stream``."""
    path.write_bytes(OLE_MAGIC + bytes(504) + stream.encode("utf-16-le") + bytes(2000))
    return path


@pytest.mark.parametrize("name", ["run.xpt", "RUN.XPT"])
def test_gen5_xpt_is_refused_asking_for_a_text_export(tmp_path: Path, name: str) -> None:
    path = ole_file(tmp_path / name)
    err = refused(path)
    assert "Gen5" in err.message
    assert "export the plate from Gen5 as text or Excel" in err.message
    with pytest.raises(InputError, match="Gen5's own binary"):
        detect(Source(path))
    assert "Gen5" in refused(path, reader="grid").message  # --reader does not bypass it


@pytest.mark.parametrize("name", ["plate.sda", "plate.sdax"])
def test_softmax_native_file_is_refused_asking_for_a_text_export(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".sda"):
        ole_file(path)
    else:
        with zipfile.ZipFile(path, "w") as z:  # .sdax is a zip container
            z.writestr("Document.xml", "<doc/>")
    err = refused(path)
    assert "export the plate from SoftMax Pro as a text file (File > Export" in err.message


def test_other_ole_binary_is_refused_as_a_native_file(tmp_path: Path) -> None:
    err = refused(ole_file(tmp_path / "mystery.dat"))
    assert "OLE binary that is not an Excel workbook" in err.message


def test_ole_file_with_a_workbook_stream_but_corrupt_is_an_unreadable_xls(tmp_path: Path) -> None:
    path = ole_file(tmp_path / "broken.xls", stream="Workbook")
    assert "not a readable XLS workbook" in refused(path).message


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(b"\x81\xff\x81\xff"),
        lambda p: ole_file(p),
    ],
    ids=["empty", "garbled", "ole"],
)
def test_cli_gives_exit_2_and_one_stderr_line(tmp_path: Path, make: object) -> None:
    path = tmp_path / "bad.xpt"
    make(path)  # type: ignore[operator]
    result = CliRunner().invoke(main, ["inspect", str(path), "--json"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0]


def test_decode_never_guesses_gbk_for_cp1252_degrees_and_umlauts() -> None:
    assert decode("Temperatur 25 °C, Größe 5 µl".encode("cp1252")) == (
        "Temperatur 25 °C, Größe 5 µl"
    )
