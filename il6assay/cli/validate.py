"""The method-validation commands: ``validate``, ``method adopt``, ``method show``.

Thin: ``il6assay.study.validation`` computes, ``il6assay.study.validation_report``
writes the folder, ``il6assay.db.method`` stores and reads profiles; the
review app's accounts (``il6assay.web.accounts``) sign an adoption.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from il6assay.cli.common import DB_HELP, EXIT_REJECTED, run_folders
from il6assay.cli.common import fail as _fail


@click.command("validate")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--plan", type=click.Path(path_type=Path), help="Validation plan (TOML).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Folder to create for validation.json and validation.html [./il6assay-validation].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the validation document on stdout.")
def validate(
    run_dirs: tuple[Path, ...], plan: Path | None, out: Path | None, as_json: bool
) -> None:
    """Validate the method from accepted RUN_DIRs (ICH M10): precision, range, parallelism, ...

    Exit 0 when the whole validation passes, 3 when a criterion fails or is not judged.
    """
    from il6assay.errors import InputError
    from il6assay.study.validation import validate_runs
    from il6assay.study.validation_plan import load_plan
    from il6assay.study.validation_report import write_validation

    try:
        doc = validate_runs(run_folders(run_dirs), load_plan(plan))
        folder = write_validation(doc, out or Path("il6assay-validation"))
    except InputError as err:
        _fail(err)
    click.echo(f"validation: {doc['pass_reason']}", err=True)
    click.echo(f"written to {folder}", err=True)
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    sys.exit(0 if doc["pass"] is True else EXIT_REJECTED)


@click.group("method")
def method() -> None:
    """The method profile: adopt a passing validation, show the one in force."""


def _password(password_env: str | None) -> str:
    from il6assay.errors import InputError

    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            raise InputError(f"environment variable {password_env} holding the password is not set")
        return value
    return str(click.prompt("Password", hide_input=True))


@method.command("adopt")
@click.argument("validation_dir", type=click.Path(path_type=Path))
@click.option("--db", default=None, help=DB_HELP)
@click.option("--by", required=True, help="Your account (admin or reviewer) in the study database.")
@click.option("--reason", default="", help="Why (required when it supersedes a profile).")
@click.option("--password-env", default=None, help="Read the password from this variable.")
def method_adopt(
    validation_dir: Path, db: str | None, by: str, reason: str, password_env: str | None
) -> None:
    """Adopt the validation in VALIDATION_DIR as the study's method profile (signed)."""
    from il6assay.db.engine import make_engine, require_schema
    from il6assay.db.method import adopt_profile
    from il6assay.errors import InputError
    from il6assay.study.validation import checked_validation
    from il6assay.web.accounts import authenticate

    try:
        profile = checked_validation(validation_dir)
        engine = make_engine(db, must_exist=True)
        require_schema(engine)
        account = authenticate(engine, by, _password(password_env), purpose="method-adopt")
        stored = adopt_profile(
            engine,
            profile,
            username=account.username,
            printed_name=account.printed_name,
            role=account.role,
            reason=reason,
        )
    except InputError as err:
        _fail(err)
    click.echo(
        f"method profile {stored['id']} ({stored['sha256'][:12]}) adopted by "
        f"{stored['printed_name']} ({stored['role']}): range {stored['lloq_pg_ml']:g}-"
        f"{stored['uloq_pg_ml']:g} pg/mL, dilutions {_range(stored['dilution_range'])}"
    )


def _range(pair: Any) -> str:
    return f"1:{pair[0]:g} to 1:{pair[1]:g}" if pair else "none"


@method.command("show")
@click.option("--db", default=None, help=DB_HELP)
@click.option("--all", "show_all", is_flag=True, help="Every profile ever adopted, oldest first.")
@click.option("--json", "as_json", is_flag=True, help="Print the profile(s) as JSON.")
def method_show(db: str | None, show_all: bool, as_json: bool) -> None:
    """Print the method profile in force (or every one with --all)."""
    from il6assay.db.engine import make_engine, require_schema
    from il6assay.db.method import current_profile, list_profiles
    from il6assay.errors import InputError

    try:
        engine = make_engine(db, must_exist=True)
        require_schema(engine)
        profiles = list_profiles(engine) if show_all else [current_profile(engine)]
    except InputError as err:
        _fail(err)
    profiles = [p for p in profiles if p is not None]
    if as_json:
        click.echo(json.dumps(profiles if show_all else (profiles or [None])[0], indent=2))
        return
    if not profiles:
        click.echo("no method profile adopted: plates are judged on their own range")
        return
    for p in profiles:
        click.echo(
            f"profile {p['id']} ({p['status']}) sha256 {p['sha256']}\n"
            f"  adopted {p['adopted_utc']} by {p['printed_name']} ({p['adopted_by']}, "
            f"{p['role']}){': ' + p['reason'] if p['reason'] else ''}\n"
            f"  validated range {p['lloq_pg_ml']:g}-{p['uloq_pg_ml']:g} pg/mL; dilutions "
            f"{_range(p['dilution_range'])}; minimum required dilution {p['mrd']:g}\n"
            f"  model {p['model']}, weighting {p['weighting']}, k {p['k']}, zero standard "
            f"{p['zero_standard']}, rules {p['rules'] or 'as the tool'}\n"
            "  QC levels: "
            + ", ".join(
                f"{lv} {t['target_pg_ml']:g} ±{t['tolerance_pct']:g} %"
                + (" (required)" if t["required"] else "")
                for lv, t in p["qc_levels"].items()
            )
            + f"\n  validation {p['validation_sha256'][:12]}, report {p['report_sha256'][:12]}"
            + (
                f"\n  superseded {p['superseded_utc']} by profile {p['superseded_by']}"
                if p["superseded_by"]
                else ""
            )
        )


def register(main: click.Group) -> None:
    """Add validate and method to the il6assay group."""
    main.add_command(validate)
    main.add_command(method)
