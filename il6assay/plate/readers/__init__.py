"""Plate-reader export readers, one module per format, and the registry.

A reader module defines ``NAME`` (short, lower-case, used by ``--reader``),
``DESCRIPTION`` (one line for ``il6assay readers``), ``sniff(source) ->
Sniff`` (cheap: does this file look like mine? from the head bytes or the
workbook's first cells) and ``read(source) -> list[Plate]``; ``FALLBACK =
True`` marks a generic reader that yields to any specific one claiming the
same file. Adding a vendor is adding one module: every module of this package
is a reader (``source.py`` and ``_private.py`` helpers excepted). Detection imports
only the readers that can claim the file's kind (``_KINDS``: text or workbook).
"""

from __future__ import annotations

import csv
import importlib
from pathlib import Path
from types import ModuleType

from il6assay.errors import InputError
from il6assay.plate.export import Export, Plate, read_info
from il6assay.plate.readers._refused import what_it_is
from il6assay.plate.readers.source import Sniff, Source, check_line_bytes, not_a_file

__all__ = [
    "READER_MODULES",
    "NoReaderError",
    "Sniff",
    "Source",
    "detect",
    "read_export",
    "reader_names",
]

MAX_WELLS = 1536  # 1536-well plates are read (rows A-Z, AA-AF); `process` refuses them


class NoReaderError(InputError):
    """No reader claims the file: the message names the closest; ``reasons`` has them all."""

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.reasons = reasons


# Every module of this package is a reader, except the helpers named here and
# private ones (``_name.py``): adding a vendor is adding one file.
_NOT_READERS = {"source", "guards", "decoding"}  # file access, hostile-input guards, text


def _discover() -> tuple[str, ...]:
    import pkgutil

    names = sorted(
        m.name
        for m in pkgutil.iter_modules(__path__)
        if not m.name.startswith("_") and m.name not in _NOT_READERS
    )
    return tuple(f"{__name__}.{name}" for name in names)


READER_MODULES: tuple[str, ...] = _discover()


# The kinds of file each reader can claim: a workbook (a zip or OLE container: XLSX, XLS) or
# text. ``detect`` imports and asks only the readers of the file's kind (half of them: a
# fresh process imports less); a reader not named here is asked about every file.
# tests/test_detection.py shows that no reader claims a file of a kind not listed for it.
TEXT, WORKBOOK = "text", "workbook"
_KINDS: dict[str, tuple[str, ...]] = {
    "asm": (TEXT,),
    "bmg": (TEXT,),
    "bmg_smart": (WORKBOOK,),
    "envision": (TEXT,),
    "gen5": (TEXT, WORKBOOK),
    "grid": (TEXT, WORKBOOK),
    "icontrol": (TEXT, WORKBOOK),
    "kaleido": (TEXT,),
    "skanit": (WORKBOOK,),
    "softmax": (TEXT,),
    "tecan": (WORKBOOK,),
}


def file_kind(source: Source) -> str:
    """``WORKBOOK`` for a zip or OLE container (XLSX, XLS), else ``TEXT``."""
    return WORKBOOK if source.is_zip or source.is_ole else TEXT


def _modules(kind: str | None = None) -> list[ModuleType]:
    """Every reader module in registry order, or only those that can claim a file of ``kind``."""
    return [
        importlib.import_module(m)
        for m in READER_MODULES
        if kind is None or kind in _KINDS.get(m.rpartition(".")[2], (TEXT, WORKBOOK))
    ]


def reader_names() -> list[tuple[str, str]]:
    """(NAME, DESCRIPTION) of every registered reader, for ``il6assay readers``."""
    return [(m.NAME, m.DESCRIPTION) for m in _modules()]


def _by_name(name: str) -> ModuleType:
    module = f"{__name__}.{name.replace('-', '_')}"  # a reader's module is named as it is
    if module in READER_MODULES:
        m = importlib.import_module(module)
        if name == m.NAME:
            return m
    for m in _modules():
        if name == m.NAME:
            return m
    known = ", ".join(m.NAME for m in _modules())
    raise InputError(f"unknown reader '{name}' (known: {known})")


def detect(source: Source) -> ModuleType:
    """The one reader that claims ``source``; refuse none or several, with reasons."""
    native = source.native_binary()
    if native:
        raise InputError(native)
    other = what_it_is(source)
    if other:
        raise InputError(other)
    # Only the readers of the file's kind can claim it; when none does, every reader is
    # asked, for every reader's reason and the closest.
    verdicts = {m: m.sniff(source) for m in _modules(file_kind(source))}
    claims = [m for m, verdict in verdicts.items() if verdict.ok]
    reasons: list[str] = []
    near: list[tuple[float, int, str, str]] = []
    for k, m in enumerate([] if claims else _modules()):
        verdict = verdicts[m] if m in verdicts else m.sniff(source)
        reasons.append(f"{m.NAME}: {verdict.reason}")
        score = _closeness(verdict) + (0.05 if getattr(m, "FALLBACK", False) else 0.0)
        near.append((score, -k, m.NAME, verdict.reason))
    # A reader marked FALLBACK (the plain grid) yields to any vendor reader that
    # also claims the file: vendor exports contain plain-looking grids.
    specific = [m for m in claims if not getattr(m, "FALLBACK", False)]
    if specific:
        claims = specific
    if len(claims) == 1:
        return claims[0]
    if not claims:
        _, _, name, reason = max(near)
        raise NoReaderError(
            f"not a plate-reader export this tool reads; closest: {name} ({reason}); "
            "every reader's reason: il6assay inspect --verbose",
            reasons,
        )
    names = ", ".join(m.NAME for m in claims)
    raise InputError(f"several readers claim this file ({names}); choose one with --reader")


def _closeness(verdict: Sniff) -> float:
    """How near a refused sniff came: its own ``near``, else a guess from its reason.

    A broken file of the reader's kind ("not a readable XLSX workbook") is
    nearest; then a partial match ("'User:' but no 'Test name:'"); then a
    reason about content; a reason about the container ("a binary file, not
    ...", "not a workbook") is the farthest: that reader could never read this
    kind of file. The generic grid reader wins ties among content reasons.
    """
    if verdict.near:
        return verdict.near
    reason = verdict.reason.lower()
    if reason.startswith(("not a readable", "cannot decode")) or "zip bomb" in reason:
        return 0.9  # the file is of this reader's kind, but broken: that is the news
    if reason.startswith(("a binary file", "an ole binary", "not a ", "a text file")):
        return 0.0
    if " but " in reason:
        return 0.8
    return 0.45


def _finish(plates: list[Plate]) -> list[str]:
    """Checks and labels every reader's plates share; returns the readers' warnings.

    Each plate's ``metadata["reads"]`` lists its reads with mode and optics
    (:func:`~il6assay.plate.export.read_info`); a plate over 1536 wells is refused.
    """
    warnings: list[str] = []
    for plate in plates:
        if plate.size > MAX_WELLS:
            raise InputError(
                f"plate '{plate.id}' has {plate.size} wells: il6assay reads 96-, 384- and "
                "1536-well plates"
            )
        plate.metadata["reads"] = [read_info(label) for label in plate.reads]
        for w in plate.metadata.pop("warnings", []):
            if w not in warnings:
                warnings.append(w)
    return warnings


def read_export(path: str | Path, reader: str | None = None) -> Export:
    """Read an export file into plates, detecting its format unless ``reader`` is given.

    ``reader`` is a reader's NAME, or ``allotropy:VENDOR`` to convert the file
    with the optional allotropy package (``pip install il6assay[allotropy]``)
    and read the resulting ASM document (see :func:`read_with_allotropy`).
    """
    path = Path(path)
    if reader and reader.startswith(ALLOTROPY_PREFIX):
        return read_with_allotropy(path, reader[len(ALLOTROPY_PREFIX) :])
    try:
        source = Source(path)
        source.check_size()
        if not source.head.strip(b" \t\r\n\x00"):
            raise InputError("the file is empty")
        native = source.native_binary()
        if native:
            raise InputError(native)
        if not source.is_zip and not source.is_ole:
            check_line_bytes(source.data)
        other = what_it_is(source)  # even with --reader: never read as a plate
        if other:
            raise InputError(other)
        module = _by_name(reader) if reader else detect(source)
        try:
            plates = module.read(source)
        except csv.Error as err:  # the csv module's own limits (field size) on hostile text
            raise InputError(f"not a readable CSV export ({err})") from None
        if not plates:
            raise InputError("no plate data found")
        warnings = _finish(plates)
    except InputError as err:
        raise err.at(path) from None
    return Export(format=module.NAME, path=path, plates=plates, warnings=warnings)


ALLOTROPY_PREFIX = "allotropy:"


def read_with_allotropy(path: str | Path, vendor: str) -> Export:
    """Convert ``path`` with allotropy (vendor as allotropy names it) and read the ASM.

    The optional extra ``il6assay[allotropy]``: for a vendor we do not read
    natively. The export's format is ``allotropy:VENDOR``; its plates come
    from our ``asm`` reader, so tokens and refusals are the same as for an
    ASM file.
    """
    import json
    import tempfile

    from il6assay.plate.readers import asm

    path = Path(path)
    try:
        problem = not_a_file(path)
        if problem:
            raise InputError(problem)
        try:
            from allotropy.parser_factory import Vendor
            from allotropy.to_allotrope import allotrope_from_file
        except ImportError:
            raise InputError(
                "--reader allotropy:VENDOR needs the optional allotropy package "
                "(pip install 'il6assay[allotropy]')"
            ) from None
        try:
            chosen = Vendor[vendor.upper()]
        except KeyError:
            known = ", ".join(v.name for v in Vendor)
            raise InputError(f"allotropy has no vendor '{vendor}' (known: {known})") from None
        try:
            document = allotrope_from_file(str(path), chosen)
        except Exception as err:  # allotropy's own errors, or its parsers' on a bad file
            text = " ".join(str(err).split())[:200]
            raise InputError(
                f"allotropy ({chosen.name}) could not convert the file: {text}"
            ) from None
        with tempfile.TemporaryDirectory() as tmp:
            asm_path = Path(tmp) / f"{path.stem}.json"
            asm_path.write_text(json.dumps(document, default=str), encoding="utf-8")
            plates = asm.read(Source(asm_path))
        for plate in plates:
            plate.metadata.setdefault("source_file", path.name)
        _finish(plates)
    except InputError as err:
        raise err.at(path) from None
    return Export(format=f"{ALLOTROPY_PREFIX}{chosen.name}", path=path, plates=plates)
