"""The review app's commands: ``serve`` and ``users add/list/disable/enable/password/policy``.

Only click is imported here; Flask, waitress, argon2 and SQLAlchemy are
imported when a command runs. Passwords are never flags: they are asked for
(twice, not echoed) or read from the environment variable named by
``--password-env`` (for scripted set-ups).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from il6assay.cli.common import DB_HELP
from il6assay.cli.common import fail as _fail

ROLES = ["technician", "reviewer", "data-manager", "admin"]


def _password(password_env: str | None) -> str:
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            from il6assay.errors import InputError

            raise InputError(f"environment variable {password_env} holding the password is not set")
        return value
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@click.command("serve")
@click.option("--db", "db", help=DB_HELP)
@click.option(
    "--runs",
    "runs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A results folder or run folder to serve (repeat) [out in il6assay.toml, else "
    "./il6assay-results].",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--https",
    is_flag=True,
    help="Behind an https proxy: mark session cookies Secure (waitress itself speaks http).",
)
@click.option(
    "--idle-minutes", default=15, show_default=True, type=int, help="Idle session timeout."
)
def serve(
    db: str | None, runs: tuple[Path, ...], host: str, port: int, https: bool, idle_minutes: int
) -> None:
    """Serve the QC review app: queue, reports, masking, signed decisions, history."""
    from datetime import timedelta

    from il6assay.db.engine import make_engine, require_schema
    from il6assay.errors import InputError
    from il6assay.web.app import create_app
    from il6assay.web.server import serve as run_server

    try:
        from il6assay.project import load_project

        project = load_project()
        roots = [r.resolve() for r in (list(runs) or [project.out])]
        missing = [r for r in roots if not r.is_dir()]
        if missing:
            raise InputError("no such folder", path=missing[0])
        if idle_minutes < 1:
            raise InputError("--idle-minutes must be at least 1")
        engine = make_engine(db, must_exist=True)
        require_schema(engine)
        idle = timedelta(minutes=idle_minutes)
        app = create_app(engine, roots, idle_timeout=idle, https=https, lang=project.lang)
    except InputError as err:
        _fail(err)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"il6assay: warning: listening on {host}: other machines can reach the app; "
            "put it behind https (--https) on a lab network",
            err=True,
        )
    click.echo(f"il6assay review app on http://{host}:{port}/ (Ctrl-C stops it)", err=True)
    run_server(app, host, port, https=https)


@click.group("users")
def users() -> None:
    """Accounts of the review app (in the study database): add, list, disable, password."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the account may do.")
@click.option("--name", "printed_name", required=True, help="Printed name, as signatures show it.")
@click.option("--by", default=None, help="Who adds it (recorded in the audit table).")
@click.option("--password-env", default=None, help="Read the password from this variable.")
@click.option("--db", "db", help=DB_HELP)
def users_add(
    username: str, role: str, printed_name: str, by: str | None, password_env: str | None, db
) -> None:
    """Add an account USERNAME with one role (the password is asked for)."""
    from il6assay.db.engine import make_engine
    from il6assay.errors import InputError
    from il6assay.record.audit import os_account
    from il6assay.web.accounts import add_account

    try:
        engine = make_engine(db, must_exist=True)
        account = add_account(
            engine, username, printed_name, role, _password(password_env), by=by or os_account()
        )
    except InputError as err:
        _fail(err)
    click.echo(f"account {account.username} ({account.role}, {account.printed_name}) added")


@users.command("list")
@click.option("--db", "db", help=DB_HELP)
def users_list(db: str | None) -> None:
    """List accounts: user name, role, printed name, state."""
    from il6assay.db.engine import make_engine
    from il6assay.errors import InputError
    from il6assay.web.accounts import list_accounts

    try:
        rows = list_accounts(make_engine(db, must_exist=True))
    except InputError as err:
        _fail(err)
    for r in rows:
        state = "active" if r["active"] else "disabled"
        if r["locked"]:
            state += ", locked"
        click.echo(f"{r['username']:20} {r['role']:13} {state:18} {r['printed_name']}")


def _set_active(active: bool):
    word = "enable" if active else "disable"

    @click.argument("username")
    @click.option("--reason", required=True, help="Why (recorded in the audit table).")
    @click.option("--by", default=None, help="Who does it (recorded in the audit table).")
    @click.option("--db", "db", help=DB_HELP)
    def command(username: str, reason: str, by: str | None, db: str | None) -> None:
        from il6assay.db.engine import make_engine
        from il6assay.errors import InputError
        from il6assay.record.audit import os_account
        from il6assay.web.accounts import set_active

        try:
            engine = make_engine(db, must_exist=True)
            set_active(engine, username, active, by=by or os_account(), reason=reason)
        except InputError as err:
            _fail(err)
        click.echo(f"account {username} {word}d")

    command.__doc__ = f"{word.capitalize()} account USERNAME (its history stays)."
    return command


users.command("disable")(_set_active(False))
users.command("enable")(_set_active(True))


@users.command("password")
@click.argument("username")
@click.option("--by", default=None, help="Who sets it (recorded in the audit table).")
@click.option("--password-env", default=None, help="Read the password from this variable.")
@click.option("--db", "db", help=DB_HELP)
def users_password(username: str, by: str | None, password_env: str | None, db) -> None:
    """Set a new password for USERNAME (also lifts a lockout)."""
    from il6assay.db.engine import make_engine
    from il6assay.errors import InputError
    from il6assay.record.audit import os_account
    from il6assay.web.accounts import set_password

    try:
        engine = make_engine(db, must_exist=True)
        set_password(engine, username, _password(password_env), by=by or os_account())
    except InputError as err:
        _fail(err)
    click.echo(f"account {username}: new password set")


@users.command("policy")
@click.option(
    "--separation",
    required=True,
    type=click.Choice(["strict", "allow-own-masks", "off"]),
    help="strict: who processed or masked may not accept; allow-own-masks: who masked may; "
    "off: anyone with the reviewer role may (a one-person lab).",
)
@click.option("--reason", required=True, help="Why (recorded in the audit table).")
@click.option("--by", default=None, help="Who changes it (recorded in the audit table).")
@click.option("--db", "db", help=DB_HELP)
def users_policy(separation: str, reason: str, by: str | None, db: str | None) -> None:
    """Set the separation-of-duties policy (every signature records the one in force)."""
    from il6assay.db.engine import make_engine
    from il6assay.errors import InputError
    from il6assay.record.audit import os_account
    from il6assay.web.accounts import set_separation_policy

    try:
        engine = make_engine(db, must_exist=True)
        set_separation_policy(engine, separation, by=by or os_account(), reason=reason)
    except InputError as err:
        _fail(err)
    click.echo(f"separation of duties: {separation}")


def register(main: click.Group) -> None:
    """Add ``serve`` and ``users`` to the ``il6assay`` group."""
    main.add_command(serve)
    main.add_command(users)
