"""Headless Chromium for the browser tests: Debian's chromium, driven by Playwright.

Nothing downloads a browser of its own. In CI (the CI environment variable is
set) a missing chromium or Playwright is a failure, never a skip; elsewhere
the browser tests skip, saying why. The flags keep chromium off the network
(this machine's network is closed) and out of any profile of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and PDFs the tests take (docs/img copies some)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if os.environ.get("CI"):
    from playwright import sync_api as playwright

    assert Path(CHROMIUM).exists(), "CI: Debian's chromium is missing (.ci/run installs it)"
else:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

needs_browser = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
)


@contextlib.contextmanager
def launched() -> Iterator[Any]:
    """A headless chromium (the ``browser`` fixture of tests/conftest.py yields one per module)."""
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()
