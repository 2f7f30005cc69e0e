"""`--reader allotropy:VENDOR`: the optional extra converts in-process and reads the ASM."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.readers import read_export
from tests.reference import EXPORTS, needs_shared

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"


def test_without_allotropy_the_reader_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "allotropy.parser_factory", None)
    with pytest.raises(InputError, match=r"pip install 'il6assay\[allotropy\]'"):
        read_export(FIXTURES / "gen5_450_570.txt", reader="allotropy:AGILENT_GEN5")


@needs_shared
def test_allotropy_gen5_conversion_reads_the_same_grid_as_our_gen5_reader() -> None:
    pytest.importorskip("allotropy")
    path = EXPORTS / "gen5_abs450_ovrflw_missed.txt"
    converted = read_export(path, reader="allotropy:agilent_gen5")
    native = read_export(path)
    assert converted.format == "allotropy:AGILENT_GEN5"
    assert [p.id for p in converted.plates] == [p.id for p in native.plates]
    assert converted.plates[0].reads == native.plates[0].reads


def test_unknown_allotropy_vendor_lists_the_known_ones() -> None:
    pytest.importorskip("allotropy")
    with pytest.raises(InputError, match=r"allotropy has no vendor 'nope' \(known: .*AGILENT_GEN5"):
        read_export(FIXTURES / "gen5_450_570.txt", reader="allotropy:nope")


def test_allotropy_failure_is_one_input_error_line_naming_the_file() -> None:
    pytest.importorskip("allotropy")
    path = FIXTURES / "grid_450_570.csv"
    with pytest.raises(InputError) as info:
        read_export(path, reader="allotropy:AGILENT_GEN5")
    assert str(info.value).startswith(f"{path}: allotropy (AGILENT_GEN5) could not convert")
    assert "\n" not in str(info.value)
