"""Run histories for the study tests: QC figures of runs as the database records them.

``history(values)`` makes one ``RunQc`` per (low, high) pair, a day apart from
2026-01-01, kit lot L1 (or as given), accepted unless said otherwise: the
shape ``record_qc`` stores, so the database tests and the browser test chart
known values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from il6assay.study.qc import ControlValue, RunQc

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def run_qc(
    i: int,
    low: float | None,
    high: float | None,
    *,
    accepted: bool = True,
    lot: str = "L1",
    review: str = "unreviewed",
) -> RunQc:
    """Run ``i`` of a history with its two control values."""
    when = (START + timedelta(days=i)).isoformat()
    return RunQc(
        run_id=f"hist_{i:03d}-0000000000",
        plate_id="Plate 1",
        export_file=f"hist_{i:03d}.xlsx",
        kit_lot=lot,
        run_time=when,
        time_source="acquired",
        processed_utc=when,
        accepted_by_rules=accepted,
        verdict="accepted by the acceptance rules" if accepted else "rejected: CONTROLS",
        review_status=review,
        top_standard_level="S1",
        top_standard_pg_ml=300.0,
        top_standard_od=2.6 + 0.01 * (i % 5),
        curve_c=250.0 + (i % 7),
        lloq_pg_ml=4.6875,
        uloq_pg_ml=300.0,
        controls=[
            ControlValue("low", 20.0, low, 2, 0 if low is None else 2, ["C3", "D3"]),
            ControlValue("high", 120.0, high, 2, 0 if high is None else 2, ["E3", "F3"]),
        ],
    )


def history(values: list[tuple[float | None, float | None]], **kwargs: object) -> list[RunQc]:
    """One run per (low, high) pair, in time order."""
    return [run_qc(i, lo, hi, **kwargs) for i, (lo, hi) in enumerate(values)]  # type: ignore[arg-type]


def in_control(n: int) -> list[tuple[float, float]]:
    """n runs scattered around low 20 (SD about 1) and high 120 (SD about 6), never beyond 2 SD."""
    pattern = [(-0.8, 0.5), (0.6, -0.7), (1.1, 0.2), (-0.3, -1.2), (0.2, 1.0), (-1.0, -0.1)]
    return [(20.0 + pattern[i % 6][0], 120.0 + 6 * pattern[i % 6][1]) for i in range(n)]
