"""Finding a plate's layout and sample sheet when the command line does not name them.

The convention, in order:
1. ``--layout`` / ``--samples`` on the command line;
2. beside the export, files named after it: ``plate.layout.toml`` (or a sheet
   layout, ``plate.layout.xlsx`` / ``.layout.csv``) and
   ``plate.samples.csv`` (or ``.samples.xlsx``) for ``plate.xlsx``;
3. for the layout only: the project's default layout, ``layout = "..."`` in
   il6assay.toml (read by il6assay.project, relative to that file).
When nothing is found, the error says what is missing and the flag that gives it.
"""

from __future__ import annotations

from pathlib import Path

from il6assay.errors import InputError
from il6assay.project import PROJECT_FILE


def find_layout(export: Path, given: Path | None, default: Path | None = None) -> Path:
    """The layout file for ``export`` by the convention above (``default``: the project's)."""
    if given is not None:
        return given
    beside = export.with_name(export.stem + ".layout.toml")
    if beside.is_file():
        return beside
    for suffix in (".layout.xlsx", ".layout.csv"):  # a sheet layout (plate/layout_sheet.py)
        sheet = export.with_name(export.stem + suffix)
        if sheet.is_file():
            return sheet
    if default is not None:
        return default
    raise InputError(
        f"no plate layout: give --layout FILE, put {beside.name} beside the export, "
        f'or name a default layout in ./{PROJECT_FILE} (layout = "...")',
        path=export,
    )


def find_samples(export: Path, given: Path | None) -> Path:
    """The sample sheet for ``export`` by the convention above."""
    if given is not None:
        return given
    for suffix in (".samples.csv", ".samples.xlsx"):
        beside = export.with_name(export.stem + suffix)
        if beside.is_file():
            return beside
    raise InputError(
        f"no sample sheet: give --samples FILE or put {export.stem}.samples.csv beside the export",
        path=export,
    )
