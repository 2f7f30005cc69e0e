"""An export file as readers see it: head bytes, decoded text, workbook cells.

Everything is read lazily and cached, so sniffing every reader costs one read
of the file's head.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from io import BytesIO
from pathlib import Path
from typing import Any

from il6assay.errors import InputError

HEAD_BYTES = 8192
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Sniff:
    """A reader's answer to "is this file mine?", with the reason when not."""

    ok: bool
    reason: str = ""


class Source:
    """A file to read: ``head`` bytes, ``text`` (decoded), ``sheets`` (workbooks)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("no such file", path=self.path)
        self._sheet_rows: dict[tuple[str, int | None], list[list[str]]] = {}

    @cached_property
    def head(self) -> bytes:
        """The first few KB, for sniffing."""
        with self.path.open("rb") as fh:
            return fh.read(HEAD_BYTES)

    @property
    def is_zip(self) -> bool:
        """True for XLSX (a zip container)."""
        return self.head.startswith(ZIP_MAGIC)

    @property
    def is_ole(self) -> bool:
        """True for OLE2 binaries (legacy XLS, Gen5 .xpt, SoftMax .sda)."""
        return self.head.startswith(OLE_MAGIC)

    @cached_property
    def text(self) -> str:
        """The whole file decoded (see :func:`decode`)."""
        return decode(self.path.read_bytes())

    @cached_property
    def head_text(self) -> str:
        """The head decoded, for sniffing text formats ('' for binaries)."""
        if self.is_zip or self.is_ole or not self.head:
            return ""
        return decode(self.head, partial=True)

    @cached_property
    def workbook(self) -> Any:
        """The XLSX workbook (openpyxl, read-only, cached values), opened once.

        Opened from the bytes in memory, so no file handle stays open. A
        corrupt or truncated zip is an :class:`InputError`, not a traceback.
        """
        import zipfile

        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        if not self.is_zip:
            raise InputError("not a readable XLSX workbook (not a zip container)")
        try:
            return load_workbook(BytesIO(self.path.read_bytes()), read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as err:
            raise InputError(f"not a readable XLSX workbook ({err})") from None

    @property
    def sheet_names(self) -> list[str]:
        """The workbook's sheet names, in order."""
        return list(self.workbook.sheetnames)

    def sheet_rows(self, name: str, max_rows: int | None = None) -> list[list[str]]:
        """A sheet's rows as lists of cell text (see :func:`cell_text`), cached.

        ``max_rows`` reads only the first rows, for sniffing. Trailing empty
        cells are dropped, so rows may differ in length.
        """
        key = (name, max_rows)
        if key not in self._sheet_rows:
            full = self._sheet_rows.get((name, None))
            if full is not None:
                self._sheet_rows[key] = full[:max_rows]
            else:
                ws = self.workbook[name]
                # Some writers store a wrong <dimension>; read what is there.
                if hasattr(ws, "reset_dimensions"):
                    ws.reset_dimensions()
                rows: list[list[str]] = []
                for values in ws.iter_rows(max_row=max_rows, values_only=True):
                    cells = [cell_text(v) for v in values]
                    while cells and not cells[-1]:
                        cells.pop()
                    rows.append(cells)
                self._sheet_rows[key] = rows
        return self._sheet_rows[key]


def cell_text(value: object) -> str:
    """A workbook cell's value as the text a text export would show.

    Integral floats lose their ".0" (header cells 1..12 stored as numbers);
    dates and times become ISO 8601, which is unambiguous.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def decode(data: bytes, partial: bool = False) -> str:
    """Decode an export's bytes: BOMs, UTF-16 LE/BE, UTF-8, then legacy code pages.

    ``partial`` tolerates a multi-byte character cut at the end of a head.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace" if partial else "strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace" if partial else "strict")
    # UTF-16 without BOM: every other byte NUL in ASCII text.
    if len(data) >= 4 and data[1:40:2].count(0) > 15:
        return data.decode("utf-16-le", errors="replace" if partial else "strict")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        if partial and err.start >= len(data) - 3:
            return data[: err.start].decode("utf-8")
    for codec in ("gb18030", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise InputError("cannot decode the file's text (not UTF-8, UTF-16, GB18030 or cp1252)")
