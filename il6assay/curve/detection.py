"""Detection limits from blank and low wells (CLSI EP17), in pg/mL.

LoB = mean(blank) + 1.645 SD(blank), computed on the blank wells' ODs (the
zero standard's when the layout has no blanks) and carried to pg/mL through
the curve; LoD = LoB + 1.645 SD(low sample), with the lowest non-zero
standard level's back-calculated replicates as the low sample. With the
duplicates of a routine plate these are rough, per-run figures: they are
reported for review, never used to censor results (the LLOQ does that).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from il6assay.curve.fit import CurveFit
from il6assay.plate.wells import Well

Z_95 = 1.645  # one-sided 95 % (CLSI EP17)
SOURCE = "CLSI EP17-A2: LoB = mean(blank) + 1.645 SD(blank); LoD = LoB + 1.645 SD(low sample)"


def detection_limits(wells: list[Well], curve: CurveFit) -> dict[str, Any]:
    """LoB and LoD for a run, with the wells and the method that made them."""
    blanks = [w for w in wells if w.spec.role == "blank" and w.od is not None]
    blank_kind = "blank"
    if len(blanks) < 2:
        blanks = [
            w
            for w in wells
            if w.spec.role == "standard" and w.spec.nominal == 0 and w.od is not None
        ]
        blank_kind = "zero standard"
    out: dict[str, Any] = {"source": SOURCE, "lob_pg_ml": None, "lod_pg_ml": None}
    if len(blanks) < 2 or not curve.success:
        out["note"] = "needs a fitted curve and at least two blank or zero-standard wells"
        return out
    ods = [float(w.od) for w in blanks]  # type: ignore[arg-type]
    lob_od = statistics.fmean(ods) + Z_95 * statistics.stdev(ods) * (1 if curve.rising else -1)
    out.update(blank_wells=[w.name for w in blanks], blank_kind=blank_kind, lob_od=lob_od)
    lob = float(curve.inverse(lob_od))
    if not math.isfinite(lob):
        out["note"] = (
            "the LoB OD lies beyond the curve's zero-dose asymptote: LoB below the curve's reach"
        )
        lob = 0.0
    else:
        out["lob_pg_ml"] = lob
    levels = sorted({w.spec.nominal for w in wells if w.spec.role == "standard" and w.spec.nominal})
    if levels:
        low = [
            w.conc_on_plate
            for w in wells
            if w.spec.role == "standard" and w.spec.nominal == levels[0]
        ]
        low = [c for c in low if c is not None]
        if len(low) >= 2:
            out["low_sample"] = {"level_pg_ml": levels[0], "n": len(low)}
            out["lod_pg_ml"] = lob + Z_95 * statistics.stdev(low)
    return out
