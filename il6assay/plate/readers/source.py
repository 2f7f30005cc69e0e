"""An export file as readers see it: head bytes, decoded text, workbook cells.

Everything is read lazily and cached, so sniffing every reader costs one read
of the file's head. Workbooks (XLSX, and legacy XLS) are read with
python-calamine after guards that bound time and memory on hostile files:
the file's size, the zip members' declared sizes and compression ratios, and
no DTD (so no entity expansion, internal or external) in any XML part.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zlib
from dataclasses import dataclass
from functools import cached_property
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from il6assay.errors import InputError

if TYPE_CHECKING:
    import zipfile

HEAD_BYTES = 8192
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Bounds for hostile input. A real plate export is well under 5 MB, and an
# XLSX's sheet XML compresses about 5-30 fold; a zip bomb compresses hundreds
# to millions fold.
MAX_FILE_BYTES = 64 * 2**20
MAX_UNZIPPED_BYTES = 128 * 2**20  # all members of an XLSX together, as declared
MAX_RATIO = 200  # uncompressed / compressed, for members over RATIO_FLOOR bytes
RATIO_FLOOR = 2**20
PROLOG_BYTES = 65536  # an XML part's root element must start within this
# A sheet's extent, from its XML (the <dimension> and every row and cell
# position) before any parser lays the sheet out as a dense grid: a plate
# export, layout or sample sheet spans a few hundred rows by a few hundred
# columns; one cell at XFD1048576 is 17 billion cells to a parser.
MAX_SHEET_ROWS = 100_000
MAX_SHEET_COLUMNS = 2_000
MAX_SHEET_CELLS = 2_000_000  # rows x columns of the area from A1 to the sheet's farthest cell
SCAN_CHUNK = 2**20

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


MAX_LINE_CHARS = 128 * 1024  # a text export's line (and so any cell of it), as the CSV limit


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
            raise InputError(f"not a readable {kind} workbook ({_brief(err)})") from None

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
            raise InputError(f"not a readable workbook ({_brief(err)})") from None

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
                    f"sheet '{name}' of the workbook cannot be read ({_brief(err)})"
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


def check_line_bytes(data: bytes) -> None:
    """Refuse a text file with a line over :data:`MAX_LINE_CHARS` bytes, before sniffing it.

    Sniffers see only the head, so an endless first line would read as "not an
    export"; this names it. (UTF-16 text counts two bytes a character: its
    real lines are still far below the bound.)
    """
    if len(data) <= MAX_LINE_CHARS:
        return
    start = 0
    number = 1
    while start < len(data):
        end = data.find(b"\n", start)
        stop = len(data) if end == -1 else end
        if stop - start > MAX_LINE_CHARS:
            raise InputError(
                f"a line of {(stop - start) // 1024} KB: longer than any plate-reader export's "
                f"(limit {MAX_LINE_CHARS // 1024} KB per line and cell)",
                where=f"line {number}",
            )
        if end == -1:
            break
        start = end + 1
        number += 1


def check_line_lengths(text: str) -> None:
    """Refuse text with a line longer than :data:`MAX_LINE_CHARS`, naming the line."""
    if len(text) <= MAX_LINE_CHARS:
        return
    start = 0
    number = 1
    for m in re.finditer(r"\r\n|[\n\r]", text):
        if m.start() - start > MAX_LINE_CHARS:
            break
        start = m.end()
        number += 1
    else:
        if len(text) - start <= MAX_LINE_CHARS:
            return
    end = text.find("\n", start)
    length = (len(text) if end == -1 else end) - start
    raise InputError(
        f"a line of {length // 1024} KB: longer than any plate-reader export's "
        f"(limit {MAX_LINE_CHARS // 1024} KB per line and cell)",
        where=f"line {number}",
    )


def _brief(err: BaseException) -> str:
    """An exception as a short one-line text for an error message."""
    text = " ".join(str(err).split())
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _has_workbook_stream(source: Source) -> bool:
    """Whether an OLE file's directory names a Workbook (BIFF8) or Book (BIFF5) stream."""
    data = source.data
    return any(n.encode("utf-16-le") + b"\x00\x00" in data for n in ("Workbook", "Book"))


def check_xlsx(data: bytes) -> None:
    """Refuse a hostile or broken XLSX before any parser touches it.

    Checks, from the zip's central directory: total declared uncompressed
    size, each large member's compression ratio (zip bombs), and, reading
    only each XML part's prolog, that no part declares a DTD (entity
    expansion, "billion laughs", external entities). Python's zipfile stops
    at a member's declared size, so the declared sizes do bound the work.
    """
    import zipfile  # only workbooks need it: kept off the import of every reader

    try:
        archive = zipfile.ZipFile(BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as err:
        raise InputError(
            f"not a readable XLSX workbook (truncated or corrupt zip: {_brief(err)})"
        ) from None
    total = sum(m.file_size for m in members)
    if total > MAX_UNZIPPED_BYTES:
        raise InputError(
            f"not a readable XLSX workbook: its parts unzip to {total / 2**20:.0f} MB "
            f"(limit {MAX_UNZIPPED_BYTES // 2**20} MB; a zip bomb?)"
        )
    for m in members:
        if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise InputError(
                f"not a readable XLSX workbook: part '{m.filename}' unzips "
                f"{m.file_size // max(m.compress_size, 1)}-fold to {m.file_size / 2**20:.0f} MB "
                "(a zip bomb?)"
            )
    for m in members:
        if m.filename.lower().endswith((".xml", ".rels", ".vml")) and m.file_size:
            _check_prolog(archive, m)
    for m in members:
        if m.filename.lower().startswith("xl/worksheets/") and m.filename.lower().endswith(".xml"):
            _check_extent(archive, m)


# The tags that place cells: <dimension ref="A1:L8">, <row r="8">, <c r="L8">
# (with or without a namespace prefix); a row or cell without r follows the one before.
_PLACING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(dimension|row|c)(?=[\s/>])([^>]*)>", re.ASCII)
_REF_ATTR = re.compile(rb"""\s(r|ref)\s*=\s*["']([^"']*)["']""", re.ASCII)
_CELL_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _column_letters(n: int) -> str:
    letters = ""
    while n > 0:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters or "A"


def _check_extent(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Refuse a sheet whose farthest cell (or declared dimension) is beyond any plate's sheet.

    Streams the part's XML in chunks (its size is bounded by the zip checks),
    so the work is linear in the file and the memory is one chunk.
    """
    import zipfile

    rows = columns = 0
    row = column = 0
    tail = b""

    def refuse(what: str) -> InputError:
        return InputError(
            f"not a readable workbook: sheet '{member.filename}' {what}, beyond any plate's "
            f"sheet (at most {MAX_SHEET_ROWS} rows, {MAX_SHEET_COLUMNS} columns, "
            f"{MAX_SHEET_CELLS} cells)"
        )

    def place(ref: str, what: str) -> tuple[int, int]:
        m = _CELL_REF.fullmatch(ref.strip())
        if m is None:
            raise InputError(
                f"not a readable workbook: sheet part '{member.filename}' has a {what} "
                f"reference '{ref[:40]}' that is not a cell"
            )
        return int(m.group(2)), _column_number(m.group(1))

    try:
        with archive.open(member) as fh:
            while True:
                chunk = fh.read(SCAN_CHUNK)
                data = tail + chunk
                # Only whole tags: a tag cut by the chunk's end waits for the next chunk.
                last = data.rfind(b"<")
                whole = not chunk or last == -1 or data.find(b">", last) != -1
                end = len(data) if whole else last
                for m in _PLACING.finditer(data, 0, end):
                    tag, attrs = m.group(1), m.group(2)
                    ref = next(
                        (a.group(2).decode("ascii", "replace") for a in _REF_ATTR.finditer(attrs)),
                        None,
                    )
                    if tag == b"dimension":
                        if ref:
                            r, c = place(ref.split(":")[-1], "dimension")
                            rows, columns = max(rows, r), max(columns, c)
                    elif tag == b"row":
                        row = int(ref) if ref and ref.strip().isdigit() else row + 1
                        column = 0
                        rows = max(rows, row)
                    elif ref:
                        row, column = place(ref, "cell")
                        rows, columns = max(rows, row), max(columns, column)
                    else:
                        column += 1
                        columns = max(columns, column)
                    if rows > MAX_SHEET_ROWS or columns > MAX_SHEET_COLUMNS:
                        far = f"cell {_column_letters(column)}{row}" if column else f"row {row}"
                        raise refuse(f"reaches {far}" if tag != b"dimension" else f"spans {ref}")
                    if rows * columns > MAX_SHEET_CELLS:
                        raise refuse(f"spans {rows} rows by {columns} columns")
                if not chunk:
                    return
                tail = data[end:]
                if len(tail) > SCAN_CHUNK:
                    raise refuse("has one XML tag longer than 1 MB")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as err:
        raise InputError(
            f"not a readable XLSX workbook (part '{member.filename}': {_brief(err)})"
        ) from None


def _check_prolog(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    import zipfile

    try:
        with archive.open(member) as fh:
            head = fh.read(PROLOG_BYTES)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as err:
        raise InputError(
            f"not a readable XLSX workbook (part '{member.filename}': {_brief(err)})"
        ) from None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[1:2] == b"\x00" or head[:1] == b"\x00":
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("utf-8", errors="replace")
    problem = _prolog_problem(text.lstrip("\ufeff"))
    if problem:
        raise InputError(f"not a readable XLSX workbook: part '{member.filename}' {problem}")


def _prolog_problem(text: str) -> str | None:
    """What is wrong with an XML part's prolog (a DTD, or no root element), or None.

    Walks the prolog as XML defines it: whitespace, ``<?...?>``,
    ``<!--...-->``, then the root element; a ``<!DOCTYPE`` (the only way to
    declare entities) or anything else is refused.
    """
    i = 0
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if text.startswith("<?", i):
            close = "?>"
        elif text.startswith("<!--", i):
            close = "-->"
        elif text.startswith("<!", i):
            return (
                "declares a DTD (XML entities: a billion-laughs or external-entity attack?); "
                "Excel never writes one"
            )
        elif text.startswith("<", i) and i + 1 < len(text):
            return None
        else:
            break
        end = text.find(close, i + 2)
        if end == -1:
            break
        i = end + len(close)
    return f"has no XML root element in its first {PROLOG_BYTES // 1024} KB"


def cell_text(value: object) -> str:
    """A workbook cell's value as the text a text export would show.

    Integral floats lose their ".0" (header cells 1..12 stored as numbers);
    dates and times become ISO 8601, which is unambiguous.
    """
    if value is None or value == "":
        return ""
    kind = type(value)
    if kind is str:
        return value.strip()  # type: ignore[union-attr]
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
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value).strip()


# --- text encodings ---------------------------------------------------------------------------

LEGACY_ERROR = "cannot decode the file's text: not UTF-8, UTF-16, GBK/GB18030 or cp1252"


def decode(data: bytes, partial: bool = False) -> str:
    """Decode an export's bytes: BOMs, UTF-16, UTF-8, else GB18030 or cp1252 (see below).

    Text that is not UTF-8 was written in the reader PC's legacy code page:
    cp1252 (Western Europe, Americas) or GBK/GB18030 (Chinese-locale
    Windows). :func:`legacy_codec` tells them apart by how the bytes above
    0x7F pair up. ``partial`` (a head cut at HEAD_BYTES) tolerates a
    multi-byte character cut at the end.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return _decode(data[3:], "utf-8", partial)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode(data, "utf-16", partial)
    # UTF-16 without BOM: every other byte NUL in ASCII text.
    if len(data) >= 4 and data[1:40:2].count(0) > 15:
        return _decode(data, "utf-16-le", partial)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        if partial and err.start >= len(data) - 3 and err.reason == "unexpected end of data":
            return data[: err.start].decode("utf-8")
    if partial and data and data[-1] >= 0x80:
        data = data[:-1] if _odd_tail(data) else data
    return _decode(data, legacy_codec(data), partial)


def _decode(data: bytes, codec: str, partial: bool) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as err:
        if partial and err.start >= len(data) - 3:
            return data[: err.start].decode(codec, errors="replace")
        newline = b"\n\x00" if "16" in codec else b"\n"
        line = data[: err.start].count(newline) + 1
        byte = data[err.start] if err.start < len(data) else 0
        raise InputError(
            f"{LEGACY_ERROR} (byte 0x{byte:02x} at offset {err.start} is not valid {codec})",
            where=f"line {line}",
        ) from None


def _odd_tail(data: bytes) -> bool:
    """Whether the run of high bytes at the end of ``data`` has odd length (a cut pair)."""
    n = 0
    while n < len(data) and data[-1 - n] >= 0x80:
        n += 1
    return n % 2 == 1


_HIGH_RUN = re.compile(rb"[\x80-\xff]+")


def legacy_codec(data: bytes) -> str:
    """ "gb18030" or "cp1252" for text that is not UTF-8, by how its high bytes pair up.

    GBK/GB2312 Chinese text is two-byte characters whose bytes both lie in
    0xA1-0xFE, and the common Hanzi (GB2312 level 1, 0xB0-0xD7 lead) and
    full-width symbols (0xA1-0xA9 lead, e.g. "℃", "（") make up nearly all
    of it. cp1252 text has isolated high bytes between ASCII letters
    ("25 °C", "µl", "Müller"), which GBK can only read as rare extension
    characters with an ASCII trail byte, or as pairs of uncommon Hanzi
    ("Größe": 0xF6 0xDF). So: walk the bytes as GBK; if any is not valid
    GBK, or fewer than three in four pairs are common characters, it is cp1252.
    """
    common = other = 0
    for run in _HIGH_RUN.finditer(data):
        i, end = run.start(), run.end()
        while i < end:
            b = data[i]
            t = data[i + 1] if i + 1 < len(data) else -1
            if not 0x81 <= b <= 0xFE:
                return "cp1252"
            if 0x30 <= t <= 0x39:  # a GB18030 four-byte sequence
                other += 1
                i += 4
                continue
            if not (0x40 <= t <= 0xFE and t != 0x7F):
                return "cp1252"
            if t >= 0xA1 and (0xB0 <= b <= 0xD7 or 0xA1 <= b <= 0xA9):
                common += 1
            else:
                other += 1
            i += 2
    return "gb18030" if common and common >= 3 * other else "cp1252"
