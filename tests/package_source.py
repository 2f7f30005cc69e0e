"""The package's own modules, parsed once per test session, for the tests that scan its source."""

from __future__ import annotations

import ast
import functools

from tests.conftest import ROOT

PACKAGE = ROOT / "il6assay"


@functools.cache
def parsed_modules() -> tuple[tuple[str, ast.Module], ...]:
    """Every module of il6assay/ as (its path inside the package, its syntax tree); read-only."""
    return tuple(
        (path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
    )
