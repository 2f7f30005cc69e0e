"""The run-folder commands: ``mask``, ``unmask``, ``review``, ``status``, ``verify``, ``repair``.

Only click is imported here; each command imports what it needs when it runs.
``register(main)`` adds them to the ``il6assay`` group. Each takes one or
more run folders (a shell glob such as ``runs/plate_001-*`` included). Those
that write (mask, unmask, review) refuse two runs of the same plate in one
call, naming both, and check every run before changing any; status and
verify report on each run named (or each run in a folder of runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from il6assay.cli.common import DB_HELP, EXIT_CHANGED, EXIT_OK, EXIT_REJECTED, run_folders
from il6assay.cli.common import fail as _fail

PASSWORD_ENV_HELP = (
    "Read the account's password from this environment variable instead of asking "
    "(when the study database holds review accounts)."
)


def _password(username: str, password_env: str | None) -> str:
    """The account's password: from the variable ``password_env`` names, else asked for."""
    import os

    from il6assay.errors import InputError

    if password_env:
        if password_env not in os.environ:
            raise InputError(f"--password-env {password_env}: no such environment variable")
        return os.environ[password_env]
    return str(click.prompt(f"password of account {username}", hide_input=True, err=True))


def _accounts(db: str | None, by: str, password_env: str | None):  # -> (engine, account, pw)
    """The study database with review accounts and the account ``by`` signed in; else None."""
    from il6assay.web.signing import accounts_database, signed_in

    engine = accounts_database(db)
    if engine is None:
        return None
    password = _password(by.strip(), password_env)
    return engine, signed_in(engine, by, password), password


def _mask_command(unmask: bool):  # returns the command's function, before click wraps it
    action = "unmask" if unmask else "mask"

    @click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option("--well", "wells", multiple=True, help=f"Well to {action} (repeat for several).")
    @click.option("--reason", default="", help="Why (required; kept in the audit log).")
    @click.option(
        "--by",
        "by",
        default="",
        help="Who decides (required; kept in the audit log); with review accounts, your account.",
    )
    @click.option("--db", "db", default=None, help=DB_HELP)
    @click.option("--password-env", "password_env", default=None, help=PASSWORD_ENV_HELP)
    def command(
        run_dirs: tuple[Path, ...],
        wells: tuple[str, ...],
        reason: str,
        by: str,
        db: str | None,
        password_env: str | None,
    ) -> None:
        from il6assay.errors import InputError
        from il6assay.record.folder import open_run
        from il6assay.record.masking import mask_wells
        from il6assay.record.review import expand_runs

        accepted = True
        try:
            named = run_folders(run_dirs)
            folders = expand_runs(named, folders_of_runs=False, one_per_plate=True)
            for folder in folders:  # every run checked before any is rewritten
                open_run(folder)
            signer = _accounts(db, by, password_env)
            for folder in folders:
                if signer is None:
                    run, entry = mask_wells(folder, list(wells), reason, by, unmask=unmask)
                else:
                    from il6assay.web.signing import signed_mask

                    engine, account, _ = signer
                    run, entry = signed_mask(
                        engine, folder, account, list(wells), reason, unmask=unmask
                    )
                click.echo(
                    f"{folder}: {action}ed {', '.join(entry['wells'])}; refitted; "
                    f"{len(entry['changes'])} value(s) changed (audit.jsonl)",
                    err=True,
                )
                if entry["review_before"] != "unreviewed":
                    click.echo(f"{folder}: was {entry['review_before']}, now unreviewed", err=True)
                click.echo(f"{run.run_id}: {run.verdict}", err=True)
                accepted = accepted and run.accepted
        except InputError as err:
            _fail(err)
        sys.exit(EXIT_OK if accepted else EXIT_REJECTED)

    command.__doc__ = (
        f"{action.capitalize()} wells of each RUN_DIR, refit, rewrite its outputs and log the "
        "change."
    )
    return command


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--accept", is_flag=True, help="Accept the plate's results.")
@click.option("--reject", is_flag=True, help="Reject the plate's results.")
@click.option("--by", "by", default="", help="Reviewer's name (required).")
@click.option("--reason", default="", help="Why (required; kept in the audit log).")
@click.option("--override", is_flag=True, help="Accept a plate that fails the acceptance rules.")
@click.option("--db", "db", default=None, help=DB_HELP)
@click.option("--password-env", "password_env", default=None, help=PASSWORD_ENV_HELP)
def review(
    run_dirs: tuple[Path, ...],
    accept: bool,
    reject: bool,
    by: str,
    reason: str,
    override: bool,
    db: str | None,
    password_env: str | None,
) -> None:
    """Accept or reject each RUN_DIR as QC; recorded in its audit log, run.json and report.

    When the study database holds review accounts, --by names your account, its
    password is asked for, and the decision is signed and recorded in the database.
    """
    from il6assay.errors import InputError
    from il6assay.record.review import expand_runs, review_runs

    try:
        if accept and reject:
            raise InputError("--accept and --reject cannot be used together; say one")
        if not (accept or reject):
            raise InputError("say --accept or --reject", path=run_dirs[0])
        named = run_folders(run_dirs)
        folders = expand_runs(named, folders_of_runs=False, one_per_plate=True)
        decision = "accept" if accept else "reject"
        signer = _accounts(db, by, password_env)
        if signer is not None:
            from il6assay.web.signing import sign_reviews

            engine, account, password = signer
            signed = sign_reviews(
                engine, folders, account, password, decision, reason, override=override
            )
            entries = [s.entry for s in signed]
        else:
            entries = review_runs(
                folders, decision, by, reason, override=override, extra={"signed": False}
            )
    except InputError as err:
        _fail(err)
    for folder, entry in zip(folders, entries, strict=True):
        note = " (override of the acceptance rules)" if entry["override"] else ""
        click.echo(f"{folder}: {entry['review_after']} by {entry['by']}{note}", err=True)
        if signer is not None:
            click.echo(
                f"{folder}: signed by account {entry['account']} and recorded in the study "
                "database",
                err=True,
            )
        else:
            from il6assay.web.signing import SINGLE_USER

            click.echo(f"{folder}: {SINGLE_USER}", err=True)


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the statuses as JSON.")
@click.option(
    "--db",
    "db",
    default=None,
    help="Also compare each run's signed decisions with this study database's signatures "
    "(a signing interrupted between the two is named). Only when given.",
)
def status(run_dirs: tuple[Path, ...], as_json: bool, db: str | None) -> None:
    """List runs (or the runs in a results folder) with verdict, review and integrity.

    Exit 1 when any run was changed, its audit chain is broken, it is too
    old to check, a killed command left it half done, or (with --db) its
    signed decisions and the database's disagree (`il6assay repair` mends
    those); 2 when a run.json is malformed.
    """
    from il6assay.errors import InputError
    from il6assay.record.repair import interrupted
    from il6assay.record.review import expand_runs, run_status

    try:
        rows = []
        for path in run_folders(run_dirs):
            named = interrupted([path])  # what a killed command left: missing runs, set aside
            rows += named
            try:
                rows += [run_status(p) for p in expand_runs([path])]
            except InputError:
                if not named:
                    raise
        if db is not None:
            _signature_copies(rows, db)
    except InputError as err:
        _fail(err)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for r in rows:
            who = f" by {r['reviewed_by']}" if r["reviewed_by"] else ""
            flag = " OVERRIDE" if r["override"] else ""
            check = "" if r["integrity"] == "ok" else f"  CHANGED: {r['integrity']}"
            click.echo(
                f"{r['run_id']}  rules: {r['verdict']}  review: {r['review']}{who}{flag}{check}"
            )
    sys.exit(EXIT_OK if all(r["integrity"] == "ok" for r in rows) else EXIT_CHANGED)


def _signature_copies(rows: list[dict], db: str) -> None:
    """Name, in ``integrity``, each intact run whose signed entries the database disagrees with."""
    from il6assay.web.decisions import copy_problem
    from il6assay.web.signing import accounts_database

    engine = accounts_database(db)
    if engine is None:
        return  # no review accounts: no signatures to compare
    for r in rows:
        if r["integrity"] == "ok":
            r["integrity"] = copy_problem(engine, Path(r["run_dir"]), db) or "ok"


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--db",
    "db",
    default=None,
    help="Remember each run verified in this study database (a later push does not process "
    "it again), and process none verified there before. Only when given.",
)
def verify(run_dirs: tuple[Path, ...], db: str | None) -> None:
    """Process each run again from its inputs/ and require the same results, flags and verdict.

    Also checks every file against its hash, the audit chain and the review.
    Exit 0 when every run is verified, 1 when any differs, 2 on bad input.
    """
    from il6assay.errors import InputError
    from il6assay.record.review import expand_runs
    from il6assay.record.verify import verify_run

    try:
        folders = expand_runs(run_folders(run_dirs))
        memory = None
        if db is not None:
            from il6assay.db.verified import study_memory

            memory = study_memory(db, "verify")
        results = [verify_run(p, memory) for p in folders]
    except InputError as err:
        _fail(err)
    for result in results:
        click.echo(result.message())
    sys.exit(EXIT_OK if all(r.ok for r in results) else EXIT_CHANGED)


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--by", "by", default="", help="Who repairs (required; kept in the audit log).")
@click.option(
    "--db",
    "db",
    default=None,
    help="Also bring each run's signed decisions in step with this study database's "
    "signatures (copy one the log lacks, void one the database does not hold).",
)
def repair(run_dirs: tuple[Path, ...], by: str, db: str | None) -> None:
    """Mend what an interrupted (killed) command left of each RUN_DIR, as `status` names it.

    Puts back a run folder set aside by an interrupted mask or batch --force,
    files an earlier run replaced by batch --force in .replaced/, removes
    unfinished copies, and rewrites run.json's review and review.js from the
    audit log after an interrupted review. With --db, a signature the database
    holds and the log lacks is copied into the log, and a signed entry the
    database does not hold is voided by an appended entry. Exit 0 when every
    run is whole again, 2 when a run's problem is not an interrupted command's.
    """
    from il6assay.errors import InputError
    from il6assay.record.repair import repair_run

    try:
        engine = None
        if db is not None:
            from il6assay.web.signing import accounts_database

            engine = accounts_database(db)
        for folder in run_folders(run_dirs):
            done = repair_run(folder, by)
            if engine is not None:
                from il6assay.record.review import expand_runs
                from il6assay.web.decisions import mend_copies

                for run in expand_runs([Path(folder)]):
                    mended = mend_copies(engine, run, by.strip())
                    done += mended + (repair_run(run, by) if mended else [])
            for line in done or ["nothing to repair"]:
                click.echo(f"{folder}: {line}", err=True)
    except InputError as err:
        _fail(err)


def register(main: click.Group) -> None:
    """Add the run-folder commands to the ``il6assay`` group."""
    main.command(name="mask")(_mask_command(unmask=False))
    main.command(name="unmask")(_mask_command(unmask=True))
    main.add_command(review)
    main.add_command(status)
    main.add_command(verify)
    main.add_command(repair)
