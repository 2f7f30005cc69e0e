"""A layout's vocabulary and its wells: roles, parameters, well names, ``WellSpec`` and ``Layout``.

Shared by the two layout readers, the TOML one (il6assay.plate.layout) and the sheet
one (il6assay.plate.layout_sheet): what a well's parameters say becomes one
``WellSpec`` here, checked the same way whichever file said it.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from il6assay.errors import InputError

ROWS = "ABCDEFGH"
N_ROWS = 8
N_COLS = 12
# Plate shapes a layout may describe (``wells = 384``), by number of wells.
SHAPES = {96: (8, 12), 384: (16, 24)}


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


DEFAULT_TOLERANCE_PCT = 20.0
MIN_STANDARD_LEVELS = 6  # ICH M10: at least 6 non-zero calibration levels


# Ranks of the sections that may set a well's parameter: higher wins.
RANK_WELL = (3, 0)
RANK_LINE = (1, 0)  # [row], [col], [irow], [icol]


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
        return sorted(specs, key=lambda s: plate_order(s.well))

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


def check_value(key: str, value: Any, label: str) -> None:
    """Refuse a well parameter's value that its key does not take, naming the section."""

    def fail(expected: str) -> None:
        raise InputError(f"{key} = {toml_value(value)} is not {expected}", where=label)

    if key == "role":
        if not isinstance(value, str):
            fail('a role; expected e.g. role = "sample"')
        if value not in ROLES:
            raise InputError(
                f"unknown role '{value}'; " + expected_one_of(value, ROLES),
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
                f"{key} {toml_value(value)} is negative; expected a concentration >= 0 pg/mL",
                where=label,
            )
        if key == "hours" and value < 0:
            raise InputError(
                f"hours {toml_value(value)} is negative; expected hours >= 0 (0: the reference)",
                where=label,
            )
        if key == "dilution" and value <= 0:
            raise InputError(
                f"dilution {toml_value(value)} is not > 0; "
                "expected a dilution factor, e.g. 10 for 1:10",
                where=label,
            )
        if key == "dilution" and not 1 <= value <= 1e6:
            raise InputError(
                f"dilution {toml_value(value)} is not between 1 and 1000000; expected a dilution "
                "factor, e.g. 10 for 1:10",
                where=label,
            )
        if key == "tolerance_pct" and not 0 < value < 100:
            raise InputError(
                f"tolerance_pct {toml_value(value)} is not between 0 and 100; "
                "expected a percentage, e.g. 20 for ±20 %",
                where=label,
            )


def did_you_mean(word: str, choices: tuple[str, ...], form: str = "'{}'") -> str:
    """' (did you mean ...?)' with the nearest choice, or nothing when none is near."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {form.format(close[0])}?)" if close else ""


def expected_one_of(word: str, choices: tuple[str, ...], quoted: bool = True) -> str:
    """'expected one of 'a', 'b' (did you mean 'a'?)': the end of an unknown word's error."""
    listed = ", ".join(f"'{c}'" if quoted else c for c in choices)
    return f"expected one of {listed}" + did_you_mean(word, choices)


def toml_value(value: Any) -> str:
    """A value written as TOML writes it (for error messages)."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def row_index(row: str) -> int:
    """The 0-based index of a row's letter(s): A is 0, AA is 26."""
    if not row.isalpha() or not row.isascii():
        raise InputError(f"Cannot parse row '{row}', expected letter(s) e.g. 'A', 'B', etc.")
    i = 0
    for char in row.upper():
        i = i * 26 + ord(char) - ord("A") + 1
    return i - 1


def col_index(col: str) -> int:
    """The 0-based index of a column's number: 1 is 0."""
    if not col.isdigit() or not col.isascii():
        raise InputError(f"Cannot parse column '{col}', expected digit(s) e.g. '1', '2', etc.")
    return int(col) - 1


def well_index(well: str) -> tuple[int, int]:
    """(row, column) of a well name such as B7, 0-based."""
    m = re.fullmatch(r"([A-Za-z]+)([0-9]+)", well)
    if not m:
        raise InputError(f"Cannot parse well '{well}', expected 'A1', 'B2', etc.")
    return row_index(m.group(1)), col_index(m.group(2))


def well_name(i: int, j: int) -> str:
    """The well name of 0-based (row, column): (1, 6) is B7."""
    return f"{row_name(i)}{j + 1}"


def row_name(i: int) -> str:
    """The letter(s) of a 0-based row index: 0 is A, 26 is AA."""
    name = ""
    while i >= 0:
        name = chr(ord("A") + i % 26) + name
        i = i // 26 - 1
    return name


def plate_order(well: str) -> tuple[int, int]:
    """A well's sort key in reading order (row by row)."""
    return well_index(well)


# One section's say on one well: (rank, label, parameters).
Say = tuple[tuple[int, int], str, dict[str, Any]]


def _resolve(well: str, says: list[Say]) -> dict[str, tuple[Any, str]]:
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
                    if top == RANK_WELL
                    else f"say which in a more specific section, e.g. [well.{well}]"
                )
                raise InputError(
                    f"{key} {toml_value(value)} from {label} and {toml_value(other_value)} from "
                    f"{other_label} are equally specific; {more}",
                    where=f"well {well}",
                )
        resolved[key] = (value, label)
    return resolved


def specs_from_wells(wells: dict[tuple[int, int], list[Say]]) -> dict[str, WellSpec]:
    """Check each well's parameters against its role and make its WellSpec."""
    specs: dict[str, WellSpec] = {}
    for i, j in sorted(wells):
        well = well_name(i, j)
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


def check_standards(specs: dict[str, WellSpec]) -> None:
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
