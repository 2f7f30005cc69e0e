"""Across-run precision of the QC levels (ICH M10 section 4.3.2), per level and per kit lot.

Over the accepted runs in the study database (``runs``: pushed runs, accepted
by review), each control well's back-calculated concentration (``wells``,
role ``qc`` or ``control``) is grouped by run; ``il6assay.study.precision.variance_components``
(one-way random-effects ANOVA, CLSI EP05-A3) gives the overall mean, the bias
against the nominal concentration, and the within-run, between-run and total
CV. One row per level and kit lot, then one per level over all lots (lot to lot
differences then count as between-run variation). Wells not read OK (masked,
saturated, missing) and wells without a number are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

ALL_LOTS = "all lots"


def control_values(engine: Engine) -> dict[tuple[str, str], dict[str, list[float]]]:
    """{(level, kit lot): {run id: [well values]}} of the accepted, pushed runs' control wells."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from il6assay.db.models import DbRun, DbWell
    from il6assay.qc.m10 import QC_ROLES

    out: dict[tuple[str, str], dict[str, list[float]]] = {}
    with Session(engine) as session:
        query = (
            select(DbRun.run_id, DbRun.kit_lot, DbWell.level, DbWell.conc_pg_ml, DbWell.status)
            .join(DbWell, DbWell.run_pk == DbRun.id)
            .where(DbWell.role.in_(QC_ROLES), DbRun.review_status == "accepted")
            .order_by(DbRun.id, DbWell.well)
        )
        for run_id, lot, level, conc, status in session.execute(query):
            if conc is None or (status or "OK").upper() != "OK":  # masked, saturated, missing
                continue
            for key in ((level or "?", lot or "none"), (level or "?", ALL_LOTS)):
                out.setdefault(key, {}).setdefault(run_id, []).append(float(conc))
    return out


def control_precision(engine: Engine) -> list[dict[str, Any]]:
    """Per QC level and kit lot (then all lots): runs, mean, bias %, within/between/total CV %."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from il6assay.db.models import DbWell
    from il6assay.qc.m10 import QC_ROLES
    from il6assay.study.precision import variance_components

    with Session(engine) as session:
        nominal = {
            level: value
            for level, value in session.execute(
                select(DbWell.level, DbWell.nominal_pg_ml)
                .where(DbWell.role.in_(QC_ROLES))
                .distinct()
            )
            if value is not None
        }
    rows = []
    for (level, lot), runs in sorted(control_values(engine).items()):
        p = variance_components(runs, nominal=nominal.get(level))
        rows.append({"level": level, "kit_lot": lot, **p.summary()})
    return rows
