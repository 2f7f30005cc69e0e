"""Text encodings of real exports, and legacy XLS workbooks.

UTF-8 with or without BOM, UTF-16 (SoftMax Pro, see its reader tests), and
the reader PC's legacy code page: cp1252 in Western Europe, GBK/GB18030 on
Chinese-locale Windows. Chinese plate and sample names must survive; "°C",
"µl" and umlauts must not turn into Hanzi. Fixtures: make_encoding_fixtures.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from il6assay.plate.readers import read_export
from il6assay.plate.readers.source import decode, legacy_codec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"


def test_gbk_gen5_export_keeps_chinese_plate_name_and_paths() -> None:
    export = read_export(FIXTURES / "gen5_gbk_chinese.txt")
    (plate,) = export.plates
    assert export.format == "gen5"
    assert plate.id == "患者样本 第1板"
    assert plate.metadata["experiment_file"] == r"C:\用户\公共\实验\白介素6_检测.xpt"
    assert plate.metadata["protocol_file"] == r"C:\用户\公共\方案\白介素6 450 570.prt"


def test_cp1252_gen5_export_keeps_degrees_micro_and_umlauts() -> None:
    (plate,) = read_export(FIXTURES / "gen5_cp1252_european.txt").plates
    assert plate.id == "Platte 1 (Müller, 25 °C)"
    assert plate.metadata["experiment_file"] == r"C:\Benutzer\Öffentlich\Größe\IL6 µl.xpt"


@pytest.mark.parametrize(
    "name", ["gen5_gbk_chinese.txt", "gen5_cp1252_european.txt", "grid_utf8_bom_chinese.csv"]
)
def test_legacy_and_bom_encoded_exports_read_the_same_wells(name: str) -> None:
    base = "gen5_450_570.txt" if name.startswith("gen5") else "grid_450_570.csv"
    assert (
        read_export(FIXTURES / name).plates[0].reads == read_export(FIXTURES / base).plates[0].reads
    )


def test_gbk_grid_with_chinese_title_reads_like_the_utf8_one() -> None:
    gbk = read_export(FIXTURES / "grid_gbk_chinese.csv").plates[0]
    utf8 = read_export(FIXTURES / "grid_450_570.csv").plates[0]
    assert gbk.reads == utf8.reads


@pytest.mark.parametrize(
    "text",
    [
        "Temperature: 25 °C",
        "Größe",
        "Volumen 100 µl, Müller, Ärzte, café, Zürich",
        "Plate 1 – 37 °C ± 0,5",
        "ÄÖÜ äöü ß",
    ],
)
def test_cp1252_text_is_never_read_as_gbk(text: str) -> None:
    data = text.encode("cp1252")
    assert legacy_codec(data) == "cp1252"
    assert decode(data) == text


@pytest.mark.parametrize(
    "text",
    ["患者样本", "血清 37 ℃", "白介素6 检测（第1板）", "标准品 S1,阴性对照,空白", "样"],
)
def test_gbk_text_is_read_as_gb18030(text: str) -> None:
    data = text.encode("gbk")
    assert legacy_codec(data) == "gb18030"
    assert decode(data) == text


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16"])
def test_unicode_encodings_keep_chinese_and_degrees(codec: str) -> None:
    text = "患者样本\t25 °C\tµl\r\n" * 20
    assert decode(text.encode(codec)) == text


def test_head_cut_inside_a_gbk_character_is_decoded_without_error() -> None:
    data = ("患者样本" * 10).encode("gbk")
    assert decode(data[:-1], partial=True) == "患者样本" * 9 + "患者样"


def test_xls_workbook_reads_the_same_as_its_csv() -> None:
    export = read_export(FIXTURES / "grid_450_570.xls")
    assert export.format == "grid"
    assert export.plates[0].reads == read_export(FIXTURES / "grid_450_570.csv").plates[0].reads
