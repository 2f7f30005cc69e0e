"""A plate export taken in: read, processed, judged, written and recorded; for process and batch.

``il6assay process`` and every plate of ``il6assay batch`` go through this one
module, so every option, layout form (TOML or XLSX/CSV sheet) and setting of
one is the other's. :func:`open_intake` turns the project's settings and the
command's options into one :class:`Intake` (the plates' ``Settings`` with the
adopted method profile, the report language, the study check); then, for
each export:

1. :func:`read_inputs`: the export read, its layout and sample sheet found
   (``--layout``/``--samples``, else beside the export, else il6assay.toml's
   layout) and read;
2. :func:`plan_plates`: every plate of it (or ``--plate``'s) named by its run id
   (a hash of the inputs, settings and version) before any is processed;
3. :func:`process`: a plate fitted and judged by its own rules;
4. :meth:`Intake.judge`: with a study database, the roster check and the Westgard
   check of its controls after the runs before it (in time order);
5. :func:`write`: the run folder written whole or not at all, its audit chain begun;
6. :meth:`Intake.record`: with a study database, its QC figures stored and the
   folder remembered as verified.

:func:`take_in` runs them in order for one export (``process``: every plate
processed before any folder is written); ``batch`` runs 1-2 and 3+5 in worker
processes and 4 and 6 in its own, in time order (il6assay.study.batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from il6assay.errors import InputError
from il6assay.settings import Settings

if TYPE_CHECKING:
    from il6assay.plate.export import Export
    from il6assay.plate.layout import Layout
    from il6assay.plate.samples import SampleSheet
    from il6assay.project import Project
    from il6assay.run import Run


@dataclass
class Intake:
    """How every export of one command is taken in: settings, language, options, study."""

    settings: Settings  # il6assay.toml's, each option's, then the adopted method profile's
    out_dir: Path
    lang: str = "en"  # the reports' language (en or zh-CN)
    default_layout: Path | None = None  # il6assay.toml's layout
    reader: str | None = None  # --reader: the export format, detection skipped
    allow_unmatched: bool = False
    standalone_report: bool = False
    processed_by: str | None = None  # --by, else the OS account (in run.json)
    notes: tuple[str, ...] = ()  # what applying the method profile said
    # The Westgard check (il6assay.study.check.StudyCheck) when a study database is
    # configured; it stays in the process that opened it (never sent to a worker).
    study: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "study": None}

    def judge(self, runs: list[Run]) -> list[Any]:
        """The study's checks of ``runs`` (in time order): roster, then Westgard; QC figures."""
        if self.study is None:
            return []
        self.study.check_subjects(runs)  # the roster, or IDs confusable with stored ones
        return [self.study.judge(run) for run in runs]

    def record(self, qcs: list[Any], folders: list[Path]) -> None:
        """Store the judged runs' QC figures; their folders, made from inputs, as verified."""
        if self.study is not None and qcs:
            self.study.record(qcs)
            self.study.remember(folders)  # push need not process them again


def open_intake(
    project: Project,
    *,
    db: str | None = None,
    out: Path | None = None,
    lang: str | None = None,
    reader: str | None = None,
    allow_unmatched: bool = False,
    standalone_report: bool = False,
    processed_by: str | None = None,
    **choices: Any,
) -> Intake:
    """The intake of one command: ``choices`` are the processing options (model, rules, ...)."""
    from il6assay.db.method import profile_settings
    from il6assay.record.i18n import check_lang
    from il6assay.study.check import open_study

    report_lang = check_lang(lang or project.lang)
    settings = project.settings(**choices)
    # An adopted method profile in the study database holds every plate to it.
    settings, notes = profile_settings(settings, project.database(db)[0])
    who = processed_by.strip() if processed_by and processed_by.strip() else None
    return Intake(
        settings=settings,
        out_dir=Path(out) if out is not None else project.out,
        lang=report_lang,
        default_layout=project.layout,
        reader=reader,
        allow_unmatched=allow_unmatched,
        standalone_report=standalone_report,
        processed_by=who,
        notes=tuple(notes),
        study=open_study(project, db),  # None: no study database configured
    )


@dataclass
class PlateInputs:
    """One export as read: its file, layout and sample sheet (each found and read)."""

    export: Path
    layout: Path
    samples: Path | None
    read: Export = field(repr=False)
    layout_read: Layout = field(repr=False)
    sheet: SampleSheet | None = field(default=None, repr=False)


@dataclass
class PlannedPlate:
    """One plate of an export, named before it is processed: its settings and run id."""

    inputs: PlateInputs
    plate_id: str | None  # None: the export's only plate
    settings: Settings
    run_id: str
    acquired: str | None  # the reader's acquisition time, if the export says it


def read_inputs(
    intake: Intake, export: Path, layout: Path | None = None, samples: Path | None = None
) -> PlateInputs:
    """Read ``export``; find and read its layout (TOML or sheet) and sample sheet."""
    from il6assay.plate.discover import find_layout, find_samples
    from il6assay.plate.readers import read_export
    from il6assay.plate.readers.source import not_a_file
    from il6assay.run import check_sheet_plates

    problem = not_a_file(export)
    if problem:
        raise InputError(problem, path=export)
    parsed = read_export(export, reader=intake.reader)
    layout_path = find_layout(export, layout, intake.default_layout)
    try:
        samples_path: Path | None = find_samples(export, samples)
    except InputError:
        if not intake.allow_unmatched:
            raise
        samples_path = None  # results then carry no study IDs, flagged NO_STUDY_ID
    sheet = _sample_sheet(samples_path)
    check_sheet_plates(parsed, sheet, intake.settings)
    return PlateInputs(export, layout_path, samples_path, parsed, _layout(layout_path), sheet)


def plan_plates(intake: Intake, inputs: PlateInputs) -> list[PlannedPlate]:
    """Every plate of the export (``--plate``'s only), in file order, each named by its run id."""
    from il6assay.run import choose_plate, run_id_for

    export = inputs.read
    files = {
        "export": [inputs.export],
        "layout": list(inputs.layout_read.files),
        "samples": [inputs.samples] if inputs.samples else [],
    }
    chosen = intake.settings.plate is not None
    if chosen:
        plates = [choose_plate(export, intake.settings.plate, size=inputs.layout_read.size)]
    else:
        plates = list(export.plates)
    one = len(export.plates) == 1
    planned = []
    for plate in plates:
        # Each plate of several is named in its settings (--plate's already is).
        settings = intake.settings if one or chosen else replace(intake.settings, plate=plate.id)
        planned.append(
            PlannedPlate(
                inputs=inputs,
                plate_id=None if one else plate.id,
                settings=settings,
                run_id=run_id_for(export, plate, settings, files),
                acquired=plate.metadata.get("read_datetime"),
            )
        )
    return planned


def process(intake: Intake, plate: PlannedPlate) -> Run:
    """Fit and judge one planned plate by its own rules (in memory; nothing written)."""
    from il6assay.run import process_plate

    inputs = plate.inputs
    try:
        run = process_plate(
            inputs.read,
            inputs.layout_read,
            inputs.sheet,
            plate.settings,
            allow_unmatched=intake.allow_unmatched,
        )
    except InputError as err:
        if plate.plate_id is not None and intake.settings.plate is None:
            err.message = f"plate '{plate.plate_id}': {err.message}"
        raise err.at(inputs.export) from None
    run.processed_by = intake.processed_by
    return run


def write(
    intake: Intake, run: Run, *, replacing: Path | None = None, note: dict[str, Any] | None = None
) -> Path:
    """Write ``run``'s folder in the intake's output folder, whole or not at all."""
    from il6assay.record.outputs import write_run

    return write_run(
        run,
        intake.out_dir,
        standalone_report=intake.standalone_report,
        lang=intake.lang,
        replacing=replacing,
        note=note,
    )


@dataclass
class Taken:
    """One plate taken in: its run (results, verdict) and its run folder."""

    run: Run
    folder: Path


def take_in(
    intake: Intake, export: Path, layout: Path | None = None, samples: Path | None = None
) -> list[Taken]:
    """One export to judged, written, recorded run folders: every plate processed (and
    judged) before any folder is written, so bad input on one plate writes none."""
    inputs = read_inputs(intake, export, layout, samples)
    runs = [process(intake, plate) for plate in plan_plates(intake, inputs)]
    qcs = intake.judge(runs)
    folders = [write(intake, run) for run in runs]
    intake.record(qcs, folders)
    return [Taken(run, folder) for run, folder in zip(runs, folders, strict=True)]


# Layouts and sample sheets read in this process, by path and content hash: a day's plates
# share one layout (and a sheet may serve several exports), read once a batch, not a plate.
_READ: dict[tuple[str, str, str], Any] = {}


def _layout(path: Path) -> Layout:
    from il6assay.plate.layout_sheet import read_layout

    return _cached("layout", path, read_layout)


def _sample_sheet(path: Path | None) -> SampleSheet | None:
    from il6assay.plate.samples import load_samples

    return None if path is None else _cached("samples", path, load_samples)


def _cached(kind: str, path: Path, read: Any) -> Any:
    from il6assay.plate.hashing import sha256_file

    try:
        key = (kind, str(path), sha256_file(path))  # as named: run.json records the name
    except OSError:
        return read(path)  # the reader says what is wrong with it, in its words
    if key not in _READ:
        if len(_READ) > 64:
            _READ.clear()
        _READ[key] = read(path)
    return _READ[key]
