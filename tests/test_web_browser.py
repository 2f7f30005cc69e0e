"""QC review in a real headless browser against a real server, on SQLite and PostgreSQL.

Debian's chromium driven by Playwright (nothing downloads a browser), the
review app on waitress on a free 127.0.0.1 port, every request outside the
server aborted and recorded. A reviewer signs in, opens the queue, opens a
run, masks a well by clicking it on the plate map (with a reason, looking at
the refit before keeping it), accepts with their password; the signed
decision is then read back from the run's audit log and the database. The
same reviewer cannot accept a plate they processed. Screenshots go to
test-artifacts/ (docs/review.md shows them, copied to docs/img/).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from il6assay.db.models import DbAudit, DbSignature
from il6assay.plate.hashing import sha256_file
from il6assay.record.audit import read_entries
from il6assay.record.folder import open_run
from il6assay.web.accounts import OWN_MASKS, set_separation_policy
from il6assay.web.decisions import content_sha256
from tests.browser import ARTIFACTS, needs_browser
from tests.conftest import ROOT
from tests.web_support import (
    HOSTILE_LABEL,
    PASSWORD,
    accounts_engine,
    processed,
    results_folder,
    run_folder,
    serving,
)

pytestmark = needs_browser


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    engine = accounts_engine(request, tmp_path)
    engine.backend = request.param  # for the screenshots' names
    return engine


class Watched:
    """A page whose console errors, dialogs and requests leaving the server are recorded."""

    def __init__(self, browser, base: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.outside: list[str] = []
        self.urls: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else 0)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

        def route(r):
            self.urls.append(r.request.url)
            if r.request.url.startswith(base):
                r.continue_()
            else:
                self.outside.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=False)

    def sign_in(self, base: str, username: str) -> None:
        self.page.goto(f"{base}/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("#sign-in")
        self.page.wait_for_load_state("load")
        assert self.page.url == f"{base}/queue", self.page.content()[-1500:]


def first_sample_well(folder: Path) -> str:
    import csv

    with (folder / "wells.csv").open(encoding="utf-8-sig") as fh:
        return next(r["well"] for r in csv.DictReader(fh) if r["role"] == "sample")


def test_reviewer_masks_a_well_then_accepts_with_a_signature_found_in_audit_log_and_database(
    browser, engine, tmp_path
):
    # The lab lets a reviewer accept a plate they masked during review (on the record);
    # who processed a plate may still never accept it.
    set_separation_policy(engine, OWN_MASKS, by="Admin Xu", reason="masks are part of review")
    results = results_folder(tmp_path, "by_tech", "by_lin")
    run_id, own_id = processed("by_tech").name, processed("by_lin").name
    folder = run_folder(results, "by_tech")
    well = first_sample_well(folder)
    suffix = "" if engine.backend == "sqlite" else "_pg"
    with serving(engine, [results]) as base:
        w = Watched(browser, base)
        page = w.page
        w.sign_in(base, "lin")
        # The queue: both runs await review.
        assert page.locator("#queue a", has_text=run_id).count() == 1
        assert page.locator("#queue a", has_text=own_id).count() == 1
        w.shot(f"web_queue{suffix}.png")
        page.click(f"#queue a:text('{run_id}')")
        page.wait_for_url(f"{base}/runs/{run_id}")
        # The report process wrote is on the page, figures drawn from the served plotly.js.
        report = page.frame_locator("#report")
        report.locator(".js-plotly-plot").first.wait_for()
        assert report.locator(".js-plotly-plot").count() == 3
        w.shot(f"web_run{suffix}.png")
        # Mask a well by clicking it on the plate map; the refit is shown before it is kept.
        page.click(f"#plate-map a[data-well='{well}']")
        page.fill("#mask-reason", "bubble in the well (photo in the lab book)")
        page.click("#preview-refit")
        page.locator("#changes").wait_for()
        assert page.locator("#changes tr").count() > 1
        page.frame_locator("#preview-report").locator(".js-plotly-plot").first.wait_for()
        assert [e["action"] for e in read_entries(folder)] == ["process"]  # nothing kept yet
        w.shot(f"web_mask_preview{suffix}.png")
        page.click("#keep")
        page.locator("#notice").wait_for()
        assert f"mask of {well} kept" in page.inner_text("#notice")
        # Accept with the password: an electronic signature.
        page.check("#decide-accept")
        page.fill("#sign-reason", "curve, controls and the masked replicate checked")
        page.fill("#sign-password", PASSWORD)
        w.shot(f"web_sign{suffix}.png")
        page.click("#sign-button")
        page.locator("#notice").wait_for()
        assert "signed: approved by Lin Wei" in page.inner_text("#notice")
        assert page.inner_text("#review-status").startswith("accepted by Lin Wei")
        page.click("#history-link")
        page.locator("#audit").wait_for()
        assert "approved by Lin Wei" in page.inner_text("#audit")
        w.shot(f"web_history{suffix}.png")
        assert w.errors == []
        # The same reviewer cannot accept the plate they processed.
        page.goto(f"{base}/runs/{own_id}")
        page.check("#decide-accept")
        page.fill("#sign-reason", "looks fine")
        page.fill("#sign-password", PASSWORD)
        page.click("#sign-button")
        page.locator("#message").wait_for()
        assert "Lin Wei processed this run" in page.inner_text("#message")
        assert w.errors == [
            "Failed to load resource: the server responded with a status of 403 (FORBIDDEN)"
        ]
        assert w.dialogs == [] and w.outside == []
        assert not any(PASSWORD in u for u in w.urls)
        w.context.close()

    # The signed decision in the run's audit log ...
    entries = read_entries(folder)
    assert [e["action"] for e in entries] == ["process", "mask", "review-accept"]
    _, mask, decision = entries
    assert mask["account"] == "lin" and mask["wells"] == [well]
    # The refit kept is the one the reviewer was shown.
    assert mask["previewed"]["results_sha256"] == sha256_file(folder / "results.csv")
    sig = decision["signature"]
    assert decision["signed"] is True and decision["by"] == "Lin Wei"
    assert sig["printed_name"] == "Lin Wei" and sig["meaning"] == "approved"
    assert sig["signed_utc"].endswith("+00:00") and sig["signed_local"][19] in "+-"
    assert sig["content_sha256"] == content_sha256(open_run(folder))
    assert sig["separation_of_duties"]["policy"] == OWN_MASKS
    assert sig["separation_of_duties"]["relaxed"]  # masked by the signer: on the record
    # ... and in the database, the same.
    with Session(engine) as session:
        rows = session.scalars(select(DbSignature)).all()
        assert [(r.run_id, r.printed_name, r.meaning) for r in rows] == [
            (run_id, "Lin Wei", "approved")
        ]
        assert rows[0].content_sha256 == sig["content_sha256"]
        assert json.loads(rows[0].audit_entry) == decision
        assert session.scalars(select(DbAudit).where(DbAudit.action == "web-mask")).all()
    own = json.loads((run_folder(results, "by_lin") / "run.json").read_text())
    assert own["review"]["status"] == "unreviewed"


def test_hostile_sample_label_runs_no_script_in_the_browser(browser, engine, tmp_path):
    results = results_folder(tmp_path, "hostile")
    run_id = processed("hostile").name
    with serving(engine, [results]) as base:
        w = Watched(browser, base)
        w.sign_in(base, "lin")
        w.page.goto(f"{base}/runs/{run_id}?well=A4")
        w.page.frame_locator("#report").locator(".js-plotly-plot").first.wait_for()
        assert HOSTILE_LABEL in w.page.inner_text("#plate-map")  # shown as text
        assert w.page.locator("#plate-map script").count() == 0
        w.page.fill("#mask-reason", "<img src=x onerror=alert('reason')>")
        w.page.click("#preview-refit")
        w.page.locator("#changes").wait_for()
        assert w.page.locator("main img").count() == 0
        assert w.dialogs == [] and w.outside == []
        w.context.close()


def test_review_doc_shows_the_screenshots_this_test_takes():
    import re

    doc = (ROOT / "docs" / "review.md").read_text()
    shown = re.findall(r"\]\(img/(web_[a-z_]+)\.png\)", doc)
    taken = set(re.findall(r'shot\(f"(web_[a-z_]+)\{suffix\}\.png"\)', Path(__file__).read_text()))
    assert shown and set(shown) == taken
    for name in shown:
        assert (ROOT / "docs" / "img" / f"{name}.png").stat().st_size > 10_000
