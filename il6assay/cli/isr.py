"""The incurred-sample reanalysis commands: ``isr select``, ``isr report``.

Only click is imported here; each command imports the library when it runs.
``register(main)`` adds the group to the ``il6assay`` command.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from il6assay.cli.common import DB_HELP, EXIT_ACCEPTED, EXIT_REJECTED
from il6assay.cli.common import fail as _fail


@click.group("isr")
def isr_group() -> None:
    """Incurred-sample reanalysis (ICH M10 section 5)."""


@isr_group.command("select")
@click.option("--db", "db", help=DB_HELP)
@click.option("--fraction", type=float, default=0.1, show_default=True, help="Share to repeat.")
@click.option("--seed", type=int, default=None, help="Random seed (the same seed, the same pick).")
@click.option(
    "--cutoff",
    "cutoffs",
    type=float,
    multiple=True,
    help="A clinical cut-off in pg/mL (repeat): specimens near it are favoured.",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Sample sheet CSV.")
def isr_select(
    db: str | None, fraction: float, seed: int | None, cutoffs: tuple[float, ...], out: Path
) -> None:
    """Propose specimens to repeat, as a sample sheet whose rows say purpose = isr."""
    from il6assay.db.engine import describe, make_engine
    from il6assay.errors import InputError
    from il6assay.study.isr import select_isr, write_sheet

    try:
        click.echo(describe(db), err=True)
        engine = make_engine(db, must_exist=True)
        rows = select_isr(engine, fraction=fraction, seed=seed, cutoffs=cutoffs)
        write_sheet(rows, out)
    except InputError as err:
        _fail(err)
    click.echo(f"{out}: {len(rows)} specimen(s) to repeat (purpose isr)")


@isr_group.command("report")
@click.option("--db", "db", help=DB_HELP)
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write the page here.")
@click.option("--json", "as_json", is_flag=True, help="Print every pair and the verdict as JSON.")
def isr_report_command(db: str | None, html_path: Path | None, as_json: bool) -> None:
    """Each repeat against its original: % difference, fraction within 30 %, verdict.

    Exit 0 when ISR passes (or has no pair yet), 3 when it fails.
    """
    from il6assay.db.engine import describe, make_engine
    from il6assay.errors import InputError
    from il6assay.study.isr import isr_report, report_html
    from il6assay.study.pages import write_page

    try:
        click.echo(describe(db), err=True)
        report = isr_report(make_engine(db, must_exist=True))
        if html_path is not None:
            write_page(html_path, report_html(report))
            click.echo(f"page written to {html_path}", err=True)
    except InputError as err:
        _fail(err)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(report.text())
    raise SystemExit(EXIT_REJECTED if report.passed is False else EXIT_ACCEPTED)


def register(main: click.Group) -> None:
    """Add ``isr`` to the ``il6assay`` group."""
    main.add_command(isr_group)
