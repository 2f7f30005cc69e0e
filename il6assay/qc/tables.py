"""The tables a run holds, as rows: wells.csv, results.csv and dilutions.csv.

One place for the columns that ``Run.frames()`` and the run folder's writers
share, so a DataFrame and a CSV of the same run can never disagree.
"""

from __future__ import annotations

from typing import Any

from il6assay.curve.fit import CurveFit
from il6assay.plate.export import Token
from il6assay.plate.wells import Well
from il6assay.qc.dilutions import Specimen
from il6assay.qc.results import SampleResult, well_cis


def well_rows(
    wells: list[Well], labels: list[str], curve: CurveFit
) -> tuple[list[str], list[dict[str, Any]]]:
    """wells.csv: every well with role, raw reads (tokens kept), ODs, concentration, flags."""
    columns = [
        "well",
        "role",
        "level",
        "sample",
        "dilution",
        "nominal_pg_ml",
        *[f"read_{label}" for label in labels],
        "status",
        "od_corrected",
        "od",
        "conc_on_plate_pg_ml",
        "conc_pg_ml",
        "ci_low_pg_ml",
        "ci_high_pg_ml",
        "recovery_pct",
        "passed",
        "flags",
    ]
    rows = []
    for w, (ci_low, ci_high) in zip(wells, well_cis(wells, curve), strict=True):
        row: dict[str, Any] = {
            "ci_low_pg_ml": ci_low,
            "ci_high_pg_ml": ci_high,
            "well": w.name,
            "role": w.spec.role,
            "level": w.spec.level,
            "sample": w.spec.sample,
            "dilution": w.spec.dilution if w.spec.role == "sample" else None,
            "nominal_pg_ml": w.spec.nominal,
            "status": w.status,
            "od_corrected": w.od_corrected,
            "od": w.od,
            "conc_on_plate_pg_ml": w.conc_on_plate,
            "conc_pg_ml": w.conc,
            "recovery_pct": round(w.recovery_pct, 3) if w.recovery_pct is not None else None,
            "passed": w.passed,
            "flags": ";".join(w.flags),
        }
        for label in labels:
            raw = w.raw.get(label)
            row[f"read_{label}"] = raw.token if isinstance(raw, Token) else raw
        rows.append(row)
    return columns, rows


def result_rows(
    specimens: list[Specimen], run_id: str, lloq: float | None, uloq: float | None
) -> list[dict[str, Any]]:
    """results.csv rows: one per specimen (study ID and visit), dilutions combined."""
    return [sp.combined.row(run_id, lloq, uloq) for sp in specimens]


def dilution_rows(
    samples: list[SampleResult], run_id: str, lloq: float | None, uloq: float | None
) -> list[dict[str, Any]]:
    """dilutions.csv rows: every sample label at every dilution, nothing hidden."""
    return [s.row(run_id, lloq, uloq) for s in samples]


def result_and_dilution_rows(
    specimens: list[Specimen],
    samples: list[SampleResult],
    run_id: str,
    lloq: float | None,
    uloq: float | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(``result_rows``, ``dilution_rows``) together: a specimen measured at one dilution is
    that sample's own result (``combine_rows``'s lone row), so its row is made once for both."""
    dilutions = dilution_rows(samples, run_id, lloq, uloq)
    made = {id(s): row for s, row in zip(samples, dilutions, strict=True)}
    results = [
        made[id(sp.combined)] if id(sp.combined) in made else sp.combined.row(run_id, lloq, uloq)
        for sp in specimens
    ]
    return results, dilutions
