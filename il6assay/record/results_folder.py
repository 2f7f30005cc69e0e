"""A results folder: its run folders, and the files il6assay shares among them at its top.

``il6assay process`` and ``batch`` write each run into its own folder under
``--out``; beside the runs they keep files that belong to no one run. This
module is the one list of them (``SHARED_FILES``), so that a command given
what a shell glob over a results folder expands to (``il6assay review runs/*``)
skips them, each with a one-line note, and acts on the runs:

- ``plotly-<version>.min.js``: the reports' shared plotly.js (one per plotly
  version, il6assay.record.report);
- ``index.html``: the results folder's index page (``batch``);
- ``.il6assay-batch.lock``: the lock one ``batch`` at a time holds
  (il6assay.study.batch);
- ``.replaced/``: earlier run folders a ``batch --force`` replaced
  (il6assay.record.repair).

Hidden folders il6assay leaves while writing (``.<run id>.partial-...``,
``.<run id>.old-...``) are never run folders either: ``status`` names them and
``repair`` mends them. Anything else that is not a run folder stays an error.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path

from il6assay.errors import InputError

BATCH_LOCK = ".il6assay-batch.lock"
CHANGES_JOURNAL = ".il6assay-changes"  # il6assay.record.changes writes it
INDEX_PAGE = "index.html"
REPLACED_DIR = ".replaced"
# (file name pattern, whether it is a folder, what it is): every file il6assay writes at the
# top of a results folder that is not a run folder.
SHARED_FILES: tuple[tuple[str, bool, str], ...] = (
    ("plotly-*.min.js", False, "the reports' shared plotly.js"),
    (INDEX_PAGE, False, "the results folder's index page"),
    (BATCH_LOCK, False, "the batch lock"),
    (REPLACED_DIR, True, "the run folders batch --force replaced"),
    (CHANGES_JOURNAL, False, "the review app's journal of changed runs"),
)


def shared_file(path: Path) -> str | None:
    """What ``path`` is when it is a file il6assay shares at a results folder's top, else None."""
    for pattern, folder, what in SHARED_FILES:
        kind_matches = path.is_dir() if folder else path.is_file()
        if fnmatch.fnmatchcase(path.name, pattern) and kind_matches:
            return what
    return None


def without_shared_files(paths: list[Path], note: Callable[[str], None]) -> list[Path]:
    """``paths`` but the shared files of a results folder, each skipped with ``note(text)``.

    Naming nothing but shared files is an InputError: the command was given no run.
    """
    kept: list[Path] = []
    for path in paths:
        what = shared_file(path)
        if what is None:
            kept.append(path)
        else:
            note(f"{path}: skipped, {what} (a shared file of the results folder, not a run)")
    if paths and not kept:
        raise InputError(
            "no run folder named: only the shared files of a results folder "
            "(name the run folders, or the results folder itself)",
            path=paths[0].parent,
        )
    return kept
