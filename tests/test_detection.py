"""Every reader's sniff on every export file, and `inspect --json` on every export.

One table of files (the shared reference exports, their ASM documents, and
the signal exports beside them, every export fixture of this repository)
with the reader that must claim
each, by file-name prefix. For each file: exactly that reader's sniff says
yes (no other vendor claims it; the plain-grid FALLBACK may also say yes
only where a vendor reader wins), ``detect`` picks it, and ``il6assay
inspect FILE --json`` prints the format and exactly the plates, reads and
wells :func:`~il6assay.plate.readers.read_export` returns (the reader tests prove
those equal the files, well by well). Files a reader refuses (kinetic,
fluorescence, broken fixtures) give exit 2 and one line on stderr.

Each file is sniffed, read and inspected once (cached), so this runs in seconds.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner, Result

from il6assay.cli import main
from il6assay.errors import InputError
from il6assay.plate.export import MISSING, Export, Token
from il6assay.plate.readers import Sniff, Source, _modules, detect, read_export
from tests.reference import EXPORTS

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"

# File-name prefix -> the reader that must claim the file.
PREFIXES = {
    "gen5_": "gen5",
    "softmaxpro_": "softmax",
    "softmax_": "softmax",
    "tecan_": "tecan",
    "icontrol_": "icontrol",
    "spark_": "icontrol",
    "bmg_smartcontrol_": "bmg-smart",
    "bmg_": "bmg",
    "skanit_": "skanit",
    "envision_": "envision",
    "kaleido_": "kaleido",
    "asm_": "asm",
    "grid_": "grid",
    "rlu_": "grid",  # simulated plates of other signals (make_signal_fixtures.py)
    "trf_": "grid",
    "plate_": "grid",  # fixtures/example: the plain grids the tutorial processes
}
NOT_EXPORTS = {".md", ".py", ".toml"}


def expected_reader(path: Path) -> str:
    """The reader that must claim ``path``, from its folder and file-name prefix."""
    if path.parent.name == "asm" and path.suffix == ".json":
        return "asm"
    for prefix, reader in PREFIXES.items():
        if path.name.startswith(prefix):
            return reader
    raise AssertionError(f"no expected reader for {path}: add its prefix to PREFIXES")


def is_export(path: Path) -> bool:
    """An export file (not a README, script, licence, layout or sample sheet)."""
    return (
        path.is_file()
        and path.suffix not in NOT_EXPORTS
        and not path.name.startswith(("LICENSE", "README"))
        and not path.name.endswith(".samples.csv")
        # independent readings of the exports beside them; exports refused for what they are
        # (tests/test_readers_refusals.py); golden renders of the pages (test_page_renders.py)
        and path.parent.name not in ("expected", "refused", "renders")
    )


def export_files() -> list[Path]:
    """Every reference export (and ASM document) and every export fixture."""
    files: list[Path] = []
    if EXPORTS.is_dir():
        files += sorted(p for p in EXPORTS.iterdir() if is_export(p))
        signals = EXPORTS.parent / "signal_exports"
        files += sorted(p for p in signals.iterdir() if is_export(p)) if signals.is_dir() else []
        files += sorted(p for p in (EXPORTS / "asm").glob("*.json"))
    files += sorted(p for p in FIXTURES.rglob("*") if is_export(p))
    return files


FILES = export_files()
IDS = [str(p.relative_to(p.parents[1])) for p in FILES]


@cache
def sniffs(path: Path) -> dict[str, Sniff]:
    """Every reader's verdict on ``path`` (one shared Source, as detect uses)."""
    source = Source(path)
    return {m.NAME: m.sniff(source) for m in _modules()}


@cache
def detected(path: Path) -> ModuleType:
    return detect(Source(path))


@cache
def library(path: Path) -> Export | InputError:
    """What read_export gives: the export, or the InputError that refuses the file."""
    try:
        return read_export(path)
    except InputError as err:
        return err


@cache
def inspected(path: Path) -> Result:
    return CliRunner().invoke(main, ["inspect", str(path), "--json"])


def test_every_prefix_and_reader_is_covered_by_some_file() -> None:
    readers = {m.NAME for m in _modules()}
    claimed = {expected_reader(p) for p in FILES}
    assert readers <= claimed, f"readers without a file: {readers - claimed}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_only_the_right_reader_claims_the_file_and_detect_picks_it(path: Path) -> None:
    want = expected_reader(path)
    verdicts = sniffs(path)
    claimed = sorted(name for name, verdict in verdicts.items() if verdict.ok)
    # The plain grid reader is a FALLBACK: it may say yes beside a vendor reader.
    vendors = [name for name in claimed if name != "grid"]
    assert vendors == ([] if want == "grid" else [want]), f"claimed by {claimed}"
    if want == "grid":
        assert claimed == ["grid"]
    for name, verdict in verdicts.items():
        if not verdict.ok:
            assert verdict.reason, f"{name} gives no reason for refusing {path.name}"
    assert want == detected(path).NAME


def well_value(value: object) -> object:
    """A reading as `inspect --json` prints it."""
    if isinstance(value, Token):
        return None if value.status == MISSING else value.status
    return value


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_inspect_json_gives_the_format_and_every_well_read_export_gives(path: Path) -> None:
    result = inspected(path)
    export = library(path)
    if isinstance(export, InputError):
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert lines == [f"il6assay: {export}"]
        assert str(path) in lines[0]
        return
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"format", "plates"}
    assert doc["format"] == expected_reader(path) == export.format
    assert [p["id"] for p in doc["plates"]] == [p.id for p in export.plates]
    for printed, plate in zip(doc["plates"], export.plates, strict=True):
        assert set(printed) == {"id", "metadata", "reads"}
        assert isinstance(printed["metadata"], dict)
        assert list(printed["reads"]) == list(plate.reads)
        for label, grid in plate.reads.items():
            assert len(grid) == plate.rows * plate.cols
            assert printed["reads"][label] == {w: well_value(v) for w, v in grid.items()}
            for value in printed["reads"][label].values():
                assert (
                    value is None or value in ("SATURATED", "MASKED") or (isinstance(value, float))
                )


def test_refused_exports_are_the_known_ones() -> None:
    refused = sorted(p.name for p in FILES if isinstance(library(p), InputError))
    assert refused == sorted(
        [
            *(["gen5_kinetic_growth_curve.txt"] if EXPORTS.is_dir() else []),
            "asm_kinetic.json",
            "grid_bad_token.csv",
            "grid_not_8x12.csv",
            "icontrol_infinite_200pro_kinetic.csv",
            "softmax_kinetic.txt",
            "spark_kinetic_od_gfp_mcherry.csv",
            "tecan_magellan_kinetic.xlsx",
        ]
    )
