"""Read a plate layout: which wells hold standards, blanks, controls and samples.

A layout is a TOML file in the subset of the wellmap format
(https://wellmap.readthedocs.io/en/latest/file_format.html) that a 96-well
ELISA plate needs: ``[row.A]``, ``[col.1]``, ``[irow.A]``, ``[icol.1]``,
``[block.WxH.A1]`` and ``[well.A1]`` sections (with wellmap's patterns such
as ``[row.'A,C,...,G']`` or ``[well.'A1-B2']``), top-level ``kit_lot``, and
``[meta] include``. A 384-well layout says so with a top-level
``wells = 384`` (rows A-P, columns 1-24); without it a layout is 96-well.
It is read here with ``tomllib`` alone (``import wellmap`` loads
matplotlib); the tests check that wellmap reads every shipped
layout the same way. Anything else in a file is refused, not guessed at.

Precedence is wellmap's: ``[well]`` > smaller ``[block]`` > larger
``[block]`` > ``[row]``/``[col]``/``[irow]``/``[icol]``; a file's own
values beat those of the files it includes, and a later include beats an
earlier one. Where wellmap would decide between two equally specific
sections by their order in the file (two rows, a row and a column, two
blocks of one area), and they disagree, the layout is refused instead.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import re
import tomllib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from il6assay.errors import InputError

ROWS = "ABCDEFGH"
N_ROWS = 8
N_COLS = 12
# Plate shapes a layout may describe (``wells = 384``), by number of wells.
SHAPES = {96: (8, 12), 384: (16, 24)}
_SHAPE: ContextVar[tuple[int, int]] = ContextVar("layout_shape", default=(N_ROWS, N_COLS))
_LETTERS = "ABCDEFGHIJKLMNOP"


def _shape_text() -> tuple[int, str, str, str]:
    """(wells, rows 'A-H', columns '1-12', wells 'A1-H12') of the layout being read."""
    rows, cols = _SHAPE.get()
    last = _LETTERS[rows - 1]
    return rows * cols, f"A-{last}", f"1-{cols}", f"A1-{last}{cols}"


ROLES = (
    "standard",
    "blank",
    "control",
    "qc",
    "sample",
    "empty",
    "pool",
    "selectivity",
    "stability",
)
CORE_ROLES = ROLES[:6]  # a study plate's; the rest are method validation wells
# The well parameters each role takes, besides ``role`` itself. ``qc``: an in-matrix
# quality control (ICH M10); ``pool``, ``selectivity``, ``stability``: method validation
# wells (docs/validation.md).
PARAMS_BY_ROLE: dict[str, tuple[str, ...]] = {
    "standard": ("level", "conc"),
    "blank": (),
    "control": ("level", "conc", "tolerance_pct"),
    "qc": ("level", "conc", "tolerance_pct"),  # an in-matrix quality control (ICH M10)
    "sample": ("sample", "dilution"),
    "empty": (),
    "pool": ("sample", "spike"),
    "selectivity": ("source", "spike"),
    "stability": ("level", "conc", "condition", "hours"),
}
PARAMS = (
    "role",
    "level",
    "conc",
    "tolerance_pct",
    "sample",
    "dilution",
    "spike",
    "source",
    "condition",
    "hours",
)
TOP_LEVEL_KEYS = ("kit_lot", "wells")
GROUPS = ("row", "col", "irow", "icol", "block", "well")
SECTIONS = ("meta", *GROUPS)
META_KEYS = ("include",)
DEFAULT_TOLERANCE_PCT = 20.0
MIN_STANDARD_LEVELS = 6  # ICH M10: at least 6 non-zero calibration levels

_REFUSED_SECTIONS = {
    "expt": "[expt] (one value for every well) is not supported; "
    "set parameters in [row], [col], [block] or [well] sections",
    "plate": "[plate.NAME] sections are not supported; a layout describes one 96-well plate",
}
_REFUSED_META = {
    "concat": "'meta.concat' is not supported; load each plate's layout on its own",
    "path": "'meta.path' is not supported; give the plate-reader export on the command line",
    "paths": "'meta.paths' is not supported; give the plate-reader export on the command line",
}

# Ranks of the sections that may set a well's parameter: higher wins.
_RANK_WELL = (3, 0)
_RANK_LINE = (1, 0)  # [row], [col], [irow], [icol]


@dataclass(frozen=True)
class WellSpec:
    """What one well holds: its role and, by role, level, nominal, range, sample, dilution.

    ``nominal`` is the standard's or control's nominal concentration (pg/mL);
    ``low``/``high`` are a control's acceptance range; ``dilution`` is 1 for
    every well but a diluted sample.
    """

    well: str
    role: str
    level: str | None = None
    nominal: float | None = None
    low: float | None = None
    high: float | None = None
    sample: str | None = None
    dilution: float = 1.0
    spike: float | None = None  # pool, selectivity: pg/mL added (0: unspiked)
    source: str | None = None  # selectivity: the individual matrix source
    condition: str | None = None  # stability: the storage condition
    hours: float | None = None  # stability: hours in that condition (0: the reference)


@dataclass
class Layout:
    """A plate's layout: every non-empty well, and the files it was read from."""

    path: Path
    files: list[Path]  # the layout, then what it includes (load order, once each)
    wells: dict[str, WellSpec]  # non-empty wells only, in plate order
    kit_lot: str | None = None
    size: int = 96  # the plate it describes: 96 or 384 wells (``wells = 384``)

    def _by_role(self, role: str) -> list[WellSpec]:
        specs = [s for s in self.wells.values() if s.role == role]
        return sorted(specs, key=lambda s: _plate_order(s.well))

    def standards(self) -> list[WellSpec]:
        """Standard wells in plate order (A1, A2, ..., H12), for the calibration curve."""
        return self._by_role("standard")

    def blanks(self) -> list[WellSpec]:
        """Blank wells in plate order, for the background and the limit of blank."""
        return self._by_role("blank")

    def controls(self) -> list[WellSpec]:
        """Control (QC) wells in plate order, each with its acceptance range."""
        return self._by_role("control")

    def qcs(self) -> list[WellSpec]:
        """In-matrix QC wells (role ``qc``) in plate order, each with its acceptance range."""
        return self._by_role("qc")

    def samples(self) -> list[WellSpec]:
        """Sample wells in plate order, each with its label and dilution."""
        return self._by_role("sample")

    def standard_levels(self) -> list[tuple[str, float]]:
        """The standard levels as (level, nominal pg/mL), highest first, once each."""
        levels = {s.level: s.nominal for s in self.standards()}
        pairs = [(str(level), float(nominal)) for level, nominal in levels.items()]
        return sorted(pairs, key=lambda pair: -pair[1])


def load_layout(path: str | Path) -> Layout:
    """Read a layout file (and the files it includes) into the wells' roles.

    Raises InputError, with the file and the section or well, for anything
    outside the supported subset or against the assay's rules.
    """
    shown = Path(path)
    token = None
    try:
        top = _read_toml(shown)
        size = _declared_size(top, shown)
        token = _SHAPE.set(SHAPES[size])
        files: list[Path] = []
        config = _load_config(shown, (), files, top=top)
        wells = _wells_from_config(config)
        specs = _specs_from_wells(wells)
        _check_standards(specs)
    except InputError as err:
        raise err.at(shown) from None
    finally:
        if token is not None:
            _SHAPE.reset(token)
    return Layout(
        path=shown.resolve(),
        files=files,
        wells=specs,
        kit_lot=config.get("kit_lot"),
        size=size,
    )


def _declared_size(top: dict[str, Any], shown: Path) -> int:
    """The plate size the top file declares (``wells = 384``), 96 when it says nothing."""
    value = top.get("wells", 96)
    if isinstance(value, bool) or value not in SHAPES:
        raise InputError(
            f"wells = {value!r}: expected 96 or 384 (the plate the layout describes)",
            path=shown,
        )
    return int(value)


# Reading files and includes
# ==========================


MAX_INCLUDE_DEPTH = 32  # a layout includes a file that includes a file ... at most this deep


def _load_config(
    shown: Path,
    stack: tuple[Path, ...],
    files: list[Path],
    merged: dict[Path, dict[str, Any]] | None = None,
    top: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One file's config with its includes merged in, as wellmap's config_from_toml.

    ``top``: the file's own TOML when the caller has read it already.

    Each file is read and merged once (``merged``, by real path): a file included
    twice, or by several files, is not read again, so an include "diamond" costs
    one read per file. Includes nest at most MAX_INCLUDE_DEPTH deep.
    """
    merged = {} if merged is None else merged
    real = shown.resolve()
    if real in merged:
        return copy.deepcopy(merged[real])
    if len(stack) >= MAX_INCLUDE_DEPTH:
        raise InputError(
            f"includes nested more than {MAX_INCLUDE_DEPTH} files deep; "
            "expected a layout to include a few shared files",
            path=shown,
            where="[meta] include",
        )
    if real not in files:
        files.append(real)
    config = _read_toml(shown) if top is None else top
    try:
        _check_file(config)
    except InputError as err:
        raise err.at(shown) from None

    # As wellmap, includes are relative to the real file (symlinks followed);
    # name them relative to the path as given when that is the same place.
    base = shown.parent if shown.parent.resolve() == real.parent else real.parent
    subconfigs = []
    for rel in _include_names(config):
        sub = base / rel
        real_sub = sub.resolve()
        chain = [*stack, real]
        if real_sub in chain:
            loop = [p.name for p in chain[chain.index(real_sub) :]] + [real_sub.name]
            raise InputError(
                f"include cycle: {' -> '.join(loop)}; expected a file not to include itself",
                path=shown,
                where="[meta] include",
            )
        if not sub.is_file():
            raise InputError(
                f"included file '{rel}' does not exist (looked for {sub})",
                path=shown,
                where="[meta] include",
            )
        subconfigs.append(_load_config(sub, (*stack, real), files, merged))

    config.pop("meta", None)
    # wellmap merges the includes last to first without overwriting, so this
    # file's values win, then the last include's, and so on.
    for subconfig in reversed(subconfigs):
        _merge_defaults(config, subconfig)
    merged[real] = copy.deepcopy(config)
    return config


def _read_toml(shown: Path) -> dict[str, Any]:
    try:
        data = shown.read_bytes()
    except FileNotFoundError:
        raise InputError("layout file does not exist", path=shown) from None
    except OSError as err:
        raise InputError(f"cannot read layout: {err.strerror}", path=shown) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("layout is not UTF-8 text; expected a TOML file", path=shown) from None
    depth, line = _nesting(text)
    if depth > MAX_TOML_DEPTH:
        raise InputError(
            f"arrays or inline tables nested {depth} deep; a layout needs at most {MAX_TOML_DEPTH}",
            path=shown,
            where=f"line {line}",
        )
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        where = None
        if m:
            where = f"line {m.group(1)}"
            message = message[: m.start()]
        else:
            message = re.sub(r"\s*\(at end of document\)$", " at the end of the file", message)
        raise InputError(f"invalid TOML: {message}", path=shown, where=where) from None
    deepest = _table_depth(doc)
    if deepest > MAX_TOML_DEPTH:
        raise InputError(
            f"keys nested {deepest} deep (a.b.c...); a layout needs at most {MAX_TOML_DEPTH}",
            path=shown,
        )
    return doc


# A layout nests a few levels ([block.2x1.A1], an include list); TOML's parser and
# everything after it recurse once per level, so a file nested 10^5 deep is refused first.
MAX_TOML_DEPTH = 16


def _nesting(text: str) -> tuple[int, int]:
    """The deepest nesting of arrays and inline tables in TOML text, and the line it is on.

    A linear scan outside strings and comments: no recursion, so any depth is measured.
    """
    depth = deepest = 0
    line = deepest_line = 1
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end == -1 else end
            continue
        elif ch in "\"'":
            quote = text[i : i + 3] if text.startswith(ch * 3, i) else ch
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if ch == '"' and text[j] == "\\":
                    j += 1
                elif len(quote) == 1 and text[j] == "\n":
                    break  # an unclosed one-line string: tomllib says so
                j += 1
            line += text.count("\n", i, j)
            i = j + len(quote)
            continue
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest, deepest_line = depth, line
        elif ch in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return deepest, deepest_line


def _table_depth(doc: Any) -> int:
    """How deep tables and arrays nest in a parsed TOML document (iteratively)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_TOML_DEPTH:
            return deepest
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return deepest


def _include_names(config: dict[str, Any]) -> list[str]:
    include = config.get("meta", {}).get("include", [])
    return [include] if isinstance(include, str) else list(include)


def _merge_defaults(config: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Fill ``config`` from ``defaults`` without overwriting (wellmap's recursive_merge)."""
    for key, default in defaults.items():
        if isinstance(default, dict):
            if isinstance(config.get(key, {}), dict):
                _merge_defaults(config.setdefault(key, {}), default)
        elif key not in config:
            config[key] = default


# Checking one file
# =================


def _check_file(config: dict[str, Any]) -> None:
    """Refuse what the subset does not hold; check each parameter's value."""
    for key, value in config.items():
        if key == "meta":
            _check_meta(value)
        elif key in GROUPS:
            if not isinstance(value, dict):
                raise InputError(
                    f"'{key}' = {value!r} is not a section; expected [{key}.X] sections"
                )
            _check_group(key, value)
        elif key in _REFUSED_SECTIONS:
            raise InputError(_REFUSED_SECTIONS[key], where=f"[{key}]")
        elif isinstance(value, dict):
            raise InputError(
                f"unknown section [{key}]; expected "
                + ", ".join(f"[{s}]" for s in SECTIONS)
                + _did_you_mean(key, SECTIONS, "[{}]")
            )
        elif key == "wells":
            if isinstance(value, bool) or value not in SHAPES:
                raise InputError(f"wells = {value!r}: expected 96 or 384")
        elif key == "kit_lot":
            if not isinstance(value, str) or not value.strip():
                raise InputError(
                    f'kit_lot {value!r} is not a name; expected text, e.g. kit_lot = "A1234"'
                )
        elif key in PARAMS:
            raise InputError(
                f"top-level '{key}' applies to no well (wellmap keeps top-level keys "
                "as notes); put it in a [row], [col], [block] or [well] section"
            )
        else:
            raise InputError(
                f"unknown top-level key '{key}'; expected 'kit_lot', 'wells' or a section"
                + _did_you_mean(key, TOP_LEVEL_KEYS)
            )


def _check_meta(meta: Any) -> None:
    if not isinstance(meta, dict):
        raise InputError(f"'meta' = {meta!r} is not a section; expected [meta]")
    for key, value in meta.items():
        if key in _REFUSED_META:
            raise InputError(_REFUSED_META[key], where="[meta]")
        if key not in META_KEYS:
            hint = (
                "; top-level keys and dotted sections go before the first [section]"
                if key in TOP_LEVEL_KEYS or key in GROUPS
                else _did_you_mean(key, META_KEYS)
            )
            raise InputError(
                f"'meta.{key}' is not supported; expected only 'include'{hint}", where="[meta]"
            )
        ok = isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
        if not ok:
            raise InputError(
                f"include = {value!r} is not a file name or a list of them; "
                "expected e.g. include = \"il6_96_standard.toml\" (no 'shift')",
                where="[meta]",
            )


def _check_group(kind: str, sections: dict[str, Any]) -> None:
    if kind == "block":
        for size, blocks in sections.items():
            width, height = _block_size(size)
            if not isinstance(blocks, dict):
                raise InputError(
                    f"'{size}' = {blocks!r} is not a section; expected [block.{size}.A1]",
                    where="[block]",
                )
            for key, params in blocks.items():
                label = _label("block", size, key)
                for _ in _iter_block(key, width, height, label):
                    pass
                _check_params(params, label)
        return
    for key, params in sections.items():
        label = _label(kind, key)
        for _ in _iter_group(kind, key, label):
            pass
        _check_params(params, label)


def _check_params(params: Any, label: str) -> None:
    if not isinstance(params, dict):
        raise InputError(f"expected a section of well parameters, found {params!r}", where=label)
    for key, value in params.items():
        if key not in PARAMS:
            raise InputError(
                f"unknown parameter '{key}'; expected one of "
                + ", ".join(f"'{p}'" for p in PARAMS)
                + _did_you_mean(key, PARAMS),
                where=label,
            )
        _check_value(key, value, label)


def _check_value(key: str, value: Any, label: str) -> None:
    def fail(expected: str) -> None:
        raise InputError(f"{key} = {_toml(value)} is not {expected}", where=label)

    if key == "role":
        if not isinstance(value, str):
            fail('a role; expected e.g. role = "sample"')
        if value not in ROLES:
            raise InputError(
                f"unknown role '{value}'; expected one of "
                + ", ".join(f"'{r}'" for r in ROLES)
                + _did_you_mean(value, ROLES),
                where=label,
            )
    elif key in ("level", "sample", "source", "condition"):
        if not isinstance(value, str) or not value.strip():
            example = _EXAMPLES[key]
            fail(f"a label; expected quoted text, e.g. {example}")
        if key == "sample":
            from il6assay.plate.samples import clean_label

            clean_label(value, "sample label", label)  # no control or invisible characters
    else:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not math.isfinite(value):
            fail(f"a number; expected e.g. {key} = {dict(conc=300, dilution=10).get(key, 20)}")
        if key in ("conc", "spike") and value < 0:
            raise InputError(
                f"{key} {_toml(value)} is negative; expected a concentration >= 0 pg/mL",
                where=label,
            )
        if key == "hours" and value < 0:
            raise InputError(
                f"hours {_toml(value)} is negative; expected hours >= 0 (0: the reference)",
                where=label,
            )
        if key == "dilution" and value <= 0:
            raise InputError(
                f"dilution {_toml(value)} is not > 0; expected a dilution factor, e.g. 10 for 1:10",
                where=label,
            )
        if key == "dilution" and not 1 <= value <= 1e6:
            raise InputError(
                f"dilution {_toml(value)} is not between 1 and 1000000; expected a dilution "
                "factor, e.g. 10 for 1:10",
                where=label,
            )
        if key == "tolerance_pct" and not 0 < value < 100:
            raise InputError(
                f"tolerance_pct {_toml(value)} is not between 0 and 100; "
                "expected a percentage, e.g. 20 for ±20 %",
                where=label,
            )


def _did_you_mean(word: str, choices: tuple[str, ...], form: str = "'{}'") -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {form.format(close[0])}?)" if close else ""


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _label(kind: str, *keys: str) -> str:
    parts = [k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else f"'{k}'" for k in (kind, *keys)]
    return f"[{'.'.join(parts)}]"


# Well names and patterns (ported from wellmap.util)
# ==================================================


def _row_index(row: str) -> int:
    if not row.isalpha() or not row.isascii():
        raise InputError(f"Cannot parse row '{row}', expected letter(s) e.g. 'A', 'B', etc.")
    i = 0
    for char in row.upper():
        i = i * 26 + ord(char) - ord("A") + 1
    return i - 1


def _col_index(col: str) -> int:
    if not col.isdigit() or not col.isascii():
        raise InputError(f"Cannot parse column '{col}', expected digit(s) e.g. '1', '2', etc.")
    return int(col) - 1


def _well_index(well: str) -> tuple[int, int]:
    m = re.fullmatch(r"([A-Za-z]+)([0-9]+)", well)
    if not m:
        raise InputError(f"Cannot parse well '{well}', expected 'A1', 'B2', etc.")
    return _row_index(m.group(1)), _col_index(m.group(2))


def _well_name(i: int, j: int) -> str:
    return f"{_row_name(i)}{j + 1}"


def _row_name(i: int) -> str:
    name = ""
    while i >= 0:
        name = chr(ord("A") + i % 26) + name
        i = i // 26 - 1
    return name


def _plate_order(well: str) -> tuple[int, int]:
    return _well_index(well)


def _check_range(
    x0: int, x1: int | None, xn: int, names: dict[str, str], single_step_ok: bool = False
) -> None:
    le = "≤" if single_step_ok else "<"
    if x1 is None:
        if not x0 < xn + single_step_ok:
            raise InputError("Expected {first} {le} {last}".format(le=le, **names))
    else:
        if not x0 < x1 < xn + single_step_ok:
            raise InputError("Expected {first} < {second} {le} {last}.".format(le=le, **names))
        if (xn - x0) % (x1 - x0) != 0:
            raise InputError(
                "Cannot get from {first} to {last} in steps of {step}.".format(
                    step=x1 - x0, **names
                )
            )


def _inclusive_range(x0: int, x1: int | None, xn: int) -> range:
    return range(x0, xn + 1, x1 - x0 if x1 is not None else 1)


def _indices_from_range(x0: int, x1: int | None, xn: int, names: dict[str, str]) -> range:
    _check_range(x0, x1, xn, names)
    return _inclusive_range(x0, x1, xn)


def _ijs_from_range(
    x0: tuple[int, int], x1: tuple[int, int] | None, xn: tuple[int, int], names: dict[str, str]
) -> Iterator[tuple[int, int]]:
    (i0, j0), (iz, jz) = x0, xn
    i1, j1 = x1 if x1 is not None else (None, None)
    if i0 == iz and (i1 == i0 or i1 is None):
        yield from ((i0, j) for j in _indices_from_range(j0, j1, jz, names))
    elif j0 == jz and (j1 == j0 or j1 is None):
        yield from ((i, j0) for i in _indices_from_range(i0, i1, iz, names))
    else:
        _check_range(i0, i1, iz, names, single_step_ok=True)
        _check_range(j0, j1, jz, names, single_step_ok=True)
        for i in _inclusive_range(i0, i1, iz):
            for j in _inclusive_range(j0, j1, jz):
                yield i, j


def _iter_indices(
    pattern: str, parse: Callable[[str], Any], from_range: Callable[..., Any]
) -> Iterator[Any]:
    """The indices a pattern names: 'A', 'A,C', 'A-C', 'A,C,...,G' (wellmap's syntax)."""
    tokens = pattern.split(",")
    try:
        if "..." in tokens:
            if len(tokens) != 4 or tokens.index("...") != 2:
                raise InputError(f"Expected '<first>,<second>,...,<last>', not '{pattern}'")
            names = {"first": tokens[0], "second": tokens[1], "last": tokens[3]}
            x0, x1, xn = parse(tokens[0]), parse(tokens[1]), parse(tokens[3])
            yield from from_range(x0, x1, xn, names)
            return
        for token in tokens:
            if "-" not in token:
                yield parse(token)
                continue
            ends = token.split("-")
            if len(ends) != 2:
                raise InputError(f"Expected '<first>-<last>', not '{token}'")
            names = {"first": ends[0], "last": ends[1]}
            yield from from_range(parse(ends[0]), None, parse(ends[1]), names)
    except InputError as err:
        if not err.message.startswith(("Cannot parse", "Expected '")):
            err.message = f"'{pattern}': {err.message}"
        raise


def _iter_group(kind: str, key: str, label: str) -> Iterator[Any]:
    """The rows, columns or wells a [row]/[col]/[irow]/[icol]/[well] key names."""
    try:
        yield from _iter_group_indices(kind, key, label)
    except InputError as err:
        raise err.at(where=label) from None


def _iter_group_indices(kind: str, key: str, label: str) -> Iterator[Any]:
    if kind in ("row", "irow"):
        for i in _iter_indices(key, _row_index, _indices_from_range):
            if not 0 <= i < _SHAPE.get()[0]:
                n, rows, _, _ = _shape_text()
                raise InputError(
                    f"row '{_row_name(i)}' is outside the {n}-well plate; expected rows {rows}",
                    where=label,
                )
            yield i
    elif kind in ("col", "icol"):
        for j in _iter_indices(key, _col_index, _indices_from_range):
            if not 0 <= j < _SHAPE.get()[1]:
                n, _, cols, _ = _shape_text()
                raise InputError(
                    f"column '{j + 1}' is outside the {n}-well plate; expected columns {cols}",
                    where=label,
                )
            yield j
    else:
        for i, j in _iter_indices(key, _well_index, _ijs_from_range):
            if not (0 <= i < _SHAPE.get()[0] and 0 <= j < _SHAPE.get()[1]):
                n, _, _, span = _shape_text()
                raise InputError(
                    f"well '{_well_name(i, j)}' is outside the {n}-well plate; expected {span}",
                    where=label,
                )
            yield i, j


def _block_size(size: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)", size)
    if not m:
        raise InputError(
            f"Unknown [block] size '{size}', expected 'WxH' "
            "(where W and H are both positive integers).",
            where=_label("block", size),
        )
    width, height = int(m.group(1)), int(m.group(2))
    if width == 0 or height == 0:
        raise InputError(
            f"[block.{size}] has no {'width' if width == 0 else 'height'}; "
            "expected 'WxH' with W and H > 0",
            where=_label("block", size),
        )
    return width, height


def _iter_block(key: str, width: int, height: int, label: str) -> Iterator[tuple[int, int]]:
    """The wells of the blocks a [block.WxH.X] key names, each inside the plate."""
    try:
        corners = list(_iter_indices(key, _well_index, _ijs_from_range))
    except InputError as err:
        raise err.at(where=label) from None
    for i0, j0 in corners:
        for i, j in itertools.product(range(i0, i0 + height), range(j0, j0 + width)):
            if not (0 <= i < _SHAPE.get()[0] and 0 <= j < _SHAPE.get()[1]):
                n, _, _, span = _shape_text()
                raise InputError(
                    f"block reaches well '{_well_name(i, j)}', outside the {n}-well plate; "
                    f"expected every well within {span}",
                    where=label,
                )
            yield i, j


def _interleave(a: int, b: int) -> int:
    return a + b % 2 if a % 2 == 0 else a - b % 2


# From sections to wells (as wellmap's wells_from_config)
# =======================================================

# One section's say on one well: (rank, label, parameters).
_Say = tuple[tuple[int, int], str, dict[str, Any]]


def _wells_from_config(config: dict[str, Any]) -> dict[tuple[int, int], list[_Say]]:
    """Every well the layout implies, with what each section says about it.

    Which wells exist follows wellmap: [well] and [block] sections make their
    wells; a [row] spans the columns occupied by anything else (and a [col]
    the rows), from the first to the last.
    """
    says: dict[tuple[int, int], list[_Say]] = {}

    for key, params in config.get("well", {}).items():
        label = _label("well", key)
        for ij in _iter_group("well", key, label):
            says.setdefault(ij, []).append((_RANK_WELL, label, params))

    for size, blocks in config.get("block", {}).items():
        width, height = _block_size(size)
        for key, params in blocks.items():
            label = _label("block", size, key)
            for ij in _iter_block(key, width, height, label):
                says.setdefault(ij, []).append(((2, -width * height), label, params))

    lines: dict[str, dict[int, list[tuple[str, dict[str, Any]]]]] = {}
    for kind in ("row", "col", "irow", "icol"):
        lines[kind] = {}
        for key, params in config.get(kind, {}).items():
            label = _label(kind, key)
            for index in _iter_group(kind, key, label):
                lines[kind].setdefault(index, []).append((label, params))

    def span(*xs: int) -> range:
        return range(min(xs), max(xs) + 1) if xs else range(0)

    rows, cols, irows, icols = (lines[k] for k in ("row", "col", "irow", "icol"))
    non_irow_rows = span(*(i for i, _ in says), *rows)
    non_icol_cols = span(*(j for _, j in says), *cols)
    occupied_rows = span(
        *non_irow_rows, *(_interleave(ii, j) for ii, j in itertools.product(irows, non_icol_cols))
    )
    occupied_cols = span(
        *non_icol_cols, *(_interleave(jj, i) for i, jj in itertools.product(non_irow_rows, icols))
    )
    for kind, other, occupied in (
        ("row", "columns", occupied_cols),
        ("irow", "columns", occupied_cols),
        ("col", "rows", occupied_rows),
        ("icol", "rows", occupied_rows),
    ):
        if lines[kind] and not occupied:
            raise InputError(
                f"[{kind}] sections but no {other} for them to span: no wells defined; "
                f"add a [block] or [well] section (or a [{'col' if other == 'columns' else 'row'}])"
            )

    for ij in itertools.product(rows, occupied_cols):
        says.setdefault(ij, [])
    for ij in itertools.product(occupied_rows, cols):
        says.setdefault(ij, [])
    for ii, j in itertools.product(irows, occupied_cols):
        says.setdefault((_interleave(ii, j), j), [])
    for i, jj in itertools.product(occupied_rows, icols):
        says.setdefault((i, _interleave(jj, i)), [])

    for (i, j), well_says in says.items():
        for label, params in (
            *rows.get(i, []),
            *cols.get(j, []),
            *irows.get(_interleave(i, j), []),
            *icols.get(_interleave(j, i), []),
        ):
            well_says.append((_RANK_LINE, label, params))
    return says


def _resolve(well: str, says: list[_Say]) -> dict[str, tuple[Any, str]]:
    """Each parameter's winning value and the section it came from.

    The most specific section wins; if equally specific sections disagree
    (where wellmap would go by their order), the layout is refused.
    """
    resolved: dict[str, tuple[Any, str]] = {}
    keys = dict.fromkeys(k for _, _, params in says for k in params)
    for key in keys:
        top = max(rank for rank, _, params in says if key in params)
        winners = [
            (params[key], label) for rank, label, params in says if rank == top and key in params
        ]
        (value, label), *others = winners
        for other_value, other_label in others:
            if other_value != value:
                more = (
                    "remove one of them"
                    if top == _RANK_WELL
                    else f"say which in a more specific section, e.g. [well.{well}]"
                )
                raise InputError(
                    f"{key} {_toml(value)} from {label} and {_toml(other_value)} from "
                    f"{other_label} are equally specific; {more}",
                    where=f"well {well}",
                )
        resolved[key] = (value, label)
    return resolved


def _specs_from_wells(wells: dict[tuple[int, int], list[_Say]]) -> dict[str, WellSpec]:
    """Check each well's parameters against its role and make its WellSpec."""
    specs: dict[str, WellSpec] = {}
    for i, j in sorted(wells):
        well = _well_name(i, j)
        params = _resolve(well, wells[i, j])
        if params:
            spec = _spec(well, params)
            if spec.role != "empty":
                specs[well] = spec
    return specs


_REQUIRED = {
    "standard": ("level", "conc"),
    "control": ("level", "conc"),
    "qc": ("level", "conc"),
    "sample": ("sample",),
    "pool": ("sample", "spike"),
    "selectivity": ("source", "spike"),
    "stability": ("level", "condition", "hours"),
}
_EXAMPLES = {
    "level": 'level = "S1"',
    "conc": "conc = 300",
    "sample": 'sample = "P01"',
    "spike": "spike = 50",
    "source": 'source = "BM01"',
    "condition": 'condition = "bench"',
    "hours": "hours = 24",
}


def _spec(well: str, params: dict[str, tuple[Any, str]]) -> WellSpec:
    where = f"well {well}"
    if "role" not in params:
        given = ", ".join(f"'{k}' (from {label})" for k, (_, label) in params.items())
        raise InputError(
            f"well has {given} but no role; expected role = one of "
            + ", ".join(f"'{r}'" for r in ROLES),
            where=where,
        )
    role, role_label = params["role"]
    for key, (_, label) in params.items():
        if key != "role" and key not in PARAMS_BY_ROLE[role]:
            takers = [r for r, keys in PARAMS_BY_ROLE.items() if key in keys]
            core = [r for r in takers if r in CORE_ROLES]  # the validation roles said only alone
            takers = core or takers
            raise InputError(
                f"well is a {role} (from {role_label}) but gets '{key}' from {label}; "
                f"'{key}' is for {', '.join(takers[:-1])}{' and ' if len(takers) > 1 else ''}"
                f"{takers[-1]} wells",
                where=where,
            )
    for key in _REQUIRED.get(role, ()):
        if key not in params:
            raise InputError(
                f"well is a {role} (from {role_label}) but has no '{key}'; "
                f"expected e.g. {_EXAMPLES[key]}",
                where=where,
            )
    value = {k: v for k, (v, _) in params.items()}
    if role in ("pool", "selectivity", "stability"):
        return _validation_spec(well, role, value)
    if role in ("standard", "control", "qc"):
        nominal = float(value["conc"])
        low = high = None
        if role in ("control", "qc"):
            tol = float(value.get("tolerance_pct", DEFAULT_TOLERANCE_PCT)) / 100
            low, high = nominal * (1 - tol), nominal * (1 + tol)
        return WellSpec(well, role, level=value["level"], nominal=nominal, low=low, high=high)
    if role == "sample":
        return WellSpec(
            well,
            role,
            sample=_normal_label(value["sample"]),
            dilution=float(value.get("dilution", 1.0)),
        )
    return WellSpec(well, role)


def _validation_spec(well: str, role: str, value: dict[str, Any]) -> WellSpec:
    """A pool, selectivity or stability well's spec (docs/validation.md)."""
    nominal = float(value["conc"]) if "conc" in value else None
    return WellSpec(
        well,
        role,
        level=value.get("level"),
        nominal=nominal,
        sample=_normal_label(value["sample"]) if "sample" in value else None,
        spike=float(value["spike"]) if "spike" in value else None,
        source=value["source"].strip() if "source" in value else None,
        condition=value["condition"].strip() if "condition" in value else None,
        hours=float(value["hours"]) if "hours" in value else None,
    )


def _normal_label(text: str) -> str:
    """A sample label NFKC-normalised and trimmed, as the sample sheet's are."""
    from il6assay.plate.samples import clean_label

    return clean_label(text, "sample label")


def _check_standards(specs: dict[str, WellSpec]) -> None:
    """One nominal per standard level, and enough non-zero levels for ICH M10."""
    if not specs:
        raise InputError(
            "layout defines no wells; expected [row], [col], [block] or [well] sections with a role"
        )
    first: dict[str, WellSpec] = {}
    for spec in specs.values():
        if spec.role != "standard":
            continue
        seen = first.setdefault(str(spec.level), spec)
        if seen.nominal != spec.nominal:
            raise InputError(
                f"standard level '{spec.level}' has two concentrations, "
                f"{seen.nominal:g} ({seen.well}) and {spec.nominal:g} ({spec.well}); "
                "expected one nominal concentration per level"
            )
    nonzero = sum(1 for s in first.values() if s.nominal)
    if nonzero < MIN_STANDARD_LEVELS:
        raise InputError(
            f"layout has {nonzero} non-zero standard levels; "
            f"ICH M10 needs at least {MIN_STANDARD_LEVELS}"
        )
