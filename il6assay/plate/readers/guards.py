"""Guards against hostile input, run before any parser sees a file's bytes.

Bounds on time and memory: a text export's line length, a workbook's declared
unzipped size and compression ratios (zip bombs), no DTD in any XML part (so no
entity expansion, internal or external), and a sheet's extent read from its XML
before a parser lays it out as a dense grid. Each failure is one InputError line.
"""

from __future__ import annotations

import re
import zlib
from io import BytesIO
from typing import TYPE_CHECKING

from il6assay.errors import InputError

if TYPE_CHECKING:
    import zipfile

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


MAX_LINE_CHARS = 128 * 1024  # a text export's line (and so any cell of it), as the CSV limit


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


def brief(err: BaseException) -> str:
    """An exception as a short one-line text for an error message."""
    text = " ".join(str(err).split())
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


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
            f"not a readable XLSX workbook (truncated or corrupt zip: {brief(err)})"
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
    import zipfile  # its errors are caught below (the module's import is for type hints)

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
            f"not a readable XLSX workbook (part '{member.filename}': {brief(err)})"
        ) from None


def _check_prolog(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    import zipfile

    try:
        with archive.open(member) as fh:
            head = fh.read(PROLOG_BYTES)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as err:
        raise InputError(
            f"not a readable XLSX workbook (part '{member.filename}': {brief(err)})"
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
