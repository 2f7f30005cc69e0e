"""What every command module shares: exit codes, the one-line failure, the --db help."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

EXIT_ACCEPTED = EXIT_OK = 0  # processed and accepted; or nothing wrong
EXIT_CHANGED = 1  # status/verify: a run was changed or its chain is broken
EXIT_BAD_INPUT = 2  # bad input or usage: one line on stderr, nothing written
EXIT_REJECTED = 3  # processed, but a plate fails acceptance

DB_HELP = (
    "Study database: SQLite file path or postgresql+psycopg://... "
    "[$IL6ASSAY_DB, else db in ./il6assay.toml]; it must exist (il6assay db upgrade creates it)."
)


def fail(err: Exception) -> NoReturn:
    """Print ``err`` as one line on stderr and exit with EXIT_BAD_INPUT (no traceback)."""
    click.echo(f"il6assay: {err}", err=True)
    sys.exit(EXIT_BAD_INPUT)
