"""Finding a plate's layout and sample sheet when the command line does not name them.

The convention, in order:
1. ``--layout`` / ``--samples`` on the command line;
2. beside the export, files named after it: ``plate.layout.toml`` (or a sheet
   layout, ``plate.layout.xlsx`` / ``.layout.csv``) and
   ``plate.samples.csv`` (or ``.samples.xlsx``) for ``plate.xlsx``;
3. for the layout only: ``il6assay.toml`` in the working folder, whose
   ``layout = "..."`` names the lab's default layout (relative to that file).
When nothing is found, the error says what is missing and the flag that gives it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from il6assay.errors import InputError

PROJECT_FILE = "il6assay.toml"
PROJECT_KEYS = (
    "layout",
    "out",
    "model",
    "weighting",
    "zero_standard",
    "db",
    "lang",
    "control_targets",
    "rules",
    "fit_standards",
    "k_od",
)


def project_config(cwd: Path | None = None) -> tuple[Path | None, dict[str, Any]]:
    """The working folder's il6assay.toml (path and its keys), or (None, {})."""
    path = (cwd or Path.cwd()) / PROJECT_FILE
    if not path.is_file():
        return None, {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not valid TOML ({err})", path=path) from None
    unknown = sorted(set(data) - set(PROJECT_KEYS))
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(unknown)}; known: {', '.join(PROJECT_KEYS)}", path=path
        )
    return path, data


def find_layout(export: Path, given: Path | None, cwd: Path | None = None) -> Path:
    """The layout file for ``export`` by the convention above."""
    if given is not None:
        return given
    beside = export.with_name(export.stem + ".layout.toml")
    if beside.is_file():
        return beside
    for suffix in (".layout.xlsx", ".layout.csv"):  # a sheet layout (plate/layout_sheet.py)
        sheet = export.with_name(export.stem + suffix)
        if sheet.is_file():
            return sheet
    config_path, config = project_config(cwd)
    if config_path and "layout" in config:
        return (config_path.parent / str(config["layout"])).resolve()
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
