"""The across-runs commands: ``batch``, ``controls``, ``summary``.

Only click is imported here; each command imports the library when it runs.
``register(main)`` adds them to the ``il6assay`` group.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from il6assay.cli.common import (
    DB_HELP,
    EXIT_ACCEPTED,
    EXIT_BAD_INPUT,
    EXIT_REJECTED,
    intake_options,
    one_blas_thread,
)
from il6assay.cli.common import fail as _fail


def exit_code(outcomes: list[Any]) -> int:
    """2 when some plate or file could not be read or was lost, else 3 when some failed, else 0."""
    if any(o.status in ("unreadable", "lost") for o in outcomes):
        return EXIT_BAD_INPUT
    if any(o.accepted is False for o in outcomes):
        return EXIT_REJECTED
    return EXIT_ACCEPTED


@click.command("batch")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--layout", type=click.Path(path_type=Path), help="One layout for every export.")
@click.option(
    "--samples", type=click.Path(path_type=Path), help="One sample sheet for every export."
)
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [./il6assay-results].")
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes [the cores].")
@click.option("--force", is_flag=True, help="Process plates again whose run folder exists.")
@click.option(
    "--reason",
    default=None,
    help="Why --force replaces runs that were reviewed or pushed (required for those; "
    "kept in the new run's audit log).",
)
@click.option("--db", "db", help="Study database for the Westgard check and the QC record.")
@intake_options
@click.option("--json", "as_json", is_flag=True, help="Print every plate's outcome as JSON.")
def batch(
    inputs: tuple[Path, ...],
    layout: Path | None,
    samples: Path | None,
    out: Path | None,
    jobs: int | None,
    force: bool,
    reason: str | None,
    db: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Process every plate of the EXPORTs and folders given, in parallel; write an index.html.

    Each export is taken in as `il6assay process` takes it in, with the same options.

    Exit 0 when every plate was accepted, 3 when some failed acceptance, 2 when
    some file could not be read or a plate was lost with its worker (each is
    reported; the others are written).
    """
    one_blas_thread()
    from il6assay.errors import InputError
    from il6assay.project import load_project
    from il6assay.study.batch import index_rows, run_batch, written_states
    from il6assay.study.pages import index_html, write_page
    from il6assay.study.plate_intake import open_intake

    bar: Any = None
    try:
        # il6assay.toml, $IL6ASSAY_DB and the defaults, read once; the options over them
        intake = open_intake(load_project(), db=db, out=out, **options)
        for note in intake.notes:
            click.echo(f"il6assay: warning: {note}", err=True)
        out_dir, study = intake.out_dir, intake.study
        show_bar = sys.stderr.isatty()

        def planned(total: int) -> None:
            nonlocal bar
            if show_bar:
                bar = click.progressbar(length=total, label="plates", file=sys.stderr)
                bar.__enter__()

        def progress(_outcome: Any) -> None:
            if bar is not None:
                bar.update(1)

        outcomes = run_batch(
            list(inputs),
            intake,
            layout=layout,
            samples=samples,
            jobs=jobs,
            force=force,
            reason=reason,
            progress=progress,
            planned=planned,
        )
        if bar is not None:
            bar.__exit__(None, None, None)
        unreadable = [o for o in outcomes if o.status in ("unreadable", "lost")]
        index_error = None
        try:
            page = index_html(
                out_dir, unreadable, written=written_states(outcomes), rows=index_rows(outcomes)
            )
            index = write_page(out_dir / "index.html", page)
        except OSError as err:  # the run folders are written whole or not at all; the page not
            from il6assay.record.outputs import disk_error

            then = "every run folder listed was written whole; only the index page is not"
            index_error = disk_error(err, out_dir / "index.html", then=then)
    except InputError as err:
        _fail(err)
    for o in unreadable:
        click.echo(f"il6assay: {o.error}", err=True)
    for o in outcomes:
        if o.status == "ignored":
            click.echo(f"il6assay: note: {o.error}", err=True)
    click.echo(_table(outcomes), err=True)
    if index_error is not None:
        _fail(index_error)
    written = sum(o.status in ("written", "replaced") for o in outcomes)
    skipped = sum(o.status == "skipped" for o in outcomes)
    lost = sum(o.status == "lost" for o in outcomes)
    click.echo(
        f"{written} written, {skipped} skipped (already done), {len(unreadable) - lost} not read"
        + (f", {lost} lost with their worker" if lost else "")
        + f"; index: {index}",
        err=True,
    )
    if study is not None and study.error:
        click.echo(f"il6assay: warning: Westgard check not evaluated: {study.error}", err=True)
    if as_json:
        click.echo(json.dumps([o.to_dict() for o in outcomes], indent=2, ensure_ascii=False))
    sys.exit(exit_code(outcomes))


def _table(outcomes: list[Any]) -> str:
    rows = [("plate", "status", "verdict", "samples", "flags")]
    for o in outcomes:
        name = o.run_id or Path(o.export).name + (f" [{o.plate_id}]" if o.plate_id else "")
        verdict = o.verdict if o.verdict is not None else (o.error or "")
        verdict = verdict if len(verdict) <= 70 else verdict[:69] + "…"
        flags = ", ".join(f"{k} {v}" for k, v in o.flags.items())
        rows.append((name, o.status, verdict, "" if o.samples is None else str(o.samples), flags))
    widths = [min(60, max(len(r[i]) for r in rows)) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(r))
        for r in rows
    )


@click.command("controls")
@click.option("--db", "db", help=DB_HELP)
@click.option("--level", default=None, help="Only this control level.")
@click.option("--since", default=None, help="Only runs from this date (YYYY-MM-DD) on.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write the page here.")
@click.option("--json", "as_json", is_flag=True, help="Print the series and verdicts as JSON.")
@click.option(
    "--record",
    "record",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Record run folders' QC figures first (any verdict; repeat, or a results folder).",
)
def controls(
    db: str | None,
    level: str | None,
    since: str | None,
    html_path: Path | None,
    as_json: bool,
    record: tuple[Path, ...],
) -> None:
    """Levey-Jennings trends of controls and standards across runs, judged by Westgard rules."""
    from il6assay.db.engine import make_engine
    from il6assay.errors import InputError
    from il6assay.record.review import expand_runs
    from il6assay.study.pages import load_trends, page, trends_body, write_page
    from il6assay.study.qc import from_folder
    from il6assay.study.store import record_qc

    try:
        engine = make_engine(db, must_exist=not record)
        if record:
            folders = expand_runs(list(record))
            qcs = [from_folder(f) for f in folders]
            for f, outcome in zip(folders, record_qc(engine, qcs), strict=True):
                click.echo(f"{f}: {outcome}", err=True)
        tr = load_trends(engine, level=level, since=since)
        if level is not None and not tr.controls:
            raise InputError(f"no control level {level!r} in the database")
        if html_path is not None:
            write_page(html_path, page("il6assay: controls and standards across runs",
                                       trends_body(tr)))  # fmt: skip
            click.echo(f"page written to {html_path}", err=True)
    except InputError as err:
        _fail(err)
    for note in tr.notes:
        click.echo(f"il6assay: {note}", err=True)
    if as_json:
        click.echo(json.dumps(tr.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(f"{tr.runs} run(s), {tr.accepted_runs} accepted")
    for s in tr.controls:
        target = s.target.describe() if s.target else f"{s.name}: no targets yet"
        click.echo(target)
        for p in s.points:
            if p.violations:
                mark = "REJECT" if p.reject else "warning"
                click.echo(f"  {p.time.isoformat()}  {p.run_id}  {mark}: {'; '.join(p.violations)}")


@click.command("summary")
@click.option("--db", "db", help=DB_HELP)
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write the page here.")
@click.option("--json", "as_json", is_flag=True, help="Print the overview as JSON.")
@click.option(
    "--worklist",
    type=click.Path(path_type=Path),
    help="Write the specimens to re-assay as a sample sheet CSV.",
)
@click.option(
    "--layout",
    type=click.Path(path_type=Path),
    help="The re-assay plate's layout: worklist sheets of its sample labels, one per plate.",
)
def summary(
    db: str | None,
    html_path: Path | None,
    as_json: bool,
    worklist: Path | None,
    layout: Path | None,
) -> None:
    """The study overview: current values, counts per visit, re-assays waiting, unreviewed runs."""
    from il6assay.db.engine import make_engine
    from il6assay.errors import InputError
    from il6assay.study.pages import page, summary_body, write_page
    from il6assay.study.summary import fit_worklist, overview, worklist_paths, write_worklist

    try:
        ov = overview(make_engine(db, must_exist=True))
        if html_path is not None:
            write_page(html_path, page("il6assay: study overview", summary_body(ov)))
            click.echo(f"page written to {html_path}", err=True)
        if worklist is not None and layout is None:
            from il6assay.project import load_project

            layout = load_project().layout
        if worklist is not None and layout is not None:
            from il6assay.plate.layout_sheet import read_layout

            specs = read_layout(layout).samples()
            labels = list(dict.fromkeys(w.sample for w in specs if w.sample))
            sheets = fit_worklist(ov.worklist, labels)
            paths = worklist_paths(worklist, len(sheets))
            for path, rows in zip(paths, sheets, strict=True):
                write_worklist(path, rows)
            click.echo(
                f"{len(ov.worklist)} specimen(s) to re-assay written to {len(paths)} sheet(s) of "
                f"at most {len(labels)} ({', '.join(str(p) for p in paths) or 'none'})",
                err=True,
            )
        elif worklist is not None:
            write_worklist(worklist, ov.worklist)
            click.echo(
                f"{len(ov.worklist)} specimen(s) to re-assay written to {worklist} (one sheet, "
                "samples P01, P02, ...; --layout LAYOUT cuts it into sheets of that plate)",
                err=True,
            )
    except InputError as err:
        _fail(err)
    if as_json:
        click.echo(json.dumps(ov.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo("visit  specimens  reported  censored  waiting-reassay  no-result")
    for v in [*ov.visits, ov.totals]:
        click.echo(
            f"{v.visit:6} {v.specimens:9}  {v.reported:8}  {v.censored:8}  "
            f"{v.waiting_reassay:15}  {v.without_result:9}"
        )
    click.echo(f"{len(ov.unreviewed_runs)} run(s) processed but not pushed")


def register(main: click.Group) -> None:
    """Add the across-runs commands to the ``il6assay`` group."""
    for command in (batch, controls, summary):
        main.add_command(command)
