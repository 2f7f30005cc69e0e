"""The change journal beside run folders: which run a command just changed, for the review app.

Every command that changes an existing run folder appends an audit entry
(``il6assay.record.audit.append_entry``); it also appends the folder's name, one
line, to ``.il6assay-changes`` in the folder that holds it (best effort: a
read-only folder of runs just has none). A new run folder (``process``,
``batch``) and a run folder replaced whole (a mask) are renamed into place,
which changes the holding folder's own time instead. The review app's queue reads only the
lines added since it last looked (``il6assay.db.run_index``), so it sees a
review or mask made on the command line without looking into every run folder.
The journal is a hint, never a record: anyone can edit it, and what it names is
read again from the run folder itself.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from il6assay.record.results_folder import CHANGES_JOURNAL as JOURNAL

READ_AT_MOST = 256 * 1024  # bytes of new lines read a time (a flooded journal: the rest next)


def note_change(folder: Path) -> None:
    """Append the run folder's name to its parent's change journal (best effort; a folder
    being written, ``.<run id>.partial-*``, is not named: its rename changes the parent)."""
    if folder.name.startswith("."):
        return
    line = (folder.name + "\n").encode("utf-8", "surrogateescape")
    with contextlib.suppress(OSError):
        fd = os.open(folder.parent / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)  # one write of a short line: appended whole (O_APPEND)
        finally:
            os.close(fd)


def read_changes(root: Path, offset: int) -> tuple[list[str], int]:
    """The folder names noted in ``root``'s journal after byte ``offset``, and the new offset
    (a journal shorter than ``offset``, replaced or cut, is read from its start)."""
    path = root / JOURNAL
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < offset:
                offset = 0
            fh.seek(offset)
            data = fh.read(min(size - offset, READ_AT_MOST))
    except OSError:
        return [], 0
    end = data.rfind(b"\n") + 1  # a line still being written is read next time
    if end == 0 and len(data) == READ_AT_MOST:
        return [], offset + len(data)  # no run's name is that long: skipped
    names = [n for n in data[:end].decode("utf-8", "surrogateescape").split("\n") if n]
    return names, offset + end
