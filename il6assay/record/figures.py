"""The report's figures: the standard curve, its residuals and the plate's OD heat map.

Each figure is plain data for plotly.js (``{"data": [traces], "layout": {...}}``),
written into report.html by ``figure_div`` exactly as plotly's own ``to_html``
writes it (tests/test_lean_process.py compares them), without importing plotly.
"""

from __future__ import annotations

import base64
import functools
import html
import importlib.util
import json
import marshal
from pathlib import Path
from typing import Any

import numpy as np

from il6assay.qc.results import format_sig
from il6assay.record.i18n import Words
from il6assay.run import Run

# A figure: plain data for plotly.js, {"data": [traces], "layout": {...}}; no plotly objects.
Figure = dict[str, Any]

PASS, FAIL = "#1f77b4", "#d62728"
# Figures fit an A4 page's printable width (210 mm - 2 x 12 mm at 96 dpi: 703 px).
FIGURE_WIDTH = 700
# Faults on the plate map (marked x, red); censoring is normal and marked apart (< >).
FAULT_FLAGS = ("STANDARD_FAILED", "CONTROL_FAILED", "HIGH_CV", "SATURATED")
CENSOR_FLAGS = {"BELOW_LLOQ": "<", "ABOVE_ULOQ": ">"}


@functools.cache
def plotly_folder() -> Path:
    """The installed plotly package's folder, found without importing plotly (0.2 s of CPU)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("plotly is not installed (its plotly.min.js draws the figures)")
    return Path(next(iter(spec.submodule_search_locations)))


def _hover(name: str, od: float | None, conc: float | None, extra: str = "") -> str:
    od_text = f"{od:.4f}" if od is not None else "n/a"
    conc_text = f"{format_sig(conc)} pg/mL" if conc is not None else "no concentration"
    return f"{html.escape(name)}<br>OD {od_text}<br>{conc_text}{extra}"


def scatter(**props: Any) -> dict[str, Any]:
    """A scatter trace of ``props``, as plain data."""
    return {**props, "type": "scatter"}


def hline(y: float, line: dict[str, Any]) -> dict[str, Any]:
    """A horizontal line across the plot, as plotly's add_hline draws it."""
    return {"line": line, "type": "line", "x0": 0, "x1": 1, "xref": "x domain",
            "y0": y, "y1": y, "yref": "y"}  # fmt: skip


def curve_figure(run: Run, words: Words | None = None) -> Figure:
    """The standard curve: standards, fit with 95 % band, samples, LLOQ/ULOQ."""
    w_ = words or Words()
    data: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    std = [w for w in run.wells if w.spec.role == "standard" and w.spec.nominal]
    shown = [w for w in std if w.od is not None or w.status == "MASKED"]
    if shown:
        ys = [w.od if w.od is not None else w.od_corrected for w in shown]
        data.append(
            scatter(
                x=[w.spec.nominal for w in shown],
                y=ys,
                mode="markers",
                name=w_("curve_standards"),
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
        shapes.append(hline(float(np.mean(zeros)), {"color": "grey", "dash": "dot"}))
    if run.curve.success and std:
        lo = min(w.spec.nominal for w in std) / 4
        hi = max(w.spec.nominal for w in std) * 4
        xs = np.geomspace(lo, hi, 200)
        band_lo, band_hi = run.curve.predict_band(xs)
        data.append(
            scatter(
                x=np.concatenate([xs, xs[::-1]]),
                y=np.concatenate([band_hi, band_lo[::-1]]),
                fill="toself",
                fillcolor="rgba(255,127,14,0.15)",
                line={"width": 0},
                name=w_("band95"),
                hoverinfo="skip",
            )
        )
        data.append(
            scatter(
                x=xs,
                y=run.curve.predict(xs),
                mode="lines",
                name=f"{run.curve.model.upper()} {w_('fit')}",
                line={"color": "#ff7f0e"},
                hoverinfo="skip",
            )
        )
    placed = [s for s in run.samples if s.conc_on_plate is not None and s.od_mean is not None]
    if placed:
        data.append(
            scatter(
                x=[s.conc_on_plate for s in placed],
                y=[s.od_mean for s in placed],
                mode="markers",
                name=w_("curve_samples"),
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
            # A trace, not a shape: shapes on log axes mix units between line and label.
            data.append(
                scatter(
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
    # Absorbance reads are labelled by their wavelength alone ("450"); other signals by mode.
    kind = "OD" if str(run.read).split(" ")[0].isdigit() else w_("signal")
    read = f"{kind} ({run.read}" + (f" - {run.reference}" if run.reference else "") + ")"
    # The y axis spans the data, never an extrapolated asymptote (an open-ended fit's line
    # and band may run far past the standards: they are drawn, cut at the axis).
    seen = [y for y in ys + zeros + [s.od_mean for s in placed] if y is not None] if shown else []
    y_axis: dict[str, Any] = {"title": {"text": read}}
    if seen:
        low, high = min(min(seen), 0.0), max(seen)
        pad = 0.08 * ((high - low) or 1.0)
        y_axis["range"] = [low - pad, high + pad]
    layout = {
        "template": plotly_white(),
        **({"shapes": shapes} if shapes else {}),
        "xaxis": {"type": "log", "title": {"text": w_("curve_x_axis")}},
        "yaxis": y_axis,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "title": {"text": w_("curve_title")},
        "width": FIGURE_WIDTH,
        "height": 480,
    }
    return {"data": data, "layout": layout}


def residual_figure(run: Run, words: Words | None = None) -> Figure:
    """Residuals (OD - fitted OD) of the standard wells against their nominal concentration."""
    w_ = words or Words()
    data: list[dict[str, Any]] = []
    std = [
        w for w in run.wells if w.spec.role == "standard" and w.spec.nominal and w.od is not None
    ]
    if run.curve.success and std:
        res = [w.od - float(run.curve.predict(w.spec.nominal)) for w in std]
        data.append(
            scatter(
                x=[w.spec.nominal for w in std],
                y=res,
                mode="markers",
                marker={"size": 9, "color": [PASS if w.passed else FAIL for w in std]},
                text=[f"{w.name}: residual {r:+.4f}" for w, r in zip(std, res, strict=True)],
                hoverinfo="text",
                name="residuals",
            )
        )
    layout = {
        "template": plotly_white(),
        "shapes": [hline(0, {"color": "grey"})],
        "xaxis": {"type": "log", "title": {"text": w_("residuals_x_axis")}},
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "title": {"text": w_("residuals_title")},
        "yaxis": {"title": {"text": w_("residuals_y_axis")}},
        "width": FIGURE_WIDTH,
        "height": 300,
        "showlegend": False,
    }
    return {"data": data, "layout": layout}


# plotly's "Blues" colour scale (ColorBrewer), as plotly writes it out.
BLUES = [[0.0, "rgb(247,251,255)"], [0.125, "rgb(222,235,247)"], [0.25, "rgb(198,219,239)"],
         [0.375, "rgb(158,202,225)"], [0.5, "rgb(107,174,214)"], [0.625, "rgb(66,146,198)"],
         [0.75, "rgb(33,113,181)"], [0.875, "rgb(8,81,156)"], [1.0, "rgb(8,48,107)"]]  # fmt: skip


def plate_figure(run: Run, words: Words | None = None) -> Figure:
    """8x12 heat map of the corrected OD, each well's role and flags on hover; faults x."""
    w_ = words or Words()
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
    data: list[dict[str, Any]] = [
        {
            "z": z,
            "x": cols,
            "y": list(rows),
            "text": text,
            "hoverinfo": "text",
            "colorscale": BLUES,
            "colorbar": {"title": {"text": "OD"}},
            "xgap": 2,
            "ygap": 2,
            "type": "heatmap",
        }
    ]
    # Faults only: a censored sample (<LLOQ, >ULOQ) is a normal result, not marked here.
    marks = well_marks(run)
    flagged = [w for w in run.wells if marks.get(w.name, set()) & set(FAULT_FLAGS)]
    if flagged:
        data.append(
            scatter(
                x=[int(w.name[1:]) for w in flagged],
                y=[w.name[0] for w in flagged],
                mode="markers",
                marker={"symbol": "x-thin", "size": 14, "line": {"width": 2, "color": FAIL}},
                text=[f"{w.name}: {';'.join(sorted(marks[w.name]))}" for w in flagged],
                hoverinfo="text",
                name="fault",
            )
        )
    layout = {
        "template": plotly_white(),
        "yaxis": {"autorange": "reversed", "type": "category"},
        "xaxis": {"dtick": 1, "side": "top"},
        "margin": {"l": 40, "r": 20, "t": 70, "b": 20},
        "title": {"text": w_("plate_figure_title")},
        "width": FIGURE_WIDTH,
        "height": 360,
        "showlegend": False,
    }
    return {"data": data, "layout": layout}


@functools.cache
def _template_json() -> str:
    """plotly's "plotly_white" template, as the installed package ships it (read once)."""
    path = plotly_folder() / "package_data" / "templates" / "plotly_white.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    data = doc["data"]
    # plotly writes the template's traces in its own order, and its layout alphabetically.
    order = [k for k in _TEMPLATE_TRACES if k in data] + [
        k for k in data if k not in _TEMPLATE_TRACES
    ]
    traces = {k: [_trace_order(t) for t in data[k]] for k in order}
    return json.dumps({"data": traces, "layout": _sorted(doc["layout"])})


_TEMPLATE_TRACES = (
    "barpolar", "bar", "carpet", "choropleth", "contourcarpet", "contour", "heatmap",
    "histogram2dcontour", "histogram2d", "histogram", "mesh3d", "parcoords", "pie", "scatter3d",
    "scattercarpet", "scattergeo", "scattergl", "scattermap", "scatterpolargl", "scatterpolar",
    "scatter", "scatterternary", "surface", "table",
)  # fmt: skip


def _sorted(value: Any) -> Any:
    """``value`` with the keys of every mapping in it in alphabetical order."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        if not any(isinstance(v, dict | list) for v in value):
            return value  # a trace's numbers or labels: nothing inside to order
        return [_sorted(v) for v in value]
    return value


def plotly_white() -> dict[str, Any]:
    """plotly's "plotly_white" template, a fresh copy (the caller's to change)."""
    return marshal.loads(_template_copy())


@functools.cache
def _template_copy() -> bytes:
    """The template in marshal's format: loaded in a third of json.loads's time, as a deep copy
    (three a report)."""
    return marshal.dumps(json.loads(_template_json()))


def load_template() -> None:
    """Read and write plotly's template now (what each report's figures then reuse)."""
    _template_copy(), _template_written()


@functools.cache
def _template_written() -> tuple[dict[str, Any], str]:
    """The template, and its JSON as figure_json writes it (3 of a report's 4 ms: once)."""
    template = plotly_white()
    return template, figure_json(template)


def _layout_json(layout: dict[str, Any]) -> str:
    """figure_json(layout), the unchanged template's JSON taken from _template_written."""
    template, written = _template_written()
    if next(iter(layout), None) != "template" or layout["template"] != template:
        return figure_json(layout)
    rest = figure_json({k: v for k, v in layout.items() if k != "template"})
    return '{"template":' + written + ("}" if rest == "{}" else "," + rest[1:])


# What plotly writes in place of a float64 array: plotly.js's typed-array spec.
def _typed(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.size:
        if value.dtype != np.float64:
            value = value.astype(np.float64)
        return {"dtype": "f8", "bdata": base64.b64encode(value.tobytes()).decode("ascii")}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _trace_order(trace: dict[str, Any]) -> dict[str, Any]:
    """A trace's keys as plotly writes them: alphabetical at every level, its type last."""

    body = {k: _sorted(trace[k]) for k in sorted(trace) if k != "type"}
    return {**body, "type": trace["type"]}


_UNSAFE = (("<", "\\u003c"), (">", "\\u003e"), ("/", "\\u002f"))


def figure_json(value: Any) -> str:
    """JSON for plotly.js as plotly writes it: compact, NaN as null, ``< > /`` escaped."""
    text = json.dumps(value, separators=(",", ":"), default=_typed)
    if "NaN" in text or "Infinity" in text:
        strict = json.loads(text, parse_constant=lambda _: None)
        text = json.dumps(strict, separators=(",", ":"))
    for unsafe, safe in _UNSAFE:
        text = text.replace(unsafe, safe)
    return text


def figure_div(fig: Figure, div_id: str, config: dict[str, Any]) -> str:
    """The <div> and script that draw ``fig`` with plotly.js, as plotly's to_html writes them."""
    data = figure_json([_trace_order(t) for t in fig["data"]])
    layout = _layout_json(fig["layout"])
    jconfig = json.dumps({**config, "responsive": True})
    # plotly's to_html: the layout's size in px, else the whole of the page's width
    size = {
        k: f"{fig['layout'][k]}px" if k in fig["layout"] else "100%" for k in ("height", "width")
    }
    height, width = size["height"], size["width"]
    script = (
        f'                if (document.getElementById("{div_id}")) {{'
        f"                    Plotly.newPlot("
        f'                        "{div_id}",'
        f"                        {data},"
        f"                        {layout},"
        f"                        {jconfig}"
        f"                    )"
        f"                }}"
    )
    return (
        f'<div style="height:{height}; width:{width};">'
        f'                            <div id="{div_id}" class="plotly-graph-div" '
        f'style="height:100%; width:100%;"></div>'
        f"            <script>"
        f"                window.PLOTLYENV=window.PLOTLYENV || {{}};"
        f"                {script};"
        f"            </script>"
        f"        </div>"
    )


def well_marks(run: Run) -> dict[str, set[str]]:
    """Each well's flags as the plate map marks them: its own, and its sample's."""
    marks = {w.name: set(w.flags) for w in run.wells}
    for s in run.samples:
        for w in s.wells:
            marks.setdefault(w.name, set()).update(
                f for f in s.flags if f in FAULT_FLAGS or f in CENSOR_FLAGS
            )
    return marks
