"""Looking at a layout before the run: the plate drawn with roles and labels, and what is odd.

``layout_notes`` says what a reviewer would query before a plate is run: a
standard or control level, or a sample, in one well only (no replicate);
samples with no dilution stated (read as neat); labels that differ only by
case or spaces (``P05`` and ``p05``); a standard level whose wells are not
all of one concentration cannot happen (the layout is refused). The drawing
is plain data (``layout_cells``), coloured by the CLI, or an HTML page
(``layout_html``) with the same colours as the report's plate map.
"""

from __future__ import annotations

import html
from collections import Counter

from il6assay.plate.labels import fold, natural_sorted
from il6assay.plate.layout import N_COLS, N_ROWS, ROWS, Layout, WellSpec

# Role colours, shared by `layout show --html` and the report's plate map.
ROLE_COLOURS = {
    "standard": "#c6dbef",
    "blank": "#e0e0e0",
    "control": "#fdd0a2",
    "qc": "#fdae6b",
    "sample": "#c7e9c0",
    "empty": "#ffffff",
}
# The method-validation roles (docs/validation.md), drawn by `layout show --html`.
VALIDATION_COLOURS = {
    "pool": "#dadaeb",
    "selectivity": "#fcc5c0",
    "stability": "#fff2ae",
}
ROLE_SHORT = {
    "standard": "std",
    "blank": "blank",
    "control": "ctrl",
    "qc": "QC",
    "sample": "",
    "empty": "",
    "pool": "pool",
    "selectivity": "sel",
    "stability": "stab",
}


def well_label(spec: WellSpec | None) -> str:
    """A well's label as the plate map shows it: level, or sample (with its dilution)."""
    if spec is None:
        return ""
    if spec.role == "sample":
        text = spec.sample or ""
        return text + (f" 1:{spec.dilution:g}" if spec.dilution != 1 else "")
    if spec.role in ("standard", "control", "qc"):
        return spec.level or ""
    if spec.role in ("pool", "selectivity"):  # validation wells: what and the spike
        return f"{spec.sample or spec.source or ''} +{spec.spike or 0:g}"
    if spec.role == "stability":
        return f"{spec.level} {spec.hours or 0:g}h"
    return ""


def layout_cells(layout: Layout) -> list[list[tuple[str, str]]]:
    """8 rows of 12 (role, text) cells: 'S1', 'low', 'P05 1:10', 'blank', or '' for empty."""
    rows = []
    for r in range(N_ROWS):
        row = []
        for c in range(N_COLS):
            spec = layout.wells.get(f"{ROWS[r]}{c + 1}")
            role = spec.role if spec else "empty"
            row.append((role, well_label(spec) or ("blank" if role == "blank" else "")))
        rows.append(row)
    return rows


def layout_summary(layout: Layout) -> list[str]:
    """Lines: kit lot, the standard levels with nominals, controls, blanks and samples counted."""
    lines = [f"kit lot: {layout.kit_lot or 'not given'}"]
    levels = layout.standard_levels()
    if levels:
        lines.append(
            "standards: " + ", ".join(f"{lv} {nominal:g}" for lv, nominal in levels) + " pg/mL"
        )
    controls: dict[str, WellSpec] = {}
    for spec in layout.controls():
        controls.setdefault(spec.level or "", spec)
    if controls:
        lines.append(
            "controls: "
            + ", ".join(f"{lv} {s.nominal:g} ({s.low:g}-{s.high:g})" for lv, s in controls.items())
            + " pg/mL"
        )
    qcs: dict[str, list[WellSpec]] = {}
    for spec in layout.qcs():
        qcs.setdefault(spec.level or "", []).append(spec)
    if qcs:
        lines.append(
            "QCs: "
            + ", ".join(
                f"{lv} {s[0].nominal:g} ({s[0].low:g}-{s[0].high:g}, {len(s)} wells)"
                for lv, s in qcs.items()
            )
            + " pg/mL"
        )
    samples = layout.samples()
    labels = list(dict.fromkeys(s.sample for s in samples))
    lines.append(
        f"blanks: {len(layout.blanks())} wells; "
        f"samples: {len(labels)} labels in {len(samples)} wells"
    )
    qcs: dict[str, float | None] = {}
    for spec in layout.wells.values():
        if spec.role == "qc":
            qcs.setdefault(spec.level or "", spec.nominal)
    if qcs:
        lines.append("QCs: " + ", ".join(f"{lv} {n:g}" for lv, n in qcs.items()) + " pg/mL")
    counts = Counter(s.role for s in layout.wells.values())
    validation = [f"{role}: {counts[role]} wells" for role in ("pool", "selectivity", "stability")]
    if any(counts[role] for role in ("pool", "selectivity", "stability")):
        lines.append("; ".join(validation))
    return lines


def layout_notes(layout: Layout, stated_dilutions: set[str] | None = None) -> list[str]:
    """What looks odd in a layout, one line each ([] when nothing does).

    ``stated_dilutions``: the wells whose dilution the file states (a sheet
    layout knows them; for TOML, ``layout.toml_stated_dilutions``).
    """
    notes = []
    for role, name in (
        ("standard", "standard level"),
        ("control", "control level"),
        ("qc", "QC level"),
    ):
        counts = Counter(s.level for s in layout.wells.values() if s.role == role)
        for level, n in counts.items():
            if n == 1:
                well = next(s.well for s in layout.wells.values() if s.level == level)
                notes.append(f"{name} '{level}' is in one well only ({well}): no replicate")
    counts = Counter((s.sample, s.dilution) for s in layout.samples())
    for (sample, dilution), n in counts.items():
        if n == 1:
            well = next(
                s.well for s in layout.samples() if (s.sample, s.dilution) == (sample, dilution)
            )
            at = f" at 1:{dilution:g}" if dilution != 1 else ""
            notes.append(f"sample '{sample}'{at} is in one well only ({well}): no replicate")
    by_fold: dict[str, list[str]] = {}
    for label in dict.fromkeys(s.sample for s in layout.samples() if s.sample):
        by_fold.setdefault(fold(label), []).append(label)
    for labels in by_fold.values():
        if len(labels) > 1:
            notes.append(
                "sample labels "
                + " and ".join(f"'{x}'" for x in labels)
                + " differ only by case or spaces: one sample or two?"
            )
    if stated_dilutions is not None:
        unstated = [s for s in layout.samples() if s.well not in stated_dilutions]
        if unstated:
            labels = natural_sorted(str(s.sample) for s in unstated)
            more = f" and {len(labels) - 6} more" if len(labels) > 6 else ""
            shown = ", ".join(labels[:6]) + more
            notes.append(
                f"{len(labels)} sample(s) without a dilution ({shown}): read as neat (1), "
                "unless the sample sheet gives one"
            )
    if not layout.blanks():
        notes.append("no blank wells: the limit of blank (CLSI EP17) cannot be estimated")
    if not layout.controls() and not layout.qcs():
        notes.append(
            "no QCs or controls: the m10 rules reject the plate (QC_DESIGN); "
            "the kit rules leave CONTROLS not evaluated"
        )
    if not layout.samples():
        notes.append("no sample wells: a standards-only layout (a kit-lot file?)")
    return notes


def layout_html(layout: Layout, notes: list[str] | None = None) -> str:
    """A self-contained HTML page drawing the plate: each well coloured by role, with its label."""
    head = "".join(f"<th>{c}</th>" for c in range(1, N_COLS + 1))
    body = []
    for r, row in enumerate(layout_cells(layout)):
        tds = []
        for c, (role, text) in enumerate(row):
            well = f"{ROWS[r]}{c + 1}"
            short = ROLE_SHORT.get(role, "")
            tds.append(
                f'<td class="{role}" title="{well} {role} {html.escape(text)}">'
                f'<span class="w">{well}</span><b>{html.escape(text)}</b>'
                f'<span class="r">{short if short != text else ""}</span></td>'
            )
        body.append(f"<tr><th>{ROWS[r]}</th>{''.join(tds)}</tr>")
    present = {spec.role for spec in layout.wells.values()}
    colours = {**ROLE_COLOURS, **{r: c for r, c in VALIDATION_COLOURS.items() if r in present}}
    legend = "".join(
        f'<span class="key {role}">{role}</span>' for role in colours if role != "empty"
    )
    css = "".join(f"td.{r}, .key.{r} {{ background: {c}; }}\n" for r, c in colours.items())
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in layout_summary(layout))
    odd = "".join(f"<li>{html.escape(n)}</li>" for n in (notes or [])) or "<li>nothing</li>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Layout {html.escape(layout.path.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
table.plate {{ border-collapse: collapse; }}
table.plate td, table.plate th {{ border: 1px solid #999; padding: 2px 4px; text-align: center; }}
table.plate td {{ width: 4.6em; height: 2.8em; vertical-align: top; font-size: 0.85em; }}
table.plate td b {{ display: block; }}
.w {{ display: block; color: #666; font-size: 0.75em; text-align: left; }}
.r {{ display: block; color: #444; font-size: 0.75em; }}
.key {{ display: inline-block; padding: 2px 8px; margin-right: 6px; border: 1px solid #999; }}
{css}@page {{ size: A4 landscape; margin: 12mm; }}
</style></head><body>
<h1>Layout {html.escape(layout.path.name)}</h1>
<table class="plate"><tr><th></th>{head}</tr>{"".join(body)}</table>
<p>{legend}</p>
<ul>{summary}</ul>
<h2>What looks odd</h2>
<ul class="notes">{odd}</ul>
</body></html>
"""
