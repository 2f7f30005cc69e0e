"""Incurred-sample reanalysis (ICH M10 section 5): what to repeat, and how the repeats agree.

``select_isr`` proposes specimens to repeat as a sample sheet (``purpose`` isr):
``fraction`` of the specimens with a reported number (default 10 %, at least
one), drawn with a seeded random generator, spread over subjects and visits
(round-robin over visits, then subjects, so that no subject or visit is
repeated twice before every other has been once), and, when a statistician
names cut-offs, favouring specimens whose value lies closest to one (on the log
scale). A specimen already repeated is not proposed again.

``isr_report`` compares each stored repeat with its original (M10 5.x): the %
difference is (repeat - original) / mean of the two x 100; a pair agrees when
it lies within 30 %; ISR passes when at least two thirds of the pairs agree.
A pair with a censored value (``<LLOQ``, ``>ULOQ``) has no % difference and is
listed apart (not counted). The Bland-Altman plot shows the % difference
against the pair's mean (Bland and Altman, Lancet 1986) with the +/-30 % limits.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from il6assay.errors import InputError

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from sqlalchemy import Engine

LIMIT_PCT = 30.0
PASS_FRACTION = 2 / 3


def pct_difference(original: float, repeat: float) -> float:
    """(repeat - original) / mean(repeat, original) x 100."""
    return 100.0 * (repeat - original) / ((repeat + original) / 2.0)


@dataclass
class IsrReport:
    """Every repeat with its original, the fraction within 30 %, the verdict."""

    pairs: list[dict[str, Any]]
    not_comparable: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_within(self) -> int:
        """Pairs within 30 %."""
        return sum(p["within_30_pct"] for p in self.pairs)

    @property
    def fraction_within(self) -> float | None:
        """The fraction of comparable pairs within 30 % (None without pairs)."""
        return self.n_within / len(self.pairs) if self.pairs else None

    @property
    def passed(self) -> bool | None:
        """At least two thirds within 30 % (None without pairs)."""
        f = self.fraction_within
        return None if f is None else f >= PASS_FRACTION - 1e-12

    def text(self) -> str:
        """One line: n, the fraction within 30 % and the verdict."""
        if not self.pairs:
            return "no comparable ISR pair stored yet"
        verdict = "passes" if self.passed else "FAILS"
        text = (
            f"ISR: {self.n_within} of {len(self.pairs)} pairs within {LIMIT_PCT:g} % "
            f"({100 * (self.fraction_within or 0):.1f} %; at least 2/3 needed): {verdict}"
        )
        if self.not_comparable:
            text += f"; {len(self.not_comparable)} pair(s) with a censored value not counted"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``isr report --json``."""
        return {
            "pairs": self.pairs,
            "not_comparable": self.not_comparable,
            "n_pairs": len(self.pairs),
            "n_within_30_pct": self.n_within,
            "fraction_within_30_pct": self.fraction_within,
            "passed": self.passed,
            "rule": "ICH M10 section 5: at least 2/3 of pairs within 30 % of their mean",
        }


def isr_report(engine: Engine) -> IsrReport:
    """The stored ISR pairs compared (see the module docstring)."""
    from il6assay.db.isr import isr_pairs

    report = IsrReport(pairs=[])
    for pair in isr_pairs(engine):
        old, new = pair["original_pg_ml"], pair["repeat_pg_ml"]
        if old is None or new is None or old <= 0 or new <= 0:
            report.not_comparable.append(pair)
            continue
        diff = pct_difference(old, new)
        report.pairs.append(
            {
                **pair,
                "mean_pg_ml": (old + new) / 2.0,
                "pct_difference": diff,
                "within_30_pct": abs(diff) <= LIMIT_PCT,
            }
        )
    return report


def bland_altman(report: IsrReport) -> go.Figure:
    """% difference against the pair's mean (log axis), with 0 and the +/-30 % limits."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for within, name, color in ((True, "within 30 %", "#1f77b4"), (False, "outside", "#d62728")):
        chosen = [p for p in report.pairs if p["within_30_pct"] == within]
        fig.add_trace(
            go.Scatter(
                x=[p["mean_pg_ml"] for p in chosen],
                y=[p["pct_difference"] for p in chosen],
                mode="markers",
                name=name,
                marker={"color": color, "size": 8},
                text=[f"{p['study_id']} {p['visit']}" for p in chosen],
            )
        )
    for y, dash in ((0.0, "solid"), (LIMIT_PCT, "dash"), (-LIMIT_PCT, "dash")):
        fig.add_hline(y=y, line_dash=dash, line_color="#7f7f7f")
    fig.update_layout(
        title="Incurred-sample reanalysis: Bland-Altman",
        xaxis={"title": "mean of original and repeat (pg/mL)", "type": "log"},
        yaxis={"title": "(repeat - original) / mean (%)"},
        height=420,
    )
    return fig


def report_html(report: IsrReport) -> str:
    """The ISR page: the verdict, the Bland-Altman plot, every pair."""
    from il6assay.study.pages import _div, _e, page

    rows = "".join(
        f'<tr class="{"" if p["within_30_pct"] else "rejected"}"><td>{_e(p["study_id"])}</td>'
        f"<td>{_e(p['visit'])}</td><td>{_e(p['original_result'])}</td>"
        f"<td>{_e(p['repeat_result'])}</td><td>{p['pct_difference']:.1f}</td>"
        f"<td>{_e(p['original_run_id'])}</td><td>{_e(p['repeat_run_id'])}</td></tr>"
        for p in report.pairs
    )
    body = (
        f"<h1>Incurred-sample reanalysis</h1><p>{_e(report.text())}</p>"
        f"{_div(bland_altman(report))}"
        "<table><tr><th>study ID</th><th>visit</th><th>original</th><th>repeat</th>"
        f"<th>% difference</th><th>original run</th><th>repeat run</th></tr>{rows}</table>"
    )
    return page("il6assay: incurred-sample reanalysis", body)


def select_isr(
    engine: Engine,
    *,
    fraction: float = 0.1,
    seed: int | None = None,
    cutoffs: tuple[float, ...] = (),
) -> list[dict[str, Any]]:
    """Specimens to repeat (see the module docstring), as sample-sheet rows."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from il6assay.db.engine import require_schema
    from il6assay.db.models import CURRENT, DbIsr, DbResult

    if not 0 < fraction <= 1:
        raise InputError(f"--fraction {fraction:g} is not between 0 and 1 (0.1 is 10 %)")
    require_schema(engine)
    with Session(engine) as session:
        done = {tuple(r) for r in session.execute(select(DbIsr.study_id, DbIsr.visit))}
        results = [
            r
            for r in session.scalars(
                select(DbResult).where(DbResult.status == CURRENT).order_by(DbResult.id)
            )
            if r.conc_pg_ml is not None and r.conc_pg_ml > 0 and (r.study_id, r.visit) not in done
        ]
        candidates = [
            {
                "study_id": r.study_id,
                "visit": r.visit,
                "dilution": r.dilution or "",
                "conc_pg_ml": r.conc_pg_ml,
            }
            for r in results
        ]
    if not candidates:
        raise InputError("no specimen with a reported number to repeat (or all were repeated)")
    n = max(1, round(fraction * len(candidates)))
    rng = random.Random(seed)
    rng.shuffle(candidates)
    if cutoffs:  # closest to a cut-off first (log scale); the shuffle breaks ties
        candidates.sort(
            key=lambda c: min(abs(math.log(c["conc_pg_ml"] / x)) for x in cutoffs if x > 0)
        )
    chosen: list[dict[str, Any]] = []
    subjects: set[str] = set()
    visits: dict[str, int] = {}
    pool = list(candidates)
    while len(chosen) < n and pool:
        # the next candidate from the least repeated visit whose subject is not chosen yet
        fresh = [c for c in pool if c["study_id"] not in subjects] or pool
        pick = min(fresh, key=lambda c: (visits.get(c["visit"], 0), pool.index(c)))
        pool.remove(pick)
        chosen.append(pick)
        subjects.add(pick["study_id"])
        visits[pick["visit"]] = visits.get(pick["visit"], 0) + 1
    return [
        {
            "sample": f"ISR{i:02d}",
            "study_id": c["study_id"],
            "visit": c["visit"],
            "dilution": c["dilution"],
            "purpose": "isr",
            "note": f"ISR of {c['conc_pg_ml']:.3g} pg/mL",
        }
        for i, c in enumerate(chosen, start=1)
    ]


def write_sheet(rows: list[dict[str, Any]], out: Path) -> Path:
    """The proposed repeats as a sample-sheet CSV, written whole or not at all."""
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError("the folder to write the sheet in does not exist", path=out)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
