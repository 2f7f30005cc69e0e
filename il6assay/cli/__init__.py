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

EXIT_ACCEPTED = 0
EXIT_BAD_INPUT = 2
EXIT_REJECTED = 3


def _fail(err: Exception) -> None:
    click.echo(f"il6assay: {err}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="il6assay")
def main() -> None:
    """ELISA plate-reader exports to study-keyed IL-6 concentrations.

    Exit codes: 0 plate accepted, 3 processed but the plate fails acceptance
    (results still written and marked), 2 bad input or usage (nothing written).
    """


@main.command()
@click.argument("export", type=click.Path(path_type=Path))
@click.option("--layout", type=click.Path(path_type=Path), help="Plate layout (wellmap TOML).")
@click.option("--samples", type=click.Path(path_type=Path), help="Sample sheet (CSV or XLSX).")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [./il6assay-results].")
@click.option("--reader", help="Export format, skipping detection (see `il6assay readers`).")
@click.option("--plate", help="Plate id, for an export holding several plates.")
@click.option("--read", "read_label", help="Measurement read label [450, or the only read].")
@click.option("--reference", help="Reference read label, or 'none' [570/540/620/630 if present].")
@click.option(
    "--model",
    type=click.Choice(["4pl", "5pl", "loglog"]),
    help="Curve model [4pl]; loglog: a straight line of log OD on log dose, as some kit "
    "inserts prescribe (chosen only here, never by itself).",
)
@click.option(
    "--weighting",
    type=click.Choice(["none", "1/y", "1/y^2", "1/(k^2+y^2)"]),
    help="Curve weighting [1/(k^2+y^2): by the plate's replicate noise].",
)
@click.option(
    "--zero-standard", type=click.Choice(["fit", "subtract"]), help="Zero standard handling [fit]."
)
@click.option(
    "--allow-unmatched", is_flag=True, help="Sample/sheet mismatches warn instead of failing."
)
@click.option(
    "--standalone-report",
    is_flag=True,
    help="Embed plotly.js in report.html instead of sharing one copy beside the run folders.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
def process(
    export: Path,
    layout: Path | None,
    samples: Path | None,
    out: Path | None,
    reader: str | None,
    plate: str | None,
    read_label: str | None,
    reference: str | None,
    model: str | None,
    weighting: str | None,
    zero_standard: str | None,
    allow_unmatched: bool,
    standalone_report: bool,
    as_json: bool,
) -> None:
    """Fit the standard curve of EXPORT and write study-keyed results."""
    from il6assay.errors import InputError
    from il6assay.plate.discover import find_layout, find_samples, project_config
    from il6assay.record.outputs import write_run
    from il6assay.run import process_plate
    from il6assay.settings import Settings

    try:
        if not export.is_file():
            raise InputError("no such file", path=export)
        _, config = project_config()
        layout_path = find_layout(export, layout)
        try:
            samples_path = find_samples(export, samples)
        except InputError:
            if not allow_unmatched:
                raise
            samples_path = None  # results then carry no study IDs, flagged NO_STUDY_ID
        defaults = Settings()
        settings = Settings(
            model=model or config.get("model", defaults.model),
            weighting=weighting or config.get("weighting", defaults.weighting),
            zero_standard=zero_standard or config.get("zero_standard", defaults.zero_standard),
            read=read_label,
            reference=reference,
            plate=plate,
        )
        run = process_plate(
            export,
            layout_path,
            samples_path,
            settings,
            reader=reader,
            allow_unmatched=allow_unmatched,
        )
        out_dir = out or Path(config.get("out", "il6assay-results"))
        folder = write_run(run, out_dir, standalone_report=standalone_report)
    except InputError as err:
        _fail(err)
    for warning in run.warnings:
        click.echo(f"il6assay: warning: {warning}", err=True)
    click.echo(f"{run.run_id}: {run.verdict}", err=True)
    click.echo(f"results written to {folder}", err=True)
    if as_json:
        click.echo(json.dumps(_summary(run, folder), indent=2, ensure_ascii=False))
    sys.exit(EXIT_ACCEPTED if run.accepted else EXIT_REJECTED)


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


def _mask_command(unmask: bool):
    action = "unmask" if unmask else "mask"

    @click.argument("run_dir", type=click.Path(path_type=Path))
    @click.option("--well", "wells", multiple=True, help=f"Well to {action} (repeat for several).")
    @click.option("--reason", default="", help="Why (required; kept in the audit log).")
    @click.option("--by", "by", default="", help="Who decides (required; kept in the audit log).")
    def command(run_dir: Path, wells: tuple[str, ...], reason: str, by: str) -> None:
        from il6assay.errors import InputError
        from il6assay.record.masking import mask_wells

        try:
            run, entry = mask_wells(run_dir, list(wells), reason, by, unmask=unmask)
        except InputError as err:
            _fail(err)
        click.echo(
            f"{run_dir}: {action}ed {', '.join(entry['wells'])}; refitted; "
            f"{len(entry['changes'])} value(s) changed (audit.jsonl)",
            err=True,
        )
        if entry["review_before"] != "unreviewed":
            click.echo(f"{run_dir}: was {entry['review_before']}, now unreviewed", err=True)
        click.echo(f"{run.run_id}: {run.verdict}", err=True)
        sys.exit(EXIT_ACCEPTED if run.accepted else EXIT_REJECTED)

    command.__doc__ = (
        f"{action.capitalize()} wells of RUN_DIR, refit, rewrite its outputs and log the change."
    )
    return command


main.command(name="mask")(_mask_command(unmask=False))
main.command(name="unmask")(_mask_command(unmask=True))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--accept", "decision", flag_value="accept", help="Accept the plate's results.")
@click.option("--reject", "decision", flag_value="reject", help="Reject the plate's results.")
@click.option("--by", "by", default="", help="Reviewer's name (required).")
@click.option("--reason", default="", help="Why (required; kept in the audit log).")
@click.option("--override", is_flag=True, help="Accept a plate that fails the acceptance rules.")
def review(run_dir: Path, decision: str | None, by: str, reason: str, override: bool) -> None:
    """Accept or reject RUN_DIR as QC; recorded in its audit log, run.json and report."""
    from il6assay.errors import InputError
    from il6assay.record.review import review_run

    try:
        if decision is None:
            raise InputError("say --accept or --reject", path=run_dir)
        entry = review_run(run_dir, decision, by, reason, override=override)
    except InputError as err:
        _fail(err)
    note = " (override of the acceptance rules)" if entry["override"] else ""
    click.echo(f"{run_dir}: {entry['review_after']} by {entry['by']}{note}", err=True)


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the statuses as JSON.")
def status(run_dirs: tuple[Path, ...], as_json: bool) -> None:
    """List runs (or the runs in a results folder) with verdict, review and integrity."""
    from il6assay.errors import InputError
    from il6assay.record.review import expand_runs, run_status

    try:
        rows = [run_status(p) for p in expand_runs(list(run_dirs))]
    except InputError as err:
        _fail(err)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in rows:
        who = f" by {r['reviewed_by']}" if r["reviewed_by"] else ""
        flag = " OVERRIDE" if r["override"] else ""
        check = "" if r["integrity"] == "ok" else f"  CHANGED: {r['integrity']}"
        click.echo(f"{r['run_id']}  rules: {r['verdict']}  review: {r['review']}{who}{flag}{check}")


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
def inspect(export: Path, reader: str | None, as_json: bool) -> None:
    """Show what was read from EXPORT: format, plates, metadata and grids."""
    from il6assay.errors import InputError
    from il6assay.plate.readers import read_export

    try:
        parsed = read_export(export, reader=reader)
    except InputError as err:
        _fail(err)
    doc = export_document(parsed)
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False, default=str))
        return
    click.echo(f"format: {doc['format']}")
    for plate in parsed.plates:
        click.echo(f"\nplate {plate.id} ({plate.rows}x{plate.cols})")
        for key, value in plate.metadata.items():
            click.echo(f"  {key}: {value}")
        for label, grid in plate.reads.items():
            click.echo(f"\n  read {label}")
            click.echo("     " + "".join(f"{c:>9}" for c in range(1, plate.cols + 1)))
            for r in range(plate.rows):
                letter = "ABCDEFGHIJKLMNOP"[r]
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

