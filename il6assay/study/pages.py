"""The study's HTML pages: Levey-Jennings charts, the study overview, a batch's index.

Each is a whole offline page. plotly.js is never embedded and never fetched
from the network: a page loads the shared copy the run reports use,
``plotly-<version>.min.js`` (``il6assay.record.report.ensure_shared_plotly``),
by a path relative to the page itself: the CLI writes that copy beside the
page; a web server serves it at the same folder as the page's URL. When the
copy is missing the page says so in words. Everything a user wrote (study
IDs, visits, kit lots, file names, verdicts) is HTML-escaped.

``controls_html(engine, level=..., since=...)`` and ``summary_html(engine)``
read the study database; the control targets from the kit certificate are
read from ``il6assay.toml`` in the working folder (il6assay.study.qc).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from il6assay.record.i18n import Words
from il6assay.study.qc import parse_time

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from sqlalchemy import Engine

    from il6assay.project import Project
    from il6assay.record.figures import Figure
    from il6assay.run import Run
    from il6assay.study.summary import Overview
    from il6assay.study.trends import Series, Trends

ACCEPTED, REJECTED, WARN = "#1f77b4", "#d62728", "#ff7f0e"
CONFIG = {"displaylogo": False}
TEMPLATES = Path(__file__).parent / "templates"  # page.html around each page's content


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def page(title: str, body: str, *, plotly_src: str | None = None, lang: str = "en") -> str:
    """A whole page around ``body`` (HTML, its values escaped by its maker), loading the shared
    plotly.js by a relative path (the template templates/page.html)."""
    from markupsafe import Markup

    from il6assay.record.report import plotly_js_name
    from il6assay.record.templating import render

    src = plotly_src or plotly_js_name()
    w = Words(lang, "study")
    return render(TEMPLATES, "page.html", w=w, title=title, body=Markup(body), src=src)


def _div(fig: go.Figure) -> str:
    from markupsafe import Markup

    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, config=CONFIG))


def _num(value: Any, spec: str) -> str:
    """A number as ``format(value, spec)`` writes it; None as nothing (the templates' num)."""
    return "" if value is None else format(value, spec)


def lot_marks(bridges: Sequence[dict[str, Any]], words: Words | None = None) -> dict[str, str]:
    """Each bridged lot's mark on the charts: its latest bridge's ratio and verdict."""
    w = words or Words(table="study")
    marks = {}
    for b in bridges:
        verdict = w("bridged") if b["passed"] else w("bridge_failed")
        marks[b["new_lot"]] = w("lot_mark", verdict=verdict, ratio=b["ratio"])
    return marks


def lj_figure(
    series: Series, marks: dict[str, str] | None = None, words: Words | None = None
) -> go.Figure:
    """Levey-Jennings chart: values by time, mean and ±1/2/3 SD, lot changes, rejects hollow."""
    import plotly.graph_objects as go

    w = words or Words(table="study")
    fig = go.Figure()
    pts = [p for p in series.points if p.value is not None]
    for accepted, name in ((True, w("fig_accepted_run")), (False, w("fig_rejected_run"))):
        chosen = [p for p in pts if p.accepted == accepted]
        if not chosen:
            continue
        colors = [REJECTED if p.reject else (WARN if p.violations else ACCEPTED) for p in chosen]
        fig.add_trace(
            go.Scatter(
                x=[p.time.isoformat() for p in chosen],
                y=[p.value for p in chosen],
                mode="markers",
                name=name,
                marker={
                    "size": 9,
                    "color": colors,
                    "symbol": "circle" if accepted else "circle-open",
                    "line": {"width": 2, "color": colors},
                },
                hovertext=[
                    "<br>".join(
                        [
                            _e(p.run_id),
                            f"{p.value:.4g} {_e(series.unit)}"
                            + (f" (z {p.z:+.2f})" if p.z is not None else ""),
                            w("fig_kit_lot", lot=_e(p.kit_lot or w("not_given"))),
                            *[_e(v) for v in p.violations],
                        ]
                    )
                    for p in chosen
                ],
                hoverinfo="text",
            )
        )
    if pts:
        fig.add_trace(
            go.Scatter(
                x=[p.time.isoformat() for p in pts],
                y=[p.value for p in pts],
                mode="lines",
                line={"color": "#999", "width": 1},
                name=w("fig_run_order"),
                hoverinfo="skip",
            )
        )
    # Lines and labels in one layout update (plotly's add_hline copies the layout each call).
    t = series.target
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    if t is not None:
        styles = {0: ("#2ca02c", "solid"), 1: ("#bbb", "dot"), 2: ("#ff7f0e", "dash"),
                  3: ("#d62728", "dash")}  # fmt: skip
        for k in (-3, -2, -1, 0, 1, 2, 3):
            color, dash = styles[abs(k)]
            y = t.mean + k * t.sd
            shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y,
                           "line": {"color": color, "dash": dash, "width": 1}})  # fmt: skip
            label = w("fig_mean") if k == 0 else w("fig_sd", k=k)
            notes.append({"xref": "paper", "x": 1.0, "y": y, "xanchor": "left", "showarrow": False,
                          "text": label, "font": {"size": 10}})  # fmt: skip
    for when, lot in series.lot_changes:
        x = when.isoformat()
        shapes.append({"type": "line", "yref": "paper", "y0": 0, "y1": 1, "x0": x, "x1": x,
                       "line": {"color": "#7f7f7f", "dash": "dashdot", "width": 1}})  # fmt: skip
        mark = (marks or {}).get(lot, w("fig_no_bridge") if marks is not None else "")
        text = w("fig_lot", lot=_e(lot)) + (f" ({_e(mark)})" if mark else "")
        notes.append({"x": x, "y": 1.0, "yref": "paper", "text": text,
                      "showarrow": False, "xanchor": "left", "yanchor": "bottom",
                      "font": {"size": 10}})  # fmt: skip
    title = f"{series.name}: {target_text(t, series.unit, w)}"
    fig.update_layout(
        title={"text": _e(title), "font": {"size": 13}},
        xaxis_title=w("fig_run_time"),
        yaxis_title=_e(series.unit) or _e(series.name),
        template="plotly_white",
        height=340,
        margin={"l": 60, "r": 70, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.25},
        shapes=shapes,
        annotations=notes,
    )
    return fig


def target_text(t: Any, unit: str, words: Words | None = None) -> str:
    """The target lines' values and where they come from, for a chart's title."""
    w = words or Words(table="study")
    if t is None:
        return w("target_none")
    unit = f" {unit}" if unit else ""
    if t.source == "certificate":
        lot = w("target_lot", lot=t.kit_lot) if t.kit_lot else ""
        where = w("target_certificate", lot=lot) + (f" ({t.note})" if t.note else "")
    elif t.source == "established":
        where = w("target_established", n=t.n_runs)
    else:
        where = w("target_provisional", n=t.n_runs)
    return w("target_line", mean=t.mean, sd=t.sd, unit=unit, where=where)


def _since(since: Any) -> datetime | None:
    if since is None or since == "":
        return None
    if isinstance(since, datetime):
        return parse_time(since.isoformat())
    if isinstance(since, date):
        return parse_time(since.isoformat() + "T00:00:00")
    value = parse_time(str(since))
    if value == datetime.min.replace(tzinfo=value.tzinfo):
        from il6assay.errors import InputError

        raise InputError(f"--since {since!r} is not a date (expected YYYY-MM-DD)")
    return value


def load_trends(
    engine: Engine, *, level: str | None = None, since: Any = None, project: Project | None = None
) -> Trends:
    """The trends of the database's runs, with the project's certificate targets."""
    from il6assay.project import load_project
    from il6assay.study.control_precision import control_precision
    from il6assay.study.lots import bridges, lot_targets
    from il6assay.study.qc import certificate_targets
    from il6assay.study.store import load_qc
    from il6assay.study.trends import trends

    project = project or load_project()
    certificate = certificate_targets(project.control_targets, project.path)
    history = load_qc(engine)
    tr = trends(history, certificate, level=level, since=_since(since))
    tr.lot_targets = [t for t in lot_targets(certificate, history) if level in (None, t["level"])]
    tr.precision = [p for p in control_precision(engine) if level in (None, p["level"])]
    tr.lot_bridges = bridges(engine)
    return tr


def trends_body(tr: Trends, lang: str = "en") -> str:
    """The controls page's content (the template templates/controls.html)."""
    from il6assay.record.templating import render

    w = Words(lang, "study")
    marks = lot_marks(tr.lot_bridges, w)
    return render(
        TEMPLATES,
        "controls.html",
        w=w,
        t=w.labels,
        tr=tr,
        controls=[_div(lj_figure(s, marks, w)) for s in tr.controls],
        flagged=[(s.name, p) for s in tr.controls for p in s.points if p.violations],
        standards=[_div(lj_figure(s, words=w)) for s in tr.standards],
        num=_num,
    )


def controls_html(
    engine: Engine,
    *,
    level: str | None = None,
    since: Any = None,
    plotly_src: str | None = None,
    lang: str = "en",
) -> str:
    """The Levey-Jennings page of the study's controls and standards (a whole offline page;
    ``plotly_src``: where a web server serves plotly.js, else beside the page)."""
    tr = load_trends(engine, level=level, since=since)
    title = Words(lang, "study")("title_controls")
    return page(title, trends_body(tr, lang), plotly_src=plotly_src, lang=lang)


def distribution_figure(ov: Overview, words: Words | None = None) -> go.Figure:
    """Per visit: reported values on a log axis; censored ones at their limit, as triangles."""
    import plotly.graph_objects as go

    w = words or Words(table="study")
    fig = go.Figure()
    visits = sorted({s["visit"] for s in ov.specimens})
    kinds = (
        ("reported", "circle", "#1f77b4", "conc_pg_ml", w("dist_reported")),
        ("below LLOQ", "triangle-down-open", "#7f7f7f", "lloq_pg_ml", w("dist_below")),
        ("above ULOQ", "triangle-up", "#d62728", "uloq_pg_ml", w("dist_above")),
    )
    for kind, symbol, color, key, name in kinds:
        chosen = [s for s in ov.specimens if s["category"] == kind and s.get(key)]
        if not chosen:
            continue
        if kind == "reported":
            for visit in visits:
                vs = [s for s in chosen if s["visit"] == visit]
                if vs:
                    fig.add_trace(
                        go.Box(
                            x=[_e(visit)] * len(vs),
                            y=[s[key] for s in vs],
                            name=w("dist_visit_reported", visit=_e(visit)),
                            boxpoints="all",
                            jitter=0.4,
                            pointpos=0,
                            marker={"color": color, "size": 5},
                            line={"color": color},
                            hovertext=[f"{_e(s['study_id'])} {_e(s['result'])}" for s in vs],
                            hoverinfo="text+y",
                            showlegend=False,
                        )
                    )
            continue
        fig.add_trace(
            go.Scatter(
                x=[_e(s["visit"]) for s in chosen],
                y=[s[key] for s in chosen],
                mode="markers",
                name=name,
                marker={"symbol": symbol, "color": color, "size": 8},
                hovertext=[f"{_e(s['study_id'])} {_e(s['result'])}" for s in chosen],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        title={"text": w("dist_title"), "font": {"size": 13}},
        yaxis={"type": "log", "title": w("dist_y")},
        xaxis={"title": w("col_visit"), "type": "category"},
        template="plotly_white",
        height=420,
    )
    return fig


def summary_body(ov: Overview, lang: str = "en") -> str:
    """The overview page's content (the template templates/summary.html)."""
    from il6assay.record.templating import render

    w = Words(lang, "study")
    chart = _div(distribution_figure(ov, w)) if ov.specimens else None
    return render(TEMPLATES, "summary.html", w=w, t=w.labels, ov=ov,
                  visits=[*ov.visits, ov.totals], chart=chart)  # fmt: skip


def summary_html(engine: Engine, *, plotly_src: str | None = None, lang: str = "en") -> str:
    """The study overview page (a whole offline page; ``plotly_src`` as for controls_html)."""
    from il6assay.study.summary import overview

    title = Words(lang, "study")("title_summary")
    body = summary_body(overview(engine), lang)
    return page(title, body, plotly_src=plotly_src, lang=lang)


def write_page(path: Path, text: str) -> Path:
    """Write a page with the shared plotly.js beside it (both whole or not at all)."""
    import os
    import tempfile

    from il6assay.errors import InputError
    from il6assay.record.report import ensure_shared_plotly

    path = Path(path)
    if not path.parent.is_dir():
        raise InputError("the folder to write the page in does not exist", path=path)
    ensure_shared_plotly(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


# ---- a batch's index.html -------------------------------------------------------------------

# The index's groups, in the order a reviewer works them (their headings: [study] group_*).
REVIEW_ORDER = ("group_rejected", "group_westgard", "group_unreviewed", "group_reviewed")


def _group(status: dict[str, Any], record: dict[str, Any]) -> int:
    if status["review"] != "unreviewed":
        return 3
    if not record.get("accepted"):
        return 0
    if any("WESTGARD_WARNING" in str(w) for w in record.get("warnings") or []):
        return 1
    return 2


@dataclass(frozen=True)
class IndexRow:
    """What the index shows of a run folder, taken when it was written (``index_row``).

    ``record``: the run.json keys the page reads; ``results``: its results.csv's row count;
    ``flags``: each flag's count over those rows; ``controls``: (level, mean pg/mL, nominal
    pg/mL) of each control level, as its curve.json gives them (il6assay.study.qc).
    """

    record: dict[str, Any]
    results: int
    flags: dict[str, int]
    controls: tuple[tuple[str, float | None, float | None], ...]


def index_row(run: Run, folder: Path, rows: Sequence[Mapping[str, Any]]) -> IndexRow:
    """The index's row of ``run`` just written into ``folder`` (``rows``: its result rows), so
    that the index need not read the folder again while it is as written."""
    from il6assay.qc.m10 import QC_ROLES
    from il6assay.record.folder import read_record

    written = read_record(folder)  # run.json as written (its created_utc is set there)
    report = written.report
    record = {
        "accepted": written.accepted,
        "verdict": written.verdict,
        "warnings": list(written.warnings),
        "created_utc": written.created_utc,
        "review": {"status": written.review.status},
        "report": None if report is None else {"plotly_js": report.plotly_js},
        "export": {"metadata": {"read_datetime": written.export.metadata.get("read_datetime")}},
    }
    curve = {
        "controls": [
            {"well": w.name, "level": w.spec.level, "nominal_pg_ml": w.spec.nominal,
             "conc_pg_ml": w.conc}
            for w in run.wells
            if w.spec.role in QC_ROLES
        ]
    }  # fmt: skip
    return IndexRow(record, len(rows), flag_counts(rows), _control_points(record, curve))


def _read_time(export: Mapping[str, Any]) -> Any:
    return (export.get("metadata") or {}).get("read_datetime")


def _control_points(
    record: Mapping[str, Any], curve: Mapping[str, Any]
) -> tuple[tuple[str, float | None, float | None], ...]:
    """(level, mean pg/mL, nominal pg/mL) of each control level, as il6assay.study.qc reads
    them from run.json's and curve.json's documents."""
    from il6assay.study.qc import from_documents

    return tuple(
        (c.level, c.value_pg_ml, c.nominal_pg_ml) for c in from_documents(record, curve).controls
    )


def flag_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many result rows carry each flag (their ``flags`` cells), by flag name."""
    counts: dict[str, int] = {}
    for row in rows:
        for f in str(row.get("flags") or "").split(";"):
            if f:
                counts[f] = counts.get(f, 0) + 1
    return dict(sorted(counts.items()))


def index_html(
    out_dir: Path,
    unreadable: Sequence[Any] = (),
    lang: str = "en",
    written: Mapping[str, Any] | None = None,
    rows: Mapping[str, IndexRow] | None = None,
) -> str:
    """The results folder's index: every run, in the order a reviewer works, with its report
    (``lang``: the report language, "en" or "zh-CN"). ``written``: the folders this process
    has just written (name: ``folder_state`` right after the write), not hashed again while
    they are still as written; ``rows``: their ``index_row``, which the page then shows
    instead of reading the folder again; every other folder is read and checked whole
    (``run_status``)."""
    from il6assay.errors import InputError
    from il6assay.record.folder import read_run
    from il6assay.record.review import (
        folder_state,
        run_status,
        shared_plotly_integrity,
        written_status,
    )
    from il6assay.record.templating import render

    entries = []
    for folder in sorted(p for p in Path(out_dir).iterdir() if (p / "run.json").is_file()):
        state = (written or {}).get(folder.name)
        row = (rows or {}).get(folder.name)
        try:
            if state is not None and row is not None and folder_state(folder) == tuple(state):
                # As written by this process: its row, and the check written_status makes of
                # a folder whose files are as hashed (the shared plotly.js beside it).
                record, results, flags, controls = row.record, row.results, row.flags, row.controls
                report = record.get("report")
                embedded = report is None or report.get("plotly_js") == "embedded"
                status = {"review": (record.get("review") or {}).get("status"),
                          "integrity": shared_plotly_integrity(folder, embedded)}  # fmt: skip
            else:
                run = read_run(folder)
                record, table, curve = run.record.raw, run.results, run.curve.raw
                status = (state is not None and written_status(folder, run.record, state)) or (
                    run_status(folder)
                )
                results, flags = len(table), flag_counts(table)
                controls = _control_points(record, curve)
        except (OSError, ValueError, KeyError, InputError):
            continue
        when = str(_read_time(record.get("export") or {}) or record.get("created_utc"))
        entries.append((_group(status, record), parse_time(when), folder, record, status,
                        range(results), flags, controls))  # fmt: skip
    entries.sort(key=lambda e: (e[0], e[1], e[2].name))
    groups = []
    for g, heading in enumerate(REVIEW_ORDER):
        runs = [
            (folder, when, record, status, rows,
             ", ".join(f"{k} {v}" for k, v in sorted(flags.items())))
            for group, when, folder, record, status, rows, flags, _curve in entries
            if group == g
        ]  # fmt: skip
        if runs:
            groups.append((heading, runs))
    w = Words(lang, "study")
    chart = _figure_div(_recovery_figure(entries, w)) if entries else None
    body = render(TEMPLATES, "index.html", w=w, t=w.labels, total=len(entries),
                  unreadable=list(unreadable), groups=groups, chart=chart)  # fmt: skip
    return page(w("title_index"), body, lang=lang)


def _recovery_figure(entries: list[Any], w: Words) -> Figure:
    """Controls' recovery (% of nominal) per run, in time order: a first look across the batch.

    Plain data for plotly.js (il6assay.record.figures), as plotly's figure objects wrote it:
    a batch imports no plotly.
    """
    from il6assay.record.figures import hline, plotly_white, scatter

    ordered = sorted(entries, key=lambda e: (e[1], e[2].name))
    by_level: dict[str, tuple[list[str], list[float], list[str]]] = {}
    for _, _when, folder, _record, _st, _rows, _flags, controls in ordered:
        for level, value, nominal in controls:
            if value is None or not nominal:
                continue
            xs, ys, texts = by_level.setdefault(level, ([], [], []))
            xs.append(folder.name)
            ys.append(100.0 * value / nominal)
            texts.append(f"{_e(folder.name)}<br>{value:.4g} pg/mL")
    data = [
        scatter(x=xs, y=ys, mode="markers+lines", name=_e(level), hovertext=texts,
                 hoverinfo="text+y")
        for level, (xs, ys, texts) in by_level.items()
    ]  # fmt: skip
    layout = {
        "template": plotly_white(),
        "shapes": [hline(100, {"color": "#2ca02c", "width": 1})],
        "title": {"font": {"size": 13}, "text": w("rec_title")},
        "xaxis": {"showticklabels": False, "title": {"text": w("rec_x")}},
        "yaxis": {"title": {"text": w("rec_y")}},
        "height": 320,
    }
    return {"data": data, "layout": layout}


def _figure_div(fig: Figure) -> str:
    """A plain-data figure's <div>, its element id random as plotly's to_html makes it."""
    import uuid

    from markupsafe import Markup

    from il6assay.record.figures import figure_div

    return Markup(figure_div(fig, str(uuid.uuid4()), CONFIG))


# The study pages the review app serves, cached until the study database changes.
# Tables a study page reads, whose last id moves with every row stored; and the audit table,
# which every update of them (a QC record changed, a run superseded) extends, less the rows
# about people (sign-ins, accounts, the review app's masks and signatures: SKIPPED), so a
# reviewer signing in does not make every cached page be built again.
WATCHED = (
    "runs", "qc_runs", "qc_controls", "lot_bridges", "sample_results",
    "isr_results", "method_profiles", "study_subjects",
)  # fmt: skip
SKIPPED = ("login", "signature-", "account-", "policy", "web-")
CACHE_SIZE = 64
_CACHE: dict[tuple[Any, ...], tuple[str, Any]] = {}
_BUILDING: dict[str, Any] = {}


def study_version(engine: Engine) -> str:
    """The study's change mark: the last id of each watched table, and il6assay.toml's stamp.

    Read from the database, so every server process on it sees the same mark.
    """
    from sqlalchemy import func, or_, select

    from il6assay.db.models import Base
    from il6assay.project import project_stamp

    tables = [Base.metadata.tables[name] for name in WATCHED if name in Base.metadata.tables]
    audit = Base.metadata.tables["audit"]
    about_people = or_(*(audit.c.action.startswith(p, autoescape=True) for p in SKIPPED))
    last_audit = (
        select(audit.c.id).where(~about_people).order_by(audit.c.id.desc()).limit(1)
    ).scalar_subquery()  # read backwards from the newest row: a few rows, not the table
    query = select(last_audit, *(select(func.max(t.c.id)).scalar_subquery() for t in tables))
    with engine.connect() as connection:
        marks = list(connection.execute(query).one())
    stamp = project_stamp()
    marks += stamp if stamp is not None else [None]
    return json.dumps(marks)


def cached_page(engine: Engine, make: Any, *, finish: Any = None, **args: Any) -> Any:
    """``make(engine, **args)`` (controls_html, summary_html), passed through ``finish`` when
    given, built again only when the study database has changed since (a QC record, a push:
    ``study_version``)."""
    import threading

    key = (
        engine.url.render_as_string(hide_password=True),
        make.__name__,
        getattr(finish, "__qualname__", None),
        sorted(args.items()),
    )
    key = tuple(json.dumps(k, default=str) for k in key)
    version = study_version(engine)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    lock = _BUILDING.setdefault(make.__name__, threading.Lock())
    with lock:  # one build per page and change; those asking meanwhile wait for it
        version = study_version(engine)
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        text = make(engine, **args)
        if finish is not None:
            text = finish(text)
        while len(_CACHE) >= CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)), None)
        _CACHE[key] = (version, text)
    return text
