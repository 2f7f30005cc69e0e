"""The kit-lot command: ``lots bridge``.

Only click is imported here; the command imports the library when it runs.
``register(main)`` adds the group to the ``il6assay`` command.
"""

from __future__ import annotations

import json

import click

from il6assay.cli.common import DB_HELP, EXIT_ACCEPTED, EXIT_REJECTED
from il6assay.cli.common import fail as _fail


@click.group("lots")
def lots_group() -> None:
    """Kit lots: bridge a new lot to the old one."""


@lots_group.command("bridge")
@click.option("--old", "old_run", required=True, help="A run of the old kit lot (its run id).")
@click.option("--new", "new_run", required=True, help="A run of the new kit lot (its run id).")
@click.option(
    "--limits", default="0.8,1.25", show_default=True, help="Equivalence limits of new/old."
)
@click.option("--by", "by", required=True, help="Who decides: a review account's user name.")
@click.option("--db", "db", help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the bridging as JSON.")
def lots_bridge(
    old_run: str, new_run: str, limits: str, by: str, db: str | None, as_json: bool
) -> None:
    """Ratio new/old (geometric mean, 90 % interval) over the QCs and incurred samples both
    runs measured, judged against --limits, recorded as a signed decision."""
    from il6assay.db.engine import describe, make_engine
    from il6assay.errors import InputError
    from il6assay.study.lots import bridge, parse_limits, record_bridge
    from il6assay.web.accounts import authenticate, list_accounts

    try:
        click.echo(describe(db), err=True)
        engine = make_engine(db, must_exist=True)
        found = bridge(engine, old_run, new_run, parse_limits(limits))
        click.echo(found.text(), err=True)
        account_id, signer = None, by.strip()
        if list_accounts(engine):
            password = click.prompt(
                f"password of {by} (signs: {'passes' if found.passed else 'fails'})",
                hide_input=True,
                err=True,
            )
            account = authenticate(engine, by, password, purpose="sign")
            account_id, signer = account.id, f"{account.printed_name} ({account.username})"
        else:
            click.echo(
                "il6assay: note: no review accounts in this database; the decision is recorded "
                "under the typed name, unsigned",
                err=True,
            )
        row = record_bridge(engine, found, signed_by=signer, account_id=account_id)
    except InputError as err:
        _fail(err)
    if as_json:
        click.echo(json.dumps({**found.to_dict(), "id": row, "signed_by": signer}, indent=2))
    else:
        click.echo(f"bridge {row} recorded: {found.text()}; signed by {signer}")
    raise SystemExit(EXIT_ACCEPTED if found.passed else EXIT_REJECTED)


def register(main: click.Group) -> None:
    """Add ``lots`` to the ``il6assay`` group."""
    main.add_command(lots_group)
