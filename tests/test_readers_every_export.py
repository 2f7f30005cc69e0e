"""Every read of every real export in ../shared equals the independent reader's, well by well.

The oracle (allotropy 0.1.150, ``expected/<file>.csv``) names a read by its
wavelength for absorbance ("450") and by its mode otherwise
("fluorescence"); a well's rows follow the file's order of reads. Each oracle
read is matched to ours by that name: the wavelength to our label (``"426"``,
``"426 (2)"``...), a mode to our reads of that mode in file order. Where the
oracle and the file disagree the file is the truth, and the difference is
listed below with its reason (and tested on its own in the reader's tests).
New files dropped into either folder are covered without a code change.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from il6assay.errors import InputError
from il6assay.plate.export import Export, Plate, Token, read_mode
from il6assay.plate.readers import read_export
from tests.reference import EXPORTS, SHARED, needs_shared

SIGNALS = SHARED / "signal_exports"
FOLDERS = (EXPORTS, SIGNALS)

# Exports refused on purpose, with the refusal's words.
REFUSED = {
    "gen5_kinetic_growth_curve.txt": "kinetic read",
}
# Oracle read names that are not what the file says (oracle read -> our label).
READ_ALIASES = {
    # "Raw Data (450 1)": the oracle takes the read counter for the wavelength.
    ("bmg_mars_labtech_format.csv", "1"): "450",
    # allotropy reports an AlphaLISA read as fluorescence; Gen5 calls it Alpha.
    ("gen5_fl_alphalisa_endpoint_singleplate.txt", "fluorescence"): "alpha",
    # SoftMax group tables' Value column (the dialect variant without its Plate block): the
    # real file's 260 nm read at the wells the tables list.
    ("softmax_groups_only.txt", "260"): "Value",
}
# Partial SoftMax plates whose unread wells allotropy reports as -0.0.
ZERO_FOR_EMPTY = {
    "softmax_abs_partial_plate_rows_c_f.txt",
    "softmax_fl_partial_plate.txt",
    "softmax_lum_partial_plate.txt",
}
# Oracle modes that are not what the file says (oracle mode -> our mode, reads in file order).
MODE_ALIASES = {
    # allotropy reports an HTRF label's two channels (665, 620 nm) as fluorescence; the
    # label's delay and time window make them time-resolved (EnVision: "Wdw=1").
    ("envision_htrf_two_channels.csv", "fluorescence"): "trf",
    # allotropy reports Gen5's polarization channels ([Parallel], [Perpendicular]) as
    # fluorescence; the step reads in polarization ("Fluorescence Polarization").
    ("gen5_fluorescence_polarization_384.txt", "fluorescence"): "polarization",
}


def _rows_a_e_i_m(well: str) -> str:
    # The file prints rows A, E, I and M of a 384-well plate (a 96-well
    # sampling); the oracle renumbers them A-D. The file's row letters are kept.
    return "AEIM"["ABCD".index(well[0])] + well[1:]


WELL_RENAMES = {"envision_luminescence_example01.csv": _rows_a_e_i_m}


def _plain(well: str) -> str:
    # The oracle writes SMART Control's wells as the file does ("A01"): the same well as A1.
    return re.sub(r"\A([A-P])0+(?=\d)", r"\1", well)


def export_names() -> list[Path]:
    out = []
    for folder in FOLDERS:
        if folder.is_dir():
            out += sorted(
                p
                for p in folder.iterdir()
                if p.is_file() and (folder / "expected" / f"{p.name}.csv").is_file()
            )
    return out


def oracle(path: Path) -> list[dict[str, str]]:
    with (path.parent / "expected" / f"{path.name}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def ours(value: object) -> object:
    return value.token if isinstance(value, Token) else value


def _labels_for(name: str, read: str, plate: Plate) -> list[str]:
    """Our labels an oracle read name stands for, in file order."""
    if (name, read) in READ_ALIASES:
        return [READ_ALIASES[name, read]]
    if read.isdigit():
        return [lb for lb in plate.reads if lb == read or lb.startswith(f"{read} (")]
    mode, _, k = read.partition(" #")
    mode = MODE_ALIASES.get((name, mode), mode)
    same_mode = [lb for lb in plate.reads if read_mode(lb) == mode]
    # "fluorescence #2": the oracle numbers a mode's reads (each may cover part of the plate).
    return same_mode[int(k) - 1 : int(k)] if k else same_mode


@needs_shared
def test_every_shared_export_has_an_oracle_reading() -> None:
    # A file without its expected/ CSV would silently escape the comparison.
    for folder in FOLDERS:
        for p in folder.iterdir():
            if p.is_file() and p.suffix != ".md" and not p.name.startswith("LICENSE"):
                assert (folder / "expected" / f"{p.name}.csv").is_file(), p.name
    assert len(export_names()) >= 26


@needs_shared
@pytest.mark.parametrize("path", export_names(), ids=lambda p: p.name)
def test_every_read_equals_the_oracle_well_by_well(path: Path) -> None:
    rows = oracle(path)
    if path.name in REFUSED:
        with pytest.raises(InputError, match=REFUSED[path.name]):
            read_export(path)
        return
    assert_reads_equal_oracle(path.name, read_export(path), rows)


def assert_reads_equal_oracle(name: str, export: Export, rows: list[dict[str, str]]) -> None:
    """Every oracle row is one of our reads' wells with the same value or token, and no more."""
    rename = WELL_RENAMES.get(name, lambda w: w)
    plate_names = list(dict.fromkeys(r["plate"] for r in rows))
    by_id = {p.id: p for p in export.plates}
    assert len(export.plates) >= len(plate_names)
    for k, plate_name in enumerate(plate_names):
        plate = by_id.get(plate_name, export.plates[k])
        seen: dict[tuple[str, str], int] = {}
        compared: set[str] = set()
        for row in (r for r in rows if r["plate"] == plate_name):
            well = rename(_plain(row["well"]))
            n = seen.get((well, row["read"]), 0)
            seen[well, row["read"]] = n + 1
            labels = _labels_for(name, row["read"], plate)
            assert n < len(labels), f"{plate.id}: no read of ours for oracle read {row['read']!r}"
            label = labels[n]
            compared.add(label)
            got = ours(plate.reads[label][well])
            want: object = float(row["value"]) if row["value"] else (row["error"] or None)
            if want == 0.0 and got is None and name in ZERO_FOR_EMPTY:
                # allotropy writes -0.0 for a well a partial plate leaves empty (its cells
                # hold nothing in the file): no value.
                want = None
            if want == "nan" and got is None:
                # The oracle writes a well the file leaves empty (a partial
                # plate) as error "nan"; the file has no value there.
                want = None
            if want == "not a number" and isinstance(got, str):
                # An oracle that keeps no token (OpenReadout, FlopR: NaN, NA) for a word in
                # the cell: ours must be a token there, whatever its word.
                want = got
            assert got == want, f"{name} {plate.id} {label} {well}: {got!r} != {want!r}"
            if isinstance(want, float):
                assert isinstance(got, float)
        # No well of ours holds a value the oracle does not have.
        wanted = {rename(_plain(r["well"])) for r in rows if r["plate"] == plate_name}
        for label in compared:
            extra = [w for w, v in plate.reads[label].items() if v is not None and w not in wanted]
            assert not extra, f"{plate.id} {label}: wells the oracle does not list: {extra[:5]}"
