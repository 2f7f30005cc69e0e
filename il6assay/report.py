"""report.html: the run's verdict and standard curve, opening offline.

plotly.js is embedded in the page (no CDN), so the report opens from disk on
a lab PC with no network. The curve is drawn on a log concentration axis:
standard wells, the fitted 4PL, samples placed on the curve at their
back-calculated concentration, and the LLOQ/ULOQ lines.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from il6assay.outputs import sha256_file, verdict_text
from il6assay.results import format_sig
from il6assay.run import Run


def curve_figure(run: Run):
    """The plotly figure of the standard curve (returned so tests and notebooks can use it)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    std = [w for w in run.wells if w.spec.role == "standard" and w.od is not None]
    nonzero = [w for w in std if w.spec.nominal]
    if nonzero:
        fig.add_trace(
            go.Scatter(
                x=[w.spec.nominal for w in nonzero],
                y=[w.od for w in nonzero],
                mode="markers",
                name="standards",
                marker={
                    "size": 9,
                    "color": ["#1f77b4" if w.passed else "#d62728" for w in nonzero],
                    "symbol": ["circle" if w.passed else "x" for w in nonzero],
                },
                text=[_hover(w.name, w.od, w.conc_on_plate, w.flags) for w in nonzero],
                hoverinfo="text",
            )
        )
    zeros = [w.od for w in std if not w.spec.nominal]
    if zeros:
        fig.add_hline(
            y=float(np.mean(zeros)),
            line={"dash": "dot", "color": "grey"},
            annotation_text="zero standard (mean OD)",
        )
    if run.curve.success and nonzero:
        lo = min(w.spec.nominal for w in nonzero) / 4
        hi = max(w.spec.nominal for w in nonzero) * 4
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
                name="samples (on plate)",
                marker={"size": 7, "symbol": "diamond", "color": "#2ca02c"},
                text=[
                    f"{html.escape(s.sample)} ({html.escape(s.study_id)})<br>"
                    f"wells {' '.join(w.name for w in s.wells)}<br>OD {s.od_mean:.4f}<br>"
                    f"result {html.escape(s.result)} pg/mL<br>{';'.join(s.flags)}"
                    for s in placed
                ],
                hoverinfo="text",
            )
        )
    top = max([w.od for w in std] + [0.0]) * 1.05
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
    fig.update_layout(
        title="Standard curve",
        xaxis={"type": "log", "title": "IL-6 (pg/mL, on the plate)"},
        yaxis={"title": f"OD ({run.read}" + (f" - {run.reference}" if run.reference else "") + ")"},
        template="plotly_white",
        height=520,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return fig


def _hover(well: str, od: float | None, conc: float | None, flags: list[str]) -> str:
    conc_text = format_sig(conc) if conc is not None else "n/a"
    od_text = f"{od:.4f}" if od is not None else "n/a"
    return f"{well}<br>OD {od_text}<br>{conc_text} pg/mL<br>{';'.join(flags)}"


def _rows_table(run: Run) -> str:
    titles = (
        "study ID",
        "visit",
        "sample",
        "dilution",
        "OD mean",
        "CV %",
        "result (pg/mL)",
        "flags",
    )
    head = "<tr>" + "".join(f"<th>{t}</th>" for t in titles) + "</tr>"
    body = []
    for s in run.samples:
        cls = ' class="flagged"' if s.flags else ""
        cv = f"{s.od_cv_pct:.1f}" if s.od_cv_pct is not None else ""
        od = f"{s.od_mean:.4f}" if s.od_mean is not None else ""
        cells = [
            s.study_id,
            s.visit,
            s.sample,
            f"{s.dilution:g}",
            od,
            cv,
            s.result,
            " ".join(s.flags),
        ]
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _rules_list(run: Run) -> str:
    items = []
    for r in run.rules:
        mark = {True: "pass", False: "FAIL", None: "n/a"}[r.passed]
        wells = f" Wells: {', '.join(r.wells)}." if r.wells and r.passed is False else ""
        items.append(
            f'<li class="{mark.lower().replace("/", "")}"><b>{mark}</b> {html.escape(r.id)}: '
            f"{html.escape(r.description)}. {html.escape(r.detail)}.{html.escape(wells)} "
            f"<i>Source: {html.escape(r.source)}</i></li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def write_report(run: Run, path: Path) -> None:
    """Write the self-contained report.html for a run."""
    fig = curve_figure(run)
    plot = fig.to_html(full_html=False, include_plotlyjs=True, config={"displaylogo": False})
    meta = run.plate.metadata
    verdict = verdict_text(run)
    status = "accepted" if run.accepted else "rejected"
    header = [
        ("Plate", run.plate.id),
        ("Input file", f"{run.export.path.name} (SHA-256 {sha256_file(run.export.path)})"),
        ("Reader", str(meta.get("reader_type") or meta.get("reader") or run.export.format)),
        ("Read", str(meta.get("read_datetime") or meta.get("date") or "not in the export")),
        ("Kit lot", run.layout.kit_lot or "not given"),
        (
            "Model",
            f"{run.curve.model.upper()}, weighting {run.settings.weighting}, "
            f"zero standard: {run.settings.zero_standard}; {run.curve.message}",
        ),
        ("Curve warnings", "; ".join(f"{k}: {v}" for k, v in run.curve.warnings.items())),
        ("AIC (4PL / 5PL)", _aics(run)),
        (
            "LoB / LoD (CLSI EP17)",
            f"{_fmt(run.detection.get('lob_pg_ml'))} / "
            f"{_fmt(run.detection.get('lod_pg_ml'))} pg/mL",
        ),
        ("LLOQ / ULOQ", f"{_fmt(run.lloq)} / {_fmt(run.uloq)} pg/mL"),
        ("Review", "unreviewed"),
    ]
    header = [(k, v or "none") for k, v in header]
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in header
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>il6assay report: {html.escape(run.run_id)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; max-width: 1100px; }}
table {{ border-collapse: collapse; margin: 0.5em 0; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
tr.flagged td {{ background: #fff3cd; }}
.verdict.accepted {{ color: #1a7f37; }} .verdict.rejected {{ color: #b42318; }}
li.fail {{ color: #b42318; }}
</style></head><body>
<h1>il6assay run {html.escape(run.run_id)}</h1>
<h2 class="verdict {status}">Verdict: {html.escape(verdict)}</h2>
<table>{rows}</table>
<h2>Acceptance rules</h2>
{_rules_list(run)}
{plot}
<h2>Samples</h2>
{_rows_table(run)}
<p>il6assay: results outside LLOQ..ULOQ are censored text, never extrapolated numbers.</p>
</body></html>
"""
    path.write_text(page, encoding="utf-8")


def _aics(run: Run) -> str:
    parts = []
    for model in ("4pl", "5pl"):
        aic = run.comparison.get(model, {}).get("aic")
        parts.append(f"{aic:.2f}" if aic is not None else "n/a")
    return " / ".join(parts) + f" (chosen: {run.settings.model.upper()}; lower is better)"


def _fmt(v: float | None) -> str:
    return format_sig(v) if v is not None else "none"
