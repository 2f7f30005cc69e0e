"""il6assay: ELISA plate-reader exports to study-keyed IL-6 concentrations.

Public names are imported lazily so that ``il6assay --help`` stays fast. The
package is laid out by stage (docs/architecture.md); the flat module paths of
il6assay 0.1 (``il6assay.fit``, ``il6assay.layout``, ...) still import, as
aliases of their new homes, with a DeprecationWarning.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import warnings
from typing import Any

__version__ = "0.3.1"

_LAZY = {
    "fit_curve": "il6assay.curve.fit",
    "CurveFit": "il6assay.curve.fit",
    "read_export": "il6assay.plate.readers",
    "load_layout": "il6assay.plate.layout",
    "load_samples": "il6assay.plate.samples",
    "process_plate": "il6assay.run",
    "process_export": "il6assay.run",
    "InputError": "il6assay.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'il6assay' has no attribute {name!r}")


# il6assay 0.1's flat modules and where they live now (imports of the old names keep working).
_MOVED = {
    "readers": "plate.readers",
    "tokens": "plate.tokens",
    "layout": "plate.layout",
    "samples": "plate.samples",
    "wells": "plate.wells",
    "discover": "plate.discover",
    "fit": "curve.fit",
    "noise": "curve.noise",
    "outliers": "curve.outliers",
    "detection": "curve.detection",
    "rules": "qc.rules",
    "results": "qc.results",
    "dilutions": "qc.dilutions",
    "outputs": "record.outputs",
    "report": "record.report",
    "audit": "record.audit",
    "review": "record.review",
    "masking": "record.masking",
    "redcap": "db.redcap",
}


class _MovedModuleFinder:
    """Resolves ``il6assay.<old name>[.sub]`` to the module at its new path.

    A meta-path finder and loader by protocol (importlib.abc costs 12 ms to import).
    """

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        head = fullname.removeprefix("il6assay.").partition(".")[0]
        if not fullname.startswith("il6assay.") or head not in _MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: Any) -> Any:
        head, _, rest = spec.name.removeprefix("il6assay.").partition(".")
        new = "il6assay." + _MOVED[head] + ("." + rest if rest else "")
        warnings.warn(
            f"{spec.name} moved to {new} (docs/architecture.md)", DeprecationWarning, stacklevel=2
        )
        return importlib.import_module(new)

    def exec_module(self, module: Any) -> None:
        """Nothing to run: the module was imported at its new path."""


sys.meta_path.insert(0, _MovedModuleFinder())  # before the path finder, so no second copy
