"""What every command module shares: exit codes, the one-line failure, the --db help."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

EXIT_ACCEPTED = EXIT_OK = 0  # processed and accepted; or nothing wrong
EXIT_CHANGED = 1  # status/verify: a run was changed or its chain is broken
EXIT_BAD_INPUT = 2  # bad input or usage: one line on stderr, nothing written
EXIT_REJECTED = 3  # processed, but a plate fails acceptance

DB_HELP = (
    "Study database: SQLite file path or postgresql+psycopg://... "
    "[$IL6ASSAY_DB, else db in ./il6assay.toml]; it must exist (il6assay db upgrade creates it)."
)


def rule_profile_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--rules and --fit-standards, as process and batch take them (il6assay.toml's default)."""
    command = click.option(
        "--fit-standards",
        type=click.Choice(["wells", "means"]),
        help="Fit every standard well, or each level's mean OD as SoftMax Pro does [wells].",
    )(command)
    return click.option(
        "--rules",
        type=click.Choice(["m10", "kit"]),
        help="Acceptance rules: ICH M10 on reportable values, or a kit insert's well by "
        "well [m10].",
    )(command)


def fail(err: Exception) -> NoReturn:
    """Print ``err`` as one line on stderr and exit with EXIT_BAD_INPUT (no traceback)."""
    click.echo(f"il6assay: {err}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def run_folders(run_dirs: tuple[Path, ...]) -> list[Path]:
    """The RUN_DIRs given, but a results folder's shared files (plotly.js, index.html, ...),
    each skipped with a one-line note on stderr: what ``il6assay CMD runs/*`` expands to."""
    from il6assay.record.results_folder import without_shared_files

    return without_shared_files(list(run_dirs), lambda text: click.echo(text, err=True))
