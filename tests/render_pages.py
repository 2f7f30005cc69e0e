"""Every report and page rendered from fixed inputs, for the golden-render test.

``render_all(work)`` renders report.html (shared plotly.js and standalone),
a batch's index.html and the study pages (controls, summary) from the
example plate and the failing fixture plates, in English and Simplified
Chinese where the page has a language, and returns ``{file name: text}``
with only what is volatile normalised (``normalise``). ``python -m
tests.render_pages`` writes them to ``fixtures/renders/`` (the golden files);
``tests/test_page_renders.py`` compares a fresh render with them. The study pages and
the index in Chinese were added after the move (they had no Chinese before).

Normalised, and nothing else:
- the embedded plotly.js of a standalone report (the installed package's
  plotly.min.js, 3.5 MB, byte for byte: checked, then replaced by a marker);
- the plotly ``<div>`` ids of the study pages (plotly's ``to_html`` draws a
  random uuid4 per figure; the report's own ids are uuid5 of the run, stable);
- the processing time of a run whose export carries no read time (the index
  page's time column falls back to run.json's ``created_utc``).
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

from tests.conftest import EXAMPLE, FIXTURES, SHARED

RENDERS = FIXTURES / "renders"
LANGS = ("en", "zh-CN")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")
GEN5 = SHARED / "reference_exports" / "gen5_abs630_stdcurve.txt"


# The adopted method profile the study plates are held to (METHOD_QC, DILUTION_NOT_VALIDATED).
PROFILE = {
    "id": 1,
    "lloq_pg_ml": 8.0,
    "uloq_pg_ml": 280.0,
    "dilution_range": [2, 16],
    "qc_levels": {
        level: {"target_pg_ml": target, "tolerance_pct": 20.0, "required": True}
        for level, target in (("low", 15.0), ("mid", 60.0), ("high", 200.0))
    },
}


def study_plate(work: Path, layout_name: str) -> Path:
    """A simulated study plate of fixtures/validation/``layout_name`` as a grid CSV export."""
    import numpy as np

    from il6assay.plate.layout import load_layout
    from il6assay.simulate import grid_text, simulate_plate
    from tests.validation_support import QUIET, VALIDATION

    layout = load_layout(VALIDATION / layout_name)
    truth = {"S01": 6.0, "S02": 50.0, "S03": 50.0, "S04": 100.0}
    loaded = {
        spec.well: truth[spec.sample]
        for spec in layout.wells.values()
        if spec.role == "sample" and spec.sample
    }
    sim = simulate_plate(layout, np.random.default_rng(7), noise=QUIET, loaded=loaded)
    export = work / f"{layout_name.split('.')[0]}.csv"
    export.write_text(grid_text(sim.plate), encoding="utf-8")
    return export


def plates(work: Path) -> dict[str, tuple]:
    """Each plate the reports are rendered for: (export, layout, samples, settings changes)."""
    from tests.validation_support import VALIDATION

    example = (EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.layout.toml",
               EXAMPLE / "plate_001.samples.csv")  # fmt: skip
    chosen = {
        "example": (*example, {}),
        "example_kit": (*example, {"rules": "kit", "fit_standards": "wells"}),
        "example_masked": (*example, {"masked": ("A5", "C9")}),
        "rejected": (
            EXAMPLE / "plate_002_rejected.csv",
            EXAMPLE / "plate_002_rejected.layout.toml",
            EXAMPLE / "plate_002_rejected.samples.csv",
            {},
        ),
        "rejected_kit": (
            EXAMPLE / "plate_002_rejected.csv",
            EXAMPLE / "plate_002_rejected.layout.toml",
            EXAMPLE / "plate_002_rejected.samples.csv",
            {"rules": "kit", "fit_standards": "wells"},
        ),
    }
    for name, layout_name in (("profile", "study_plate.layout.toml"),
                              ("profile_no_mid", "study_plate_no_mid.layout.toml")):  # fmt: skip
        chosen[name] = (
            study_plate(work, layout_name),
            VALIDATION / layout_name,
            VALIDATION / "study_plate.samples.csv",
            {"method_profile": PROFILE},
        )
    if GEN5.is_file():
        gen5 = FIXTURES / "gen5_abs630"
        chosen["gen5_abs630"] = (
            GEN5,
            gen5 / "gen5_abs630_stdcurve.layout.toml",
            gen5 / "gen5_abs630_stdcurve.samples.csv",
            {"read": "630"},
        )
    return chosen


def normalise(text: str, folders: tuple[Path, ...] = ()) -> str:
    """``text`` with the volatile parts listed in the module's docstring replaced by markers
    (``folders``: the run folders whose processing time the page may show)."""
    import json

    from il6assay.record.report import plotly_js_source
    from il6assay.study.qc import parse_time

    embedded = f"<script>{plotly_js_source()}</script>"
    text = text.replace(embedded, "<script>/* plotly.min.js, embedded */</script>")
    text = UUID.sub("<plotly-div-id>", text)
    for folder in folders:
        created = json.loads((folder / "run.json").read_text(encoding="utf-8"))["created_utc"]
        for shown in (parse_time(created).isoformat(), created):
            text = text.replace(shown, "<created_utc>")
    return text


def report_renders(work: Path) -> dict[str, str]:
    """report.html of each plate, each language, shared plotly.js; and standalone for two."""
    from il6assay.record.report import write_report
    from il6assay.run import process_plate
    from il6assay.settings import Settings

    out: dict[str, str] = {}
    for name, (export, layout, samples, changes) in plates(work).items():
        settings = replace(Settings(), **changes)
        run = process_plate(export, layout, samples, settings)
        for lang in LANGS:
            path = work / f"report-{name}-{lang}.html"
            write_report(run, path, lang=lang)
            out[path.name] = normalise(path.read_text(encoding="utf-8"))
            if name in ("example", "rejected"):
                path = work / f"report-{name}-{lang}-standalone.html"
                write_report(run, path, standalone=True, lang=lang)
                out[path.name] = normalise(path.read_text(encoding="utf-8"))
    return out


def index_render(work: Path) -> dict[str, str]:
    """index.html of a results folder: the example (reviewed) and the rejected plate."""
    from click.testing import CliRunner

    from il6assay.cli import main
    from il6assay.study.pages import index_html

    out_dir = work / "results"
    for stem in ("plate_001.xlsx", "plate_002_rejected.csv"):
        done = CliRunner().invoke(main, ["process", str(EXAMPLE / stem), "--out", str(out_dir)])
        assert done.exit_code in (0, 3), done.output
    folders = tuple(p for p in out_dir.iterdir() if (p / "run.json").is_file())
    return {
        "index.html": normalise(index_html(out_dir), folders),
        "index-zh-CN.html": normalise(index_html(out_dir, lang="zh-CN"), folders),
    }


def study_renders(work: Path) -> dict[str, str]:
    """The controls (Levey-Jennings) and summary pages of a small study on SQLite."""
    from il6assay.db.engine import make_engine, upgrade
    from il6assay.study.pages import controls_html, summary_html
    from il6assay.study.store import record_qc
    from tests.study_support import history, in_control

    engine = make_engine(str(work / "study.db"))
    upgrade(engine)
    runs = history(in_control(30))
    runs[7].accepted_by_rules = False
    runs[7].controls[0].value_pg_ml = 27.0
    for r in runs[15:]:
        r.kit_lot = "L2<script>alert('lot')</script>"
    runs[28].controls[0].value_pg_ml = runs[29].controls[0].value_pg_ml = 22.2
    record_qc(engine, runs)
    from click.testing import CliRunner

    from il6assay.cli import main
    from tests.db_support import run_folder

    db = str(work / "study.db")
    pushed = CliRunner().invoke(main, ["push", str(run_folder("a")), "--db", db])
    assert pushed.exit_code == 0, pushed.output
    pages = {
        "controls.html": controls_html(engine),
        "controls-low.html": controls_html(engine, level="low", since="2026-01-10"),
        "summary.html": summary_html(engine),
        "controls-zh-CN.html": controls_html(engine, lang="zh-CN"),
        "summary-zh-CN.html": summary_html(engine, lang="zh-CN"),
    }
    engine.dispose()
    return {name: normalise(text, (run_folder("a"),)) for name, text in pages.items()}


def render_all(work: Path) -> dict[str, str]:
    """Every golden page, rendered into ``work`` from the fixed inputs, normalised."""
    return {**report_renders(work), **index_render(work), **study_renders(work)}


def main() -> None:
    """Write the golden renders to fixtures/renders/ (run: python -m tests.render_pages)."""
    import os
    import tempfile

    os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="il6assay-config-"))
    RENDERS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pages = render_all(Path(tmp))
    for old in RENDERS.glob("*.html"):
        if old.name not in pages:
            old.unlink()
    for name, text in pages.items():
        (RENDERS / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(pages)} pages to {RENDERS}", file=sys.stderr)


if __name__ == "__main__":
    main()
