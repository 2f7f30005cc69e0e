"""report.html: everything a QC reviewer needs to judge a plate, opening offline.

Top to bottom: the header (plate, input file and its SHA-256, reader, date
read, kit lot, model, the verdict with each failed rule, the review status),
the acceptance rules, the standard curve (log axis, masked standards hollow,
95 % band, samples on the curve, LLOQ/ULOQ), the standards' residuals and
table, the plate map, the controls and the samples. The page is the Jinja2
template ``templates/report.html`` (its parts in ``report_parts.html``); this
module gathers what it shows, its words from the message catalogue
(``il6assay.record.i18n``), its figures from ``il6assay.record.figures``.

plotly.js never comes from the network. By default one copy,
``plotly-<version>.min.js``, sits in the results folder beside the run
folders and every report loads it by a relative path, so a folder of many
runs holds one copy and keeps working when moved as a whole (a report whose
copy is missing says so in words). ``standalone=True`` embeds it instead.
The review status is read from ``review.js`` beside the report, which
``il6assay review`` rewrites: reviewing never changes report.html.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from il6assay.plate.hashing import sha256_file
from il6assay.plate.layout_view import ROLE_COLOURS, well_label
from il6assay.qc.m10 import QC_ROLES
from il6assay.qc.results import FLAGS, REASSAY_HINT, SampleResult, format_sig
from il6assay.qc.rules import RuleResult
from il6assay.record.audit import review_state
from il6assay.record.figures import (
    CENSOR_FLAGS,
    FAULT_FLAGS,
    curve_figure,
    figure_div,
    load_template,
    plate_figure,
    plotly_folder,
    residual_figure,
    well_marks,
)
from il6assay.record.i18n import Words
from il6assay.run import Run

REVIEW_JS = "review.js"
# A table for the template: {"headers": [...], "rows": [(cells, flagged)], "id": ...}.
Table = dict[str, Any]


def plotly_js_name() -> str:
    """File name of the shared plotly.js copy (versioned, so two versions never clash)."""
    return f"plotly-{_plotly_version()}.min.js"


def _plotly_version() -> str:
    # As run.json records it (from the dist-info folder's name pip wrote: importlib.metadata
    # and its email package cost 20 ms of CPU).
    from il6assay.record.versions import library_versions

    return library_versions()["plotly"]


def plotly_js_path() -> Path:
    """The plotly.min.js shipped inside the installed plotly package (the file itself)."""
    return plotly_folder() / "package_data" / "plotly.min.js"


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


TEMPLATES = Path(__file__).parent / "templates"
VERDICT = {True: "pass", False: "fail", None: "n_a"}  # a verdict's label key
NO_FLAGS: frozenset[str] = frozenset()


def _table(headers: list[str], rows: list[tuple[list[str], bool]], table_id: str) -> Table:
    return {"headers": headers, "rows": rows, "id": table_id}


def _num(v: float | None, fmt: str = ".4f") -> str:
    return "" if v is None else format(v, fmt)


def _verdict_word(passed: bool | None, w: Words) -> str:
    return w(VERDICT[passed])


def standards_table(run: Run, words: Words | None = None) -> Table:
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


def controls_table(run: Run, words: Words | None = None) -> Table | None:
    """Each control well against its acceptance range (None: the layout has no controls)."""
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
        return None
    headers = ["level", "well", "nominal_pg_ml", "range", "measured", "recovery", "", "flags"]
    return _table([w_(h) if h else "" for h in headers], rows, "controls")


def advice_text(sample: SampleResult, words: Words | None = None) -> str:
    """A sample's advice for the reviewer: "re-assay at a higher dilution (e.g. 1:10)"."""
    w_ = words or Words()
    if sample.advice == REASSAY_HINT:
        return w_("reassay_advice", advice=sample.advice, step=f"1:{sample.dilution * 10:g}")
    return w_.advice(sample)


def samples_table(run: Run, words: Words | None = None) -> Table:
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
                 advice_text(s, w_)],
                bool(s.flags),
            )
        )  # fmt: skip
    headers = ["study_id", "visit", "sample", "dilution", "od_mean", "cv", "result_pg_ml", "ci95",
               "flags", "advice"]  # fmt: skip
    return _table([w_(h) for h in headers], rows, "samples")


def plate_map(run: Run, words: Words | None = None) -> dict[str, Any]:
    """The plate as a labelled grid: each well's role, label and OD, faults and censoring marked.

    Colour is the role (as ``il6assay layout show`` draws it); a fault (a
    failed standard or control, high CV, saturation) is a red frame and x; a
    censored sample well (below the LLOQ, above the ULOQ: normal, not a
    fault) a dashed blue frame and < or >; a masked well is hatched, M.
    The template report_parts.html draws it.
    """
    w_ = words or Words()
    by_name = {w.name: w for w in run.wells}
    marks = well_marks(run)
    rows = []
    for r in "ABCDEFGHIJKLMNOP"[: run.plate.rows]:
        cells = []
        for c in range(1, run.plate.cols + 1):
            name = f"{r}{c}"
            w = by_name.get(name)
            role = w.spec.role if w is not None else "empty"
            label = well_label(w.spec) if w is not None else ""
            if role == "blank":
                label = w_.role("blank")
            flags = marks.get(name, NO_FLAGS)
            classes = [role]
            mark = ""
            if w is not None and w.status == "MASKED":
                classes.append("masked")
                mark = "M"
            elif not flags.isdisjoint(FAULT_FLAGS):
                classes.append("fault")
                mark = "✕"
            elif not flags.isdisjoint(CENSOR_FLAGS):
                classes.append("censored")
                mark = "".join(sym for f, sym in CENSOR_FLAGS.items() if f in flags)
            if "SUSPECT_OUTLIER" in flags:
                classes.append("suspect")
                mark += "?"
            od = w.od_corrected if w is not None else None
            od_text = "" if od is None else f"{od:.3f}"
            if w is not None and w.status in ("SATURATED", "MISSING") and od is None:
                od_text = w.status.lower()
            words = (name, w_.role(role), label, od_text, " ".join(sorted(flags)))
            title = " ".join(x for x in words if x)
            cells.append(
                (" ".join(classes), title, name, w_.role_short(role), mark, label, od_text)
            )
        rows.append((r, cells))
    return {
        "cols": list(range(1, run.plate.cols + 1)),
        "rows": rows,
        "roles": [(role, w_.role(role)) for role in ROLE_COLOURS if role != "empty"],
        "suspect": any("SUSPECT_OUTLIER" in f for f in marks.values()),
    }


def flag_legend(run: Run, words: Words | None = None) -> Table | None:
    """Every flag that appears in this report, with what it means (None: no flags)."""
    w_ = words or Words()
    present = {f for w in run.wells for f in w.flags} | {f for s in run.samples for f in s.flags}
    codes = [c for c in FLAGS if c in present] + sorted(present - set(FLAGS))
    if not codes:
        return None
    rows = [([code, w_.flag(code)], False) for code in codes]
    return _table([w_("flag"), w_("meaning")], rows, "flag-legend")


def _rules_list(run: Run, w_: Words) -> list[dict[str, str]]:
    """Each rule's verdict, words, wells at fault and source, for the template."""
    return [
        {
            "mark": {True: "pass", False: "fail", None: "na"}[r.passed],
            "verdict": VERDICT[r.passed],
            "id": r.id,
            "description": w_.description(r),
            "detail": w_.detail(r),
            "wells": ", ".join(r.wells) if r.wells and r.passed is False else "",
            "source": w_.source(r.source),
            "profile": _profile_text(r),
        }
        for r in run.rules
    ]


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


def _header(run: Run, w_: Words) -> list[tuple[str, str]]:
    """The report's header rows: (label key, value)."""
    meta = run.plate.metadata
    warnings = "; ".join(
        f"{k}: {w_.flag(k) if w_.zh and k in FLAGS else v}" for k, v in run.curve.warnings.items()
    )
    return [
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
        ("curve_warnings", warnings),
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


def load_templates() -> None:
    """Load report.html's templates and plotly's figure template once: processes forked after
    this (a batch's workers) share them instead of each loading them for its first report."""
    from il6assay.record.templating import load

    load(TEMPLATES, "report.html", "report_parts.html")
    load_template()


def write_report(run: Run, path: Path, *, standalone: bool = False, lang: str = "en") -> None:
    """Write report.html for a run (plotly.js shared beside the run folder, or embedded).

    ``lang``: "en" or "zh-CN"; only words change, never numbers, IDs or flag codes.
    The page is the template ``templates/report.html``; this gathers what it shows.
    """
    from markupsafe import Markup

    from il6assay.record.templating import render

    w_ = Words(lang)
    config = {"displaylogo": False}
    makers = {"curve": curve_figure, "residuals": residual_figure, "plate": plate_figure}
    # Element ids from the run and the figure: the same run writes the same report.
    figures = {
        name: Markup(
            figure_div(
                make(run, w_),
                str(uuid.uuid5(uuid.NAMESPACE_URL, f"il6assay:{run.run_id}:{name}")),
                config,
            )
        )
        for name, make in makers.items()
    }
    headline, why = verdict_headline(run, w_)
    js_words = {  # review.js's English decision words -> this language's
        english: w_(key)
        for english, key in (("unreviewed", "unreviewed"), ("accepted", "accepted"),
                             ("rejected", "rejected"), ("by", "by"), ("at", "at"),
                             ("OVERRIDE of the acceptance rules", "override_of_rules"))
    }  # fmt: skip
    page = render(
        TEMPLATES,
        "report.html",
        w=w_,
        t=w_.labels,
        html_lang="zh-CN" if w_.zh else "en",
        run_id=run.run_id,
        status="accepted" if run.accepted else "rejected",
        headline=headline,
        why=why,
        header=_header(run, w_),
        standalone=standalone,
        plotly_js=Markup(plotly_js_source()) if standalone else "",
        plotly_name=plotly_js_name(),
        review_js=REVIEW_JS,
        role_colours=ROLE_COLOURS,
        masked=run.settings.masked,
        rules=_rules_list(run, w_),
        figures=figures,
        standards=standards_table(run, w_),
        plate=plate_map(run, w_),
        controls=controls_table(run, w_),
        samples=samples_table(run, w_),
        flags=flag_legend(run, w_),
        js_words=Markup(json.dumps(js_words, ensure_ascii=False)),
    )
    path.write_text(page, encoding="utf-8")
