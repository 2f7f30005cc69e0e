"""One plate from export to verdict: the library call behind ``il6assay process``.

``process_plate`` reads the export, joins it to the layout and the sample
sheet by well name, fits the curve, back-calculates every well and sample,
applies the acceptance rules and returns a :class:`Run`; writing it to disk is
``il6assay.record.outputs.write_run``. A statistician can call it without the CLI::

    from il6assay import process_plate
    run = process_plate("plate.xlsx", "layout.toml", "samples.csv")
    run.accepted, run.lloq, [s.result for s in run.samples]
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from il6assay import __version__
from il6assay.curve.detection import detection_limits
from il6assay.curve.fit import NOISE_WEIGHTING, CurveFit, fit_curve
from il6assay.curve.noise import plate_noise
from il6assay.curve.outliers import suspect_outliers
from il6assay.errors import InputError
from il6assay.plate.export import Export, Plate
from il6assay.plate.hashing import sha256_bytes, sha256_file
from il6assay.plate.layout import Layout
from il6assay.plate.layout_sheet import read_layout
from il6assay.plate.readers import read_export
from il6assay.plate.samples import SampleSheet, load_samples, match_samples
from il6assay.plate.wells import Well, build_wells
from il6assay.qc import m10
from il6assay.qc.dilutions import Specimen, combine
from il6assay.qc.method import flag_dilutions, profile_range, profile_rules
from il6assay.qc.results import (
    SampleResult,
    apply_sheet_dilutions,
    back_calculate_wells,
    censor_wells,
    evaluate_samples,
    group_samples,
)
from il6assay.qc.rules import (
    RuleResult,
    StandardLevel,
    calibration_rules,
    evaluate_controls,
    evaluate_standards,
    quantification_range,
    verdict_text,
)
from il6assay.qc.tables import dilution_rows, result_rows, well_rows
from il6assay.settings import (
    FIT_STANDARDS_CHOICES,
    RULE_PROFILES,
    ZERO_STANDARD_CHOICES,
    Settings,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Run:
    """Everything one plate's processing produced, before it is written anywhere."""

    export: Export
    plate: Plate
    layout: Layout
    sheet: SampleSheet | None
    settings: Settings
    read: str
    reference: str | None
    wells: list[Well]
    curve: CurveFit
    levels: list[StandardLevel]
    lloq: float | None
    uloq: float | None
    rules: list[RuleResult]
    samples: list[SampleResult]
    specimens: list[Specimen] = field(default_factory=list)
    allow_unmatched: bool = False
    warnings: list[str] = field(default_factory=list)
    run_id: str = ""
    comparison: dict[str, Any] = field(default_factory=dict)
    detection: dict[str, Any] = field(default_factory=dict)
    noise: dict[str, Any] | None = None  # the plate's replicate noise, for "1/(k^2+y^2)"
    # m10 rules: the levels left out of the refitted curve, and the first fit (with them).
    excluded_levels: list[StandardLevel] = field(default_factory=list)
    first_curve: CurveFit | None = None
    qcs: list[dict[str, Any]] = field(default_factory=list)  # m10: each QC's reportable value
    processed_by: str | None = None  # who processed it (process --by), for separation of duties
    processed_utc: str | None = None  # when first processed (a refit keeps it; None: now)

    @property
    def accepted(self) -> bool:
        """True when every applicable acceptance rule passed."""
        return all(r.passed is not False for r in self.rules)

    @property
    def failed_rules(self) -> list[RuleResult]:
        """The rules that rejected the plate."""
        return [r for r in self.rules if r.passed is False]

    @property
    def verdict(self) -> str:
        """One line: accepted, or rejected with each failed rule named."""
        return verdict_text(self.rules)

    def well_rows(self) -> tuple[list[str], list[dict[str, Any]]]:
        """(columns, rows) of wells.csv: every well, raw reads kept."""
        return well_rows(self.wells, list(self.plate.reads), self.curve)

    def result_rows(self) -> list[dict[str, Any]]:
        """results.csv rows: one per specimen (study ID and visit), dilutions combined."""
        return result_rows(self.specimens, self.run_id, self.lloq, self.uloq)

    @property
    def lloq_raised(self) -> bool:
        """True when an excluded standard level below the LLOQ raised it (m10 rules)."""
        return m10.raised_lloq(self.levels, self.lloq)

    def dilution_rows(self) -> list[dict[str, Any]]:
        """dilutions.csv rows: every sample label at every dilution."""
        return dilution_rows(self.samples, self.run_id, self.lloq, self.uloq)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(results, wells) as pandas DataFrames, the tables results.csv and wells.csv hold."""
        import pandas as pd

        columns, wells = self.well_rows()
        return pd.DataFrame(self.result_rows()), pd.DataFrame(wells, columns=columns)

    def input_files(self) -> dict[str, list[Path]]:
        """The files that made this run, by kind (export, layout with includes, samples)."""
        return {
            "export": [self.export.path],
            "layout": list(self.layout.files),
            "samples": [self.sheet.path] if self.sheet else [],
        }


def _check_settings(settings: Settings) -> None:
    from il6assay.curve.fit import MODELS, WEIGHTINGS

    if settings.model not in MODELS:
        raise InputError(f"unknown model '{settings.model}' (expected {', '.join(MODELS)})")
    if settings.weighting not in WEIGHTINGS:
        raise InputError(
            f"unknown weighting '{settings.weighting}' (expected {', '.join(WEIGHTINGS)})"
        )
    if settings.zero_standard not in ZERO_STANDARD_CHOICES:
        raise InputError(
            f"unknown zero_standard '{settings.zero_standard}' "
            f"(expected {', '.join(ZERO_STANDARD_CHOICES)})"
        )
    if settings.rules not in RULE_PROFILES:
        raise InputError(f"unknown rules '{settings.rules}' (expected {', '.join(RULE_PROFILES)})")
    if settings.fit_standards not in FIT_STANDARDS_CHOICES:
        raise InputError(
            f"unknown fit_standards '{settings.fit_standards}' "
            f"(expected {', '.join(FIT_STANDARDS_CHOICES)})"
        )
    k = settings.k_od
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, float)) or not k > 0):
        raise InputError(f"k_od must be a positive number of OD units, not {k!r}")


def choose_plate(export: Export, plate_id: str | None, *, size: int = 96) -> Plate:
    """The plate to process: the only one, or the one named by ``plate_id``; of ``size`` wells."""
    ids = [p.id for p in export.plates]
    if plate_id is not None:
        matches = [p for p in export.plates if p.id == plate_id]
        if not matches:
            raise InputError(
                f"no plate '{plate_id}' in the export (plates: {', '.join(ids)})",
                path=export.path,
            )
        plate = matches[0]
    elif len(export.plates) > 1:
        raise InputError(
            f"the export holds {len(ids)} plates ({', '.join(ids)}): choose one with --plate",
            path=export.path,
        )
    else:
        plate = export.plates[0]
    if plate.size == 1536:
        raise InputError(
            f"plate '{plate.id}' is a 1536-well plate: il6assay has no 1536-well layout, so it "
            "reads and inspects such a plate but does not process it",
            path=export.path,
        )
    if plate.size != size:
        hint = (
            "give a 384-well layout (wells = 384 in the layout file)"
            if plate.size == 384
            else f"give a {plate.size}-well layout"
        )
        raise InputError(
            f"plate '{plate.id}' has {plate.size} wells but the layout describes a "
            f"{size}-well plate: {hint}",
            path=export.path,
        )
    return plate


def plate_ids(export: str | Path | Export, *, reader: str | None = None) -> list[str]:
    """The ids of an export's plates, in file order (what ``--plate`` takes)."""
    if not isinstance(export, Export):
        export = read_export(export, reader=reader)
    return [p.id for p in export.plates]


def process_export(
    export: str | Path | Export,
    layout: str | Path | Layout,
    samples: str | Path | SampleSheet | None = None,
    settings: Settings | None = None,
    *,
    reader: str | None = None,
    allow_unmatched: bool = False,
) -> list[Run]:
    """Process every plate of an export (a Run each, in file order), or ``settings.plate``.

    The layout and sample sheet apply to every plate. Bad input on any plate
    raises InputError naming the plate before any Run is returned, so a
    caller writes all the run folders or none.
    """
    settings = settings or Settings()
    if not isinstance(export, Export):
        export = read_export(export, reader=reader)
    if not isinstance(layout, Layout):
        layout = read_layout(layout)  # TOML, or an XLSX/CSV sheet
    if not isinstance(samples, SampleSheet) and samples is not None:
        samples = load_samples(samples)
    check_sheet_plates(export, samples, settings)
    if settings.plate is not None or len(export.plates) == 1:
        return [process_plate(export, layout, samples, settings, allow_unmatched=allow_unmatched)]
    runs = []
    for plate in export.plates:
        try:
            run = process_plate(
                export,
                layout,
                samples,
                replace(settings, plate=plate.id),
                allow_unmatched=allow_unmatched,
            )
        except InputError as err:
            err.message = f"plate '{plate.id}': {err.message}"
            raise
        runs.append(run)
    return runs


def check_sheet_plates(export: Export, samples: Any, settings: Settings) -> None:
    """Refuse a sample sheet without a plate column for every plate of a multi-plate export."""
    if (
        isinstance(samples, SampleSheet)
        and samples.by_plate is None
        and settings.plate is None
        and len(export.plates) > 1
    ):
        raise InputError(
            f"the export holds {len(export.plates)} plates "
            f"({', '.join(p.id for p in export.plates)}) and the sample sheet names none: "
            "give it a plate column (each row's plate), or process one plate (--plate ID)",
            path=samples.path,
        )


def process_plate(
    export: str | Path | Export,
    layout: str | Path | Layout,
    samples: str | Path | SampleSheet | None = None,
    settings: Settings | None = None,
    *,
    reader: str | None = None,
    allow_unmatched: bool = False,
) -> Run:
    """Process one plate end to end; raises InputError for bad input, never for a bad plate."""
    settings = settings or Settings()
    _check_settings(settings)
    if not isinstance(export, Export):
        export = read_export(export, reader=reader)
    if not isinstance(layout, Layout):
        layout = read_layout(layout)  # TOML, or an XLSX/CSV sheet
    sheet = (
        samples if isinstance(samples, SampleSheet) or samples is None else load_samples(samples)
    )
    plate = choose_plate(export, settings.plate, size=layout.size)
    if sheet is not None:
        sheet = sheet.for_plate(plate.id, export.path.name)
    try:
        wells, read, reference = build_wells(plate, layout, settings)
    except InputError as err:
        raise err.at(export.path) from None

    # Files named by their name, never their path: verification reads them from inputs/.
    warnings: list[str] = [f"{export.path.name}: {w}" for w in export.warnings]
    sample_labels = list(
        dict.fromkeys(w.spec.sample for w in wells if w.spec.role == "sample" and w.spec.sample)
    )
    if sheet is not None:
        warnings += match_samples(sample_labels, sheet, allow_unmatched, layout=layout.path)
        if sheet.ignored_columns:
            ignored = ", ".join(sheet.ignored_columns)
            warnings.append(f"{sheet.path.name}: ignored column(s) {ignored} (not stored)")
    elif not allow_unmatched:
        raise InputError("no sample sheet: give --samples FILE (or --allow-unmatched)")

    standards = [w for w in wells if w.spec.role == "standard"]
    noise = _noise(wells, settings)
    k = noise["k_od"] if noise is not None else None
    apply_sheet_dilutions(wells, sheet.rows if sheet else {})
    fit_points, conc, ods, curve = _fit_standards(standards, settings, k)
    _flag_outliers(fit_points, curve)
    back_calculate_wells(wells, curve)
    first_curve, excluded = None, {}
    if settings.rules == "m10":
        levels = m10.evaluate_standards(standards, settings)
        failed = [lv for lv in levels if not lv.passed]
        if curve.success and failed and m10.refit_can_pass(levels, settings):
            # ICH M10: a failed standard is rejected and the curve re-evaluated without it, once.
            first_curve, excluded = curve, {lv.nominal: lv for lv in failed}
            for w in wells:  # what the first fit made of the wells is recomputed
                w.flags = [f for f in w.flags if f not in DERIVED_FLAGS]
                w.conc = w.conc_on_plate = w.recovery_pct = w.passed = None
            fit_points, conc, ods, curve = _fit_standards(standards, settings, k, set(excluded))
            _flag_outliers(fit_points, curve)
            back_calculate_wells(wells, curve)
            levels = m10.evaluate_standards(standards, settings, excluded)
    else:
        levels = evaluate_standards(standards, settings)
    lloq, uloq, range_rule = quantification_range(levels, curve, settings)
    lloq, uloq = profile_range(settings.method_profile, lloq, uloq)  # the validated range
    if settings.rules == "m10":
        rules = m10.calibration_rules(levels, curve.success, curve.message, settings)
    else:
        rules = calibration_rules(levels, curve.success, curve.message, settings)
    rules.insert(1, range_rule)
    comparison = compare_models(conc, ods, fit_points, settings, curve, k)
    qc_figures: list[dict[str, Any]] = []
    if settings.rules == "m10":
        rules.append(m10.qc_design_rule(wells))
        controls_rule, qc_figures = m10.evaluate_qcs(wells, settings)
        rules.append(controls_rule)
        rules.append(m10.qc_range_rule(wells, lloq, uloq))
    else:
        rules.append(evaluate_controls(m10.qc_wells(wells), settings))
    rules += profile_rules(settings.method_profile, wells)  # the profile's QCs and targets

    sample_results = group_samples(wells, sheet.rows if sheet else {})
    passing = [lv.nominal for lv in levels if lv.passed]
    raised = m10.raised_lloq(levels, lloq)
    evaluate_samples(sample_results, curve, lloq, uloq, passing, settings, lloq_raised=raised)
    flag_dilutions(settings.method_profile, sample_results)  # the validated dilutions
    censor_wells(wells, lloq, uloq)
    run = Run(
        export=export,
        plate=plate,
        layout=layout,
        sheet=sheet,
        settings=settings,
        read=read,
        reference=reference,
        wells=wells,
        curve=curve,
        levels=levels,
        lloq=lloq,
        uloq=uloq,
        rules=rules,
        samples=sample_results,
        warnings=warnings,
        allow_unmatched=allow_unmatched,
    )
    run.comparison = comparison
    run.noise = noise
    run.first_curve, run.excluded_levels, run.qcs = (
        first_curve,
        [lv for lv in levels if lv.excluded],
        qc_figures,
    )
    run.detection = detection_limits(wells, curve)
    for s in sample_results:
        for code in curve.warnings:
            if code != "FLAT_CURVE":  # a flat curve is a failed fit: FIT_FAILED says it
                s.flag(code)
    if not run.accepted:
        for s in sample_results:
            s.flag("PLATE_REJECTED")
    run.specimens = combine(sample_results, settings.rules)
    run.run_id = make_run_id(run)
    return run


# Flags a fit puts on wells: cleared before the m10 refit makes them again.
DERIVED_FLAGS = (
    "SUSPECT_OUTLIER",
    "BELOW_CURVE",
    "ABOVE_CURVE",
    "STANDARD_FAILED",
    "STANDARD_EXCLUDED",
)


def _flag_outliers(points: list[Well], curve: CurveFit) -> None:
    """SUSPECT_OUTLIER on the standard wells the robust test marks against this fit."""
    conc = [float(w.spec.nominal or 0.0) for w in points]
    ods = [float(w.od) for w in points]  # type: ignore[arg-type]
    for i in suspect_outliers(conc, ods, curve):
        points[i].flag("SUSPECT_OUTLIER")


def _noise(wells: list[Well], settings: Settings) -> dict[str, Any] | None:
    """The k of the "1/(k^2+y^2)" weighting: fixed in the settings, else measured.

    Under the m10 rules it is measured on the method's own wells (standards,
    blanks, QCs), never on study samples: one specimen's wells cannot move
    another's result. The kit rules keep the samples' replicate pairs too.
    """
    if settings.weighting != NOISE_WEIGHTING:
        return None
    if settings.k_od is not None:
        return {"k_od": float(settings.k_od), "source": "fixed in the settings (k_od)"}
    if settings.rules == "m10":
        return plate_noise(wells, roles=("standard", "blank", *m10.QC_ROLES))
    return plate_noise(wells)


def _fit_standards(
    standards: list[Well], settings: Settings, k: float | None, excluded: set[float] = frozenset()
) -> tuple[list[Well], list[float], list[float], CurveFit]:
    """The curve through the standards: every well, or each level's mean (``fit_standards``).

    Returns the wells that entered the fit, the fitted (conc, OD) points and the fit.
    The zero standard is left out when it is subtracted or excluded; masked and
    unread wells have no OD and are left out of their level's mean too.
    """
    points = [
        w
        for w in standards
        if w.od is not None
        and float(w.spec.nominal or 0.0) not in excluded
        and not (settings.zero_standard in ("subtract", "exclude") and not w.spec.nominal)
    ]
    if settings.fit_standards == "means":
        by_level: dict[float, list[float]] = {}
        for w in points:
            by_level.setdefault(float(w.spec.nominal or 0.0), []).append(float(w.od))  # type: ignore[arg-type]
        conc = sorted(by_level, reverse=True)
        ods = [math.fsum(by_level[x]) / len(by_level[x]) for x in conc]
    else:
        conc = [float(w.spec.nominal or 0.0) for w in points]
        ods = [float(w.od) for w in points]  # type: ignore[arg-type]
    curve = fit_curve(conc, ods, model=settings.model, weighting=settings.weighting, k=k)
    return points, conc, ods, curve


def compare_models(
    conc: list[float],
    ods: list[float],
    points: list[Well],
    settings: Settings,
    chosen: CurveFit,
    k: float | None = None,
) -> dict[str, Any]:
    """Both models' AIC, RSS and standards' recoveries, for the reviewer; the choice stays."""
    from il6assay.curve.fit import MODELS

    out: dict[str, Any] = {"chosen": settings.model}
    fits: dict[str, CurveFit] = {settings.model: chosen}
    for model in MODELS:
        if model not in fits:
            # The 5PL starts from the 4PL fitted here (the chosen one, or the quick one fitted
            # for this comparison) instead of fitting a quick 4PL of its own (fit_curve's four).
            fits[model] = fit_curve(
                conc,
                ods,
                model,
                settings.weighting,
                k=k,
                quick=True,
                four=fits.get("4pl") if model == "5pl" else None,
            )
        fit = fits[model]
        recoveries = {}
        if fit.success:
            for w, x in zip(points, fit.inverse([float(p.od) for p in points]), strict=True):  # type: ignore[arg-type]
                if w.spec.nominal and math.isfinite(x):
                    recoveries[w.name] = round(100.0 * float(x) / w.spec.nominal, 2)
        summary = fit.summary()  # once: it builds the covariance and every figure
        out[model] = {
            "success": fit.success,
            "aic": summary["aic"],
            "rss": summary["rss"],
            "params": summary["params"],
            "recovery_pct": recoveries,
        }
    return out


# Settings added with the rule profiles, at the values that reproduce il6assay 0.2: left out
# of the run id's hash, so that a folder processed before keeps its name when verified.
SETTINGS_BEFORE_PROFILES = {"rules": "kit", "fit_standards": "wells", "k_od": None}


def make_run_id(run: Run, version: str = __version__) -> str:
    """Folder name: the plate's name and a short hash of every input, setting and the version."""
    return run_id_for(run.export, run.plate, run.settings, run.input_files(), version)


def run_id_for(
    export: Export,
    plate: Plate,
    settings: Settings,
    files: dict[str, list[Path]],
    version: str = __version__,
) -> str:
    """The run id of ``plate`` processed with ``settings`` from ``files`` (by kind), unprocessed."""
    parts = []
    for kind, paths in files.items():
        for p in paths:
            # An export built in memory (a simulation) has no file: hash its reads.
            digest = sha256_file(p) if p.is_file() else _reads_digest(plate)
            parts.append(f"{kind}:{p.name}:{digest}\n")
    recorded = settings.to_dict()
    for key, value in SETTINGS_BEFORE_PROFILES.items():
        if recorded.get(key) == value:  # a run at 0.2's judgement keeps 0.2's run id
            recorded.pop(key)
    parts.append(json.dumps(recorded, sort_keys=True))
    parts.append(f"plate:{plate.id}\nversion:{version}")
    digest = sha256_bytes("".join(parts))
    stem = _safe(export.path.stem) or "plate"
    plate_name = _safe(plate.id)
    name = stem if plate_name in ("", stem) or len(export.plates) == 1 else f"{stem}_{plate_name}"
    return f"{name}-{digest[:10]}"


def _reads_digest(plate: Plate) -> str:
    text = json.dumps({k: {w: repr(v) for w, v in g.items()} for k, g in plate.reads.items()})
    return sha256_bytes(text)


def _safe(text: str) -> str:
    """A file name's readable part for a folder name: every letter and digit kept.

    Unicode letters, digits and combining marks stay (``第一板`` is not
    stripped: ``第一板 plate 001`` must not read as ``plate_001``), NFC
    normalised; anything else (spaces, punctuation, path separators,
    invisible format characters) becomes one '_'. It never starts with
    '-' or '.', so no command takes the folder for an option or a hidden file.
    """
    text = unicodedata.normalize("NFC", text)
    kept = "".join(c if c in "._-" or unicodedata.category(c)[0] in "LMN" else "_" for c in text)
    kept = re.sub(r"_+", "_", kept).strip("._-")
    return kept[:60].rstrip("._-")
