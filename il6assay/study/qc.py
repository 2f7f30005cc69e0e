"""A run's QC figures for the trends, and the control targets they are judged against.

``RunQc`` is what the Levey-Jennings charts plot for one run: its time (the
export's acquisition time, else the processing time), kit lot, verdict, each
control level's value (the mean back-calculated concentration of its wells
that have one), the top standard's mean OD, the curve's midpoint c and the
LLOQ/ULOQ. It is built from the run's own documents (run.json and
curve.json, or a ``Run`` in memory), so the same numbers come from a run
folder, from a run being processed and from a pushed run in the database.

Targets (mean and SD per control level) come from the kit's certificate,
written in ``il6assay.toml``::

    [control_targets.low]
    mean = 20.0          # pg/mL, the certificate's target
    sd = 1.5             # pg/mL
    kit_lot = "A1234"    # optional: the targets apply to runs of this lot only
    source = "certificate of analysis, lot A1234"   # optional, shown on the chart

or, for a level the file does not give, are established from the first 20
accepted runs (rules and review) in time order: their mean and SD. Fewer
than 20 make *provisional* targets, which the chart says and which never
judge a new run.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from il6assay.errors import InputError
from il6assay.qc.rules import STUDY_RULES

if TYPE_CHECKING:
    from il6assay.run import Run

BASELINE_RUNS = 20
CERTIFICATE, ESTABLISHED, PROVISIONAL = "certificate", "established", "provisional"
TARGET_KEYS = ("mean", "sd", "kit_lot", "source")


@dataclass
class ControlValue:
    """One control level in one run: the mean concentration of its wells that have a number."""

    level: str
    nominal_pg_ml: float | None
    value_pg_ml: float | None
    n_wells: int
    n_values: int
    wells: list[str] = field(default_factory=list)


@dataclass
class RunQc:
    """One run's QC figures: what the control and standard trends plot."""

    run_id: str
    plate_id: str | None
    export_file: str | None
    kit_lot: str | None
    run_time: str
    time_source: str  # "acquired" (the export's read time) or "processed"
    processed_utc: str | None
    accepted_by_rules: bool
    verdict: str
    review_status: str
    westgard: list[str] = field(default_factory=list)  # rule texts recorded at processing
    top_standard_level: str | None = None
    top_standard_pg_ml: float | None = None
    top_standard_od: float | None = None
    curve_c: float | None = None
    lloq_pg_ml: float | None = None
    uloq_pg_ml: float | None = None
    controls: list[ControlValue] = field(default_factory=list)
    pushed: bool = False
    export_sha256: str | None = None  # the raw export's: a recorded verdict binds every run of it

    @property
    def accepted(self) -> bool:
        """Accepted by the rules and not rejected by a reviewer: a run targets may be drawn from."""
        return self.accepted_by_rules and self.review_status != "rejected"

    def values(self) -> dict[str, float | None]:
        """{control level: value} as ``westgard.check`` takes a run."""
        return {c.level: c.value_pg_ml for c in self.controls}

    def time(self) -> datetime:
        """The run's time as a datetime (naive times, as readers print them, taken as UTC)."""
        return parse_time(self.run_time)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        out = {k: v for k, v in self.__dict__.items() if k != "controls"}
        out["controls"] = [c.__dict__ for c in self.controls]
        return out


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; one without an offset is taken as UTC (so all times sort together)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def from_documents(run_doc: Mapping[str, Any], curve_doc: Mapping[str, Any]) -> RunQc:
    """A run's QC figures from its run.json and curve.json contents."""
    export = run_doc.get("export") or {}
    metadata = export.get("metadata") or {}
    acquired = metadata.get("read_datetime")
    processed = run_doc.get("created_utc")
    by_level: dict[str, list[dict[str, Any]]] = {}
    for c in curve_doc.get("controls") or []:
        by_level.setdefault(str(c.get("level")), []).append(c)
    controls = []
    for level, wells in by_level.items():
        values = [v for v in (_finite(w.get("conc_pg_ml")) for w in wells) if v is not None]
        controls.append(
            ControlValue(
                level=level,
                nominal_pg_ml=_finite(wells[0].get("nominal_pg_ml")),
                value_pg_ml=math.fsum(values) / len(values) if values else None,
                n_wells=len(wells),
                n_values=len(values),
                wells=[str(w.get("well")) for w in wells],
            )
        )
    top_level, top_nominal, top_od = None, None, None
    standards = [s for s in curve_doc.get("standards") or [] if _finite(s.get("nominal_pg_ml"))]
    if standards:
        top = max(standards, key=lambda s: s["nominal_pg_ml"])
        ods = [v for v in (_finite(w.get("od")) for w in top.get("wells") or []) if v is not None]
        top_level, top_nominal = str(top.get("level")), float(top["nominal_pg_ml"])
        top_od = math.fsum(ods) / len(ods) if ods else None
    fit = curve_doc.get("fit") or {}
    curve_c = _finite((fit.get("params") or {}).get("c")) if fit.get("success") else None
    westgard = [
        str(r.get("detail"))
        for r in curve_doc.get("rules") or []
        if r.get("id") == RULE_ID and r.get("detail")
    ]
    return RunQc(
        run_id=str(run_doc.get("run_id") or curve_doc.get("run_id")),
        plate_id=export.get("plate_id"),
        export_file=export.get("file"),
        kit_lot=run_doc.get("kit_lot"),
        run_time=str(acquired or processed or ""),
        time_source="acquired" if acquired else "processed",
        processed_utc=processed,
        accepted_by_rules=bool(curve_doc.get("accepted")),
        verdict=str(curve_doc.get("verdict") or run_doc.get("verdict") or ""),
        review_status=str((run_doc.get("review") or {}).get("status") or "unreviewed"),
        westgard=westgard,
        top_standard_level=top_level,
        top_standard_pg_ml=top_nominal,
        top_standard_od=top_od,
        curve_c=curve_c,
        lloq_pg_ml=_finite(curve_doc.get("lloq_pg_ml")),
        uloq_pg_ml=_finite(curve_doc.get("uloq_pg_ml")),
        controls=sorted(controls, key=lambda c: (c.nominal_pg_ml or 0.0, c.level)),
        export_sha256=(((run_doc.get("inputs") or {}).get("export") or [{}])[0]).get("sha256"),
    )


def from_run(run: Run, *, processed_utc: str | None = None) -> RunQc:
    """The QC figures of a run in memory (being processed), as its folder will record them."""
    from il6assay.record.outputs import curve_document

    run_doc = {
        "run_id": run.run_id,
        "created_utc": processed_utc or datetime.now(UTC).isoformat(timespec="seconds"),
        "export": {
            "file": str(run.export.path),
            "plate_id": run.plate.id,
            "metadata": run.plate.metadata,
        },
        "kit_lot": run.layout.kit_lot,
        "review": {"status": "unreviewed"},
    }
    if run.export.path.is_file():
        from il6assay.plate.hashing import sha256_file

        run_doc["inputs"] = {"export": [{"sha256": sha256_file(run.export.path)}]}
    return from_documents(run_doc, curve_document(run))


def from_folder(path: Any) -> RunQc:
    """The QC figures of a run folder, checked against its recorded hashes first."""
    from il6assay.record.folder import open_run

    folder = open_run(path)
    return from_documents(folder.record, folder.curve.raw)


@dataclass(frozen=True)
class Target:
    """A control level's target: mean and SD (pg/mL), their source, and from how many runs."""

    level: str
    mean: float
    sd: float
    source: str  # CERTIFICATE, ESTABLISHED or PROVISIONAL
    n_runs: int | None = None
    kit_lot: str | None = None
    note: str = ""

    @property
    def judges(self) -> bool:
        """Whether a new run is checked against it (provisional targets only draw the chart)."""
        return self.source != PROVISIONAL

    def describe(self) -> str:
        """One line: where the target comes from."""
        lot = f", kit lot {self.kit_lot}" if self.kit_lot else ""
        if self.source == CERTIFICATE:
            return f"{self.level}: {self.mean:g} ± {self.sd:g} pg/mL from the kit certificate" + (
                f" ({self.note}{lot})" if self.note or lot else ""
            )
        what = "established" if self.source == ESTABLISHED else "PROVISIONAL"
        return (
            f"{self.level}: {self.mean:.4g} ± {self.sd:.3g} pg/mL {what} from the first "
            f"{self.n_runs} accepted run(s)"
            + ("" if self.source == ESTABLISHED else f" (fewer than {BASELINE_RUNS})")
        )


def certificate_targets(raw: Any, path: Any = None) -> dict[str, Target]:
    """The ``[control_targets.LEVEL]`` tables of il6assay.toml (``path``), checked."""
    if not isinstance(raw, Mapping):
        raise InputError("control_targets must be a table of levels", path=path)
    out = {}
    for level, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise InputError(f"control_targets.{level} must be a table (mean, sd)", path=path)
        unknown = sorted(set(entry) - set(TARGET_KEYS))
        if unknown:
            raise InputError(
                f"control_targets.{level}: unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(TARGET_KEYS)}",
                path=path,
            )
        mean, sd = _finite(entry.get("mean")), _finite(entry.get("sd"))
        if mean is None or sd is None or sd <= 0:
            raise InputError(
                f"control_targets.{level} needs a number mean and a positive sd "
                f"(got mean = {entry.get('mean')!r}, sd = {entry.get('sd')!r})",
                path=path,
            )
        lot = entry.get("kit_lot")
        out[str(level)] = Target(
            str(level), mean, sd, CERTIFICATE, kit_lot=str(lot) if lot else None,
            note=str(entry.get("source") or ""),
        )  # fmt: skip
    return out


def established_targets(history: Iterable[RunQc]) -> dict[str, Target]:
    """Mean and SD per level of the first 20 accepted runs in time order (provisional if fewer)."""
    values: dict[str, list[float]] = {}
    for qc in sorted(history, key=RunQc.time):
        if not qc.accepted:
            continue
        for level, value in qc.values().items():
            if value is not None and len(values.setdefault(level, [])) < BASELINE_RUNS:
                values[level].append(value)
    out = {}
    for level, vs in values.items():
        if len(vs) < 2 or statistics.stdev(vs) <= 0:
            continue  # no SD yet: nothing to chart against
        source = ESTABLISHED if len(vs) >= BASELINE_RUNS else PROVISIONAL
        out[level] = Target(level, statistics.fmean(vs), statistics.stdev(vs), source, len(vs))
    return out


def targets_for(
    certificate: Mapping[str, Target], established: Mapping[str, Target], kit_lot: str | None
) -> dict[str, Target]:
    """The targets a run of ``kit_lot`` is judged against: the certificate's where they apply."""
    out = dict(established)
    for level, target in certificate.items():
        if target.kit_lot is None or target.kit_lot == kit_lot:
            out[level] = target
    return out


RULE_ID = STUDY_RULES[0]  # "WESTGARD": carried over when a run is processed again
