"""Decoding an export: its text (BOMs, UTF-16, UTF-8, else GB18030 or cp1252) and its cells.

``decode`` turns a text export's bytes into text; ``cell_text`` shows a workbook
cell as the plate reader's software showed it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from il6assay.errors import InputError

if TYPE_CHECKING:
    pass


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
