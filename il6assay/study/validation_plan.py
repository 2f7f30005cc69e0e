"""The validation plan: what the lab planned before validating (il6assay validate --plan).

A TOML file with at most three keys: ``mrd`` (the minimum required dilution,
a factor >= 1), ``recovery_pct`` (spike recovery limits, [low, high] around
100; ICH M10 §7.3 names spike recovery but no number, so the default is
80-120 %) and ``required`` (the criteria that must be judged for the whole to
pass). No file: the defaults. Bad content: one line naming the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from il6assay.errors import InputError

DEFAULT_RECOVERY_PCT = (80.0, 120.0)  # M10 §7.3 names spike recovery but no number: the plan's
CRITERIA = ("precision_accuracy", "parallelism", "recovery", "selectivity", "stability")
PLAN_KEYS = ("mrd", "recovery_pct", "required")


@dataclass(frozen=True)
class Plan:
    """What the lab planned: the minimum required dilution, recovery limits, required criteria."""

    mrd: float | None = None
    recovery_pct: tuple[float, float] = DEFAULT_RECOVERY_PCT
    required: tuple[str, ...] = ("precision_accuracy",)
    path: Path | None = None


def load_plan(path: str | Path | None) -> Plan:
    """The validation plan (TOML); no file: the defaults. Bad content: one line naming the file."""
    if path is None:
        return Plan()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"cannot read the plan: {err.strerror}", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not a TOML file: {err}", path=path) from None
    unknown = sorted(set(data) - set(PLAN_KEYS))
    if unknown:
        raise InputError(f"unknown key '{unknown[0]}'; expected {', '.join(PLAN_KEYS)}", path=path)
    mrd = data.get("mrd")
    if mrd is not None and (not isinstance(mrd, int | float) or isinstance(mrd, bool) or mrd < 1):
        raise InputError(f"mrd = {mrd!r} is not a dilution factor >= 1", path=path)
    limits = data.get("recovery_pct", list(DEFAULT_RECOVERY_PCT))
    if (
        not isinstance(limits, list)
        or len(limits) != 2
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in limits)
        or not 0 < limits[0] < 100 < limits[1]
    ):
        raise InputError(
            f"recovery_pct = {limits!r} is not [low, high] around 100, e.g. [80, 120]", path=path
        )
    required = data.get("required", ["precision_accuracy"])
    if not isinstance(required, list) or any(r not in CRITERIA for r in required):
        raise InputError(
            f"required = {required!r}: expected a list of {', '.join(CRITERIA)}", path=path
        )
    return Plan(
        mrd=float(mrd) if mrd is not None else None,
        recovery_pct=(float(limits[0]), float(limits[1])),
        required=tuple(required),
        path=path,
    )
