"""A new run's controls checked against the study's targets: the hook of ``process``, ``batch``.

When a study database is configured (``--db`` of ``process`` or ``batch``, else
``$IL6ASSAY_DB``, else ``db = "..."`` in il6assay.toml; nothing else
configures one), a run's control values are judged by the Westgard rules
after the accepted runs before it, against the targets that judge (the kit
certificate's, or established from 20 accepted runs; provisional targets
never judge). The result is the acceptance rule ``WESTGARD`` in curve.json
and the report: failed with ``WESTGARD_REJECT`` and the rule names when a
rejecting rule is broken (the plate is then rejected and its samples marked
PLATE_REJECTED), passed with ``WESTGARD_WARNING`` for a 1-2s, not
applicable when no targets judge yet. Every processed run, any verdict,
is then recorded in the database (``qc_runs``) for the trends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from il6assay.qc.m10 import QC_ROLES
from il6assay.qc.rules import STUDY_REJECT, RuleResult
from il6assay.study.qc import (
    BASELINE_RUNS,
    RULE_ID,
    RunQc,
    Target,
    certificate_targets,
    established_targets,
    targets_for,
)
from il6assay.study.westgard import SOURCE, Violation

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from il6assay.project import Project
    from il6assay.run import Run

DESCRIPTION = "control values against the study's targets (Westgard multirule, across runs)"
REJECT = STUDY_REJECT


def open_study(project: Project, db: str | None = None) -> StudyCheck | None:
    """The study check for ``process``/``batch``: None when no study database is configured.

    ``db`` is ``--db``; else the project's database ($IL6ASSAY_DB or il6assay.toml's
    ``db``, by il6assay.project's one path rule). A configured database that cannot be
    reached is not a reason to refuse a plate: the check then says it was not evaluated
    and why (and the run is not recorded).
    """
    url, _ = project.database(db)
    if url is None:
        return None
    return StudyCheck(url, project.control_targets, project.path)


class StudyCheck:
    """The study's QC history and targets, loaded once; judges and records runs in time order."""

    def __init__(
        self, db: str, control_targets: Mapping[str, Any], config_path: Path | None = None
    ):
        from il6assay.db.engine import make_engine, require_schema
        from il6assay.errors import InputError
        from il6assay.study.store import load_qc

        # bad targets: bad input
        self.certificate = certificate_targets(control_targets, config_path)
        self.engine: Engine | None = None
        self.error: str | None = None
        self.history: list[RunQc] = []
        try:
            self.engine = make_engine(db, must_exist=True)
            require_schema(self.engine)
            self.history = load_qc(self.engine)
        except InputError as err:
            self.engine, self.error = None, str(err)
        self.established = established_targets(self.history)

    def check_subjects(self, runs: Sequence[Run]) -> None:
        """Refuse study IDs off the roster, or confusable with stored ones (db.roster)."""
        from il6assay.db.roster import check_engine_subjects

        if self.engine is None:
            return
        ids = [s.study_id for run in runs for s in run.samples if s.study_id]
        check_engine_subjects(self.engine, list(dict.fromkeys(ids)))

    def targets(self, kit_lot: str | None) -> dict[str, Target]:
        """The targets a run of this kit lot is judged against: the certificate's, else those
        established from this lot's own accepted runs (provisional until 20; issue 25)."""
        from il6assay.study.lots import targets_of_lot

        lots = {h.kit_lot for h in self.history}
        if len(lots) <= 1 and kit_lot in lots | {None}:
            return targets_for(self.certificate, self.established, kit_lot)
        return targets_of_lot(self.certificate, self.history, kit_lot)

    def _judge_lot(self, run: Run, qc: RunQc) -> None:
        """With a method profile adopted, the LOT_BRIDGE rule (il6assay.study.lots)."""
        from il6assay.qc.dilutions import combine
        from il6assay.study.lots import RULE_ID as LOT_RULE
        from il6assay.study.lots import lot_bridge_rule

        assert self.engine is not None
        rule = lot_bridge_rule(self.engine, self.history, run.layout.kit_lot, qc.time())
        if rule is None:
            return
        run.rules = [r for r in run.rules if r.id != LOT_RULE] + [rule]
        if rule.passed is False:
            for s in run.samples:
                s.flag("PLATE_REJECTED")
            run.specimens = combine(run.samples)

    def judge(self, run: Run) -> RunQc:
        """Judge ``run``'s controls, add the WESTGARD rule to it; returns its QC figures.

        The run becomes history for the runs judged after it (in memory; ``record``
        stores it).
        """
        from il6assay.study.qc import from_run
        from il6assay.study.trends import judge

        if self.error is not None:
            detail = f"not evaluated: the study database cannot be used ({self.error})"
            run.rules = [r for r in run.rules if r.id != RULE_ID]
            run.rules.append(RuleResult(RULE_ID, DESCRIPTION, SOURCE, None, detail))
            run.warnings.append(f"Westgard check {detail}")
            return from_run(run)
        qc = from_run(run)
        before = [
            h
            for h in self.history
            if h.accepted and h.run_id != run.run_id and h.time() <= qc.time()
        ]
        targets = self.targets(run.layout.kit_lot)
        levels = {c.level for c in qc.controls}
        accepted = sum(h.accepted for h in self.history)
        apply_westgard(run, judge(qc, before, targets), targets, levels, accepted)
        bind_recorded_rejection(run, qc, self.history)
        self._judge_lot(run, qc)
        qc = from_run(run, processed_utc=qc.processed_utc)
        self.history = sorted(
            [h for h in self.history if h.run_id != qc.run_id] + [qc], key=RunQc.time
        )
        if not self.established or any(not t.judges for t in self.established.values()):
            self.established = established_targets(self.history)  # still being established
        return qc

    def record(self, qcs: Sequence[RunQc]) -> list[str]:
        """Store the runs' QC figures in the database (one transaction)."""
        from il6assay.study.store import record_qc

        if self.engine is None:
            return ["not recorded" for _ in qcs]
        return record_qc(self.engine, qcs, check_schema=False)

    def remember(self, folders: Sequence[Path]) -> None:
        """Record the run folders just written as verified (``verified_runs``): processing
        made them from their inputs, so a push of them unchanged need not process them again."""
        from il6assay.db.verified import StudyMemory
        from il6assay.errors import InputError
        from il6assay.record.folder import open_run
        from il6assay.record.verify import record_sha256, verification_key

        if self.engine is None:
            return
        memory = StudyMemory(self.engine, "process")
        try:
            for path in folders:
                folder = open_run(path)
                memory.remember(folder, verification_key(folder), record_sha256(folder.record))
        except InputError:
            return  # not remembered: push then processes the run again, nothing is lost


def recorded_rejection(
    export_sha256: str | None, run_id: str, history: Sequence[RunQc]
) -> RunQc | None:
    """The study's recorded Westgard rejection of this export (or this run id), or None."""
    for h in history:
        same = h.run_id == run_id or (export_sha256 and h.export_sha256 == export_sha256)
        if same and any(t.startswith(REJECT) for t in h.westgard):
            return h
    return None


def bind_recorded_rejection(run: Run, qc: RunQc, history: Sequence[RunQc]) -> RuleResult | None:
    """A Westgard rejection the study recorded for this export binds this run too.

    Processing an export again (other settings, another day, a history that
    changed since) cannot undo a rejection of its controls: the run's
    ``WESTGARD`` rule fails, naming the run whose verdict binds it.
    """
    from il6assay.qc.dilutions import combine

    bound = recorded_rejection(qc.export_sha256, run.run_id, history)
    current = next((r for r in run.rules if r.id == RULE_ID), None)
    if bound is None or (current is not None and current.passed is False):
        return None
    said = next(t for t in bound.westgard if t.startswith(REJECT)).split(". Targets:")[0]
    detail = (
        f"{REJECT}: the study recorded a Westgard rejection of this export "
        f"(run {bound.run_id}: {said.removeprefix(REJECT + ': ')}), which binds every run of it"
    )
    wells = [w.name for w in run.wells if w.spec.role in QC_ROLES]
    rule = RuleResult(RULE_ID, DESCRIPTION, SOURCE, False, detail, wells)
    run.rules = [r for r in run.rules if r.id != RULE_ID] + [rule]
    for s in run.samples:
        s.flag("PLATE_REJECTED")
    run.specimens = combine(run.samples)
    return rule


def apply_westgard(
    run: Run,
    violations: Sequence[Violation],
    targets: Mapping[str, Target],
    levels: set[str],
    accepted_runs: int,
) -> RuleResult:
    """Add the WESTGARD acceptance rule to ``run`` (see the module docstring); returns it."""
    from il6assay.qc.dilutions import combine

    judging = {lv: t for lv, t in targets.items() if t.judges and lv in levels}
    rejects = [v for v in violations if v.reject]
    warnings = [v for v in violations if not v.reject]
    parts = []
    if rejects:
        parts.append(f"{REJECT}: " + "; ".join(v.text() for v in rejects))
    if warnings:
        parts.append("WESTGARD_WARNING: " + "; ".join(v.text() for v in warnings))
    if not judging:
        passed = None
        detail = (
            f"not evaluated: no control targets judge yet (no certificate targets in "
            f"il6assay.toml, {accepted_runs} accepted run(s) of the {BASELINE_RUNS} that "
            "establish them)"
        )
    else:
        passed = not rejects
        detail = "; ".join(parts) if parts else "no rule broken"
        detail += ". Targets: " + "; ".join(judging[lv].describe() for lv in sorted(judging))
    fault = {lv for v in rejects for lv in v.levels}
    wells = [w.name for w in run.wells if w.spec.role in QC_ROLES and w.spec.level in fault]
    rule = RuleResult(RULE_ID, DESCRIPTION, SOURCE, passed, detail, wells)
    run.rules = [r for r in run.rules if r.id != RULE_ID] + [rule]
    if warnings:
        run.warnings.append("WESTGARD_WARNING: " + "; ".join(v.text() for v in warnings))
    if rejects:
        for s in run.samples:
            s.flag("PLATE_REJECTED")
        run.specimens = combine(run.samples, run.settings.rules)
    return rule
