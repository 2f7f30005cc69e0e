"""The study roster command: ``subjects import``.

Only click is imported here; the command imports the library when it runs.
``register(main)`` adds the group to the ``il6assay`` command.
"""

from __future__ import annotations

from pathlib import Path

import click

from il6assay.cli.common import DB_HELP
from il6assay.cli.common import fail as _fail


@click.group("subjects")
def subjects_group() -> None:
    """The study roster: which study IDs the study enrolled."""


@subjects_group.command("import")
@click.argument("roster", type=click.Path(path_type=Path))
@click.option("--db", "db", help=DB_HELP)
@click.option("--by", "by", default=None, help="Your name, kept in the audit.")
def subjects_import(roster: Path, db: str | None, by: str | None) -> None:
    """Enrol ROSTER's study IDs (CSV/XLSX: study_id, optional site, enrolment_date).

    An import adds subjects and never drops one; an ID whose site or enrolment date
    differs from the stored one, or one confusable with another, is refused.
    """
    from il6assay.db.engine import describe, make_engine
    from il6assay.db.roster import import_roster
    from il6assay.errors import InputError

    try:
        click.echo(describe(db), err=True)
        engine = make_engine(db, must_exist=True)
        outcome = import_roster(engine, roster, by=by)
    except InputError as err:
        _fail(err)
    click.echo(f"{roster}: {outcome.message()}")


def register(main: click.Group) -> None:
    """Add ``subjects`` to the ``il6assay`` group."""
    main.add_command(subjects_group)
