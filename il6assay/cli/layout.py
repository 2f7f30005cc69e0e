"""Layout and sample-sheet commands: ``layout template``, ``layout show``, ``samples template``.

Only click is imported here; each command imports the library when it runs.
``register(main)`` adds the groups to the ``il6assay`` command. Bad input is
one line on stderr and exit 2.
"""

from __future__ import annotations

from pathlib import Path

import click

from il6assay.cli.common import fail as _fail

# Terminal colours of the roles (click.style names), as layout_view.ROLE_COLOURS in HTML.
ROLE_STYLE = {
    "standard": {"fg": "black", "bg": "cyan"},
    "blank": {"fg": "black", "bg": "white"},
    "control": {"fg": "black", "bg": "yellow"},
    "qc": {"fg": "black", "bg": "bright_yellow"},
    "sample": {"fg": "black", "bg": "green"},
    "empty": {},
    # method validation roles (docs/validation.md)
    "pool": {"fg": "black", "bg": "bright_blue"},
    "selectivity": {"fg": "black", "bg": "bright_magenta"},
    "stability": {"fg": "black", "bg": "bright_white"},
}


@click.group("layout")
def layout_group() -> None:
    """Plate layouts: write a sheet template, look at a layout before the run."""


@layout_group.command("template")
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path),
    help="Pre-fill from this layout (TOML or sheet), e.g. the standard layout with a kit lot.",
)
def layout_template(out: Path, source: Path | None) -> None:
    """Write OUT.xlsx: one plate grid per property (role, label, conc, dilution, tolerance_pct)."""
    from il6assay.errors import InputError
    from il6assay.plate.layout_sheet import read_layout, write_layout_template

    try:
        if out.suffix.lower() != ".xlsx":
            raise InputError("the template is an XLSX workbook: name it OUT.xlsx", path=out)
        if out.exists():
            raise InputError("already exists; choose another name or remove it", path=out)
        layout = read_layout(source) if source is not None else None
        write_layout_template(layout, out)
    except InputError as err:
        _fail(err)
    made = f" from {source}" if source is not None else " (empty plate)"
    click.echo(f"layout template written to {out}{made}", err=True)


@layout_group.command("show")
@click.argument("layout", type=click.Path(path_type=Path))
@click.option("--html", "html_out", type=click.Path(path_type=Path), help="Also draw it in FILE.")
def layout_show(layout: Path, html_out: Path | None) -> None:
    """Draw LAYOUT's plate (roles, levels, labels) and say what looks odd."""
    from il6assay.errors import InputError
    from il6assay.plate.layout import toml_stated_dilutions
    from il6assay.plate.layout_sheet import read_layout, stated_dilutions
    from il6assay.plate.layout_view import layout_cells, layout_html, layout_notes, layout_summary

    try:
        parsed = read_layout(layout)
        stated = stated_dilutions(layout)
        if stated is None:
            stated = toml_stated_dilutions(layout)
        notes = layout_notes(parsed, stated)
        if html_out is not None:
            html_out.write_text(layout_html(parsed, notes), encoding="utf-8")
    except InputError as err:
        _fail(err)
    click.echo(f"{layout}")
    click.echo("    " + "".join(f"{c:^9}" for c in range(1, 13)))
    for letter, row in zip("ABCDEFGH", layout_cells(parsed), strict=True):
        cells = [click.style(f"{text[:8]:^8}", **ROLE_STYLE[role]) for role, text in row]
        click.echo(f" {letter}  " + " ".join(cells))
    click.echo("    " + "  ".join(click.style(f" {r} ", **s) for r, s in ROLE_STYLE.items() if s))
    for line in layout_summary(parsed):
        click.echo(line)
    if notes:
        click.echo("odd:")
        for note in notes:
            click.echo(f"  - {note}")
    else:
        click.echo("odd: nothing")
    if html_out is not None:
        click.echo(f"drawn in {html_out}", err=True)


@click.group("samples")
def samples_group() -> None:
    """Sample sheets: write one ready for the study IDs of a layout's samples."""


@samples_group.command("template")
@click.argument("layout", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
def samples_template(layout: Path, out: Path) -> None:
    """Write OUT.xlsx: one row per sample label of LAYOUT, study_id and visit to fill in."""
    from il6assay.errors import InputError
    from il6assay.plate.labels import natural_sorted
    from il6assay.plate.layout_sheet import read_layout
    from il6assay.plate.samples import write_samples_template

    try:
        if out.suffix.lower() != ".xlsx":
            raise InputError(
                "the sample sheet template is an XLSX workbook: name it OUT.xlsx", path=out
            )
        if out.exists():
            raise InputError("already exists; choose another name or remove it", path=out)
        parsed = read_layout(layout)
        labels = natural_sorted(str(s.sample) for s in parsed.samples())
        if not labels:
            raise InputError(
                "the layout has no sample wells (a kit-lot file?): nothing to write", path=layout
            )
        write_samples_template(labels, out)
    except InputError as err:
        _fail(err)
    click.echo(f"{len(dict.fromkeys(labels))} sample row(s) written to {out}", err=True)


def register(main: click.Group) -> None:
    """Add the layout and samples commands to the ``il6assay`` group."""
    main.add_command(layout_group)
    main.add_command(samples_group)
