"""An export file as readers see it: head bytes, decoded text, workbook cells.

Everything is read lazily and cached, so sniffing every reader costs one read
of the file's head. Workbooks (XLSX, and legacy XLS) are read with
python-calamine after the guards of il6assay.plate.readers.guards, which bound
time and memory on hostile files (the file's size is checked here); text is
decoded by il6assay.plate.readers.decoding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from il6assay.errors import InputError

# The guards (il6assay.plate.readers.guards) and the decoding (...decoding) are
# importable from here, where readers, layouts and sample sheets found them.
from il6assay.plate.readers.decoding import LEGACY_ERROR, cell_text, decode, legacy_codec
from il6assay.plate.readers.guards import (
    MAX_FILE_BYTES,
    MAX_LINE_CHARS,
    brief,
    check_line_bytes,
    check_line_lengths,
    check_xlsx,
)

__all__ = [
    "LEGACY_ERROR",
    "MAX_FILE_BYTES",
    "OLE_MAGIC",
    "ZIP_MAGIC",
    "Sniff",
    "Source",
    "cell_text",
    "check_line_bytes",
    "check_xlsx",
    "decode",
    "legacy_codec",
    "not_a_file",
]

if TYPE_CHECKING:
    pass

HEAD_BYTES = 8192
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# Native binaries of reader software, and the text export to make instead.
SOFTMAX_NATIVE = (
    "a SoftMax Pro data file (.sda/.sdax/.pda) is SoftMax Pro's own binary format, not an "
    "export: "
    "export the plate from SoftMax Pro as a text file (File > Export, plate format .txt)"
)
GEN5_NATIVE = (
    "a Gen5 experiment file (.xpt) is Gen5's own binary format, not an export: "
    "export the plate from Gen5 as text or Excel (File > Export)"
)
OLE_NATIVE = (
    "an OLE binary that is not an Excel workbook (a reader software's own file, such as a "
    "Gen5 .xpt or a SoftMax Pro .sda?): export the plate from the reader software as text "
    "or Excel"
)


@dataclass(frozen=True)
class Sniff:
    """A reader's answer to "is this file mine?", with the reason when not."""

    ok: bool
    reason: str = ""
    near: float = 0.0  # for a refusal: how close the file came (0-1), to name the closest reader


def not_a_file(path: str | Path) -> str | None:
    """Why ``path`` cannot be an export (missing, a directory, a FIFO, a device), or None.

    Checked with ``stat`` before anything opens the path, so a FIFO is named,
    never read (reading one would wait for a writer forever).
    """
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except NotADirectoryError:
        return "no such file (a part of the path is not a folder)"
    except PermissionError:
        return "permission denied: the file cannot be read"
    except OSError as err:
        return f"cannot read the file ({err.strerror or type(err).__name__})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not an export file: give the export file itself"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not an export file: save the export to a file first"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not an export file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not an export file"
    return "is not a regular file"


def _read_regular(path: Path, limit: int | None = None) -> bytes:
    """A regular file's bytes (the first ``limit``), opened without blocking and re-checked.

    ``O_NONBLOCK`` and a check of the opened descriptor close the gap between
    :func:`not_a_file` and the open (a FIFO swapped in meanwhile is refused, not waited on).
    """
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(not_a_file(path) or "is not a regular file", path=path)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read() if limit is None else fh.read(limit)
    finally:
        os.close(fd)


class Source:
    """A file to read: ``head`` bytes, ``text`` (decoded), ``sheets`` (workbooks)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        problem = not_a_file(self.path)
        if problem:
            raise InputError(problem, path=self.path)
        self._sheet_rows: dict[str, list[list[str]]] = {}
        self._values: dict[str, list[list[Any]]] = {}

    @cached_property
    def size(self) -> int:
        """The file's size in bytes."""
        return self.path.stat().st_size

    @cached_property
    def head(self) -> bytes:
        """The first few KB, for sniffing."""
        return _read_regular(self.path, HEAD_BYTES)

    @cached_property
    def data(self) -> bytes:
        """The whole file's bytes, read once; a file too large for an export is refused."""
        self.check_size()
        return _read_regular(self.path)

    def check_size(self) -> None:
        """Refuse a file too large to be a plate-reader export, before reading it."""
        if self.size > MAX_FILE_BYTES:
            raise InputError(
                f"the file is {self.size / 2**20:.0f} MB: too large for a plate-reader export "
                f"(limit {MAX_FILE_BYTES // 2**20} MB)"
            )

    @property
    def is_zip(self) -> bool:
        """True for XLSX (a zip container)."""
        return self.head.startswith(ZIP_MAGIC)

    @property
    def is_ole(self) -> bool:
        """True for OLE2 binaries (legacy XLS, Gen5 .xpt, SoftMax .sda)."""
        return self.head.startswith(OLE_MAGIC)

    @cached_property
    def is_xls(self) -> bool:
        """True for a legacy Excel workbook (an OLE file with a Workbook or Book stream)."""
        return self.is_ole and self.native_binary() is None

    @property
    def is_workbook(self) -> bool:
        """True for a workbook the readers open as sheets: XLSX (zip) or legacy XLS."""
        return self.is_zip or self.is_xls

    def native_binary(self) -> str | None:
        """Why this is a reader software's native binary, not an export (None if it is not).

        SoftMax Pro's documents by what they start with (SoftMax Pro 5 ``.pda``:
        ``SoftMax Pro`` and a NUL; SoftMax Pro 6/7 ``.sda``: a .NET ``Binary File``
        header) or their name (``.sda``, ``.sdax``, ``.pda``), Gen5's ``.xpt`` (OLE), and
        any OLE file that is not an Excel workbook. Nothing in them is parsed: a
        truncated or hostile document is refused by the same one line.
        """
        if self.head.startswith((b"SoftMax Pro\x00", b"\x0bBinary File")):
            return SOFTMAX_NATIVE
        suffix = self.path.suffix.lower()
        if suffix in (".sda", ".sdax", ".pda"):
            return SOFTMAX_NATIVE
        if suffix == ".xpt":
            return GEN5_NATIVE
        if self.is_ole and not _has_workbook_stream(self):
            return OLE_NATIVE
        return None

    @cached_property
    def text(self) -> str:
        """The whole file decoded (see :func:`decode`); a line over 128 KB is refused."""
        text = decode(self.data)
        check_line_lengths(text)
        return text

    @cached_property
    def head_text(self) -> str:
        """The head decoded, for sniffing text formats ('' for binaries)."""
        if self.is_zip or self.is_ole or not self.head:
            return ""
        return decode(self.head, partial=len(self.head) >= HEAD_BYTES)

    @cached_property
    def head_lines(self) -> list[str]:
        """The head's whole lines: the last one is dropped when the head ends mid-line."""
        lines = self.head_text.splitlines()
        if len(self.head) >= HEAD_BYTES and lines:
            lines.pop()
        return lines

    @cached_property
    def workbook(self) -> Any:
        """The workbook (python-calamine: XLSX or XLS), opened once from bytes in memory.

        An XLSX is checked first (:func:`check_xlsx`: sizes, ratios, no DTD);
        a corrupt, truncated or hostile workbook is an :class:`InputError`,
        never a traceback.
        """
        from python_calamine import CalamineWorkbook

        if self.is_zip:
            kind = "XLSX"
            check_xlsx(self.data)
        elif self.is_xls:
            kind = "XLS"
        else:
            raise InputError("not a readable XLSX workbook (not a zip container)")
        try:
            return CalamineWorkbook.from_filelike(BytesIO(self.data))
        except Exception as err:  # the parser's many error types on corrupt input
            raise InputError(f"not a readable {kind} workbook ({brief(err)})") from None

    @cached_property
    def sheet_names(self) -> list[str]:
        """The workbook's worksheet names, in order (chart sheets left out)."""
        try:
            return [
                m.name
                for m in self.workbook.sheets_metadata
                if str(m.typ).rsplit(".", 1)[-1].lower() == "worksheet"
            ]
        except InputError:
            raise
        except Exception as err:
            raise InputError(f"not a readable workbook ({brief(err)})") from None

    def sheet_rows(self, name: str, max_rows: int | None = None) -> list[list[str]]:
        """A sheet's rows from A1 as lists of cell text (see :func:`cell_text`), cached.

        ``max_rows`` gives only the first rows, for sniffing. Trailing empty
        cells are dropped, so rows may differ in length.
        """
        if name not in self._sheet_rows:
            values = self._sheet_values(name)
            if max_rows is not None and len(values) > max_rows:
                # Sniffing: convert only the head (the same rows the full sheet gives).
                return self._rows(name, values[:max_rows])
            rows = self._rows(name, values)
            while rows and not rows[-1]:
                rows.pop()
            self._sheet_rows[name] = rows
        rows = self._sheet_rows[name]
        return rows if max_rows is None else rows[:max_rows]

    def _sheet_values(self, name: str) -> list[list[Any]]:
        """A sheet's raw cell values from A1 (the parser's), read once."""
        if name not in self._values:
            try:
                sheet = self.workbook.get_sheet_by_name(name)
                self._values[name] = sheet.to_python(skip_empty_area=False)
            except InputError:
                raise
            except Exception as err:
                raise InputError(
                    f"sheet '{name}' of the workbook cannot be read ({brief(err)})"
                ) from None
        return self._values[name]

    @staticmethod
    def _rows(name: str, values: list[list[Any]]) -> list[list[str]]:
        """Cell text of ``values``, trailing empty cells dropped, long cells refused."""
        rows: list[list[str]] = []
        for i, row in enumerate(values):
            cells = [v.strip() if type(v) is str else cell_text(v) for v in row]
            while cells and not cells[-1]:
                cells.pop()
            for j, cell in enumerate(cells):
                if len(cell) > MAX_LINE_CHARS:
                    raise InputError(
                        f"a cell of {len(cell) // 1024} KB: longer than any reading "
                        f"(limit {MAX_LINE_CHARS // 1024} KB)",
                        where=f"sheet '{name}' row {i + 1}, column {j + 1}",
                    )
            while cells and not cells[-1]:
                cells.pop()
            rows.append(cells)
        return rows


def _has_workbook_stream(source: Source) -> bool:
    """Whether an OLE file's directory names a Workbook (BIFF8) or Book (BIFF5) stream."""
    data = source.data
    return any(n.encode("utf-16-le") + b"\x00\x00" in data for n in ("Workbook", "Book"))
