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


def one_blas_thread() -> None:
    """Run numpy's BLAS on one thread unless the user chose otherwise (call before numpy loads).

    A plate's matrices are small: OpenBLAS's pool of threads, started when numpy is first
    imported, only costs CPU (40 ms a process); batch runs plates side by side in its
    workers instead. A value the user set (OPENBLAS_NUM_THREADS) is kept.
    """
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


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


def intake_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """How a plate is taken in, the same for process and batch (il6assay.study.plate_intake):
    the reader, plate, reads, curve, rules, sheet matching, report and who processes."""
    options = [
        click.option(
            "--reader", help="Export format, skipping detection (see `il6assay readers`)."
        ),
        click.option(
            "--plate",
            help="Plate id: process only this plate of a multi-plate export [every plate].",
        ),
        click.option(
            "--read", help="Measurement read label, e.g. 450, 'lum' [450, or the only read]."
        ),
        click.option(
            "--ratio",
            help="Signal = read A / read B x 10^4 per well (TR-FRET), e.g. 'trf 665/trf 620'.",
        ),
        click.option(
            "--reference", help="Reference read label, or 'none' [570/540/620/630 if present]."
        ),
        click.option(
            "--model",
            type=click.Choice(["4pl", "5pl", "loglog"]),
            help="Curve model [4pl]; loglog: a straight line of log OD on log dose, as some kit "
            "inserts prescribe (chosen only here, never by itself).",
        ),
        click.option(
            "--weighting",
            type=click.Choice(["none", "1/y", "1/y^2", "1/(k^2+y^2)"]),
            help="Curve weighting [1/(k^2+y^2): by the plate's replicate noise].",
        ),
        click.option(
            "--zero-standard",
            type=click.Choice(["fit", "subtract", "exclude"]),
            help="Zero standard: fitted as a curve point, subtracted from every OD, or left "
            "out [fit].",
        ),
        rule_profile_options,
        click.option(
            "--allow-unmatched",
            is_flag=True,
            help="Sample/sheet mismatches warn instead of failing.",
        ),
        click.option(
            "--standalone-report",
            is_flag=True,
            help="Embed plotly.js in report.html instead of sharing one copy beside the run "
            "folders.",
        ),
        click.option(
            "--lang",
            help="Report language: en or zh-CN, Simplified Chinese [en; lang in il6assay.toml].",
        ),
        click.option(
            "--by",
            "processed_by",
            default=None,
            help="Who processes (your il6assay account name; recorded in run.json) "
            "[the OS account].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def fail(err: Exception) -> NoReturn:
    """Print ``err`` as one line on stderr and exit with EXIT_BAD_INPUT (no traceback)."""
    click.echo(f"il6assay: {err}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def run_folders(run_dirs: tuple[Path, ...]) -> list[Path]:
    """The RUN_DIRs given, but a results folder's shared files (plotly.js, index.html, ...),
    each skipped with a one-line note on stderr: what ``il6assay CMD runs/*`` expands to."""
    from il6assay.record.results_folder import without_shared_files

    return without_shared_files(list(run_dirs), lambda text: click.echo(text, err=True))
