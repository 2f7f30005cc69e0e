"""Files il6assay does not process, told by what they say: multiplex bead and MSD exports.

Private (the underscore keeps it out of the reader registry). :func:`what_it_is` is asked
before any reader sniffs a file: these exports hold per-well signals too (a Methodical Mind
export even prints an 8x12 grid), so a plain-grid reading would be wrong, not merely
incomplete. The signatures are the vendors' own first lines, as in the public exports of
allotropy's test data (MIT): Luminex xPONENT (``Program,xPONENT``), Luminex INTELLIFLEX
(``INSTRUMENT TYPE,...,WELL LOCATION`` with ``RP1 MEDIAN`` columns), Bio-Rad Bio-Plex
Manager (its XML ``<Well RowNo=...>`` documents, ``.spbx`` protocols), MSD Discovery
Workbench (``Plate_<barcode>`` then ``Sample,Assay,Well,Spot``) and MSD Methodical Mind
(``Spots Per Well`` / ``==========Data``).
"""

from __future__ import annotations

import re

from il6assay.errors import InputError
from il6assay.plate.readers.source import Source

_NOT_OURS = (
    "il6assay processes a plate reader's endpoint reads (absorbance, fluorescence, "
    "luminescence, ...), not {what}"
)
_BEADS = "multiplex bead data (median fluorescence per bead region)"
_MSD = "electrochemiluminescence spot data"

_TEXT_SIGNATURES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r'\A"?program"?\s*[,;\t]\s*"?xponent', re.I | re.M),
        "a Luminex xPONENT export",
        _BEADS,
    ),
    (
        re.compile(r"instrument type.*well location.*rp1 median|\A\W*intelliflex\b", re.I | re.S),
        "a Luminex INTELLIFLEX export",
        _BEADS,
    ),
    (
        re.compile(r"bio-?plex manager|<well rowno=|\.spbx\b", re.I),
        "a Bio-Rad Bio-Plex Manager export",
        _BEADS,
    ),
    (
        re.compile(
            r"\Aplate_\S*\s*[,;\t].*?^\"?sample\"?[,;\t]\"?assay\"?[,;\t]\"?well\"?[,;\t]\"?spot",
            re.I | re.S | re.M,
        ),
        "an MSD Discovery Workbench export",
        _MSD,
    ),
    (
        re.compile(r"^spots per well\s*:|^=+data=+|\bMMPR \d", re.I | re.M),
        "an MSD Methodical Mind export",
        _MSD,
    ),
)


def what_it_is(source: Source) -> str | None:
    """Why ``source`` is an export of a kind il6assay does not process (None if it is not)."""
    if source.is_ole:
        return None
    if source.is_workbook:
        try:
            names = source.sheet_names
        except InputError:
            return None  # a broken workbook: the readers name what is wrong with it
        text = "\n".join(
            "\t".join(row) for name in names[:3] for row in source.sheet_rows(name, 12)
        )
        if any(name.lower().startswith("msd ") for name in names):
            return _message("an MSD Discovery Workbench workbook", _MSD)
    else:
        text = "\n".join(source.head_lines[:40]).lstrip("\ufeff")
    for pattern, kind, what in _TEXT_SIGNATURES:
        if pattern.search(text):
            return _message(kind, what)
    return None


def _message(kind: str, what: str) -> str:
    return f"{kind}: {_NOT_OURS.format(what=what)}"
