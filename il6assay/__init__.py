"""il6assay: ELISA plate-reader exports to study-keyed IL-6 concentrations.

Public names are imported lazily so that ``il6assay --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "fit_curve": "il6assay.fit",
    "CurveFit": "il6assay.fit",
    "read_export": "il6assay.readers",
    "load_layout": "il6assay.layout",
    "load_samples": "il6assay.samples",
    "process_plate": "il6assay.run",
    "InputError": "il6assay.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'il6assay' has no attribute {name!r}")
