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
import itertools
import re
import tomllib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from il6assay.errors import InputError
from il6assay.plate.layout_wells import (
    CORE_ROLES,
    DEFAULT_TOLERANCE_PCT,
    MIN_STANDARD_LEVELS,
    N_COLS,
    N_ROWS,
    PARAMS,
    PARAMS_BY_ROLE,
    RANK_LINE,
    RANK_WELL,
    ROLES,
    ROWS,
    SHAPES,
    Layout,
    Say,
    WellSpec,
    check_standards,
    check_value,
    col_index,
    did_you_mean,
    expected_one_of,
    row_index,
    row_name,
    specs_from_wells,
    well_index,
    well_name,
)
from il6assay.project import MAX_TOML_DEPTH, refuse_deep_toml

# The vocabulary and the well spec are il6assay.plate.layout_wells'; importable from here.
__all__ = [
    "CORE_ROLES",
    "DEFAULT_TOLERANCE_PCT",
    "MIN_STANDARD_LEVELS",
    "N_COLS",
    "N_ROWS",
    "PARAMS",
    "PARAMS_BY_ROLE",
    "ROLES",
    "ROWS",
    "SHAPES",
    "Layout",
    "WellSpec",
    "load_layout",
]

_SHAPE: ContextVar[tuple[int, int]] = ContextVar("layout_shape", default=(N_ROWS, N_COLS))
_LETTERS = "ABCDEFGHIJKLMNOP"


def _shape_text() -> tuple[int, str, str, str]:
    """(wells, rows 'A-H', columns '1-12', wells 'A1-H12') of the layout being read."""
    rows, cols = _SHAPE.get()
    last = _LETTERS[rows - 1]
    return rows * cols, f"A-{last}", f"1-{cols}", f"A1-{last}{cols}"


TOP_LEVEL_KEYS = ("kit_lot", "wells")
GROUPS = ("row", "col", "irow", "icol", "block", "well")
SECTIONS = ("meta", *GROUPS)
META_KEYS = ("include",)

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
        specs = specs_from_wells(wells)
        check_standards(specs)
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


def toml_stated_dilutions(path: str | Path) -> set[str]:
    """The wells of a TOML layout whose dilution some section states (not left to default 1)."""
    config = _load_config(Path(path), (), [])
    wells = _wells_from_config(config)
    stated = set()
    for (i, j), says in wells.items():
        if any("dilution" in params for _, _, params in says):
            stated.add(well_name(i, j))
    return stated


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
    refuse_deep_toml(text, shown, "a layout")
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
                + did_you_mean(key, SECTIONS, "[{}]")
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
                + did_you_mean(key, TOP_LEVEL_KEYS)
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
                else did_you_mean(key, META_KEYS)
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
                f"unknown parameter '{key}'; " + expected_one_of(key, PARAMS),
                where=label,
            )
        check_value(key, value, label)


def _label(kind: str, *keys: str) -> str:
    parts = [k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else f"'{k}'" for k in (kind, *keys)]
    return f"[{'.'.join(parts)}]"


# Well names and patterns (ported from wellmap.util)
# ==================================================


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
        for i in _iter_indices(key, row_index, _indices_from_range):
            if not 0 <= i < _SHAPE.get()[0]:
                n, rows, _, _ = _shape_text()
                raise InputError(
                    f"row '{row_name(i)}' is outside the {n}-well plate; expected rows {rows}",
                    where=label,
                )
            yield i
    elif kind in ("col", "icol"):
        for j in _iter_indices(key, col_index, _indices_from_range):
            if not 0 <= j < _SHAPE.get()[1]:
                n, _, cols, _ = _shape_text()
                raise InputError(
                    f"column '{j + 1}' is outside the {n}-well plate; expected columns {cols}",
                    where=label,
                )
            yield j
    else:
        for i, j in _iter_indices(key, well_index, _ijs_from_range):
            if not (0 <= i < _SHAPE.get()[0] and 0 <= j < _SHAPE.get()[1]):
                n, _, _, span = _shape_text()
                raise InputError(
                    f"well '{well_name(i, j)}' is outside the {n}-well plate; expected {span}",
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
        corners = list(_iter_indices(key, well_index, _ijs_from_range))
    except InputError as err:
        raise err.at(where=label) from None
    for i0, j0 in corners:
        for i, j in itertools.product(range(i0, i0 + height), range(j0, j0 + width)):
            if not (0 <= i < _SHAPE.get()[0] and 0 <= j < _SHAPE.get()[1]):
                n, _, _, span = _shape_text()
                raise InputError(
                    f"block reaches well '{well_name(i, j)}', outside the {n}-well plate; "
                    f"expected every well within {span}",
                    where=label,
                )
            yield i, j


def _interleave(a: int, b: int) -> int:
    return a + b % 2 if a % 2 == 0 else a - b % 2


# From sections to wells (as wellmap's wells_from_config)
# =======================================================


def _wells_from_config(config: dict[str, Any]) -> dict[tuple[int, int], list[Say]]:
    """Every well the layout implies, with what each section says about it.

    Which wells exist follows wellmap: [well] and [block] sections make their
    wells; a [row] spans the columns occupied by anything else (and a [col]
    the rows), from the first to the last.
    """
    says: dict[tuple[int, int], list[Say]] = {}

    for key, params in config.get("well", {}).items():
        label = _label("well", key)
        for ij in _iter_group("well", key, label):
            says.setdefault(ij, []).append((RANK_WELL, label, params))

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
            well_says.append((RANK_LINE, label, params))
    return says
