"""A day's plates in one call: every export of the given files and folders, by worker processes.

Every export is taken in as ``process`` takes it in, by the same steps of
il6assay.study.plate_intake (the same options, layouts, settings and
language): paired with its layout and sample sheet (``--layout``/``--samples``
for all, else beside the export, else il6assay.toml's layout); every plate of
a multi-plate export is a run. Plates are planned (read and named by their run
id) and processed in time order (the export's acquisition time, else the
order of the files) by N worker processes forked from this one, so the
libraries are imported once. Without a study database a worker processes and
writes a plate in one task and returns its outcome; with one, a worker
processes the plate, its controls are judged (Westgard, after the runs before
it, in time order) here in the parent, and a worker then writes the run
folder. One bad file never stops the batch: it becomes an outcome with its
one-line error.

A plate whose run folder (the same inputs and settings) is already in the
output folder is skipped unless ``force``: then it is processed again and
its folder replaced whole, keeping its audit log, with the replacement
recorded in it.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from il6assay.errors import InputError

if TYPE_CHECKING:
    from il6assay.study.plate_intake import Intake, PlannedPlate

NOT_EXPORTS = (".toml", ".md", ".py", ".html", ".js", ".samples.csv", ".samples.xlsx")
WRITTEN, SKIPPED, REPLACED, UNREADABLE = "written", "skipped", "replaced", "unreadable"
LOST = "lost"  # its worker process died: nothing of this plate was written
LOCK_FILE = ".il6assay-batch.lock"
IGNORED = "ignored"  # an office lock or temporary file beside the exports: skipped with a note


def lock_file(path: Path) -> bool:
    """Whether ``path`` is an office lock or temporary file (Excel ``~$*``, LibreOffice
    ``.~lock.*#``), never a plate-reader export."""
    name = path.name
    return name.startswith("~$") or (name.startswith(".~lock.") and name.endswith("#"))


def _ignored(path: Path) -> PlateOutcome:
    note = f"{path}: skipped, an office lock file (the workbook is open somewhere), not an export"
    return PlateOutcome(str(path), None, IGNORED, error=note)


@dataclass
class PlateJob:
    """One plate to process: the intake it follows, the plate as planned, the file's order."""

    intake: Intake
    plate: PlannedPlate
    order: int

    @property
    def export(self) -> Path:
        """The export file the plate is in."""
        return self.plate.inputs.export

    @property
    def plate_id(self) -> str | None:
        """The plate's id when its export holds several, else None."""
        return self.plate.plate_id

    @property
    def run_id(self) -> str:
        """The run id (and folder name) its inputs and settings give."""
        return self.plate.run_id

    @property
    def acquired(self) -> str | None:
        """The reader's acquisition time, if the export says it."""
        return self.plate.acquired


@dataclass
class PlateOutcome:
    """What became of one plate (or of a file that could not be read)."""

    export: str
    plate_id: str | None
    status: str  # written, replaced, skipped, unreadable, lost
    run_id: str | None = None
    run_dir: str | None = None
    accepted: bool | None = None
    verdict: str | None = None
    samples: int | None = None
    flags: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    # The folder's files right after the write (record.review.folder_state): the index page
    # need not hash a folder this batch wrote while it is still as written.
    written_state: tuple[Any, ...] | None = field(default=None, repr=False)
    # And what the index page shows of it (study.pages.index_row), taken at the write.
    index_row: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``batch --json``."""
        return {k: v for k, v in self.__dict__.items() if k not in ("written_state", "index_row")}


def find_exports(paths: Iterable[Path]) -> tuple[list[Path], list[PlateOutcome]]:
    """Exports named, or found in named folders (not layouts, sheets, or hidden files)."""
    exports: list[Path] = []
    bad: list[PlateOutcome] = []
    for p in paths:
        if p.is_dir():
            locks = sorted(q for q in p.iterdir() if q.is_file() and lock_file(q))
            bad += [_ignored(q) for q in locks]
            inner = sorted(
                q
                for q in p.iterdir()
                if q.is_file()
                and not q.name.startswith(".")
                and not lock_file(q)
                and not q.name.lower().endswith(NOT_EXPORTS)
            )
            if not inner:
                bad.append(PlateOutcome(str(p), None, UNREADABLE, error=f"{p}: no exports in it"))
            exports += inner
        elif p.is_file() and lock_file(p):
            bad.append(_ignored(p))
        elif p.is_file():
            exports.append(p)
        else:
            bad.append(PlateOutcome(str(p), None, UNREADABLE, error=f"{p}: no such file"))
    return list(dict.fromkeys(exports)), bad


def plan(
    exports: Sequence[Path],
    intake: Intake,
    *,
    layout: Path | None = None,
    samples: Path | None = None,
    jobs: int | None = None,
) -> tuple[list[PlateJob], list[PlateOutcome]]:
    """Every plate of every export as a job, in time order; unreadable exports as outcomes.

    The exports are read by ``jobs`` worker processes: a file that kills its
    reader (a library's abort) is that file's one-line error, never the batch's.
    """
    jobs_: list[PlateJob] = []
    bad: list[PlateOutcome] = []
    planned = _plan_exports(exports, intake, layout, samples, jobs or default_jobs())
    for order, (export, plates) in enumerate(zip(exports, planned, strict=True)):
        if isinstance(plates, str):
            bad.append(PlateOutcome(str(export), None, UNREADABLE, error=plates))
            continue
        jobs_ += [PlateJob(intake, plate, order) for plate in plates]
    return sorted(jobs_, key=_time_key), bad


def plan_export(
    intake: Intake, export: Path, layout: Path | None, samples: Path | None
) -> list[PlannedPlate]:
    """Planning one export (in a worker): read it and its layout and sheet, name its plates."""
    from il6assay.study.plate_intake import plan_plates, read_inputs

    return plan_plates(intake, read_inputs(intake, export, layout, samples))


def _plan_exports(
    exports: Sequence[Path],
    intake: Intake,
    layout: Path | None,
    samples: Path | None,
    n_jobs: int,
) -> list[Any]:
    """``plan_export`` of each export, or its one-line error (a dead reader's included)."""
    if len(exports) <= 1 or n_jobs <= 1 or not hasattr(os, "fork"):
        out: list[Any] = []
        for export in exports:
            try:
                out.append(plan_export(intake, export, layout, samples))
            except InputError as err:
                out.append(str(err.at(export)))
        return out
    from il6assay.study.workers import WorkerDied, Workers

    warm_imports()  # the readers and what naming a plate imports: once, not in each reader
    with Workers(n_jobs) as pool:
        tasks = [pool.submit(plan_export, intake, e, layout, samples) for e in exports]
        out = []
        for export, task in zip(exports, tasks, strict=True):
            try:
                out.append(task.result())
            except InputError as err:
                out.append(str(err.at(export)))
            except WorkerDied as err:
                out.append(
                    f"{export}: reading it ended the reader ({err}): the file is not an export "
                    "the reader libraries survive; nothing of it was written"
                )
        return out


def _time_key(job: PlateJob) -> tuple[Any, ...]:
    from il6assay.study.qc import parse_time

    # Plates without an acquisition time keep the files' order, after those with one.
    if job.acquired:
        return (0, parse_time(str(job.acquired)), job.order, job.plate_id or "")
    return (1, job.order, job.plate_id or "")


def process_job(job: PlateJob) -> Any:
    """Worker step 1: fit and judge the plate by its own rules; the Run, or the error's line."""
    from il6assay.study.plate_intake import process

    try:
        return process(job.intake, job.plate)
    except InputError as err:
        return str(err.at(job.export))


def write_job(
    intake: Intake, run: Any, replace_existing: bool, reason: str | None = None
) -> tuple[str, str, tuple[Any, ...]]:
    """Worker step 2: write the run folder; with --force, the old one is set aside whole.

    A run folder's audit chain starts with its processing, so processing again
    makes a new folder with a new chain; the old folder (its reviews and masks
    included) is kept, untouched, in ``--out/.replaced/<run id>-<UTC time>``,
    moved there by one rename once the new folder is complete and in place
    (a kill in between: ``il6assay status`` names it, ``il6assay repair`` files it).
    The new run's processing entry names the folder it replaced and ``reason``.
    Returns the folder, written or replaced, and the folder's state as written.
    """
    from il6assay.record.review import folder_state

    folder, status = _write(intake, run, replace_existing, reason)
    return folder, status, folder_state(folder)


def _write(intake: Intake, run: Any, replace_existing: bool, reason: str | None) -> tuple[str, str]:
    from il6assay.record.repair import REPLACED_DIR, replaced_name
    from il6assay.study.plate_intake import write

    out_dir = intake.out_dir
    folder = out_dir / run.run_id
    if replace_existing and folder.exists():
        aside = replaced_name(folder)
        try:
            aside.parent.mkdir(exist_ok=True)
        except OSError as err:
            from il6assay.record.outputs import disk_error

            raise disk_error(err, out_dir) from None
        note = {
            "replaces": {
                "run_dir": f"{REPLACED_DIR}/{aside.name}",
                "review": _review_of(folder),
                "reason": reason,
            }
        }
        return str(write(intake, run, replacing=aside, note=note)), REPLACED
    return str(write(intake, run)), WRITTEN


def take_job(job: PlateJob, reason: str | None) -> PlateOutcome:
    """Both worker steps in one task (no study to judge in between): the plate's outcome."""
    run = process_job(job)
    if isinstance(run, str):
        return PlateOutcome(str(job.export), job.plate_id, UNREADABLE, job.run_id, error=run)
    try:
        return _outcome(job, run, *write_job(job.intake, run, True, reason))
    except InputError as err:
        return PlateOutcome(str(job.export), job.plate_id, UNREADABLE, error=str(err))


def _review_of(folder: Path) -> str:
    """What the run folder's review was, in words ("accepted by Lin"), as its run.json says."""
    from il6assay.record.folder import read_record

    try:
        review = read_record(folder).review
        return review.status + (f" by {review.by}" if review.by else "")
    except (OSError, InputError):
        return "unknown (run.json unreadable)"


def _skipped(job: PlateJob, folder: Path) -> PlateOutcome:
    from il6assay.record.folder import read_run
    from il6assay.study.pages import flag_counts

    outcome = PlateOutcome(str(job.export), job.plate_id, SKIPPED, job.run_id, str(folder))
    try:
        run = read_run(folder)
        record, rows = run.record, run.results
    except (OSError, InputError) as err:
        why = getattr(err, "message", err)
        outcome.status, outcome.error = UNREADABLE, f"{folder}: existing run cannot be read ({why})"
        return outcome
    outcome.accepted = record.accepted
    outcome.verdict = record.verdict
    outcome.samples = len(rows)
    outcome.flags = flag_counts(rows)
    return outcome


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_batch(
    paths: Sequence[Path],
    intake: Intake,
    *,
    layout: Path | None = None,
    samples: Path | None = None,
    jobs: int | None = None,
    force: bool = False,
    reason: str | None = None,
    progress: Callable[[PlateOutcome], None] | None = None,
    planned: Callable[[int], None] | None = None,
) -> list[PlateOutcome]:
    """Take in every plate of ``paths`` as ``intake`` says; one outcome per plate or bad file.

    The run folders go to ``intake.out_dir``; ``intake.study`` (when a study database
    is configured) judges each run's controls before the run is written and records
    every written run. ``force`` replaces a reviewed or pushed run only with a
    ``reason`` (on the new run's record). One batch at a time writes to the output
    folder (a lock).
    """
    out_dir = Path(intake.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create output folder: {err.strerror}", path=out_dir) from None
    with batch_lock(out_dir):
        return _run_batch(paths, intake, layout, samples, jobs, force, reason, progress, planned)


@contextmanager
def batch_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir``'s batch lock; a second batch of the same folder is refused in one line."""
    path = out_dir / LOCK_FILE
    try:
        fh = path.open("a+", encoding="utf-8")
    except OSError as err:
        from il6assay.record.outputs import disk_error

        raise disk_error(err, out_dir) from None
    with fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: one batch per folder is assumed
            yield
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                "another batch is writing to this folder now; wait for it to finish "
                f"(it holds {LOCK_FILE})",
                path=out_dir,
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _run_batch(
    paths: Sequence[Path],
    intake: Intake,
    layout: Path | None,
    samples: Path | None,
    jobs: int | None,
    force: bool,
    reason: str | None,
    progress: Callable[[PlateOutcome], None] | None,
    planned: Callable[[int], None] | None,
) -> list[PlateOutcome]:
    out_dir = Path(intake.out_dir)
    exports, outcomes = find_exports(paths)
    todo, bad = plan(exports, intake, layout=layout, samples=samples, jobs=jobs)
    outcomes += bad
    if planned is not None:
        planned(len(todo) + len(outcomes))
    for o in outcomes:
        if progress:
            progress(o)
    work: list[PlateJob] = []
    for job in todo:
        folder = out_dir / job.run_id
        if folder.exists() and not force:
            outcomes.append(_skipped(job, folder))
            if progress:
                progress(outcomes[-1])
        else:
            work.append(job)
    if force and not (reason and reason.strip()):
        _refuse_replacing_decided(
            [out_dir / j.run_id for j in work if (out_dir / j.run_id).exists()], intake.study
        )
    if work and not intake.standalone_report:
        from il6assay.record.report import ensure_shared_plotly

        try:
            ensure_shared_plotly(out_dir)
        except OSError as err:
            from il6assay.record.outputs import disk_error

            raise disk_error(err, out_dir) from None
    reason = reason.strip() if reason and reason.strip() else None
    done = _run_jobs(work, intake, jobs or default_jobs(), progress, reason)
    outcomes += done
    return outcomes


def _refuse_replacing_decided(folders: list[Path], study: Any) -> None:
    """``--force`` without ``--reason`` on a run that was reviewed or pushed: refused, naming it."""
    from il6assay.record.audit import REVIEW_ACTIONS, read_entries

    pushed: set[str] = set()
    engine = getattr(study, "engine", None)
    if engine is not None and folders:
        from sqlalchemy import select

        from il6assay.db.models import DbRun

        with engine.connect() as conn:
            names = [f.name for f in folders]
            pushed = set(
                conn.execute(select(DbRun.run_id).where(DbRun.run_id.in_(names))).scalars()
            )
    for folder in folders:
        try:
            reviews = [e for e in read_entries(folder) if e.get("action") in REVIEW_ACTIONS]
        except InputError:
            reviews = []
        said = []
        if reviews:
            last = reviews[-1]
            said.append(f"{REVIEW_ACTIONS[last['action']]} by {last.get('by')}")
        if folder.name in pushed:
            said.append("pushed to the study database")
        if said:
            raise InputError(
                f"this run was {' and '.join(said)}; --force would replace it: say why with "
                "--reason TEXT (kept in the new run's audit log; the old run goes to "
                ".replaced/)",
                path=folder,
            )


def _outcome(
    job: PlateJob, run: Any, folder: str, status: str, state: tuple[Any, ...] | None = None
) -> PlateOutcome:
    from il6assay.study.pages import flag_counts, index_row

    # Of results.csv's rows, the outcome and the index read each one's flags cell alone.
    rows = [{"flags": ";".join(sp.combined.flags)} for sp in run.specimens]
    return PlateOutcome(
        export=str(job.export),
        plate_id=job.plate_id,
        status=status,
        run_id=run.run_id,
        run_dir=folder,
        accepted=run.accepted,
        verdict=run.verdict,
        samples=len(run.specimens),
        flags=flag_counts(rows),
        written_state=state,
        index_row=index_row(run, Path(folder), rows) if state is not None else None,
    )


def written_states(outcomes: Iterable[PlateOutcome]) -> dict[str, tuple[Any, ...]]:
    """Each folder this batch wrote (by name) with its state as written, for the index page."""
    return {
        Path(o.run_dir).name: o.written_state
        for o in outcomes
        if o.run_dir and o.written_state is not None and o.status in (WRITTEN, REPLACED)
    }


def index_rows(outcomes: Iterable[PlateOutcome]) -> dict[str, Any]:
    """Each folder this batch wrote (by name) with its row of the index page, as written."""
    return {
        Path(o.run_dir).name: o.index_row
        for o in outcomes
        if o.run_dir and o.index_row is not None and o.status in (WRITTEN, REPLACED)
    }


def _run_jobs(
    work: list[PlateJob],
    intake: Intake,
    n_jobs: int,
    progress: Callable[[PlateOutcome], None] | None,
    reason: str | None = None,
) -> list[PlateOutcome]:
    """Process then write each plate; judge in time order in between; record what was written.

    A worker that dies costs its plate (reported as lost), never the batch.
    """
    from il6assay.study.workers import WorkerDied

    outcomes: list[PlateOutcome] = []
    qcs: dict[str, Any] = {}

    def report(o: PlateOutcome) -> None:
        outcomes.append(o)
        if progress:
            progress(o)

    def finish(job: PlateJob, run: Any, result: Any) -> None:
        if isinstance(result, WorkerDied):
            o = PlateOutcome(
                str(job.export), job.plate_id, LOST, run.run_id, error=_lost(job, result)
            )
        elif isinstance(result, BaseException):
            if not isinstance(result, InputError):
                raise result
            o = PlateOutcome(str(job.export), job.plate_id, UNREADABLE, error=str(result))
        else:
            o = _outcome(job, run, *result)
            if run.run_id in qcs and o.run_dir:
                intake.record([qcs[run.run_id]], [Path(o.run_dir)])
        report(o)

    def judged(job: PlateJob, run: Any) -> Any:
        if isinstance(run, (str, WorkerDied)):
            status, error = (UNREADABLE, run) if isinstance(run, str) else (LOST, _lost(job, run))
            report(PlateOutcome(str(job.export), job.plate_id, status, job.run_id, error=error))
            return None
        try:  # the roster, or IDs confusable with stored ones: as process refuses them
            judgement = intake.judge([run])
        except InputError as err:
            error = str(err.at(job.export))
            report(PlateOutcome(str(job.export), job.plate_id, UNREADABLE, job.run_id, error=error))
            return None
        if judgement:
            qcs[run.run_id] = judgement[0]
        return run

    if n_jobs <= 1 or len(work) <= 1 or not hasattr(os, "fork"):  # no fork (Windows): one by one
        for job in work:
            run = judged(job, process_job(job))
            if run is None:
                continue
            try:
                result: Any = write_job(intake, run, True, reason)
            except InputError as err:
                result = err
            finish(job, run, result)
        return outcomes

    warm_imports()
    from il6assay.study.workers import Task, Workers

    window = 4 * n_jobs
    with Workers(n_jobs) as pool:
        if intake.study is None:  # nothing to judge between processing and writing
            _take_all(work, pool, window, reason, report)
            return outcomes
        pending: deque[tuple[PlateJob, Task]] = deque()
        writing: deque[tuple[PlateJob, Any, Task]] = deque()
        queue = iter(work)

        def fill() -> None:
            while len(pending) < window:
                job = next(queue, None)
                if job is None:
                    return
                pending.append((job, pool.submit(process_job, job)))

        def answer(task: Task) -> Any:
            try:
                return task.result()
            except (InputError, WorkerDied) as err:
                return err

        def harvest(block: bool) -> None:
            while writing and (block or writing[0][2].done()):
                job, run, task = writing.popleft()
                finish(job, run, answer(task))

        fill()
        while pending:
            job, task = pending.popleft()
            run = judged(job, answer(task))
            fill()
            if run is not None:
                writing.append((job, run, pool.submit(write_job, intake, run, True, reason)))
            harvest(block=False)
        harvest(block=True)
    return outcomes


def _take_all(
    work: list[PlateJob],
    pool: Any,
    window: int,
    reason: str | None,
    report: Callable[[PlateOutcome], None],
) -> None:
    """Each plate processed and written by one worker task (in time order), its outcome back."""
    from il6assay.study.workers import WorkerDied

    def take(index: int) -> PlateOutcome:
        # In a worker forked with ``work`` in its memory: only the job's index goes through
        # the pipe, not the plate as planned (its reads, layout and sheet: ~0.4 ms to pickle).
        return take_job(work[index], reason)

    pending: deque[tuple[PlateJob, Any]] = deque()
    queue = iter(enumerate(work))
    while True:
        while len(pending) < window and (item := next(queue, None)) is not None:
            index, job = item
            pending.append((job, pool.submit(take, index)))
        if not pending:
            return
        job, task = pending.popleft()
        try:
            o = task.result()
        except WorkerDied as err:
            o = PlateOutcome(str(job.export), job.plate_id, LOST, job.run_id, error=_lost(job, err))
        except InputError as err:
            o = PlateOutcome(str(job.export), job.plate_id, UNREADABLE, error=str(err))
        report(o)


# What reading, fitting and writing a plate import on first use. A worker is forked from
# this process: imported here once, they are every worker's for free (imported in each
# worker, scipy.optimize alone cost 0.3-0.4 s of CPU a plate).
WORKER_IMPORTS = (
    "il6assay.run",
    "il6assay.record.outputs",
    "il6assay.record.report",
    "il6assay.record.audit",
    "il6assay.curve.solvers",
    "il6assay.record.templating",
    "jinja2",
    "il6assay.record.xlsx",
    "scipy._lib._ccallback",  # what MINPACK's extension imports on its first call (scipy's root)
)


def warm_imports() -> None:
    """Import what every worker needs before the workers are forked: each plate's reader too."""
    import importlib

    from il6assay.plate.readers import READER_MODULES

    for name in (*WORKER_IMPORTS, *READER_MODULES):
        importlib.import_module(name)
    from il6assay.curve.solvers import minpack_lmder
    from il6assay.record.report import load_templates, plotly_js_name
    from il6assay.record.versions import library_versions

    # Looked up once, not once a plate: MINPACK's lmder (the process no longer imports
    # scipy.optimize), the libraries' versions, the shared plotly.js's name.
    minpack_lmder(), library_versions(), plotly_js_name()
    load_templates()  # report.html's and plotly's: loaded here, not by each worker's first report


def _lost(job: PlateJob, err: BaseException) -> str:
    where = f"{job.export}" + (f" [{job.plate_id}]" if job.plate_id else "")
    return (
        f"{where}: {err}; this plate was not written (the others were): run the batch again "
        "for it, then `il6assay status` on the output folder"
    )
