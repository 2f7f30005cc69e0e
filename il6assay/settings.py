"""Processing settings: the lab's choices, each with the default the docs justify.

Every setting is written into run.json and curve.json, so a result can be
traced to the choices that made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

ZERO_STANDARD_CHOICES = ("fit", "subtract", "exclude")
# The acceptance rules a plate is judged by (docs/choices.md): "m10", ICH M10's run
# acceptance on reportable values; "kit", the well-by-well judgement of a kit insert.
RULE_PROFILES = ("m10", "kit")
FIT_STANDARDS_CHOICES = ("wells", "means")  # fit every standard well, or each level's mean


@dataclass(frozen=True)
class Settings:
    """How a plate is processed; defaults are those chosen in docs/choices.md."""

    # Curve. Defaults chosen by benchmarks/simulate_choices.py (docs/choices.md).
    model: str = "4pl"  # or "5pl", or "loglog" (a kit insert's line); never switched silently
    weighting: str = "1/(k^2+y^2)"  # k from the plate's replicate pairs (il6assay.curve.noise)
    zero_standard: str = "fit"  # "fit": x = 0 is a curve point; "subtract": kit-insert habit;
    # "exclude": the zero standard is neither fitted nor subtracted (ICH M10: not a curve point)
    rules: str = "m10"  # RULE_PROFILES
    fit_standards: str = "wells"  # "means": fit each level's mean OD, as SoftMax Pro does
    k_od: float | None = None  # the weighting's k fixed by the method (else measured)
    # Reads: the measurement read and the reference read (None: auto).
    read: str | None = None
    reference: str | None = None  # "none" turns the reference correction off
    plate: str | None = None  # which plate of a multi-plate export
    ratio: str | None = None  # "A/B": the signal is read A / read B x 10^4 per well (TR-FRET)
    masked: tuple[str, ...] = ()  # wells a reviewer excluded (il6assay mask); reads are kept
    # Acceptance (ICH M10 defaults, DOMAIN.md).
    standard_tolerance_pct: float = 20.0
    standard_tolerance_extreme_pct: float = 25.0
    min_standard_levels: int = 6
    min_standard_level_share: float = 0.75
    min_replicate_share: float = 0.5
    control_min_share: float = 2 / 3
    control_min_level_share: float = 0.5
    cv_limit_pct: float = 20.0
    cv_limit_lloq_pct: float = 25.0
    # The adopted method profile the plate is held to (il6assay.qc.method; docs/validation.md),
    # put here by process/batch from the study database; None: no profile adopted.
    method_profile: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for run.json (no ``method_profile`` key when none is adopted)."""
        out = asdict(self)
        out["masked"] = list(self.masked)
        if self.method_profile is None:
            del out["method_profile"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Settings as run.json recorded them (unknown keys refused: a newer tool wrote them)."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown settings {', '.join(unknown)}")
        values = dict(data)
        # A run recorded before rule profiles existed was judged by what is now "kit".
        values.setdefault("rules", "kit")
        values["masked"] = tuple(values.get("masked", ()))
        return cls(**values)


# The settings il6assay.toml may set, and the process/batch options that override them.
CONFIG_KEYS = ("model", "weighting", "zero_standard", "rules", "fit_standards", "k_od")


def config_settings(config: Mapping[str, Any], **given: Any) -> Settings:
    """Settings from il6assay.toml's values, each overridden by an option given (not None)."""
    defaults = Settings()
    values = {key: config.get(key, getattr(defaults, key)) for key in CONFIG_KEYS}
    values.update({key: value for key, value in given.items() if value is not None})
    return Settings(**values)
