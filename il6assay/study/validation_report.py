"""The validation folder: validation.json and a printable validation.html, written whole.

The report shows every figure of ``il6assay.study.validation.validate_runs``
with its source, two plots drawn as inline SVG (the precision profile, and
each parallelism series), and the runs used with their hashes. It loads
nothing from the network and needs no script: it prints as it shows.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from il6assay.errors import InputError

JSON_FILE = "validation.json"
HTML_FILE = "validation.html"


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "pass" if value else "FAIL"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, list):
        return ", ".join(_fmt(v, digits) for v in value)
    return str(value)


def _verdict(value: bool | None) -> str:
    cls = {True: "pass", False: "fail", None: "na"}[value]
    text = {True: "pass", False: "FAIL", None: "not judged"}[value]
    return f'<td class="{cls}">{text}</td>'


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            if key == "pass":
                cells.append(_verdict(row.get("pass")))
            else:
                cells.append(f"<td>{html.escape(_fmt(row.get(key)))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _svg_plot(
    series: list[tuple[str, list[tuple[float, float]]]],
    *,
    x_title: str,
    y_title: str,
    hlines: list[float] = (),  # type: ignore[assignment]
) -> str:
    """A small log-x line plot as inline SVG."""
    points = [p for _, pts in series for p in pts if p[0] > 0 and math.isfinite(p[1])]
    if not points:
        return "<p>(nothing to plot)</p>"
    w, h, m = 480, 260, 50
    xs = [math.log10(x) for x, _ in points]
    ys = [y for _, y in points] + list(hlines) + [0.0]
    x0, x1 = min(xs) - 0.1, max(xs) + 0.1
    y0, y1 = min(ys), max(ys) * 1.1 or 1.0

    def px(x: float) -> float:
        return m + (math.log10(x) - x0) / (x1 - x0) * (w - 2 * m)

    def py(y: float) -> float:
        return h - m - (y - y0) / ((y1 - y0) or 1.0) * (h - 2 * m)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img">',
        f'<rect x="{m}" y="{m}" width="{w - 2 * m}" height="{h - 2 * m}" fill="none" '
        'stroke="#999"/>',
    ]
    for y in hlines:
        parts.append(
            f'<line x1="{m}" x2="{w - m}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#c00" '
            'stroke-dasharray="4 3"/>'
            f'<text x="{w - m + 2}" y="{py(y) + 4:.1f}" font-size="10">{y:g}</text>'
        )
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
    for i, (name, pts) in enumerate(series):
        good = [(x, y) for x, y in pts if x > 0 and math.isfinite(y)]
        colour = colours[i % len(colours)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in good)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
        for x, y in good:
            parts.append(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}">'
                f"<title>{html.escape(name)}: {x:g}, {y:.3g}</title></circle>"
            )
        parts.append(
            f'<text x="{m + 5}" y="{m + 14 + 12 * i}" font-size="11" fill="{colour}">'
            f"{html.escape(name)}</text>"
        )
    for x, _ in points:
        parts.append(
            f'<text x="{px(x):.1f}" y="{h - m + 14}" font-size="10" text-anchor="middle">'
            f"{x:g}</text>"
        )
    parts.append(
        f'<text x="{w / 2}" y="{h - 8}" font-size="11" text-anchor="middle">'
        f"{html.escape(x_title)}</text>"
        f'<text x="12" y="{h / 2}" font-size="11" transform="rotate(-90 12 {h / 2})" '
        f'text-anchor="middle">{html.escape(y_title)}</text>'
        f'<text x="{m - 4}" y="{py(y0) + 4:.1f}" font-size="10" text-anchor="end">{y0:.3g}</text>'
        f'<text x="{m - 4}" y="{py(y1) + 4:.1f}" font-size="10" text-anchor="end">{y1:.3g}</text>'
        "</svg>"
    )
    return "".join(parts)


def render_html(doc: dict[str, Any]) -> str:
    """The printable validation report of a validation document."""
    esc = html.escape
    pa = doc["precision_accuracy"]
    profile = _svg_plot(
        [("total CV %", [(i["nominal"], i["cv_total_pct"]) for i in pa if i["cv_total_pct"]])],
        x_title="QC nominal (pg/mL, log)",
        y_title="total CV %",
        hlines=[20.0, 25.0],
    )
    par_plot = _svg_plot(
        [
            (f"{i['sample']} (CV {_fmt(i['cv_pct'])} %)", [(d, v) for d, v in i["results"]])
            for i in doc["parallelism"]
        ],
        x_title="dilution factor (log)",
        y_title="dilution-corrected IL-6 (pg/mL)",
    )
    whole = {True: "PASSES", False: "FAILS", None: "NOT JUDGED"}[doc["pass"]]
    runs = "".join(
        f"<tr><td>{esc(r['run_id'])}</td><td>{esc(str(r['kit_lot']))}</td>"
        f"<td>{_fmt(r['lloq_pg_ml'])}-{_fmt(r['uloq_pg_ml'])}</td>"
        f"<td><code>{r['run_json_sha256']}</code></td><td><code>{r['audit_sha256']}</code></td>"
        f'<td class="path">{esc(r["path"])}</td></tr>'
        for r in doc["runs"]
    )
    method = doc["method"]
    dr = doc["dilution_range"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>IL-6 method validation</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; max-width: 60em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }}
td, th {{ border: 1px solid #bbb; padding: 2px 6px; text-align: right; }}
th {{ background: #eee; }}
td.pass {{ background: #d9f0d3; }} td.fail {{ background: #f4c7c3; font-weight: bold; }}
td.na {{ background: #f0f0f0; }}
.source {{ color: #444; font-size: 0.85em; }}
code {{ font-size: 0.75em; word-break: break-all; }}
td.path {{ word-break: break-all; text-align: left; font-size: 0.75em; }}
@page {{ size: A4; margin: 12mm; }}
</style></head><body>
<h1>IL-6 method validation: {whole}</h1>
<p>{esc(doc["pass_reason"])}. Made {datetime.now(UTC).isoformat(timespec="seconds")} by
il6assay from {len(doc["runs"])} accepted runs; plan: {
        esc(doc["plan"]["file"] or "none (defaults)")
    }.</p>
<p><b>Validated range:</b> {_fmt(doc["lloq"])} – {_fmt(doc["uloq"])} pg/mL
{esc(doc["range_reason"])}; <b>dilutions</b> {esc(f"{dr[0]:g} – {dr[1]:g}" if dr else "none")};
<b>minimum required dilution</b> {_fmt(doc["mrd"])}; model {esc(method["model"])},
weighting {esc(method["weighting"])}, k {_fmt(method["k"])},
zero standard {esc(method["zero_standard"])}.</p>
<p class="source">{esc(doc["sources"]["lloq"])}</p>
<h2>Precision and accuracy</h2>
{
        _table(
            pa,
            [
                ("level", "level"),
                ("nominal", "nominal pg/mL"),
                ("n_runs", "runs"),
                ("n", "n"),
                ("mean", "mean"),
                ("bias_pct", "bias %"),
                ("cv_within_pct", "within-run CV %"),
                ("cv_between_pct", "between-run CV %"),
                ("cv_total_pct", "total CV %"),
                ("total_error_pct", "total error %"),
                ("pass", "verdict"),
                ("reason", "note"),
            ],
        )
    }
<p class="source">{esc(pa[0]["source"] if pa else "")}</p>
<h2>Precision profile</h2>{profile}
<p class="source">{esc(doc["sources"]["precision_profile"])}</p>
<h2>Parallelism</h2>
{
        _table(
            doc["parallelism"],
            [
                ("sample", "sample"),
                ("in_range", "dilutions in range"),
                ("cv_pct", "CV %"),
                ("slope", "slope"),
                ("pass", "verdict"),
                ("reason", "note"),
            ],
        )
    }
{par_plot}
<p class="source">{esc(doc["parallelism"][0]["source"] if doc["parallelism"] else "")}</p>
<h2>Dilution linearity</h2>
{
        _table(
            doc["dilution_linearity"]["factors"],
            [("dilution", "dilution"), ("recovery_pct", "% of mean"), ("pass", "verdict")],
        )
    }
<p class="source">{esc(doc["sources"]["dilution_range"])}</p>
<h2>Spike recovery</h2>
{
        _table(
            doc["recovery"],
            [
                ("sample", "pool"),
                ("spike", "spike pg/mL"),
                ("unspiked", "unspiked"),
                ("spiked", "spiked"),
                ("recovery_pct", "recovery %"),
                ("pass", "verdict"),
                ("reason", "note"),
            ],
        )
    }
<h2>Selectivity</h2>
{
        _table(
            doc["selectivity"],
            [
                ("spike", "spike pg/mL"),
                ("n_sources", "sources"),
                ("n_within", "within"),
                ("fraction_pct", "%"),
                ("limit_pct", "± %"),
                ("pass", "verdict"),
                ("reason", "note"),
            ],
        )
    }
<h2>Stability</h2>
{
        _table(
            doc["stability"],
            [
                ("level", "level"),
                ("condition", "condition"),
                ("hours", "hours"),
                ("mean", "mean"),
                ("reference", "0 h"),
                ("difference_pct", "difference %"),
                ("pass", "verdict"),
                ("reason", "note"),
            ],
        )
    }
<h2>Runs used</h2>
<table><tr><th>run</th><th>kit lot</th><th>range pg/mL</th><th>run.json SHA-256</th>
<th>audit SHA-256</th><th>folder</th></tr>{runs}</table>
</body></html>
"""


def write_validation(doc: dict[str, Any], out_dir: str | Path) -> Path:
    """Write validation.json and validation.html into a new ``out_dir``; refuse an existing one."""
    out = Path(out_dir)
    if out.exists():
        raise InputError(
            "already exists: a validation is never overwritten; choose another --out", path=out
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        (tmp / JSON_FILE).write_text(
            json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (tmp / HTML_FILE).write_text(render_html(doc), encoding="utf-8")
        os.rename(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise
    return out
