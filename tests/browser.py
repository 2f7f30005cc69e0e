"""Headless Chromium for the browser tests: Debian's chromium, driven by Playwright.

Nothing downloads a browser of its own. In CI (the CI environment variable is
set) a missing chromium or Playwright is a failure, never a skip; elsewhere
the browser tests skip, saying why. The flags keep chromium off the network
(this machine's network is closed) and out of any profile of its own.

Pages are driven as a person's browser does: no request is intercepted,
blocked or answered by the test (the browser fetches its favicon, frames and
assets itself). ``Watched`` (the ``watched`` fixture) records every console
error, page error, failed request and 4xx/5xx response of a page, its frames
and assets (a 404 for /favicon.ico excepted), and the test fails on any.
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


class Watched:
    """A browser context and page whose console errors and failed responses are recorded."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.urls: list[str] = []
        self.page.on(
            "console",
            lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.context.on("request", lambda r: self.urls.append(r.url))
        self.context.on("response", self._response)
        self.context.on("requestfailed", self._failed)
        self.cancelled: list[Any] = []

    def _failed(self, request: Any) -> None:
        if request.failure == "net::ERR_ABORTED":
            # Chromium cancels what a document was still fetching when it goes away (a click
            # on a link while a frame loads): judged at check(), by whether it went away.
            self.cancelled.append(request)
            return
        self.problems.append(f"failed: {request.url} {request.failure}")

    def _not_left(self) -> list[str]:
        """Requests cancelled although the frame that asked for them is still shown."""
        out = []
        for request in self.cancelled:
            try:
                gone = request.frame.is_detached()
            except Exception:  # the frame object itself is gone
                gone = True
            if not gone:
                out.append(f"failed: {request.url} {request.failure}")
        return out

    def _response(self, response: Any) -> None:
        if response.status < 400:
            return
        if response.status == 404 and response.url.endswith("/favicon.ico"):
            return
        self.problems.append(f"{response.status} for {response.url}")

    def shot(self, name: str) -> None:
        """A screenshot into test-artifacts/ (docs/img copies those the docs show)."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=False)

    def check(self) -> None:
        """Fail on any console error, failed request or 4xx/5xx response so far."""
        problems = self.problems + self._not_left()
        assert problems == [], problems
        assert self.dialogs == [], self.dialogs


@pytest.fixture
def watched(browser: Any) -> Iterator[Any]:
    """Make watched pages (``watched()``); the test fails on any problem any of them saw."""
    made: list[Watched] = []

    def make() -> Watched:
        made.append(Watched(browser))
        return made[-1]

    yield make
    problems = [p for w in made for p in w.problems + w.dialogs]
    for w in made:
        w.context.close()
    assert problems == [], problems


@contextlib.contextmanager
def launched() -> Iterator[Any]:
    """A headless chromium (the ``browser`` fixture of tests/conftest.py yields one per module)."""
    from tests.running import require_marker

    require_marker("browser", "chromium")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()
