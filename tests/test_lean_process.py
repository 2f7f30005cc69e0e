"""A plate's path imports and writes only what it needs, and writes what it wrote before (issue 27).

Each command runs in a fresh interpreter as a user types it (click's ``main``
with its arguments), and the heavy modules it loaded are listed afterwards.
The report's figures are plain data for plotly.js, compared here with what
plotly itself writes for them; results.xlsx is streamed by il6assay.record.xlsx
and compared, cell by cell, with what openpyxl wrote; and a batch's run folders
are compared with those of the code before issue 27 (git commit 247fcd7).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import il6assay
from tests.code_before import package_at

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "fixtures" / "example"
LAYOUT = ROOT / "plate_layouts" / "il6_96_standard.toml"
BEFORE = "247fcd7"  # the code before issue 27's process path: the "before" of the outputs
HEAVY = (
    *("sqlalchemy", "flask", "pandas", "plotly", "narwhals", "openpyxl", "PIL", "scipy", "numpy"),
    "jinja2",
)
# What a plate's path does not need, light or not: importlib.metadata (and the email package
# it imports) for a version a dist-info folder's name gives, and the readers of text exports
# for a workbook (tests/test_detection.py: they never claim one).
NOT_FOR_A_PLATE = ("importlib.metadata", "email")
TEXT_READERS = ("asm", "bmg", "envision", "kaleido", "softmax")


def modules_after(
    args: list[str], cwd: Path, watch_templates: bool = False
) -> tuple[set[str], int, list[str], str | None]:
    """Every module a fresh interpreter holds after ``il6assay ARGS``, its exit, (watched:
    Jinja2 imported first) the templates Jinja2 compiled from their text meanwhile, and the
    OPENBLAS_NUM_THREADS it left set."""
    code = (
        "import json, sys\n"
        "compiled = []\n"
        + (
            "import jinja2\n"
            "compile = jinja2.Environment.compile\n"
            "def watched(self, source, name=None, *args, **kwargs):\n"
            "    compiled.append(name)\n"
            "    return compile(self, source, name, *args, **kwargs)\n"
            "jinja2.Environment.compile = watched\n"
            if watch_templates
            else ""
        )
        + "from il6assay.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "import os\n"
        "threads = os.environ.get('OPENBLAS_NUM_THREADS')\n"
        "print(json.dumps([sorted(sys.modules), code, compiled, threads]))\n"
    )
    # no study database, OpenBLAS's threads as the command chooses them
    env = {k: v for k, v in os.environ.items() if k not in ("IL6ASSAY_DB", "OPENBLAS_NUM_THREADS")}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env
    )
    modules, exit_code, compiled, threads = json.loads(proc.stdout.strip().splitlines()[-1])
    return set(modules), exit_code, compiled, threads


def held_after(args: list[str], cwd: Path) -> tuple[set[str], int]:
    """Every module of the heavy packages a fresh interpreter holds after ``il6assay ARGS``
    (full dotted names); its exit."""
    modules, exit_code, _, _ = modules_after(args, cwd)
    return {m for m in modules if m.split(".")[0] in HEAVY}, exit_code


def loaded_after(args: list[str], cwd: Path) -> tuple[set[str], int]:
    """The heavy top-level modules a fresh interpreter holds after ``il6assay ARGS``; its exit."""
    held, exit_code = held_after(args, cwd)
    return {m.split(".")[0] for m in held}, exit_code


# What of scipy a plate's path may hold: MINPACK's compiled lmder, loaded by its file
# (il6assay.curve.solvers), which imports scipy._lib._ccallback (and so scipy's package
# root) when first called. Nothing of scipy.optimize's, scipy.special's or scipy.linalg's
# Python packages: Student's t, Nelder-Mead and the trust-region solver are il6assay's own.
SCIPY_OF_MINPACK = {"scipy", "scipy.__config__", "scipy.version", "scipy._cyutility"}


def test_process_without_a_database_holds_numpy_and_of_scipy_only_minpacks_extension(tmp_path):
    argv = ["process", str(EXAMPLE / "plate_001.xlsx"), "--out", "out"]
    modules, code, compiled, threads = modules_after(argv, tmp_path, watch_templates=True)
    assert code == 0 and (tmp_path / "out").is_dir()
    held = {m for m in modules if m.split(".")[0] in HEAVY}
    # No SQLAlchemy without a study database, no plotly (the figures are plain JSON and
    # plotly.min.js is copied as a file), no openpyxl (results.xlsx is streamed by il6assay);
    # Jinja2 for report.html, whose templates are loaded compiled (il6assay.record.templating)
    assert {m.split(".")[0] for m in held} == {"numpy", "scipy", "jinja2"}
    assert compiled == []
    assert threads == "1"  # numpy's OpenBLAS without its pool of threads (docs/speed.md)
    assert not {m for m in modules if m.startswith(NOT_FOR_A_PLATE)}
    readers = {m.rpartition(".")[2] for m in modules if m.startswith("il6assay.plate.readers.")}
    assert "grid" in readers and not readers & set(TEXT_READERS)  # the example is an XLSX
    scipy = {m for m in held if m.split(".")[0] == "scipy"}
    assert "scipy.optimize._minpack" in scipy  # the fit's MINPACK polish ran
    assert not {"scipy.optimize", "scipy.special", "scipy.linalg", "scipy.stats"} & scipy
    rest = {m for m in scipy if not m.startswith(("scipy._lib", "scipy._distributor_init"))}
    assert rest <= SCIPY_OF_MINPACK | {"scipy.optimize._minpack"}, sorted(rest)


def test_process_with_one_blas_thread_writes_what_blass_pool_of_threads_writes(tmp_path):
    written = {}
    for threads in ("1", "2"):  # what process sets, and the two cores' pool
        env = {k: v for k, v in os.environ.items() if k != "IL6ASSAY_DB"}
        argv = [sys.executable, "-m", "il6assay.cli", "process", str(EXAMPLE / "plate_001.xlsx"),
                "--out", str(tmp_path / threads)]  # fmt: skip
        done = subprocess.run(
            argv, capture_output=True, cwd=tmp_path, env={**env, "OPENBLAS_NUM_THREADS": threads}
        )
        assert done.returncode == 0, done.stderr
        run = next(p for p in (tmp_path / threads).iterdir() if p.is_dir())
        files = {p.relative_to(run).as_posix(): p for p in run.rglob("*") if p.is_file()}
        doc = json.loads(files.pop("run.json").read_text(encoding="utf-8"))
        doc.pop("created_utc")
        files.pop("audit.jsonl")  # its time, and run.json's hash
        written[threads] = (doc, {name: p.read_bytes() for name, p in files.items()})
    assert written["1"] == written["2"]


def test_the_shared_plotly_js_is_named_by_the_version_importlib_metadata_gives():
    from importlib.metadata import version

    from il6assay.record import report, versions

    versions._installed_versions.cache_clear()  # read from plotly's dist-info folder's name
    assert report.plotly_js_name() == f"plotly-{version('plotly')}.min.js"


def test_the_shipped_compiled_templates_are_what_jinja2_compiles_from_the_templates_now(tmp_path):
    from il6assay.record.templating import COMPILED, PRECOMPILED, compile_templates

    for folder in PRECOMPILED:
        copy = tmp_path / folder.parent.name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(COMPILED))
        fresh = {p.name: p.read_text(encoding="utf-8") for p in compile_templates(copy)}
        shipped = {p.name: p.read_text(encoding="utf-8") for p in (folder / COMPILED).iterdir()}
        assert fresh.keys() == {f"{p.name}.py" for p in folder.glob("*.html")}
        assert shipped == fresh, "a template changed: python -m il6assay.record.templating"


def test_a_template_is_rendered_from_its_compiled_code_only_while_that_is_current(
    tmp_path, monkeypatch
):
    import jinja2

    from il6assay.record.templating import COMPILED, compile_templates, render

    first = tmp_path / "first"
    first.mkdir()
    (first / "page.html").write_text("Hello {{ name }}\n", encoding="utf-8")
    assert [p.name for p in compile_templates(first)] == ["page.html.py"]
    compile = jinja2.Environment.compile
    compiled = []
    monkeypatch.setattr(
        jinja2.Environment, "compile", lambda *a, **k: compiled.append(a[2]) or compile(*a, **k)
    )
    same = shutil.copytree(first, tmp_path / "same")  # another folder: another environment
    assert render(same, "page.html", name="<A & B>") == "Hello &lt;A &amp; B&gt;\n"
    assert compiled == []  # loaded compiled
    changed = shutil.copytree(first, tmp_path / "changed")
    (changed / "page.html").write_text("Goodbye {{ name }}\n", encoding="utf-8")
    assert (changed / COMPILED / "page.html.py").read_text() == (
        first / COMPILED / "page.html.py"
    ).read_text()  # the compiled code of the template before its change
    assert render(changed, "page.html", name="B") == "Goodbye B\n"
    assert compiled == ["page.html"]  # compiled from its text: the code shipped is not its


def test_help_readers_and_inspect_import_none_of_the_numerical_or_database_modules(tmp_path):
    modules, code, _, _ = modules_after(["--help"], tmp_path)
    assert code == 0 and not {m for m in modules if m.split(".")[0] in HEAVY}
    assert not {m for m in modules if m.startswith((*NOT_FOR_A_PLATE, "il6assay.plate"))}
    assert loaded_after(["readers"], tmp_path) == (set(), 0)
    heavy, code = loaded_after(["inspect", str(EXAMPLE / "plate_001.xlsx")], tmp_path)
    assert code == 0 and heavy <= {"numpy"}  # reading an export fits nothing


def test_batch_without_a_database_imports_no_sqlalchemy_flask_pandas_or_plotly(tmp_path):
    plates = tmp_path / "plates"
    plates.mkdir()
    for name in ("plate_001.xlsx", "plate_001.samples.csv", "plate_001.layout.toml"):
        shutil.copy(EXAMPLE / name, plates / name)
    heavy, code = loaded_after(
        ["batch", str(plates), "--layout", str(LAYOUT), "--out", "out", "--jobs", "1"], tmp_path
    )
    # The index page's chart is plain data for plotly.js, as the report's figures are.
    assert code == 0 and not heavy & {"sqlalchemy", "flask", "pandas", "plotly", "narwhals"}


def _example_run():
    from il6assay.run import process_plate

    return process_plate(
        EXAMPLE / "plate_001.xlsx",
        EXAMPLE / "plate_001.layout.toml",
        EXAMPLE / "plate_001.samples.csv",
    )


def _plot_call(div: str) -> tuple[str, list]:
    """A figure's <div> with its newPlot arguments taken out, and those arguments as data."""
    decoder = json.JSONDecoder()
    start = div.index("Plotly.newPlot(") + len("Plotly.newPlot(")
    args, pos = [], start
    for _ in range(4):  # the element id, data, layout, config
        pos = len(div) - len(div[pos:].lstrip(" ,"))
        value, end = decoder.raw_decode(div, pos)
        args.append(value)
        pos = end
    return div[:start] + div[pos:], args


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_reports_figures_are_what_plotly_validates_and_writes_for_them(lang):
    import plotly.io as pio

    from il6assay.record.i18n import Words
    from il6assay.record.report import curve_figure, figure_div, plate_figure, residual_figure
    from il6assay.run import process_plate
    from il6assay.settings import Settings

    words = Words(lang)
    config = {"displaylogo": False}
    runs = [
        _example_run(),
        process_plate(  # a masked standard (hollow), the model and its band drawn otherwise
            EXAMPLE / "plate_001.xlsx",
            EXAMPLE / "plate_001.layout.toml",
            EXAMPLE / "plate_001.samples.csv",
            Settings(model="5pl", masked=("A1",)),
        ),
    ]
    for run in runs:
        for make in (curve_figure, residual_figure, plate_figure):
            fig = make(run, words)
            ours = figure_div(fig, "fig-id", config)
            # plotly validates the figure (a wrong property fails here) and writes it; its
            # keys in its own order (report.html's bytes: the batch comparison below)
            theirs = pio.to_html(
                fig, config=config, full_html=False, include_plotlyjs=False, div_id="fig-id"
            )
            assert _plot_call(ours) == _plot_call(theirs), make.__name__
            assert "\\u003cbr\\u003e" in ours or make is residual_figure  # < > / escaped as plotly


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_batch_indexs_chart_is_what_plotly_validates_and_writes_for_it(lang):
    import plotly.io as pio

    from il6assay.record.figures import figure_div
    from il6assay.record.i18n import Words
    from il6assay.study.pages import CONFIG, _recovery_figure

    controls = (("low", 11.8, 12.0), ("high", 241.0, 240.0), ("mid", None, 60.0))
    entries = [
        (2, i, Path(f"plate_{i:03d}-0123456789"), {}, {}, range(3), {}, controls[: i + 1])
        for i in range(3)
    ]
    fig = _recovery_figure(entries, Words(lang, "study"))
    ours = figure_div(fig, "fig-id", CONFIG)
    theirs = pio.to_html(fig, config=CONFIG, full_html=False, include_plotlyjs=False,
                         div_id="fig-id")  # fmt: skip
    # plotly validates it and writes the same div (its width the page's) and data; its keys'
    # order is the golden index page's (tests/test_page_renders.py)
    assert _plot_call(ours) == _plot_call(theirs)
    assert len(fig["data"]) == 2 and "\\u003cbr\\u003e" in ours


def test_a_report_is_the_same_bytes_each_time_its_run_is_written(tmp_path):
    from il6assay.record.outputs import write_run

    run = _example_run()
    first = write_run(run, tmp_path / "a")
    second = write_run(run, tmp_path / "b")
    for name in ("report.html", "results.xlsx"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def _openpyxl_workbook(path: Path, sheets: dict) -> None:
    """How results.xlsx was written before issue 27 (openpyxl), for the comparison."""
    from openpyxl import Workbook

    from il6assay.record.outputs import safe_text

    wb = Workbook()
    wb.remove(wb.active)
    for title, (columns, rows) in sheets.items():
        ws = wb.create_sheet(title)
        for c, name in enumerate(columns, start=1):
            header = ws.cell(row=1, column=c)
            header.value = safe_text(str(name))
            header.data_type = "s"
        for r, row in enumerate(rows, start=2):
            for c, name in enumerate(columns, start=1):
                value = row.get(name)
                if value is None or (isinstance(value, float) and not math.isfinite(value)):
                    continue
                cell = ws.cell(row=r, column=c)
                if isinstance(value, str):
                    cell.value = safe_text(value)
                    cell.data_type = "s"
                else:
                    cell.value = value
        ws.freeze_panes = "A2"
    wb.save(path)


def _cells(path: Path, same: Any = None) -> list:
    """A workbook's sheets and cells (value, type); ``same`` maps an old run's text to now."""
    from openpyxl import load_workbook

    def value(v: Any) -> Any:
        return same(v.encode()).decode() if same is not None and isinstance(v, str) else v

    wb = load_workbook(path)
    return [wb.sheetnames] + [
        (ws.title, ws.freeze_panes, [[(value(c.value), c.data_type) for c in r] for r in ws.rows])
        for ws in wb
    ]


def test_results_xlsx_holds_the_cells_openpyxl_wrote_text_never_a_formula(tmp_path):
    from il6assay.record.outputs import write_xlsx

    run = _example_run()
    well_cols, wells = run.well_rows()
    tricky = [
        {"a": "=SUM(A1:A2)", "b": 0.1 + 0.2, "c": 1 / 3, "d": True, "e": ""},
        {"a": "  padded ", "b": float("nan"), "c": 300.0, "d": False, "e": "<4.69 & >3000"},
        {"a": "第一板 IL-6", "b": -1e-300, "c": 12345678901234567, "d": None, "e": "+1"},
    ]
    sheets = {
        "results": (list(run.result_rows()[0]), run.result_rows()),
        "wells": (well_cols, wells),
        "odd 'names' & <text>": (["a", "b", "c", "d", "e", "=header"], tricky),
    }
    _openpyxl_workbook(tmp_path / "before.xlsx", sheets)
    write_xlsx(tmp_path / "now.xlsx", sheets)
    assert _cells(tmp_path / "now.xlsx") == _cells(tmp_path / "before.xlsx")
    with zipfile.ZipFile(tmp_path / "now.xlsx") as zf:
        assert zf.testzip() is None and all(
            i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist()
        )


def test_a_control_character_openpyxl_refused_is_kept_as_excels_escape(tmp_path):
    from openpyxl import load_workbook

    from il6assay.record.outputs import write_xlsx

    write_xlsx(tmp_path / "x.xlsx", {"s": (["note"], [{"note": "bell\x07here"}])})
    assert load_workbook(tmp_path / "x.xlsx")["s"]["A2"].value == "bell_x0007_here"


# --- outputs unchanged: a batch's run folders before issue 27 and now ---------------------

_ELEMENT_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# What differs, and why (docs/speed.md): the time a run was made; report.html's element ids
# (random before, from the run id now) and so its hash; results.xlsx's parts (streamed now,
# the same sheets and cells) and so its hash; the audit entry's time and its chained hashes;
# and the numbers printed to all their digits that carry Student's t quantile (wells.csv's
# and results.xlsx's confidence limits, report.html's confidence band): scipy's stdtrit
# then, il6assay.curve.student_t now, equal to within a few units in the last place.
DIFFERENT_BY_DESIGN = {
    *("report.html", "results.xlsx", "run.json", "audit.jsonl", "wells.csv", "curve.json")
}
# The model comparison's 5PL (fit quick) starts from the plate's chosen 4PL instead of a quick
# 4PL of its own (curve.fit.fit_curve's ``four``): it stops at another point of the same minimum,
# within its tolerance. Only these figures of curve.json may move, and only in their last places.
COMPARISON_5PL = ("aic", "rss", "params")
COMPARISON_5PL_PLACES = 1e-5
# Relative: t(df, 0.975) now and scipy's differ by ~1e-14; a limit x exp(+-t se/x) carries
# that times its log half-width, up to ~200 for a well far beyond the curve (1e-90 pg/mL).
LAST_PLACES = 1e-11

_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_TYPED_ARRAY = re.compile(rb'"bdata":"([^"]*)"')


def _same_but_last_places(old: bytes, new: bytes) -> bool:
    """The same text, numbers (and plotly's base64 float arrays) equal to LAST_PLACES."""
    import base64

    import numpy as np

    arrays = [_TYPED_ARRAY.findall(text) for text in (old, new)]
    if len(arrays[0]) != len(arrays[1]):
        return False
    for a, b in zip(*arrays, strict=True):
        x, y = (np.frombuffer(base64.b64decode(v.replace(b"\\u002f", b"/")), "<f8") for v in (a, b))
        if x.shape != y.shape or not np.allclose(x, y, rtol=LAST_PLACES, atol=0, equal_nan=True):
            return False
    old, new = (_TYPED_ARRAY.sub(b"ARRAY", text) for text in (old, new))
    if _NUMBER.sub(b"N", old) != _NUMBER.sub(b"N", new):
        return False
    return all(
        math.isclose(float(a), float(b), rel_tol=LAST_PLACES)
        for a, b in zip(_NUMBER.findall(old), _NUMBER.findall(new), strict=True)
    )


def _same_but_the_5pl_comparison(old: bytes, new: bytes) -> bool:
    """curve.json equal but the model comparison's 5PL figures, those to COMPARISON_5PL_PLACES;
    True also when the two are byte for byte the same."""
    old_doc, new_doc = json.loads(old), json.loads(new)
    five = [doc["model_comparison"].get("5pl", {}) for doc in (old_doc, new_doc)]
    moved = [{key: f.pop(key, None) for key in COMPARISON_5PL} for f in five]
    if old_doc != new_doc:
        return False
    params = [m["params"] or {} for m in moved]
    if list(params[0]) != list(params[1]):
        return False
    numbers = [[m["aic"], m["rss"], *p.values()] for m, p in zip(moved, params, strict=True)]
    return all(
        a == b
        or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        or math.isclose(a, b, rel_tol=COMPARISON_5PL_PLACES)
        for a, b in zip(*numbers, strict=True)
    )


def _close_cells(old: list, new: list) -> bool:
    """Workbook cells (as _cells lists them) equal, numbers to LAST_PLACES."""
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        return len(old) == len(new) and all(
            _close_cells(a, b) for a, b in zip(old, new, strict=True)
        )
    if isinstance(old, float) and isinstance(new, float):
        return math.isclose(old, new, rel_tol=LAST_PLACES)
    return old == new


def _simulated_plates(folder: Path, n: int) -> None:
    """``n`` simulated grid exports with their sample sheets (as bench_study makes them),
    and the shipped example export (a real XLSX) beside them."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_study import make_plates
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    make_plates(folder, n, seed=27)
    shutil.copy(EXAMPLE / "plate_001.xlsx", folder / "plate_001.xlsx")
    shutil.copy(EXAMPLE / "plate_001.samples.csv", folder / "plate_001.samples.csv")


def _batch(code: Path, plates: Path, out: Path, jobs: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IL6ASSAY_DB"}
    env["PYTHONPATH"] = str(code)
    argv = [sys.executable, "-m", "il6assay.cli", "batch", str(plates), "--layout", str(LAYOUT),
            "--out", str(out), "--jobs", str(jobs)]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=plates.parent)
    assert proc.returncode in (0, 3), proc.stderr


def _without_times(doc: dict) -> dict:
    doc = dict(doc)
    doc.pop("created_utc", None)
    hashes = dict(doc.get("outputs_sha256", {}))
    for name in ("report.html", "results.xlsx", "wells.csv", "curve.json"):
        hashes.pop(name, None)
    doc["outputs_sha256"] = hashes
    return doc


@pytest.mark.slow  # re-runs the code of 247fcd7 from git: in the whole suite, not the quick run
def test_a_batchs_run_folders_are_those_the_code_before_wrote_but_documented_differences(
    tmp_path,
):
    old_code = package_at(BEFORE, tmp_path)
    if old_code is None:
        pytest.skip(f"git or commit {BEFORE} not available to run the code before")
    plates = tmp_path / "plates"
    _simulated_plates(plates, 5)  # the fifth's 5PL comparison moves in its last places
    _batch(old_code, plates, tmp_path / "old", jobs=1)
    _batch(ROOT, plates, tmp_path / "new", jobs=2)
    # The code before was il6assay 0.2.0; a run id hashes the version, so each run's folder
    # is found by its plate's name and the old id and version are read as the new ones
    # (the one documented difference of the version's change besides those below).
    old_runs, new_runs = (_by_plate(tmp_path / d) for d in ("old", "new"))
    assert sorted(old_runs) == sorted(new_runs)
    assert len([n for n in old_runs if n.startswith("plate_")]) == 6
    curves_moved = 0
    for name, a in old_runs.items():
        b = new_runs[name]
        if a.is_file():  # plotly-<version>.min.js: the same bytes
            assert name == "index.html" or a.read_bytes() == b.read_bytes(), name
            continue
        same = _as_new(a.name, b.name)
        files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
        for rel in files:
            old, new = same((a / rel).read_bytes()), (b / rel).read_bytes()
            if rel not in DIFFERENT_BY_DESIGN:
                assert old == new, f"{name}/{rel}"
        old_html = same((a / "report.html").read_bytes())
        new_html = (b / "report.html").read_bytes()
        assert old_html != new_html  # the code before ran: its element ids were random
        old_html, new_html = (_ELEMENT_ID.sub(b"ID", h) for h in (old_html, new_html))
        assert _same_but_last_places(old_html, new_html), name
        wells = same((a / "wells.csv").read_bytes()), (b / "wells.csv").read_bytes()
        assert _same_but_last_places(*wells), name
        assert _close_cells(_cells(a / "results.xlsx", same), _cells(b / "results.xlsx")), name
        curves = same((a / "curve.json").read_bytes()), (b / "curve.json").read_bytes()
        assert _same_but_the_5pl_comparison(*curves), name
        curves_moved += curves[0] != curves[1]
        old_doc, new_doc = (json.loads(t) for t in (same((a / "run.json").read_bytes()),
                                                    (b / "run.json").read_bytes()))  # fmt: skip
        # The outputs' hashes in old run.json are those of the bytes under the old id: each
        # file was compared above as this version writes it, so its hash is taken of that.
        old_doc["outputs_sha256"] = {
            f: hashlib.sha256(same((a / f).read_bytes())).hexdigest()
            for f in old_doc["outputs_sha256"]
        }
        assert _without_times(old_doc) == _without_times(new_doc), name
        old_log, new_log = (json.loads(t) for t in (same((a / "audit.jsonl").read_bytes()),
                                                    (b / "audit.jsonl").read_bytes()))  # fmt: skip
        for key in ("action", "run_id", "settings", "verdict_by_rules", "review_after"):
            assert old_log[key] == new_log[key], (name, key)
    assert curves_moved  # the documented difference is shown, not only allowed
    # A run folder written by the code before (il6assay 0.2.0) is verified by this one as
    # another version's run: the same numbers to 0.1 %, flags and verdict (its workbook cell
    # by cell), a note naming both versions.
    old_run = old_runs["plate_001"]
    verify = [sys.executable, "-m", "il6assay.cli", "verify", str(old_run)]
    done = subprocess.run(verify, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified" in done.stdout + done.stderr
    assert f"recomputed by {il6assay.__version__}" in done.stdout + done.stderr


def _by_plate(folder: Path) -> dict[str, Path]:
    """A results folder's entries by name, a run's without its id's hash ('plate_001')."""
    return {(p.name.rsplit("-", 1)[0] if p.is_dir() else p.name): p for p in folder.iterdir()}


def _as_new(old_id: str, new_id: str) -> Any:
    """Bytes written by 0.2.0 under ``old_id`` as this version writes them under ``new_id``."""
    pairs = [(old_id.encode(), new_id.encode()),
             (b"0.2.0", il6assay.__version__.encode())]  # fmt: skip

    def same(data: bytes) -> bytes:
        for a, b in pairs:
            data = data.replace(a, b)
        return data

    return same


def test_an_altered_shared_plotly_js_is_replaced_by_the_next_run_written_beside_it(tmp_path):
    from il6assay.record.report import plotly_js_name, plotly_js_path

    def process(*extra: str) -> None:
        argv = [sys.executable, "-m", "il6assay.cli", "process", str(EXAMPLE / "plate_001.xlsx"),
                "--out", str(tmp_path / "out"), *extra]  # fmt: skip
        assert subprocess.run(argv, capture_output=True, cwd=tmp_path).returncode in (0, 3)

    process()
    shared = tmp_path / "out" / plotly_js_name()
    assert shared.read_bytes() == plotly_js_path().read_bytes()  # the package's file, copied
    shared.write_bytes(shared.read_bytes() + b"\nfetch('https://x.example');\n")
    process("--model", "5pl")  # another run into the same results folder
    assert shared.read_bytes() == plotly_js_path().read_bytes()
