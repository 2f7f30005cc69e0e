"""Our readers against allotropy and OpenReadout, in CPU time, measured in one run.

Run from the project root: ``.venv/bin/python benchmarks/bench_readers.py`` (``--repeat N``
reads each file N times with our readers and OpenReadout and keeps the median; allotropy
converts each file once; ``--only-ours`` skips the other two). The files: every export of
../shared/reference_exports and ../shared/signal_exports, the public Tecan files of
fixtures/readers/icontrol, allotropy's real dialect files in fixtures/readers/allotropy
and the dialect variants fixtures/readers/make_dialect_variants.py
writes from real files (into a temporary folder).

For each file and each library: CPU time (``time.process_time``) of detection and reading
(ours), of ``allotrope_from_file`` with the vendor given (allotropy), of opening the file and
reading its plate table (OpenReadout), imports done; and coverage, the share of the
independent reading's numeric wells (``expected/`` CSVs) whose value the library returns in
any read of that well. Then the import of each library on a cold interpreter, as CPU time of
a child process (``resource.getrusage``, children) minus that of an empty interpreter, and
each package's size on disk.

Exit 1 when our median per file is not at least 50x faster than allotropy's or the readers'
import on the ``process`` path takes 0.1 s or more.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from il6assay.errors import InputError  # noqa: E402
from il6assay.plate.export import Token  # noqa: E402
from il6assay.plate.readers import read_export  # noqa: E402

# The oracles' known slips, as the tests read them: EnVision's A-D for rows A/E/I/M, and
# allotropy's -0.0 for the wells of a partial SoftMax plate the file leaves empty.
from tests.test_readers_every_export import WELL_RENAMES, ZERO_FOR_EMPTY  # noqa: E402

SHARED = ROOT.parent / "shared"
FOLDERS = (SHARED / "reference_exports", SHARED / "signal_exports")
ICONTROL = ROOT / "fixtures" / "readers" / "icontrol"
ALLOTROPY_FILES = ROOT / "fixtures" / "readers" / "allotropy"  # real dialect files, its oracle
MIN_RATIO = 50.0  # allotropy's CPU time / ours, median per file
IMPORT_LIMIT_S = 0.1  # the readers' import on the process path
ALLOTROPY_VENDORS = {
    "gen5_": "AGILENT_GEN5",
    "softmax": "MOLDEV_SOFTMAX_PRO",
    "envision_": "PERKIN_ELMER_ENVISION",
    "kaleido_": "REVVITY_KALEIDO",
    "bmg_smartcontrol": "BMG_LABTECH_SMART_CONTROL",
    "bmg_": "BMG_MARS",
    "tecan_": "TECAN_MAGELLAN",
    "skanit_": "THERMO_SKANIT",
}
# What each library's import costs on a cold interpreter (our readers: as `process` imports
# them, every reader module, since detection asks each).
IMPORTS = {
    "il6assay readers": "import il6assay.plate.readers as r; r._modules()",
    "openreadout": "import openreadout",
    "allotropy": "import allotropy.to_allotrope, allotropy.parser_factory",
}
Wells = set[tuple[str, float]]


def cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median CPU time of ``repeat`` calls, in ms."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def oracle(path: Path) -> Wells:
    """(well, value) of every numeric well of the independent reading, wells as the file's."""
    rename = WELL_RENAMES.get(path.name, lambda w: w)
    with (path.parent / "expected" / f"{path.name}.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["value"]]
    if path.name in ZERO_FOR_EMPTY:
        rows = [r for r in rows if float(r["value"]) != 0.0]
    return {(rename(_plain(r["well"])), float(r["value"])) for r in rows}


def _plain(well: str) -> str:
    row = well.rstrip("0123456789")  # "A01" -> "A1", 1536-well "AE3" as it is
    return f"{row}{int(well[len(row) :])}"


def ours(path: Path) -> Wells:
    """(well, value) of every numeric reading of every read, by our readers."""
    try:
        export = read_export(path)
    except InputError:
        return set()
    return {
        (w, v)
        for p in export.plates
        for grid in p.reads.values()
        for w, v in grid.items()
        if isinstance(v, float) and not isinstance(v, Token)
    }


def openreadout_wells(path: Path) -> Wells:
    """(well, value) of every numeric endpoint row of OpenReadout's plate tables."""
    import openreadout

    out: Wells = set()
    try:
        with openreadout.File(path) as f:
            for k, table in enumerate(f.tables):
                wells = table["columns"][0].get("extra", {}).get("categories")
                if not wells:
                    continue
                for row in f.read_table(k):
                    if math.isnan(row[5]) and not math.isnan(row[6]):
                        out.add((wells[int(row[0])], float(row[6])))
    except Exception:  # OpenReadout's refusals (kinetic-only files, unknown formats)
        return set()
    return out


def allotropy_wells(path: Path, vendor: str) -> Wells:
    """(well, value) of every measured value of allotropy's ASM document, by location."""
    from allotropy.parser_factory import Vendor
    from allotropy.to_allotrope import allotrope_from_file

    try:
        document = allotrope_from_file(str(path), Vendor[vendor])
    except Exception:  # allotropy's refusals (kinetic files, dialects it does not read)
        return set()
    out: Wells = set()
    _measurements(document, out)
    return out


_MEASURED = ("absorbance", "fluorescence", "luminescence", "polarization", "count")


def _measurements(node: object, out: Wells) -> None:
    if isinstance(node, list):
        for item in node:
            _measurements(item, out)
    elif isinstance(node, dict):
        well = node.get("sample document", {}).get("location identifier")
        if well:
            for key, value in node.items():
                if key in _MEASURED and isinstance(value, dict):
                    v = value.get("value")
                    if isinstance(v, (int, float)) and math.isfinite(v):
                        out.add((_plain(str(well)), float(v)))
        for value in node.values():
            _measurements(value, out)


def covered(got: Wells, want: Wells) -> int:
    """How many of the oracle's wells the reading has, value rounded to 9 significant digits."""
    have = {(w, float(f"{v:.9g}")) for w, v in got}
    return sum((w, float(f"{v:.9g}")) in have for w, v in want)


def import_cpu_s(statement: str) -> float | None:
    """CPU seconds a cold interpreter spends on ``statement`` beyond starting (best of 3)."""

    def child(code: str) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    try:
        return min(child(statement) for _ in range(3)) - min(child("pass") for _ in range(3))
    except subprocess.CalledProcessError:
        return None


def package_mb(name: str) -> float | None:
    """Size on disk of an installed package's folder, MB."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def files(tmp: Path) -> list[Path]:
    """Every export with an independent reading: ../shared, public files, variants."""
    import importlib.util

    out = [
        p
        for folder in (*FOLDERS, ICONTROL, ALLOTROPY_FILES)
        if folder.is_dir()
        for p in sorted(folder.iterdir())
        if p.is_file() and (folder / "expected" / f"{p.name}.csv").is_file()
    ]
    spec = importlib.util.spec_from_file_location(
        "make_dv", ROOT / "fixtures" / "readers" / "make_dialect_variants.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_dv"] = module
    spec.loader.exec_module(module)
    (tmp / "expected").mkdir()
    for variant in module.VARIANTS:
        path, rows = module.write_variant(variant, tmp)
        with (tmp / "expected" / f"{path.name}.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["plate", "read", "well", "value", "error"])
            writer.writeheader()
            writer.writerows(rows)
        out.append(path)
    return out


def main() -> int:
    """Print the tables; exit 1 when a limit is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only-ours", action="store_true")
    args = parser.parse_args()
    others = {}
    if not args.only_ours:
        with contextlib.suppress(ImportError):
            import allotropy.to_allotrope  # noqa: F401

            others["allotropy"] = True
        with contextlib.suppress(ImportError):
            import openreadout  # noqa: F401

            others["openreadout"] = True
    with tempfile.TemporaryDirectory() as tmp:
        paths = files(Path(tmp))
        ours(paths[0])  # warm-up: the readers and the workbook library imported
        print(f"{'file':56} {'ours ms':>8} {'allo ms':>8} {'OR ms':>7} {'x allo':>7}", end="")
        print("  wells covered: ours/allotropy/OpenReadout")
        totals = {"ours": [0, 0], "allotropy": [0, 0], "openreadout": [0, 0]}
        our_ms, allo_ms, or_ms, ratios = [], [], [], []
        for path in paths:
            want = oracle(path)
            t_ours = cpu_ms(lambda p=path: ours(p), args.repeat)
            our_ms.append(t_ours)
            cover = {"ours": covered(ours(path), want)}
            cells = {"allotropy": "-", "openreadout": "-"}
            vendor = next(
                (v for k, v in ALLOTROPY_VENDORS.items() if path.name.startswith(k)), None
            )
            if "allotropy" in others and vendor:
                t = cpu_ms(lambda p=path, v=vendor: allotropy_wells(p, v), 1)  # conversion
                allo_ms.append(t)
                ratios.append(t / t_ours)
                cells["allotropy"] = f"{t:.0f}"
                cover["allotropy"] = covered(allotropy_wells(path, vendor), want)
            if "openreadout" in others:
                t = cpu_ms(lambda p=path: openreadout_wells(p), args.repeat)
                or_ms.append(t)
                cells["openreadout"] = f"{t:.1f}"
                cover["openreadout"] = covered(openreadout_wells(path), want)
            for name in totals:
                if name in cover:
                    totals[name][0] += cover[name]
                    totals[name][1] += len(want)
            ratio = f"{ratios[-1]:.0f}x" if cells["allotropy"] != "-" else "-"
            shown = "/".join(str(cover.get(n, "-")) for n in ("ours", "allotropy", "openreadout"))
            print(
                f"{path.name[:56]:56} {t_ours:8.2f} {cells['allotropy']:>8} "
                f"{cells['openreadout']:>7} {ratio:>7}  {shown} of {len(want)}"
            )
    print()
    print(f"median CPU per file: il6assay {statistics.median(our_ms):.2f} ms", end="")
    if allo_ms:
        print(f", allotropy {statistics.median(allo_ms):.0f} ms", end="")
    if or_ms:
        print(f", OpenReadout {statistics.median(or_ms):.2f} ms", end="")
    print()
    ok = True
    if ratios:
        mid = statistics.median(ratios)
        print(
            f"allotropy / il6assay per file: median {mid:.0f}x (at least {MIN_RATIO:.0f}x), "
            f"smallest {min(ratios):.0f}x, over {len(ratios)} files"
        )
        ok = mid >= MIN_RATIO
    for name, (got, want) in totals.items():
        if want and (name == "ours" or name in others):
            print(f"coverage {name}: {got} of {want} oracle wells ({100 * got / want:.1f} %)")
    print("\nimport on a cold interpreter (CPU s beyond an empty one) and size on disk:")
    for name, statement in IMPORTS.items():
        if name != "il6assay readers" and (args.only_ours or name not in others):
            continue
        cost = import_cpu_s(statement)
        size = package_mb(name.split()[0]) if name != "il6assay readers" else None
        folder = ROOT / "il6assay" / "plate" / "readers"
        if name == "il6assay readers":
            size = sum(p.stat().st_size for p in folder.glob("*.py")) / 1e6
        print(
            f"  {name:18} {cost if cost is not None else float('nan'):6.3f} s  {size or 0:7.2f} MB"
        )
        if name == "il6assay readers" and (cost is None or cost >= IMPORT_LIMIT_S):
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
