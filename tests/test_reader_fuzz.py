"""Property test: every reader, fed mutated versions of its fixtures, reads or raises InputError.

Mutations: the file cut at any byte; a line dropped or duplicated; a cell
replaced by junk, a reader token or an odd number; for workbooks a cell
value changed (openpyxl) or the file cut. Never another exception: a
traceback on a bad file is a bug. Examples are bounded so this runs in CI.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from il6assay.errors import InputError
from il6assay.plate.readers import read_export
from il6assay.plate.readers.source import decode

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
# A longer, randomised hunt: IL6_FUZZ_EXAMPLES=500 pytest tests/test_reader_fuzz.py
EXAMPLES = int(os.environ.get("IL6_FUZZ_EXAMPLES", "25"))
READERS = [
    "gen5",
    "grid",
    "softmax",
    "envision",
    "tecan",
    "skanit",
    "bmg",
    "kaleido",
    "asm",
    "icontrol",
]
PREFIX = {"softmax": "softmax_", "tecan": "tecan_", "asm": "asm_"}
# Public Tecan exports (fixtures/readers/icontrol): the two small ones, text and CSV.
ICONTROL = ["icontrol_infinite_f200_fluorescence.txt", "spark_calibration_abs_fluorescence.csv"]

TOKENS = ["OVRFLW", "MISSED", "Range?", "#SAT", "OVER", "***", "---", "Inf", "NaN", "Masked"]
JUNK = ["", "oops", "1e999", "-0", "0,5", "1.2.3", "\x00", "A", "12", "999999999999", '"', "�"]
# text()'s default alphabet (every character UTF-8 encodes: all but the surrogates), named by
# category: the same characters without building the codec's table (~1 s of CPU).
CELL = st.sampled_from(TOKENS + JUNK) | st.text(
    st.characters(exclude_categories=["Cs"]), max_size=6
)


def fixtures(reader: str) -> list[Path]:
    """The reader's own fixtures (any that it reads or refuses)."""
    if reader == "icontrol":
        return [FIXTURES / "icontrol" / name for name in ICONTROL]
    prefix = PREFIX.get(reader, f"{reader}_")
    return sorted(
        p
        for p in FIXTURES.iterdir()
        if p.name.startswith(prefix) and p.suffix not in (".md", ".py")
    )


def mutate_text(data: bytes, draw: st.DrawFn) -> bytes:
    """One mutation of a text export, kept in its own encoding."""
    kind = draw(st.sampled_from(["truncate", "drop", "duplicate", "cell"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    text = decode(data)
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8"
    lines = text.splitlines(keepends=True)
    if not lines:
        return data
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "drop":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(i, lines[i])
    else:
        sep = next((s for s in ("\t", ";", ",") if s in lines[i]), None)
        cells = lines[i].split(sep) if sep else [lines[i]]
        j = draw(st.integers(0, len(cells) - 1))
        cells[j] = draw(CELL)
        lines[i] = (sep or "").join(cells)
    return "".join(lines).encode(encoding, errors="replace")


def mutate_xlsx(data: bytes, draw: st.DrawFn) -> bytes:
    """One mutation of a workbook: a cell's value changed, or the file cut."""
    if draw(st.booleans()):
        return data[: draw(st.integers(0, len(data)))]
    from openpyxl import load_workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[draw(st.integers(0, len(wb.worksheets) - 1))]
    row = draw(st.integers(1, max(ws.max_row, 1)))
    col = draw(st.integers(1, max(ws.max_column, 1)))
    value = draw(CELL | st.floats(allow_nan=True) | st.none())
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)  # Excel cannot hold them
    ws.cell(row, col).value = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@st.composite
def mutated(draw: st.DrawFn, reader: str) -> tuple[str, bytes]:
    path = draw(st.sampled_from(fixtures(reader)))
    data = path.read_bytes()
    if path.suffix == ".xlsx":
        return path.name, mutate_xlsx(data, draw)
    if path.suffix == ".xls":
        return path.name, data[: draw(st.integers(0, len(data)))]
    return path.name, mutate_text(data, draw)


def reads_or_refuses(name: str, data: bytes, reader: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        for chosen in (reader, None):
            try:
                read_export(path, reader=chosen)
            except InputError as err:
                assert str(err).startswith(str(path))
                assert "\n" not in str(err)


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_has_fixtures_to_mutate(reader: str) -> None:
    assert fixtures(reader)


@pytest.mark.slow  # a fuzzing sweep over every reader
@pytest.mark.parametrize("reader", READERS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="IL6_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_fixture_reads_or_raises_input_error(reader: str, data: st.DataObject) -> None:
    name, content = data.draw(mutated(reader))
    reads_or_refuses(name, content, reader)
