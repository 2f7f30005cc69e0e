"""The files of a run folder the review app serves: only those il6assay wrote, as it wrote them.

A run folder can be rewritten by anyone with access to the runs folder, so
nothing is served because it is there. A request names one of the files
the run-folder format defines for the report (``report.html``,
``review.js``); the folder is checked whole first (every file's SHA-256
against run.json, the audit chain, the review: ``record.folder.open_run``),
then the file is read without following a symlink (the run folder itself
and the file: ``os.lstat`` and ``O_NOFOLLOW``) and the bytes read are
checked once more (``report.html`` against its recorded SHA-256,
``review.js`` against what the audit log makes it), so what is served is
exactly what was checked. plotly.js is never read from the runs folder: the
app serves the copy inside the installed plotly package.
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path

from il6assay.errors import InputError
from il6assay.plate.hashing import sha256_bytes

REPORT = "report.html"
REVIEW_JS = "review.js"
SERVED = (REPORT, REVIEW_JS)


class NotVouched(InputError):
    """A run file the app will not serve: not as il6assay wrote it (the message says why)."""


def _no_link(path: Path) -> None:
    try:
        info = os.lstat(path)
    except OSError:
        raise NotVouched(f"{path.name} is missing", path=path) from None
    if stat.S_ISLNK(info.st_mode):
        raise NotVouched(f"{path.name} is a symbolic link: never served", path=path)


def read_no_follow(path: Path) -> bytes:
    """The bytes of a regular file, refused when it (or its folder) is a symbolic link."""
    _no_link(path.parent)
    _no_link(path)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise NotVouched(f"{path.name} cannot be read ({err.strerror})", path=path) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise NotVouched(f"{path.name} is not a regular file", path=path)
        return fh.read()


def vouched_file(folder: Path, name: str) -> bytes:
    """The bytes of run file ``name`` (report.html or review.js), checked as described above."""
    from il6assay.record.report import review_js_of
    from il6assay.web.decisions import open_settled

    if name not in SERVED:
        raise NotVouched(f"{name} is not a file of the run's report", path=folder)
    _no_link(folder)
    run = open_settled(folder)
    data = read_no_follow(folder / name)
    if name == REVIEW_JS:
        ok = data == review_js_of(run.entries).encode("utf-8")
    else:
        ok = sha256_bytes(data) == (run.record.get("outputs_sha256") or {}).get(name)
    if not ok:
        raise NotVouched(f"{name} changed while it was being served: reload", path=folder)
    return data


@functools.cache
def plotly_js() -> tuple[str, bytes]:
    """The name reports load plotly.js by and the installed plotly package's own copy."""
    from il6assay.record.report import plotly_js_name, plotly_js_source

    return plotly_js_name(), plotly_js_source().encode("utf-8")
