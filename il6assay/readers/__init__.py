"""Plate-reader export readers, one module per format, and the registry.

A reader module defines ``NAME`` (short, lower-case, used by ``--reader``),
``DESCRIPTION`` (one line for ``il6assay readers``), ``sniff(source) ->
Sniff`` (cheap: does this file look like mine? from the head bytes or the
workbook's first cells) and ``read(source) -> list[Plate]``; ``FALLBACK =
True`` marks a generic reader that yields to any specific one claiming the
same file. Adding a vendor is adding one module: every module of this package
is a reader (``source.py`` and ``_private.py`` helpers excepted).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from il6assay.errors import InputError
from il6assay.plate import Export
from il6assay.readers.source import Sniff, Source

__all__ = ["READER_MODULES", "Sniff", "Source", "detect", "read_export", "reader_names"]

# Every module of this package is a reader, except the helpers named here and
# private ones (``_name.py``): adding a vendor is adding one file.
_NOT_READERS = {"source"}


def _discover() -> tuple[str, ...]:
    import pkgutil

    names = sorted(
        m.name
        for m in pkgutil.iter_modules(__path__)
        if not m.name.startswith("_") and m.name not in _NOT_READERS
    )
    return tuple(f"{__name__}.{name}" for name in names)


READER_MODULES: tuple[str, ...] = _discover()


def _modules() -> list[ModuleType]:
    return [importlib.import_module(m) for m in READER_MODULES]


def reader_names() -> list[tuple[str, str]]:
    """(NAME, DESCRIPTION) of every registered reader, for ``il6assay readers``."""
    return [(m.NAME, m.DESCRIPTION) for m in _modules()]


def _by_name(name: str) -> ModuleType:
    for m in _modules():
        if name == m.NAME:
            return m
    known = ", ".join(m.NAME for m in _modules())
    raise InputError(f"unknown reader '{name}' (known: {known})")


def detect(source: Source) -> ModuleType:
    """The one reader that claims ``source``; refuse none or several, with reasons."""
    claims: list[ModuleType] = []
    reasons: list[str] = []
    for m in _modules():
        verdict = m.sniff(source)
        if verdict.ok:
            claims.append(m)
        else:
            reasons.append(f"{m.NAME}: {verdict.reason}")
    # A reader marked FALLBACK (the plain grid) yields to any vendor reader that
    # also claims the file: vendor exports contain plain-looking grids.
    specific = [m for m in claims if not getattr(m, "FALLBACK", False)]
    if specific:
        claims = specific
    if len(claims) == 1:
        return claims[0]
    if not claims:
        raise InputError("not a plate-reader export this tool reads (" + "; ".join(reasons) + ")")
    names = ", ".join(m.NAME for m in claims)
    raise InputError(f"several readers claim this file ({names}); choose one with --reader")


def read_export(path: str | Path, reader: str | None = None) -> Export:
    """Read an export file into plates, detecting its format unless ``reader`` is given."""
    path = Path(path)
    try:
        source = Source(path)
        if not source.head.strip():
            raise InputError("the file is empty")
        module = _by_name(reader) if reader else detect(source)
        plates = module.read(source)
        if not plates:
            raise InputError("no plate data found")
    except InputError as err:
        raise err.at(path) from None
    return Export(format=module.NAME, path=path, plates=plates)
