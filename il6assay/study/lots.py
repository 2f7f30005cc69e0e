"""Kit-lot bridging: is the new lot's reading the old lot's, within stated limits?

``il6assay lots bridge --old RUN --new RUN`` pairs what the two runs (one per
kit lot) both measured: each QC level (the mean of its wells, ``qc_controls``)
and each incurred study specimen at one dilution (``dilution_results`` and
``isr_results`` of the pushed runs), both values quantified. On the log scale
each pair gives d = ln(new / old); the ratio new/old is the geometric mean
exp(mean d) and its 90 % interval exp(mean d +/- t(0.95, n-1) * sd(d) / sqrt(n))
(the two one-sided tests of average bioequivalence, Schuirmann 1987, as in
FDA guidance on statistical approaches to bioequivalence, 2001). The lots are
equivalent when the whole interval lies within the limits (default 0.80 to
1.25). At least three pairs are needed. The decision is recorded in
``lot_bridges``, signed with a review account's password when the database has
accounts.

A lot needs a bridge when an accepted run of another lot came before its first
run; the study's first lot needs none. With a method profile adopted, a run of
a lot that needs a bridge and has no recorded, passing one is rejected by the
rule ``LOT_BRIDGE`` (``lot_bridge_rule``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from il6assay.errors import InputError
from il6assay.qc.rules import RuleResult

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from il6assay.study.qc import RunQc, Target

DEFAULT_LIMITS = (0.8, 1.25)
MIN_PAIRS = 3
RULE_ID = "LOT_BRIDGE"
DESCRIPTION = "the run's kit lot is bridged to the study's earlier lot (method profile adopted)"
SOURCE = "ICH M10 (2022) section 3.3.3; ratio and 90 % interval as average bioequivalence"


@dataclass
class Pair:
    """One thing both runs measured: a QC level or a specimen at one dilution."""

    kind: str  # "QC" or "specimen"
    name: str
    old: float
    new: float

    @property
    def ratio(self) -> float:
        """new / old."""
        return self.new / self.old


@dataclass
class Bridge:
    """A bridging of ``new_lot`` to ``old_lot``: the pairs, ratio, 90 % interval, verdict."""

    old_run: str
    new_run: str
    old_lot: str
    new_lot: str
    pairs: list[Pair]
    limits: tuple[float, float]
    ratio: float = field(init=False)
    ci90: tuple[float, float] = field(init=False)

    def __post_init__(self) -> None:
        self.ratio, self.ci90 = geometric_ratio([p.ratio for p in self.pairs])

    @property
    def passed(self) -> bool:
        """Equivalent: the whole 90 % interval within the limits."""
        return self.limits[0] <= self.ci90[0] and self.ci90[1] <= self.limits[1]

    def text(self) -> str:
        """One line: the ratio, its interval, the limits and the verdict."""
        verdict = "equivalent" if self.passed else "NOT equivalent"
        kinds = {k: sum(p.kind == k for p in self.pairs) for k in ("QC", "specimen")}
        return (
            f"kit lot {self.new_lot} vs {self.old_lot}: ratio new/old {self.ratio:.3f} "
            f"(90 % interval {self.ci90[0]:.3f} to {self.ci90[1]:.3f}, {len(self.pairs)} pairs: "
            f"{kinds['QC']} QC, {kinds['specimen']} specimens); limits {self.limits[0]:g} to "
            f"{self.limits[1]:g}: {verdict}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "old_run": self.old_run,
            "new_run": self.new_run,
            "old_lot": self.old_lot,
            "new_lot": self.new_lot,
            "ratio": self.ratio,
            "ci90": list(self.ci90),
            "limits": list(self.limits),
            "passed": self.passed,
            "pairs": [p.__dict__ for p in self.pairs],
        }


def geometric_ratio(ratios: list[float]) -> tuple[float, tuple[float, float]]:
    """Geometric mean of ``ratios`` and its two-sided 90 % t interval (on the log scale)."""
    from scipy import stats

    n = len(ratios)
    if n < MIN_PAIRS:
        raise InputError(f"{n} pair(s) measured on both lots; a bridge needs {MIN_PAIRS} or more")
    logs = [math.log(r) for r in ratios]
    mean = sum(logs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (n - 1))
    half = float(stats.t.ppf(0.95, n - 1)) * sd / math.sqrt(n)
    return math.exp(mean), (math.exp(mean - half), math.exp(mean + half))


def parse_limits(text: str) -> tuple[float, float]:
    """``"0.8,1.25"`` as (0.8, 1.25); anything else is bad input."""
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"--limits '{text}' is not LOW,HIGH (e.g. 0.8,1.25)") from None
    if not 0 < low < 1 < high:
        raise InputError(f"--limits '{text}': need 0 < LOW < 1 < HIGH (e.g. 0.8,1.25)")
    return low, high


def _run_values(session: Any, run_id: str) -> tuple[str | None, dict[tuple[str, str], float]]:
    """A run's kit lot and what it measured: {(kind, name): value}, quantified values only."""
    from sqlalchemy import select

    from il6assay.db.models import DbDilution, DbIsr, DbQcControl, DbQcRun, DbRun

    values: dict[tuple[str, str], float] = {}
    lot: str | None = None
    found = False
    qc = session.scalar(select(DbQcRun).where(DbQcRun.run_id == run_id))
    if qc is not None:
        found, lot = True, qc.kit_lot
        for c in session.scalars(select(DbQcControl).where(DbQcControl.qc_run_pk == qc.id)):
            if c.value_pg_ml is not None and c.value_pg_ml > 0:
                values[("QC", c.level)] = c.value_pg_ml
    for run in session.scalars(select(DbRun).where(DbRun.run_id == run_id)):
        found, lot = True, lot or run.kit_lot
        for d in session.scalars(select(DbDilution).where(DbDilution.run_pk == run.id)):
            if d.conc_pg_ml is not None and d.conc_pg_ml > 0:
                values[("specimen", f"{d.study_id} {d.visit} 1:{d.dilution:g}")] = d.conc_pg_ml
        for i in session.scalars(select(DbIsr).where(DbIsr.run_pk == run.id)):
            if i.conc_pg_ml is not None and i.conc_pg_ml > 0:
                name = f"{i.study_id} {i.visit} 1:{float(i.dilution or 1):g}"
                values[("specimen", name)] = i.conc_pg_ml
    if not found:
        raise InputError(
            f"run {run_id} is not in the study database (neither its QC record nor a pushed run)"
        )
    return lot, values


def bridge(
    engine: Engine, old_run: str, new_run: str, limits: tuple[float, float] = DEFAULT_LIMITS
) -> Bridge:
    """The bridging of the new run's kit lot to the old run's, from what both measured."""
    from sqlalchemy.orm import Session

    from il6assay.db.engine import require_schema

    require_schema(engine)
    with Session(engine) as session:
        old_lot, old = _run_values(session, old_run)
        new_lot, new = _run_values(session, new_run)
    if not old_lot or not new_lot:
        raise InputError("both runs need a kit lot (the layout's kit_lot) to bridge lots")
    if old_lot == new_lot:
        raise InputError(f"runs {old_run} and {new_run} are both of kit lot {old_lot}")
    pairs = [Pair(k, name, old[(k, name)], new[(k, name)]) for k, name in old if (k, name) in new]
    if len(pairs) < MIN_PAIRS:
        raise InputError(
            f"runs {old_run} and {new_run} measured {len(pairs)} QC level(s) or specimen(s) "
            f"in common; a bridge needs {MIN_PAIRS} or more (run the QCs and incurred samples "
            "on both lots)"
        )
    return Bridge(old_run, new_run, old_lot, new_lot, pairs, limits)


def record_bridge(engine: Engine, found: Bridge, *, signed_by: str, account_id: int | None) -> int:
    """Store the bridging decision (one row of ``lot_bridges``, one audit row); its id."""
    from sqlalchemy.orm import Session

    from il6assay.db.engine import writer
    from il6assay.db.models import DbAudit, DbLotBridge
    from il6assay.record.audit import now_utc, os_account

    when, account = now_utc(), os_account()
    with Session(writer(engine)) as session, session.begin():
        row = DbLotBridge(
            old_lot=found.old_lot,
            new_lot=found.new_lot,
            old_run_id=found.old_run,
            new_run_id=found.new_run,
            n_pairs=len(found.pairs),
            ratio=found.ratio,
            ci90_low=found.ci90[0],
            ci90_high=found.ci90[1],
            limit_low=found.limits[0],
            limit_high=found.limits[1],
            passed=found.passed,
            pairs=json.dumps([p.__dict__ for p in found.pairs], sort_keys=True),
            account_id=account_id,
            signed_by=signed_by,
            signed_utc=when,
            signed_os_account=account,
        )
        session.add(row)
        session.add(
            DbAudit(
                time_utc=when,
                os_account=account,
                by_name=signed_by,
                action="lot-bridge",
                run_id=found.new_run,
                what=found.text(),
                new_value=json.dumps(found.to_dict(), sort_keys=True),
            )
        )
        session.flush()
        return row.id


def bridges(engine: Engine) -> list[dict[str, Any]]:
    """Every recorded bridging decision, oldest first."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from il6assay.db.models import DbLotBridge

    with Session(engine) as session:
        rows = session.scalars(select(DbLotBridge).order_by(DbLotBridge.id)).all()
        return [
            {c.name: getattr(r, c.name) for c in r.__table__.columns if c.name != "pairs"}
            for r in rows
        ]


def targets_of_lot(
    certificate: Mapping[str, Target], history: Sequence[RunQc], kit_lot: str | None
) -> dict[str, Target]:
    """The Westgard targets of a kit lot: the certificate's where they apply, else those
    established from the lot's own accepted runs (provisional until 20)."""
    from il6assay.study.qc import established_targets, targets_for

    own = established_targets([h for h in history if h.kit_lot == kit_lot])
    return {
        level: replace(t, kit_lot=kit_lot) if t.kit_lot is None else t
        for level, t in targets_for(certificate, own, kit_lot).items()
    }


def lot_targets(
    certificate: Mapping[str, Target], history: Sequence[RunQc]
) -> list[dict[str, Any]]:
    """Every kit lot's targets per level, in the order the lots first ran (``controls --json``)."""
    from il6assay.study.qc import RunQc as _RunQc

    lots = list(dict.fromkeys(h.kit_lot for h in sorted(history, key=_RunQc.time)))
    return [
        {"kit_lot": lot, "level": t.level, "mean": t.mean, "sd": t.sd, "source": t.source,
         "n_runs": t.n_runs, "judges": t.judges}
        for lot in lots
        for t in sorted(targets_of_lot(certificate, history, lot).values(), key=lambda t: t.level)
    ]  # fmt: skip


def needs_bridge(history: list[RunQc], kit_lot: str | None, before: Any) -> str | None:
    """The lot a run of ``kit_lot`` must be bridged to: the lot of the latest accepted run of
    another lot before ``before`` (a datetime); None when the lot is the study's first."""
    earlier = [h for h in history if h.accepted and h.time() <= before and h.kit_lot != kit_lot]
    if not kit_lot or not earlier:
        return None
    return max(earlier, key=lambda h: h.time()).kit_lot


def lot_bridge_rule(
    engine: Engine, history: list[RunQc], kit_lot: str | None, when: Any
) -> RuleResult | None:
    """The ``LOT_BRIDGE`` rule for a run of ``kit_lot`` at ``when``; None without a profile."""
    if not method_profile_adopted(engine):
        return None
    other = needs_bridge(history, kit_lot, when)
    if other is None:
        return RuleResult(RULE_ID, DESCRIPTION, SOURCE, True, "the study's first kit lot")
    passing = [
        b
        for b in bridges(engine)
        if b["new_lot"] == kit_lot and b["passed"] and b["old_lot"] == other
    ]
    if passing:
        b = passing[-1]
        detail = (
            f"kit lot {kit_lot} bridged to {other} on {b['signed_utc']} by {b['signed_by']} "
            f"(ratio {b['ratio']:.3f}, 90 % interval {b['ci90_low']:.3f} to {b['ci90_high']:.3f})"
        )
        return RuleResult(RULE_ID, DESCRIPTION, SOURCE, True, detail)
    detail = (
        f"LOT_BRIDGE: kit lot {kit_lot} has no recorded, passing bridge to kit lot {other} "
        "(il6assay lots bridge --old RUN --new RUN)"
    )
    return RuleResult(RULE_ID, DESCRIPTION, SOURCE, False, detail)


def method_profile_adopted(engine: Engine) -> bool:
    """Whether the study has adopted a method profile (``il6assay method adopt``)."""
    from il6assay.db.method import current_profile

    return current_profile(engine) is not None
