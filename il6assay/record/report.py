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

import base64
import filecmp
import functools
import html
import importlib.util
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from il6assay.plate.hashing import sha256_file
from il6assay.plate.layout_view import ROLE_COLOURS, well_label
from il6assay.qc.m10 import QC_ROLES
from il6assay.qc.results import FLAGS, REASSAY_HINT, format_sig
from il6assay.qc.rules import RuleResult
from il6assay.record.audit import review_state
from il6assay.record.i18n import Words
from il6assay.run import Run

# A figure: plain data for plotly.js, {"data": [traces], "layout": {...}}; no plotly objects.
Figure = dict[str, Any]

PASS, FAIL = "#1f77b4", "#d62728"
REVIEW_JS = "review.js"
# Figures fit an A4 page's printable width (210 mm - 2 x 12 mm at 96 dpi: 703 px).
FIGURE_WIDTH = 700
# Faults on the plate map (marked x, red); censoring is normal and marked apart (< >).
FAULT_FLAGS = ("STANDARD_FAILED", "CONTROL_FAILED", "HIGH_CV", "SATURATED")
CENSOR_FLAGS = {"BELOW_LLOQ": "<", "ABOVE_ULOQ": ">"}


def plotly_js_name() -> str:
    """File name of the shared plotly.js copy (versioned, so two versions never clash)."""
    return f"plotly-{_plotly_version()}.min.js"


@functools.cache
def _plotly_version() -> str:
    from importlib.metadata import version

    return version("plotly")


@functools.cache
def _plotly_folder() -> Path:
    """The installed plotly package's folder, found without importing plotly (0.2 s of CPU)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("plotly is not installed (its plotly.min.js draws the figures)")
    return Path(next(iter(spec.submodule_search_locations)))


def plotly_js_path() -> Path:
    """The plotly.min.js shipped inside the installed plotly package (the file itself)."""
    return _plotly_folder() / "package_data" / "plotly.min.js"


def plotly_js_source() -> str:
    """The plotly.min.js shipped inside the plotly package, as text."""
    return plotly_js_path().read_text(encoding="utf-8")


def ensure_shared_plotly(out_dir: Path) -> Path:
    """The shared plotly.js copy in ``out_dir``: copied once (atomically), rewritten if altered.

    A copy that is not byte for byte the installed plotly.min.js (a hand edit, a
    truncated copy) is replaced; checked once per folder and process.
    """
    target = out_dir / plotly_js_name()
    if target in _checked_copies and target.is_file():
        return target
    if not target.is_file() or not filecmp.cmp(target, plotly_js_path(), shallow=False):
        tmp = target.with_name(f".{target.name}.partial")
        shutil.copyfile(plotly_js_path(), tmp)
        tmp.replace(target)
    _checked_copies.add(target)
    return target


_checked_copies: set[Path] = set()


def review_js(review: dict[str, Any]) -> str:
    """The review.js a report loads: the run's review status as a JS object."""
    return f"window.IL6_REVIEW = {json.dumps(review, ensure_ascii=False)};\n"


def review_js_of(entries: list[dict[str, Any]]) -> str:
    """review.js as the audit log's entries make it (its writers and its check use this)."""
    return review_js(review_payload(entries, review_state(entries)))


SIGNED_REVIEW = {"review-signed": "reviewed"}  # the review app's signed review without a decision


def review_payload(entries: list[dict[str, Any]], review: dict[str, Any]) -> dict[str, Any]:
    """What review.js holds: the current review, every review decision and each mask's reason.

    Derived from the run's audit log entries, oldest first. ``history``: who,
    when, the decision, why, and whether it overrode the rules; ``masks``: each
    currently masked well with who masked it, when and why.
    """
    history = []
    masks: dict[str, dict[str, Any]] = {}
    for e in entries:
        action = str(e.get("action", ""))
        if action.startswith("review-"):
            history.append(
                {
                    "time_utc": e.get("time_utc"),
                    "decision": e.get("review_after") or SIGNED_REVIEW.get(action, action),
                    "by": e.get("by"),
                    "os_account": e.get("os_account"),
                    "reason": e.get("reason"),
                    "override": bool(e.get("override")),
                }
            )
        elif action == "mask":
            for well in e.get("wells", []):
                masks[well] = {"by": e.get("by"), "time_utc": e.get("time_utc"),
                               "reason": e.get("reason")}  # fmt: skip
        elif action == "unmask":
            for well in e.get("wells", []):
                masks.pop(well, None)
    return {**review, "history": history, "masks": masks}


def _hover(name: str, od: float | None, conc: float | None, extra: str = "") -> str:
    od_text = f"{od:.4f}" if od is not None else "n/a"
    conc_text = f"{format_sig(conc)} pg/mL" if conc is not None else "no concentration"
    return f"{html.escape(name)}<br>OD {od_text}<br>{conc_text}{extra}"


def _scatter(**props: Any) -> dict[str, Any]:
    return {**props, "type": "scatter"}


def _hline(y: float, line: dict[str, Any]) -> dict[str, Any]:
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
            _scatter(
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
        shapes.append(_hline(float(np.mean(zeros)), {"color": "grey", "dash": "dot"}))
    if run.curve.success and std:
        lo = min(w.spec.nominal for w in std) / 4
        hi = max(w.spec.nominal for w in std) * 4
        xs = np.geomspace(lo, hi, 200)
        band_lo, band_hi = run.curve.predict_band(xs)
        data.append(
            _scatter(
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
            _scatter(
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
            _scatter(
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
                _scatter(
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
        "template": _template(),
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
            _scatter(
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
        "template": _template(),
        "shapes": [_hline(0, {"color": "grey"})],
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
    marks = _well_marks(run)
    flagged = [w for w in run.wells if marks.get(w.name, set()) & set(FAULT_FLAGS)]
    if flagged:
        data.append(
            _scatter(
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
        "template": _template(),
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
    path = _plotly_folder() / "package_data" / "templates" / "plotly_white.json"
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
        return [_sorted(v) for v in value]
    return value


def _template() -> dict[str, Any]:
    return json.loads(_template_json())  # a fresh copy: a figure is the caller's to change


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
    layout = figure_json(fig["layout"])
    jconfig = json.dumps({**config, "responsive": True})
    height, width = f"{fig['layout']['height']}px", f"{fig['layout']['width']}px"
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


def _table(
    headers: list[str], rows: list[tuple[list[str], bool]], table_id: str | None = None
) -> str:
    head = "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr></thead>"
    body = "".join(
        ('<tr class="flagged">' if flagged else "<tr>")
        + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        + "</tr>"
        for cells, flagged in rows
    )
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}>{head}<tbody>{body}</tbody></table>"


def _num(v: float | None, fmt: str = ".4f") -> str:
    return "" if v is None else format(v, fmt)


def _verdict_word(passed: bool | None, w: Words) -> str:
    return w({True: "pass", False: "fail", None: "n_a"}[passed])


def standards_table(run: Run, words: Words | None = None) -> str:
    """Nominal, back-calculated, recovery, CV and verdict of every standard well, zero included.

    The zero standard (and any standard without a nominal) is an anchor
    point: fitted, never judged; its rows say so.
    """
    from il6assay.qc.rules import cv_pct

    w_ = words or Words()
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
                        _verdict_word(bool(w.passed), w_),
                        _verdict_word(lv.passed, w_),
                        " ".join(w.flags),
                    ],
                    not w.passed,
                )
            )
    anchor = w_("anchor_fitted_not_judged")
    for w in run.wells:
        if w.spec.role == "standard" and not w.spec.nominal:
            od = w.od if w.od is not None else w.od_corrected
            nominal = f"{w.spec.nominal:g}" if w.spec.nominal is not None else ""
            rows.append(
                ([w.spec.level or "", w.name, nominal, _num(od), "", "", "", "", anchor, anchor,
                  " ".join(w.flags)], False)
            )  # fmt: skip
    headers = ["level", "well", "nominal_pg_ml", "od", "back_calculated", "recovery", "tolerance",
               "level_cv", "well_verdict", "level_verdict", "flags"]  # fmt: skip
    return _table([w_(h) for h in headers], rows, "standards")


def controls_table(run: Run, words: Words | None = None) -> str:
    """Each control well against its acceptance range."""
    w_ = words or Words()
    rows = []
    for w in run.wells:
        if w.spec.role not in QC_ROLES:
            continue
        rng = f"{_num(w.spec.low, 'g')} - {_num(w.spec.high, 'g')}"
        rows.append(
            (
                [w.spec.level or "", w.name, _num(w.spec.nominal, "g"), rng,
                 format_sig(w.conc) if w.conc is not None else w_("no_value"),
                 _num(w.recovery_pct, ".1f"), _verdict_word(bool(w.passed), w_),
                 " ".join(w.flags)],
                not w.passed,
            )
        )  # fmt: skip
    if not rows:
        return f"<p>{w_('no_controls')}</p>"
    headers = ["level", "well", "nominal_pg_ml", "range", "measured", "recovery", "", "flags"]
    return _table([w_(h) if h else "" for h in headers], rows, "controls")


def advice_text(advice: str, dilution: float, words: Words | None = None) -> str:
    """A sample's advice for the reviewer: "re-assay at a higher dilution (e.g. 1:10)"."""
    w_ = words or Words()
    if advice == REASSAY_HINT:
        step = f"1:{dilution * 10:g}"
        return w_("reassay_advice", advice=advice, step=step)
    return advice


def samples_table(run: Run, words: Words | None = None) -> str:
    """Every sample at every dilution: study ID, visit, OD, CV, result with CI, flags, advice."""
    w_ = words or Words()
    rows = []
    for s in run.samples:
        ci = ""
        if s.ci_low_pg_ml is not None and s.ci_high_pg_ml is not None:
            ci = f"{format_sig(s.ci_low_pg_ml)} - {format_sig(s.ci_high_pg_ml)}"
        rows.append(
            (
                [s.study_id, s.visit, s.sample, f"{s.dilution:g}", _num(s.od_mean),
                 _num(s.od_cv_pct, ".1f"), s.result, ci, " ".join(s.flags),
                 advice_text(s.advice, s.dilution, w_)],
                bool(s.flags),
            )
        )  # fmt: skip
    headers = ["study_id", "visit", "sample", "dilution", "od_mean", "cv", "result_pg_ml", "ci95",
               "flags", "advice"]  # fmt: skip
    return _table([w_(h) for h in headers], rows, "samples")


def _well_marks(run: Run) -> dict[str, set[str]]:
    """Each well's flags as the plate map marks them: its own, and its sample's."""
    marks = {w.name: set(w.flags) for w in run.wells}
    for s in run.samples:
        for w in s.wells:
            marks.setdefault(w.name, set()).update(
                f for f in s.flags if f in FAULT_FLAGS or f in CENSOR_FLAGS
            )
    return marks


def plate_map(run: Run, words: Words | None = None) -> str:
    """The plate as a labelled grid: each well's role, label and OD, faults and censoring marked.

    Colour is the role (as ``il6assay layout show`` draws it); a fault (a
    failed standard or control, high CV, saturation) is a red frame and x; a
    censored sample well (below the LLOQ, above the ULOQ: normal, not a
    fault) a dashed blue frame and < or >; a masked well is hatched, M.
    """
    w_ = words or Words()
    by_name = {w.name: w for w in run.wells}
    marks = _well_marks(run)
    rows_html = []
    letters = "ABCDEFGHIJKLMNOP"[: run.plate.rows]
    for r in letters:
        cells = []
        for c in range(1, run.plate.cols + 1):
            name = f"{r}{c}"
            w = by_name.get(name)
            role = w.spec.role if w is not None else "empty"
            label = well_label(w.spec) if w is not None else ""
            if role == "blank":
                label = w_.role("blank")
            flags = marks.get(name, set())
            classes = [role]
            mark = ""
            if w is not None and w.status == "MASKED":
                classes.append("masked")
                mark = "M"
            elif flags & set(FAULT_FLAGS):
                classes.append("fault")
                mark = "✕"
            elif flags & set(CENSOR_FLAGS):
                classes.append("censored")
                mark = "".join(sym for f, sym in CENSOR_FLAGS.items() if f in flags)
            if "SUSPECT_OUTLIER" in flags:
                classes.append("suspect")
                mark += "?"
            od = w.od_corrected if w is not None else None
            od_text = "" if od is None else f"{od:.3f}"
            if w is not None and w.status in ("SATURATED", "MISSING") and od is None:
                od_text = w.status.lower()
            title = " ".join(
                x for x in (name, w_.role(role), label, od_text, " ".join(sorted(flags))) if x
            )
            cells.append(
                f'<td class="{" ".join(classes)}" title="{html.escape(title)}">'
                f'<span class="wn">{name} <i>{html.escape(w_.role_short(role))}</i></span>'
                f'<span class="mk">{html.escape(mark)}</span>'
                f'<span class="lb">{html.escape(label)}</span>'
                f'<span class="od">{html.escape(od_text)}</span></td>'
            )
        rows_html.append(f"<tr><th>{r}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{c}</th>" for c in range(1, run.plate.cols + 1))
    legend_roles = "".join(
        f'<span class="key {role}">{html.escape(w_.role(role))}</span>'
        for role in ROLE_COLOURS
        if role != "empty"
    )
    keys = (
        ("fault", "✕", "legend_fault"),
        ("censored", "&lt; &gt;", "legend_censored"),
        ("masked", "M", "legend_masked"),
    )
    legend_marks = "".join(
        f'<span class="key {cls}"><b>{sym}</b> {html.escape(w_(text))}</span>'
        for cls, sym, text in keys
    ) + (
        '<span class="key suspect"><b>?</b> SUSPECT_OUTLIER</span>'
        if any("SUSPECT_OUTLIER" in f for f in marks.values())
        else ""
    )
    return (
        f'<table class="platemap" id="plate-map"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(rows_html)}</tbody></table>"
        f'<div class="legend" id="plate-legend"><b>{html.escape(w_("legend"))}:</b> '
        f"{legend_roles}<br>{legend_marks}</div>"
    )


def flag_legend(run: Run, words: Words | None = None) -> str:
    """Every flag that appears in this report, with what it means (in the report's language)."""
    w_ = words or Words()
    present = {f for w in run.wells for f in w.flags} | {f for s in run.samples for f in s.flags}
    codes = [c for c in FLAGS if c in present] + sorted(present - set(FLAGS))
    if not codes:
        return f"<p>{html.escape(w_('no_flags_on_this_plate'))}</p>"
    rows = [([code, w_.flag(code)], False) for code in codes]
    return _table([w_("flag"), w_("meaning")], rows, "flag-legend")


def _rules_list(run: Run, words: Words | None = None) -> str:
    w_ = words or Words()
    items = []
    for r in run.rules:
        mark = {True: "pass", False: "FAIL", None: "n/a"}[r.passed]
        word = w_({True: "pass", False: "fail", None: "n_a"}[r.passed])
        wells = ""
        if r.wells and r.passed is False:
            wells = f" {w_('wells_at_fault')}: {', '.join(r.wells)}."
        description = w_.description(r)
        items.append(
            f'<li class="{mark.lower().replace("/", "")}"><b>{html.escape(word)}</b> '
            f"{html.escape(r.id)}: {html.escape(description)}. "
            f"{html.escape(w_.detail(r))}.{html.escape(wells)} "
            f"<i>{html.escape(w_('source'))}: {html.escape(w_.source(r.source))}"
            f"{html.escape(_profile_text(r))}</i></li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def _profile_text(r: RuleResult) -> str:
    """ " (ICH M10 4.3.2; rules m10)": the rule's section and the profile that applied it."""
    parts = [f"ICH M10 {r.section}" if r.section else "", f"rules {r.profile}" if r.profile else ""]
    shown = "; ".join(p for p in parts if p)
    return f" ({shown})" if shown else ""


def verdict_headline(run: Run, words: Words | None = None) -> tuple[str, list[str]]:
    """The verdict in one line ("rejected by CONTROLS, ..."), and each failed rule's why."""
    w_ = words or Words()
    failed = run.failed_rules
    if not failed:
        return w_("verdict_accepted"), []
    line = f"{w_('verdict_rejected_by')} {', '.join(r.id for r in failed)}"
    return line, [f"{r.id}: {w_.detail(r)}" for r in failed]


def _aics(run: Run, words: Words | None = None) -> str:
    w_ = words or Words()
    parts = []
    for model in ("4pl", "5pl", "loglog"):
        aic = run.comparison.get(model, {}).get("aic")
        parts.append(f"{aic:.2f}" if aic is not None else "n/a")
    return (
        " / ".join(parts)
        + f" ({w_('chosen')}: {run.settings.model.upper()}; {w_('lower_is_better')})"
    )


def _fmt(v: float | None) -> str:
    return format_sig(v) if v is not None else "none"


def _masked_table(run: Run, w_: Words) -> str:
    """The masked wells; review.js fills in who masked each, when and why (the audit log's)."""
    if not run.settings.masked:
        return f'<p id="masked-none">{html.escape(w_("no_wells_are_masked"))}</p>'
    rows = "".join(
        f'<tr data-well="{html.escape(well)}"><td>{html.escape(well)}</td><td class="m-by"></td>'
        f'<td class="m-time"></td><td class="m-reason">'
        f"{html.escape(w_('mask_reason_in_audit'))}</td></tr>"
        for well in run.settings.masked
    )
    heads = (w_("well"), w_("masked_by"), w_("time_utc"), w_("reason"))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    return f'<table id="masked"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _history_table(w_: Words) -> str:
    """The review history's frame; review.js fills its rows (who, when, decision, why)."""
    heads = (w_("time_utc"), w_("decision"), w_("who"), w_("os_account"), w_("reason"),
             w_("override"))  # fmt: skip
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    empty = f'<tr class="none"><td colspan="6">{html.escape(w_("no_review_yet"))}</td></tr>'
    return (
        f'<table id="review-history"><thead><tr>{head}</tr></thead><tbody>{empty}</tbody></table>'
    )


def _missing_plotly_text(w_: Words) -> str:
    """What a report whose shared plotly.js is missing says, in the report's language."""
    return w_("missing_plotly", name=f"<code>{plotly_js_name()}</code>")


_PRINT_CSS = """
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 9.5pt; }
  h1 { font-size: 14pt; } h2 { font-size: 12pt; break-after: avoid; }
  table { font-size: 8pt; max-width: 100%; }
  th, td { padding: 1px 4px; }
  tr, li, .legend, table.platemap, .js-plotly-plot { break-inside: avoid; }
  thead { display: table-header-group; }
  .modebar, #plotly-missing { display: none !important; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
}
"""


def write_report(run: Run, path: Path, *, standalone: bool = False, lang: str = "en") -> None:
    """Write report.html for a run (plotly.js shared beside the run folder, or embedded).

    ``lang``: "en" or "zh-CN"; only words change, never numbers, IDs or flag codes.
    """
    w_ = Words(lang)
    figures = {
        "curve": curve_figure(run, w_),
        "residuals": residual_figure(run, w_),
        "plate": plate_figure(run, w_),
    }
    config = {"displaylogo": False}
    # Element ids from the run and the figure: the same run writes the same report.
    divs = [
        figure_div(
            fig, str(uuid.uuid5(uuid.NAMESPACE_URL, f"il6assay:{run.run_id}:{name}")), config
        )
        for name, fig in figures.items()
    ]
    if standalone:
        plotly = f"<script>{plotly_js_source()}</script>"
    else:
        plotly = f'<script src="../{plotly_js_name()}"></script>'
    meta = run.plate.metadata
    status = "accepted" if run.accepted else "rejected"
    none = w_("none")
    header = [
        ("plate", run.plate.id),
        ("input_file", f"{run.export.path.name} (SHA-256 {sha256_file(run.export.path)})"),
        ("reader", str(meta.get("reader_type") or meta.get("reader_model") or run.export.format)),
        (
            "date_read",
            str(meta.get("read_datetime") or meta.get("date") or w_("not_in_the_export")),
        ),
        ("kit_lot", run.layout.kit_lot or w_("not_given")),
        (
            "model",
            f"{run.curve.model.upper()}, {w_('weighting')} {run.settings.weighting}, "
            f"{w_('zero_standard')}: {run.settings.zero_standard}; {w_.fit(run.curve.message)}",
        ),
        *([("noise_weights", w_.noise(run.noise))] if run.noise is not None else []),
        (
            "curve_warnings",
            "; ".join(
                f"{k}: {w_.flag(k) if w_.zh and k in FLAGS else v}"
                for k, v in run.curve.warnings.items()
            ),
        ),
        ("aic", _aics(run, w_)),
        (
            "lob_lod",
            f"{_fmt(run.detection.get('lob_pg_ml'))} / "
            f"{_fmt(run.detection.get('lod_pg_ml'))} pg/mL",
        ),
        ("lloq_uloq", f"{_fmt(run.lloq)} / {_fmt(run.uloq)} pg/mL"),
        ("rules", f"{run.settings.rules}, fit_standards {run.settings.fit_standards}"),
        (
            "refitted_without",
            ", ".join(f"{lv.level} ({lv.nominal:g} pg/mL)" for lv in run.excluded_levels),
        ),
        ("masked_wells", ", ".join(run.settings.masked)),
    ]
    rows = "".join(
        f"<tr><th>{html.escape(w_(k))}</th><td>{html.escape(v or none)}</td></tr>"
        for k, v in header
    )
    rows += (
        f"<tr><th>{html.escape(w_('review'))}</th>"
        f'<td id="review">{html.escape(w_("unreviewed"))}</td></tr>'
    )
    headline, why = verdict_headline(run, w_)
    why_html = "".join(f"<li>{html.escape(line)}</li>" for line in why)
    role_css = "".join(
        f"table.platemap td.{r}, .key.{r} {{ background: {c}; }}\n" for r, c in ROLE_COLOURS.items()
    )
    js_words = {  # review.js's English decision words -> this language's
        english: w_(key)
        for english, key in (("unreviewed", "unreviewed"), ("accepted", "accepted"),
                             ("rejected", "rejected"), ("by", "by"), ("at", "at"),
                             ("OVERRIDE of the acceptance rules", "override_of_rules"))
    }  # fmt: skip
    html_lang = "zh-CN" if w_.zh else "en"
    page = f"""<!DOCTYPE html>
<html lang="{html_lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(w_("title_report"))}: {html.escape(run.run_id)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.2em auto; max-width: 1150px; padding: 0 1em; }}
table {{ border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
tr.flagged td {{ background: #fff3cd; }}
h2.verdict {{ margin-bottom: 0.2em; }}
.verdict.accepted {{ color: #1a7f37; }} .verdict.rejected {{ color: #b42318; }}
ul.why {{ margin-top: 0.2em; color: #333; }}
li.fail {{ color: #b42318; }}
#plotly-missing {{ background: #fde2e1; padding: 0.6em; border: 1px solid #b42318; }}
table.platemap {{ table-layout: fixed; }}
table.platemap th {{ text-align: center; padding: 1px; }}
table.platemap td {{ width: 48px; height: 46px; padding: 1px 2px; vertical-align: top;
  position: relative; font-size: 11px; line-height: 1.15; border: 1px solid #999; }}
table.platemap .wn {{ display: block; color: #555; font-size: 9px; white-space: nowrap;
  padding-right: 9px; overflow: hidden; }}
table.platemap .wn i {{ font-style: normal; color: #222; }}
table.platemap .lb {{ display: block; font-weight: bold; overflow: hidden; white-space: nowrap; }}
table.platemap .od {{ display: block; color: #333; font-size: 10px; }}
table.platemap .mk {{ position: absolute; top: 1px; right: 2px; font-weight: bold; }}
{role_css}table.platemap td.fault {{ outline: 3px solid #b42318; outline-offset: -3px; }}
table.platemap td.fault .mk {{ color: #b42318; }}
table.platemap td.censored {{ outline: 2px dashed #1f5fa8; outline-offset: -3px; }}
table.platemap td.censored .mk {{ color: #1f5fa8; }}
table.platemap td.masked {{ background-image: repeating-linear-gradient(45deg, transparent 0 5px,
  rgba(0,0,0,0.18) 5px 7px); color: #555; }}
table.platemap td.suspect .mk {{ color: #8a5a00; }}
.legend {{ font-size: 0.85em; margin: 0.3em 0 1em; line-height: 2; }}
.key {{ display: inline-block; padding: 0 6px; margin-right: 6px; border: 1px solid #999; }}
.key.fault {{ outline: 2px solid #b42318; }} .key.fault b {{ color: #b42318; }}
.key.censored {{ outline: 2px dashed #1f5fa8; }} .key.censored b {{ color: #1f5fa8; }}
{_PRINT_CSS}</style>
{plotly}
<script src="{REVIEW_JS}"></script>
</head><body>
<div id="plotly-missing" hidden>{_missing_plotly_text(w_)}</div>
<h1>{html.escape(w_("title_run"))} {html.escape(run.run_id)}</h1>
<h2 class="verdict {status}">{html.escape(w_("verdict"))}: {html.escape(headline)}</h2>
{f'<ul class="why">{why_html}</ul>' if why else ""}
<table>{rows}</table>
<h2>{html.escape(w_("review_history"))}</h2>
{_history_table(w_)}
<h2>{html.escape(w_("masked_wells"))}</h2>
{_masked_table(run, w_)}
<h2>{html.escape(w_("acceptance_rules"))}</h2>
{_rules_list(run, w_)}
{divs[0]}
{divs[1]}
<h2>{html.escape(w_("standards"))}</h2>
{standards_table(run, w_)}
<h2>{html.escape(w_("plate_map"))}</h2>
{plate_map(run, w_)}
{divs[2]}
<h2>{html.escape(w_("controls"))}</h2>
{controls_table(run, w_)}
<h2>{html.escape(w_("samples"))}</h2>
{samples_table(run, w_)}
<p>{html.escape(w_("censored_note"))}</p>
<h2>{html.escape(w_("flags_on_this_plate"))}</h2>
{flag_legend(run, w_)}
<script>
if (typeof Plotly === "undefined") {{
  document.getElementById("plotly-missing").hidden = false;
}}
var WORDS = {json.dumps(js_words, ensure_ascii=False)};
function word(k) {{ return WORDS[k] || k; }}
var review = window.IL6_REVIEW;
if (review && review.status) {{
  var text = word(review.status);
  if (review.by) {{
    text += " " + word("by") + " " + review.by + " " + word("at") + " " + review.time_utc +
      ": " + review.reason;
  }}
  if (review.override) {{ text += " (" + word("OVERRIDE of the acceptance rules") + ")"; }}
  document.getElementById("review").textContent = text;
}}
if (review && review.history && review.history.length) {{
  var body = document.querySelector("#review-history tbody");
  body.textContent = "";
  review.history.forEach(function (h) {{
    var tr = document.createElement("tr");
    [h.time_utc, word(h.decision), h.by, h.os_account, h.reason,
     h.override ? word("OVERRIDE of the acceptance rules") : ""].forEach(function (v) {{
      var td = document.createElement("td");
      td.textContent = v == null ? "" : v;
      tr.appendChild(td);
    }});
    body.appendChild(tr);
  }});
}}
if (review && review.masks) {{
  document.querySelectorAll("#masked tr[data-well]").forEach(function (tr) {{
    var m = review.masks[tr.dataset.well];
    if (!m) {{ return; }}
    tr.querySelector(".m-by").textContent = m.by || "";
    tr.querySelector(".m-time").textContent = m.time_utc || "";
    tr.querySelector(".m-reason").textContent = m.reason || "";
  }});
}}
</script>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
