"""The ``il6assay`` command: a thin layer over the library.

Only click is imported at start; each command imports what it needs, so
``il6assay --help`` stays fast. Bad input is one line on stderr and exit 2;
anything else that goes wrong is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from il6assay.cli.common import EXIT_ACCEPTED, EXIT_REJECTED, intake_options, one_blas_thread
from il6assay.cli.common import fail as _fail


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="il6assay")
def main() -> None:
    """ELISA plate-reader exports to study-keyed IL-6 concentrations.

    Exit codes: 0 plate accepted, 3 processed but the plate fails acceptance
    (results still written and marked), 2 bad input or usage (nothing written).
    """


@main.command()
@click.argument("export", type=click.Path(path_type=Path))
@click.option(
    "--layout",
    type=click.Path(path_type=Path),
    help="Plate layout: wellmap TOML or XLSX/CSV grids.",
)
@click.option("--samples", type=click.Path(path_type=Path), help="Sample sheet (CSV or XLSX).")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [./il6assay-results].")
@click.option("--db", "db", help="Study database for the Westgard check and the QC record.")
@intake_options
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
def process(
    export: Path,
    layout: Path | None,
    samples: Path | None,
    out: Path | None,
    db: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Fit the standard curve of EXPORT and write study-keyed results."""
    one_blas_thread()
    from il6assay.errors import InputError
    from il6assay.project import load_project
    from il6assay.study.plate_intake import open_intake, take_in

    try:
        # il6assay.toml, $IL6ASSAY_DB and the defaults, read once; the options over them
        intake = open_intake(load_project(), db=db, out=out, **options)
        # Every plate of the export (a run folder each) unless --plate picks one;
        # all are processed and judged before any folder is written.
        taken = take_in(intake, export, layout, samples)
    except InputError as err:
        _fail(err)
    runs = [t.run for t in taken]
    for warning in dict.fromkeys([*intake.notes, *(w for run in runs for w in run.warnings)]):
        click.echo(f"il6assay: warning: {warning}", err=True)
    for t in taken:
        click.echo(f"{t.run.run_id}: {t.run.verdict}", err=True)
        click.echo(f"results written to {t.folder}", err=True)
    if as_json:
        summaries = [_summary(t.run, t.folder) for t in taken]
        doc = summaries[0] if len(summaries) == 1 else summaries
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    sys.exit(EXIT_ACCEPTED if all(run.accepted for run in runs) else EXIT_REJECTED)


def _summary(run: Any, folder: Path) -> dict[str, Any]:

    return {
        "run_id": run.run_id,
        "run_dir": str(folder),
        "accepted": run.accepted,
        "verdict": run.verdict,
        "failed_rules": [r.id for r in run.failed_rules],
        "lloq_pg_ml": run.lloq,
        "uloq_pg_ml": run.uloq,
        "results": run.result_rows(),
    }


@main.command()
def readers() -> None:
    """List the export formats il6assay reads."""
    from il6assay.plate.readers import reader_names

    for name, description in reader_names():
        click.echo(f"{name:12} {description}")


@main.command()
@click.argument("export", type=click.Path(path_type=Path))
@click.option("--reader", help="Export format, skipping detection.")
@click.option("--json", "as_json", is_flag=True, help="Print the reading as JSON.")
@click.option(
    "--verbose", is_flag=True, help="When no reader claims the file, every reader's reason."
)
def inspect(export: Path, reader: str | None, as_json: bool, verbose: bool) -> None:
    """Show what was read from EXPORT: format, plates, reads (mode, optics), metadata, grids."""
    from il6assay.errors import InputError
    from il6assay.plate.export import row_letter
    from il6assay.plate.readers import NoReaderError, read_export

    try:
        parsed = read_export(export, reader=reader)
    except NoReaderError as err:
        if verbose:
            for reason in err.reasons:
                click.echo(f"il6assay: {reason}", err=True)
        _fail(err)
    except InputError as err:
        _fail(err)
    for warning in parsed.warnings:
        click.echo(f"il6assay: warning: {warning}", err=True)
    doc = export_document(parsed)
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False, default=str))
        return
    click.echo(f"format: {doc['format']}")
    for plate in parsed.plates:
        click.echo(f"\nplate {plate.id} ({plate.rows}x{plate.cols})")
        for key, value in plate.metadata.items():
            click.echo(f"  {key}: {value}")
        for info, (label, grid) in zip(
            plate.metadata.get("reads", []), plate.reads.items(), strict=False
        ):
            optics = ", ".join(f"{k} {v}" for k, v in info.items() if k not in ("label", "mode"))
            mode = info.get("mode") or "unknown mode"
            click.echo(f"\n  read {label} ({mode}{', ' + optics if optics else ''})")
            click.echo("     " + "".join(f"{c:>9}" for c in range(1, plate.cols + 1)))
            for r in range(plate.rows):
                letter = row_letter(r)
                cells = [_cell(grid.get(f"{letter}{c}")) for c in range(1, plate.cols + 1)]
                click.echo(f"  {letter}  " + "".join(f"{v:>9}" for v in cells))


def _cell(value: Any) -> str:
    if value is None:
        return "."
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(getattr(value, "token", value))[:8]


def export_document(parsed: Any) -> dict[str, Any]:
    """The `inspect --json` document: format, plates in file order, reads by label."""
    from il6assay.plate.export import MISSING, Token

    def value(v: Any) -> Any:
        if isinstance(v, Token):
            return None if v.status == MISSING else v.status
        return v

    return {
        "format": parsed.format,
        "plates": [
            {
                "id": p.id,
                "metadata": p.metadata,
                "reads": {
                    label: {w: value(v) for w, v in grid.items()} for label, grid in p.reads.items()
                },
            }
            for p in parsed.plates
        ],
    }


from il6assay.cli.db import register as _register_db  # noqa: E402

_register_db(main)

from il6assay.cli.record import register as _register_record  # noqa: E402

_register_record(main)

from il6assay.cli.layout import register as _register_layout  # noqa: E402

_register_layout(main)

from il6assay.cli.study import register as _register_study  # noqa: E402

_register_study(main)

from il6assay.cli.web import register as _register_web  # noqa: E402

_register_web(main)

from il6assay.cli.validate import register as _register_validate  # noqa: E402

_register_validate(main)
from il6assay.cli.subjects import register as _register_subjects  # noqa: E402

_register_subjects(main)

from il6assay.cli.lots import register as _register_lots  # noqa: E402

_register_lots(main)

from il6assay.cli.isr import register as _register_isr  # noqa: E402

_register_isr(main)
