"""An export file as readers see it: head bytes, decoded text, workbook cells.

Everything is read lazily and cached, so sniffing every reader costs one read
of the file's head.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

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
