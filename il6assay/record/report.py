"""report.html: everything a QC reviewer needs to judge a plate, opening offline.

Top to bottom: the header (plate, input file and its SHA-256, reader, date
read, kit lot, model, the verdict with each failed rule, the review status),
the acceptance rules, the standard curve (log axis, masked standards hollow,
95 % band, samples on the curve, LLOQ/ULOQ), the standards' residuals and
table, the plate map, the controls and the samples.

plotly.js never comes from the network. By default one copy,
``plotly-<version>.min.js``, sits in the results folder beside the run
folders and every report loads it by a relative path, so a folder of many
runs holds one copy and keeps working when moved as a whole (a report whose
copy is missing says so in words). ``standalone=True`` embeds it instead.
The review status is read from ``review.js`` beside the report, which
``il6assay review`` rewrites: reviewing never changes report.html.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from il6assay.plate.hashing import sha256_file
from il6assay.qc.results import format_sig
from il6assay.run import Run

if TYPE_CHECKING:
    import plotly.graph_objects as go

PASS, FAIL = "#1f77b4", "#d62728"
REVIEW_JS = "review.js"


def plotly_js_name() -> str:
    """File name of the shared plotly.js copy (versioned, so two versions never clash)."""
    from importlib.metadata import version

    return f"plotly-{version('plotly')}.min.js"


def plotly_js_source() -> str:
    """The plotly.min.js shipped inside the plotly package."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def ensure_shared_plotly(out_dir: Path) -> Path:
    """Write the shared plotly.js copy into ``out_dir`` once (atomically)."""
    target = out_dir / plotly_js_name()
    if not target.is_file():
        tmp = target.with_name(f".{target.name}.partial")
        tmp.write_text(plotly_js_source(), encoding="utf-8")
        tmp.replace(target)
    return target


def review_js(review: dict[str, Any]) -> str:
    """The review.js a report loads: the run's review status as a JS object."""
    return f"window.IL6_REVIEW = {json.dumps(review, ensure_ascii=False)};\n"


def _hover(name: str, od: float | None, conc: float | None, extra: str = "") -> str:
    od_text = f"{od:.4f}" if od is not None else "n/a"
    conc_text = f"{format_sig(conc)} pg/mL" if conc is not None else "no concentration"
    return f"{html.escape(name)}<br>OD {od_text}<br>{conc_text}{extra}"


def curve_figure(run: Run) -> go.Figure:
    """The standard curve: standards, fit with 95 % band, samples, LLOQ/ULOQ."""
    import plotly.graph_objects as go

    fig = go.Figure()
    std = [w for w in run.wells if w.spec.role == "standard" and w.spec.nominal]
    shown = [w for w in std if w.od is not None or w.status == "MASKED"]
    if shown:
        ys = [w.od if w.od is not None else w.od_corrected for w in shown]
        fig.add_trace(
            go.Scatter(
                x=[w.spec.nominal for w in shown],
                y=ys,
                mode="markers",
                name="standards (hollow: masked; red x: failed)",
                marker={
                    "size": 10,
                    "color": [PASS if w.passed else FAIL for w in shown],
                    "symbol": [
                        "circle-open" if w.status == "MASKED" else ("circle" if w.passed else "x")
                        for w in shown
                    ],
                    "line": {"width": 2},
                },
                text=[
                    _hover(w.name, y, w.conc_on_plate, f"<br>{';'.join(w.flags)}")
                    for w, y in zip(shown, ys, strict=True)
                ],
                hoverinfo="text",
            )
        )
    zeros = [
        w.od
        for w in run.wells
        if w.spec.role == "standard" and not w.spec.nominal and w.od is not None
    ]
    if zeros:
        fig.add_hline(y=float(np.mean(zeros)), line={"dash": "dot", "color": "grey"})
    if run.curve.success and std:
        lo = min(w.spec.nominal for w in std) / 4
        hi = max(w.spec.nominal for w in std) * 4
        xs = np.geomspace(lo, hi, 200)
        band_lo, band_hi = run.curve.predict_band(xs)
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([xs, xs[::-1]]),
                y=np.concatenate([band_hi, band_lo[::-1]]),
                fill="toself",
                fillcolor="rgba(255,127,14,0.15)",
                line={"width": 0},
                name="95 % band",
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=run.curve.predict(xs),
                mode="lines",
                name=f"{run.curve.model.upper()} fit",
                line={"color": "#ff7f0e"},
                hoverinfo="skip",
            )
        )
    placed = [s for s in run.samples if s.conc_on_plate is not None and s.od_mean is not None]
    if placed:
        fig.add_trace(
            go.Scatter(
                x=[s.conc_on_plate for s in placed],
                y=[s.od_mean for s in placed],
                mode="markers",
                name="samples (in range, on the plate)",
                marker={"size": 7, "symbol": "diamond", "color": "#2ca02c"},
                text=[
                    _hover(
                        f"{s.sample} ({s.study_id}) wells {' '.join(w.name for w in s.wells)}",
                        s.od_mean,
                        s.conc_on_plate,
                        f"<br>result {html.escape(s.result)} pg/mL (x{s.dilution:g})",
                    )
                    for s in placed
                ],
                hoverinfo="text",
            )
        )
    top = max([w.od for w in std if w.od is not None] + [0.0]) * 1.05
    for value, name in ((run.lloq, "LLOQ"), (run.uloq, "ULOQ")):
        if value:
            # A trace, not add_vline: shapes on log axes mix units between line and label.
            fig.add_trace(
                go.Scatter(
                    x=[value, value],
                    y=[0, top],
                    mode="lines+text",
                    text=["", f"{name} {format_sig(value)}"],
                    textposition="top center",
                    line={"dash": "dash", "color": "#8c564b", "width": 1.5},
                    name=f"{name} {format_sig(value)} pg/mL",
                    hoverinfo="name",
                )
            )
    read = f"OD ({run.read}" + (f" - {run.reference}" if run.reference else "") + ")"
    fig.update_layout(
        title="Standard curve",
        xaxis={"type": "log", "title": "IL-6 (pg/mL, on the plate)"},
        yaxis={"title": read},
        template="plotly_white",
        height=480,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return fig


def residual_figure(run: Run) -> go.Figure:
    """Residuals (OD - fitted OD) of the standard wells against their nominal concentration."""
    import plotly.graph_objects as go

    fig = go.Figure()
    std = [
        w for w in run.wells if w.spec.role == "standard" and w.spec.nominal and w.od is not None
    ]
    if run.curve.success and std:
        res = [w.od - float(run.curve.predict(w.spec.nominal)) for w in std]
        fig.add_trace(
            go.Scatter(
                x=[w.spec.nominal for w in std],
                y=res,
                mode="markers",
                marker={"size": 9, "color": [PASS if w.passed else FAIL for w in std]},
                text=[f"{w.name}: residual {r:+.4f}" for w, r in zip(std, res, strict=True)],
                hoverinfo="text",
                name="residuals",
            )
        )
    fig.add_hline(y=0, line={"color": "grey"})
    fig.update_layout(
        title="Residuals of the standards",
        xaxis={"type": "log", "title": "nominal IL-6 (pg/mL)"},
        yaxis={"title": "OD - fitted OD"},
        template="plotly_white",
        height=300,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        showlegend=False,
    )
    return fig


def plate_figure(run: Run) -> go.Figure:
    """8x12 heat map of the corrected OD, each well's role and flags on hover; flagged wells x."""
    import plotly.graph_objects as go

    rows = "ABCDEFGHIJKLMNOP"[: run.plate.rows]
    cols = list(range(1, run.plate.cols + 1))
    by_name = {w.name: w for w in run.wells}
    z, text = [], []
    for r in rows:
        z_row, t_row = [], []
        for c in cols:
            w = by_name.get(f"{r}{c}")
            od = None if w is None else w.od_corrected
            z_row.append(od)
            if w is None:
                t_row.append(f"{r}{c}")
                continue
            what = w.spec.sample or w.spec.level or ""
            t_row.append(
                f"{w.name} {w.spec.role} {html.escape(what)}<br>"
                f"OD {'n/a' if od is None else f'{od:.4f}'} ({w.status})<br>{';'.join(w.flags)}"
            )
        z.append(z_row)
        text.append(t_row)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=cols,
            y=list(rows),
            text=text,
            hoverinfo="text",
            colorscale="Blues",
            colorbar={"title": "OD"},
            xgap=2,
            ygap=2,
        )
    )
    flagged = [w for w in run.wells if w.flags and w.spec.role != "empty"]
    if flagged:
        fig.add_trace(
            go.Scatter(
                x=[int(w.name[1:]) for w in flagged],
                y=[w.name[0] for w in flagged],
                mode="markers",
                marker={"symbol": "x-thin", "size": 14, "line": {"width": 2, "color": FAIL}},
                text=[f"{w.name}: {';'.join(w.flags)}" for w in flagged],
                hoverinfo="text",
                name="flagged",
            )
        )
    fig.update_layout(
        title="Plate map (corrected OD; x: flagged well)",
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"dtick": 1, "side": "top"},
        template="plotly_white",
        height=360,
        margin={"l": 40, "r": 20, "t": 70, "b": 20},
        showlegend=False,
    )
    return fig


def _table(headers: list[str], rows: list[tuple[list[str], bool]]) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>"
    body = "".join(
        ('<tr class="flagged">' if flagged else "<tr>")
        + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        + "</tr>"
        for cells, flagged in rows
    )
    return f"<table>{head}{body}</table>"


def _num(v: float | None, fmt: str = ".4f") -> str:
    return "" if v is None else format(v, fmt)


def standards_table(run: Run) -> str:
    """Nominal, back-calculated, recovery, CV and verdict of every standard well."""
    from il6assay.qc.rules import cv_pct

    rows = []
    for lv in run.levels:
        concs = [w.conc_on_plate for w in lv.wells if w.conc_on_plate is not None]
        cv = cv_pct(concs) if len(concs) == len(lv.wells) else None
        for w in lv.wells:
            rows.append(
                (
                    [
                        lv.level,
                        w.name,
                        f"{lv.nominal:g}",
                        _num(w.od),
                        format_sig(w.conc_on_plate) if w.conc_on_plate is not None else "",
                        _num(w.recovery_pct, ".1f"),
                        f"±{lv.tolerance_pct:g} %",
                        _num(cv, ".1f"),
                        "pass" if w.passed else "FAIL",
                        "pass" if lv.passed else "FAIL",
                        " ".join(w.flags),
                    ],
                    not w.passed,
                )
            )
    headers = ["level", "well", "nominal (pg/mL)", "OD", "back-calculated", "recovery %",
               "tolerance", "level CV %", "well", "level", "flags"]  # fmt: skip
    return _table(headers, rows)


def controls_table(run: Run) -> str:
    """Each control well against its acceptance range."""
    rows = []
    for w in run.wells:
        if w.spec.role != "control":
            continue
        rng = f"{_num(w.spec.low, 'g')} - {_num(w.spec.high, 'g')}"
        rows.append(
            (
                [w.spec.level or "", w.name, _num(w.spec.nominal, "g"), rng,
                 format_sig(w.conc) if w.conc is not None else "no value",
                 _num(w.recovery_pct, ".1f"), "pass" if w.passed else "FAIL",
                 " ".join(w.flags)],
                not w.passed,
            )
        )  # fmt: skip
    if not rows:
        return "<p>The layout has no controls.</p>"
    headers = ["level", "well", "nominal (pg/mL)", "range", "measured", "recovery %", "", "flags"]
    return _table(headers, rows)


def samples_table(run: Run) -> str:
    """Every sample at every dilution: study ID, visit, OD, CV, result with CI, flags."""
    rows = []
    for s in run.samples:
        ci = ""
        if s.ci_low_pg_ml is not None and s.ci_high_pg_ml is not None:
            ci = f"{format_sig(s.ci_low_pg_ml)} - {format_sig(s.ci_high_pg_ml)}"
        rows.append(
            (
                [s.study_id, s.visit, s.sample, f"{s.dilution:g}", _num(s.od_mean),
                 _num(s.od_cv_pct, ".1f"), s.result, ci, " ".join(s.flags)],
                bool(s.flags),
            )
        )  # fmt: skip
    headers = ["study ID", "visit", "sample", "dilution", "OD mean", "CV %", "result (pg/mL)",
               "95 % CI", "flags"]  # fmt: skip
    return _table(headers, rows)


def _rules_list(run: Run) -> str:
    items = []
    for r in run.rules:
        mark = {True: "pass", False: "FAIL", None: "n/a"}[r.passed]
        wells = f" Wells at fault: {', '.join(r.wells)}." if r.wells and r.passed is False else ""
        items.append(
            f'<li class="{mark.lower().replace("/", "")}"><b>{mark}</b> {html.escape(r.id)}: '
            f"{html.escape(r.description)}. {html.escape(r.detail)}.{html.escape(wells)} "
            f"<i>Source: {html.escape(r.source)}</i></li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def _noise_text(noise: dict[str, Any]) -> str:
    """The weighting's k and where it came from, with the measured noise when there is one."""
    text = f"k = {noise['k_od']:.3g} OD, from {noise['source']}"
    if "cv" in noise:
        text += f": {100 * noise['cv']:.2g} % CV + {noise['sd_od']:.2g} OD"
    return text


def _aics(run: Run) -> str:
    parts = []
    for model in ("4pl", "5pl", "loglog"):
        aic = run.comparison.get(model, {}).get("aic")
        parts.append(f"{aic:.2f}" if aic is not None else "n/a")
    return " / ".join(parts) + f" (chosen: {run.settings.model.upper()}; lower is better)"


def _fmt(v: float | None) -> str:
    return format_sig(v) if v is not None else "none"


def write_report(run: Run, path: Path, *, standalone: bool = False) -> None:
    """Write report.html for a run (plotly.js shared beside the run folder, or embedded)."""
    figures = [curve_figure(run), residual_figure(run), plate_figure(run)]
    config = {"displaylogo": False}
    divs = [f.to_html(full_html=False, include_plotlyjs=False, config=config) for f in figures]
    if standalone:
        plotly = f"<script>{plotly_js_source()}</script>"
    else:
        plotly = f'<script src="../{plotly_js_name()}"></script>'
    meta = run.plate.metadata
    status = "accepted" if run.accepted else "rejected"
    header = [
        ("Plate", run.plate.id),
        ("Input file", f"{run.export.path.name} (SHA-256 {sha256_file(run.export.path)})"),
        ("Reader", str(meta.get("reader_type") or meta.get("reader_model") or run.export.format)),
        ("Date read", str(meta.get("read_datetime") or meta.get("date") or "not in the export")),
        ("Kit lot", run.layout.kit_lot or "not given"),
        (
            "Model",
            f"{run.curve.model.upper()}, weighting {run.settings.weighting}, "
            f"zero standard: {run.settings.zero_standard}; {run.curve.message}",
        ),
        *([("Noise (weights)", _noise_text(run.noise))] if run.noise is not None else []),
        ("Curve warnings", "; ".join(f"{k}: {v}" for k, v in run.curve.warnings.items())),
        ("AIC (4PL / 5PL / log-log)", _aics(run)),
        (
            "LoB / LoD (CLSI EP17)",
            f"{_fmt(run.detection.get('lob_pg_ml'))} / "
            f"{_fmt(run.detection.get('lod_pg_ml'))} pg/mL",
        ),
        ("LLOQ / ULOQ", f"{_fmt(run.lloq)} / {_fmt(run.uloq)} pg/mL"),
        ("Masked wells", ", ".join(run.settings.masked)),
    ]
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v or 'none')}</td></tr>" for k, v in header
    )
    rows += '<tr><th>Review</th><td id="review">unreviewed</td></tr>'
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>il6assay report: {html.escape(run.run_id)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.2em auto; max-width: 1150px; padding: 0 1em; }}
table {{ border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
tr.flagged td {{ background: #fff3cd; }}
.verdict.accepted {{ color: #1a7f37; }} .verdict.rejected {{ color: #b42318; }}
li.fail {{ color: #b42318; }}
#plotly-missing {{ background: #fde2e1; padding: 0.6em; border: 1px solid #b42318; }}
</style>
{plotly}
<script src="{REVIEW_JS}"></script>
</head><body>
<div id="plotly-missing" hidden>The figures need <code>{plotly_js_name()}</code> in the folder
that holds this run folder (il6assay writes it there once for all runs). Move run folders
together with it, or process again with <code>--standalone-report</code>.</div>
<h1>il6assay run {html.escape(run.run_id)}</h1>
<h2 class="verdict {status}">Verdict: {html.escape(run.verdict)}</h2>
<table>{rows}</table>
<h2>Acceptance rules</h2>
{_rules_list(run)}
{divs[0]}
{divs[1]}
<h2>Standards</h2>
{standards_table(run)}
{divs[2]}
<h2>Controls</h2>
{controls_table(run)}
<h2>Samples</h2>
{samples_table(run)}
<p>Results outside LLOQ..ULOQ are censored text, never extrapolated numbers.
Flags are explained in curve.json ("flags") and the README.</p>
<script>
if (typeof Plotly === "undefined") {{
  document.getElementById("plotly-missing").hidden = false;
}}
var review = window.IL6_REVIEW;
if (review && review.status) {{
  var text = review.status;
  if (review.by) {{ text += " by " + review.by + " at " + review.time_utc + ": " + review.reason; }}
  if (review.override) {{ text += " (OVERRIDE of the acceptance rules)"; }}
  document.getElementById("review").textContent = text;
}}
</script>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
