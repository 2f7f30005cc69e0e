"""The database commands: ``db upgrade``, ``db verify``, ``push``, ``results``, ``history``,
``export-redcap``.

Only click is imported here; each command imports SQLAlchemy and the rest
when it runs. ``register(main)`` adds them to the ``il6assay`` group. Bad
input, a refused push and an unreachable database are one line on stderr and
exit 2; nothing is written to the database in those cases.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from il6assay.cli.common import DB_HELP, run_folders
from il6assay.cli.common import fail as _fail


def _study_id(text: str) -> str:
    """A study ID typed on the command line in its one normal form (as the sheet's are read)."""
    from il6assay.plate.samples import clean_label

    return clean_label(text, "study ID")


def _say_database(db: str | None) -> None:
    """Say on stderr which study database the command uses, and what named it."""
    from il6assay.db.engine import describe

    click.echo(describe(db), err=True)


@click.group("db")
def db_group() -> None:
    """Create or migrate the study database's schema, or check its chain."""


@db_group.command("upgrade")
@click.option("--db", "db", help=DB_HELP)
def db_upgrade(db: str | None) -> None:
    """Create the study database, or migrate it to this il6assay's schema (never drops data)."""
    from il6assay.db.engine import make_engine, shown, upgrade
    from il6assay.errors import InputError

    notes: list[str] = []
    try:
        _say_database(db)
        engine = make_engine(db)
        before, after = upgrade(engine, notes=notes)
    except InputError as err:
        _fail(err)
    where = shown(str(engine.url))
    if before == after:
        click.echo(f"{where}: schema version {after}, up to date")
    elif before is None:
        click.echo(f"{where}: new study database created, schema version none -> {after}")
    else:
        click.echo(f"{where}: schema version {before} -> {after}")
    for note in notes:
        click.echo(note)


@db_group.command("verify")
@click.option("--db", "db", help=DB_HELP)
def db_verify(db: str | None) -> None:
    """Walk the database's own chain: name each row changed, forged or deleted outside il6assay.

    Exit 0 when the chain is intact (its head is then anchored beside the key), 1 when
    a row breaks it (each named on its own line), 2 when it cannot be checked.
    """
    from il6assay.cli.common import EXIT_CHANGED
    from il6assay.db.chain_check import verify_chain
    from il6assay.db.engine import make_engine
    from il6assay.errors import InputError

    try:
        _say_database(db)
        report = verify_chain(make_engine(db, must_exist=True))
    except InputError as err:
        _fail(err)
    for problem in report.problems:
        click.echo(problem)
    anchor = report.anchor
    anchored = f"anchored at entry #{anchor['seq']}" if anchor else "no anchor beside the key yet"
    summary = (
        f"{report.entries} chain entries, {report.rows} rows in {report.tables} tables "
        f"(key {report.key}; {anchored})"
    )
    if report.intact:
        click.echo(f"chain intact: {summary}")
        return
    click.echo(f"chain BROKEN: {len(report.problems)} problem(s); {summary}", err=True)
    raise SystemExit(EXIT_CHANGED)


@click.command("push")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", "db", help=DB_HELP)
@click.option("--by", "by", default=None, help="Your name, kept with the OS account in the audit.")
@click.option(
    "--supersede",
    is_flag=True,
    help="Let a re-assay (a dilution already current) replace current results.",
)
@click.option("--reason", default=None, help="Why (required with --supersede; kept in the audit).")
def push(
    run_dirs: tuple[Path, ...], db: str | None, by: str | None, supersede: bool, reason: str | None
) -> None:
    """Push reviewed and accepted runs to the study database, one transaction per run.

    When the database holds review accounts, a run is stored only with an account's
    signed accept of exactly its content (docs/integrity.md).
    """
    from il6assay.db.engine import make_engine
    from il6assay.db.push import push_runs
    from il6assay.errors import InputError
    from il6assay.record.review import expand_runs

    try:
        folders = expand_runs(run_folders(run_dirs))
        _say_database(db)
        engine = make_engine(db, must_exist=True)
        push_runs(
            engine,
            folders,
            by=by,
            supersede=supersede,
            reason=reason,
            report=lambda outcome: click.echo(outcome.message()),
        )
    except InputError as err:
        _fail(err)


@click.command("results")
@click.option("--db", "db", help=DB_HELP)
@click.option("--study-id", default=None, help="Only this study ID.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "json", "analysis", "sdtm-lb"]),
    default="csv",
    show_default=True,
    help="analysis: the statistician's dataset (CSV; Parquet with --out FILE.parquet); "
    "sdtm-lb: the CDISC SDTM LB domain (CSV; SAS XPORT with --out FILE.xpt). docs/analysis.md",
)
@click.option("--wide", is_flag=True, help="One row per study ID, columns per visit.")
@click.option(
    "--dilutions",
    "dilutions",
    is_flag=True,
    help="One row per current dilution of each specimen (the rows results combine).",
)
@click.option("--out", type=click.Path(path_type=Path), help="Write to FILE (xlsx needs it).")
def results(
    db: str | None, study_id: str | None, fmt: str, wide: bool, dilutions: bool, out: Path | None
) -> None:
    """Export current results: one row per study ID and visit, each traceable to its run.

    Refused (exit 1, naming a row) when the database's chain is broken.
    """
    from il6assay.cli.common import EXIT_CHANGED
    from il6assay.db.chain_check import ChainBroken, require_intact
    from il6assay.db.engine import make_engine
    from il6assay.db.read import (
        DILUTION_COLUMNS,
        RESULT_COLUMNS,
        current_dilutions,
        current_results,
        render,
        widen,
    )
    from il6assay.errors import InputError

    try:
        if wide and dilutions:
            raise InputError("--wide and --dilutions cannot be used together")
        if study_id is not None:
            study_id = _study_id(study_id)
        _say_database(db)
        engine = make_engine(db, must_exist=True)
        require_intact(engine)
        if fmt in ("analysis", "sdtm-lb"):
            if wide or dilutions:
                raise InputError(f"--format {fmt} is one row per specimen: no --wide, --dilutions")
            rows, text = _analysis_export(engine, study_id, fmt, out)
        elif dilutions:
            rows, columns = current_dilutions(engine, study_id), DILUTION_COLUMNS
        else:
            rows, columns = current_results(engine, study_id), RESULT_COLUMNS
        if study_id is not None and not rows:
            from il6assay.db.read import unknown_study_id_message

            unknown = unknown_study_id_message(engine, study_id)
            if unknown is not None:
                raise InputError(unknown)
        if fmt not in ("analysis", "sdtm-lb"):
            if wide:
                columns, rows = widen(rows)
            text = render(rows, columns, fmt, out)
    except ChainBroken as err:
        click.echo(f"il6assay: {err}", err=True)
        raise SystemExit(EXIT_CHANGED) from None
    except InputError as err:
        _fail(err)
    if text is not None:
        click.echo(text, nl=False)
    else:
        click.echo(f"{len(rows)} row(s) written to {out}", err=True)


def _analysis_export(
    engine: object, study_id: str | None, fmt: str, out: Path | None
) -> tuple[list[dict], str | None]:
    """The analysis or SDTM LB rows, rendered as CSV, or written as Parquet or SAS XPORT."""
    from il6assay.db.analysis import (
        ANALYSIS_COLUMNS,
        SDTM_LB_COLUMNS,
        analysis_rows,
        sdtm_lb,
        write_parquet,
        write_xport,
    )
    from il6assay.db.read import render
    from il6assay.project import load_project

    project = load_project()
    matrix, studyid = project.matrix, project.studyid
    suffix = out.suffix.lower() if out is not None else ""
    if fmt == "analysis":
        rows = analysis_rows(engine, study_id, matrix=matrix)  # type: ignore[arg-type]
        if suffix == ".parquet":
            write_parquet(rows, ANALYSIS_COLUMNS, out)  # type: ignore[arg-type]
            return rows, None
        return rows, render(rows, ANALYSIS_COLUMNS, "csv", out)
    rows = sdtm_lb(engine, study_id, matrix=matrix, studyid=studyid)  # type: ignore[arg-type]
    if suffix == ".xpt":
        write_xport(rows, out)  # type: ignore[arg-type]
        return rows, None
    return rows, render(rows, SDTM_LB_COLUMNS, "csv", out)


@click.command("history")
@click.argument("study_id")
@click.option("--db", "db", help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
def history(study_id: str, db: str | None, as_json: bool) -> None:
    """Every value STUDY_ID's specimens have had, and why each changed."""
    import json

    from il6assay.db.engine import make_engine
    from il6assay.db.read import history as read_history
    from il6assay.db.read import history_text, unknown_study_id_message
    from il6assay.errors import InputError

    try:
        study_id = _study_id(study_id)
        _say_database(db)
        engine = make_engine(db, must_exist=True)
        entries = read_history(engine, study_id)
        if not entries:
            unknown = unknown_study_id_message(engine, study_id)
            raise InputError(unknown or f"no results for study ID '{study_id}' in the database")
    except InputError as err:
        _fail(err)
    click.echo(json.dumps(entries, indent=2) if as_json else history_text(entries), nl=as_json)


@click.command("export-redcap")
@click.option(
    "--fields",
    "mapping_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Mapping TOML: REDCap field per value, record ID field, events.",
)
@click.option("--db", "db", help=DB_HELP)
@click.option("--out", type=click.Path(path_type=Path), help="Write the import CSV to FILE.")
@click.option("--api", "api_url", default=None, help="REDCap API URL: import the records there.")
@click.option(
    "--token-env", default=None, help="Environment variable holding the REDCap API token."
)
@click.option("--by", default=None, help="Who exports (recorded in the audit table).")
def export_redcap(
    mapping_path: Path,
    db: str | None,
    out: Path | None,
    api_url: str | None,
    token_env: str | None,
    by: str | None,
) -> None:
    """Current results as REDCap records: a Data Import Tool CSV, or pushed by the API.

    Each export is recorded in the database's audit table (where to, how many rows,
    which records, the SHA-256 of what was sent).
    """
    from il6assay.db.chain_check import require_intact
    from il6assay.db.engine import make_engine
    from il6assay.db.exports import record_export
    from il6assay.db.read import current_results
    from il6assay.db.redcap import (
        check_api_url,
        check_token,
        hide_token,
        import_records,
        load_mapping,
        record_count,
        records,
        to_csv,
    )
    from il6assay.errors import InputError

    token = ""
    try:
        if api_url and not token_env:
            raise InputError("--api needs --token-env VAR (the token is never a flag)")
        if api_url:
            check_api_url(api_url)
            token = os.environ.get(token_env or "", "").strip()
            if not token:
                raise InputError(f"environment variable {token_env} holding the token is not set")
            check_token(token, str(token_env))
        mapping = load_mapping(mapping_path)
        _say_database(db)
        engine = make_engine(db, must_exist=True)
        require_intact(engine)
        columns, rows = records(current_results(engine), mapping)
        data = to_csv(columns, rows)
        ids = [r[mapping.record_id] for r in rows]
        if out is not None:
            out.write_text(data, encoding="utf-8")
            record_export(engine, where=f"file {out.resolve()}", data=data, record_ids=ids, by=by)
            click.echo(f"{len(rows)} row(s) written to {out}", err=True)
        if api_url:
            expected = record_count(rows, mapping)
            count = import_records(api_url, token, data, expected)
            where = f"REDCap API {check_api_url(api_url)} ({count} record(s) imported)"
            record_export(engine, where=where, data=data, record_ids=ids, by=by)
            click.echo(f"REDCap imported {count} record(s) ({len(rows)} row(s))")
        elif out is None:
            record_export(engine, where="standard output", data=data, record_ids=ids, by=by)
            click.echo(data, nl=False)
    except InputError as err:
        _fail(InputError(hide_token(str(err), token)) if token else err)


def register(main: click.Group) -> None:
    """Add the database commands to the ``il6assay`` group."""
    for command in (db_group, push, results, history, export_redcap):
        main.add_command(command)
