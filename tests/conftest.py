"""Shared paths for the tests: the repo's fixtures and ../shared (read in place, never copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
EXAMPLE = FIXTURES / "example"
LAYOUTS = ROOT / "plate_layouts"
STANDARD_LAYOUT = LAYOUTS / "il6_96_standard.toml"
# The 0.2 standard layout (two kit controls before the samples), for the "kit" rules' tests.
KIT_LAYOUT = FIXTURES / "layouts" / "il6_96_kit_controls.toml"
SHARED = ROOT.parent / "shared"

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared (reference exports and data) is not beside the repo"
)


@pytest.fixture(autouse=True, scope="session")
def _chain_keys_in_a_temporary_config(tmp_path_factory: pytest.TempPathFactory) -> None:
    """PostgreSQL test databases keep their chain keys in a temporary config folder, not ~."""
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))


def run_dirs(out: Path) -> list[Path]:
    """The run folders in an output folder (beside them: the shared plotly.js)."""
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


@pytest.fixture(scope="module")
def browser():
    """One headless chromium per test module (tests/browser.py)."""
    from tests.browser import launched

    with launched() as b:
        yield b
