"""QC review in a real headless browser, the server started as the README tells a lab.

Debian's chromium driven by Playwright (nothing downloads a browser), never
intercepting or blocking a request: the browser fetches its favicon, frames
and assets itself. The server is ``il6assay serve --db ...`` run in a lab's
working folder whose plates ``il6assay process`` wrote into the default
(relative) ./il6assay-results. Every test fails on a console error or a
4xx/5xx for a page, frame or asset (tests/browser.py, ``watched``).

The whole walk is one test: sign in, the queue, a run's report with its
curve drawn, a well masked with the refit previewed, a signed accept, the
history, /controls and /summary with their charts and the app's header.
Screenshots go to test-artifacts/ (docs/review.md shows them, from docs/img/).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from il6assay.db.engine import make_engine
from il6assay.db.models import DbSignature
from il6assay.plate.hashing import sha256_file
from il6assay.record.audit import read_entries
from il6assay.record.folder import open_run
from il6assay.web.decisions import content_sha256
from tests import pg
from tests.browser import needs_browser, watched  # noqa: F401 (a fixture)
from tests.conftest import ROOT
from tests.web_support import HOSTILE_LABEL, PASSWORD, il6assay, lab_folder, lab_server, processed

pytestmark = needs_browser

RESULTS = "il6assay-results"  # the default runs folder, relative to where serve starts


@pytest.fixture(params=["sqlite", "postgresql"])
def lab(request: pytest.FixtureRequest, tmp_path: Path):
    """A lab's working folder (its study database on either backend) and its run ids."""
    db = "study.db" if request.param == "sqlite" else pg.database_url(request)
    work = tmp_path / "lab"
    ids = lab_folder(work, db)
    il6assay(
        work, "users", "policy", "--separation", "allow-own-masks", "--db", db,
        "--reason", "masks are part of review", "--by", "Admin Xu",
    )  # fmt: skip
    return work, db, ids, request.param


@pytest.fixture(scope="module")
def shared_lab(tmp_path_factory: pytest.TempPathFactory):
    """One lab (SQLite) and its server for the tests that change nothing; a hostile run too."""
    work = tmp_path_factory.mktemp("shared") / "lab"
    ids = lab_folder(work, "study.db")
    hostile = processed("hostile")
    shutil.copytree(hostile, work / RESULTS / hostile.name)
    ids["hostile"] = hostile.name
    with lab_server(work, "study.db") as base:
        yield base, work, ids


def sign_in(w, base: str, username: str = "lin") -> None:
    """Open the app as a person does (its address), sign in, land on the queue."""
    w.page.goto(f"{base}/")
    w.page.wait_for_url(f"{base}/login")
    w.page.fill("#username", username)
    w.page.fill("#password", PASSWORD)
    w.page.click("#sign-in")
    w.page.wait_for_url(f"{base}/queue")


def first_sample_well(folder: Path) -> str:
    import csv

    with (folder / "wells.csv").open(encoding="utf-8-sig") as fh:
        return next(r["well"] for r in csv.DictReader(fh) if r["role"] == "sample")


def test_the_whole_review_walk_in_chromium_against_il6assay_serve_started_as_the_readme_says(
    watched,  # noqa: F811
    lab,
):
    work, db, ids, backend = lab
    suffix = "" if backend == "sqlite" else "_pg"
    run_id = ids["walk"]
    folder = work / RESULTS / run_id
    processed_utc = json.loads((folder / "run.json").read_text())["created_utc"]
    well = first_sample_well(folder)
    with lab_server(work, db) as base:
        w = watched()
        page = w.page
        sign_in(w, base)
        # The queue: the rejected plate first, its failed rules said once.
        rows = page.locator("#queue tr").all_inner_texts()[1:]
        assert rows[0].startswith(ids["rejected"]) and run_id in "".join(rows[1:])
        assert "rejected: QUANTIFICATION_RANGE" in rows[0]
        assert "rejected: rejected" not in page.inner_text("#queue")
        w.shot(f"web_queue{suffix}.png")
        page.click(f"#queue a:text('{run_id}')")
        page.wait_for_url(f"{base}/runs/{run_id}")
        # The report il6assay wrote, in a sandboxed frame, its curve drawn by plotly.js.
        assert page.get_attribute("#report", "sandbox") == "allow-scripts"
        report = page.frame_locator("#report")
        report.locator(".js-plotly-plot").first.wait_for()
        assert report.locator(".js-plotly-plot").count() == 3
        assert report.locator(".js-plotly-plot svg.main-svg").count() >= 3
        # The plate map: roles and marks with a legend; OD and result on focus.
        assert "fault" in page.inner_text("#plate-legend")
        assert "censored" in page.inner_text("#plate-legend")
        page.focus(f"#plate-map a[data-well='{well}']")
        tip = page.locator(f"#plate-map td[data-well='{well}'] .tip")
        assert tip.is_visible() and "OD 0." in tip.inner_text() and "pg/mL" in tip.inner_text()
        w.shot(f"web_run{suffix}.png")
        # Mask a well by clicking it; the refit is shown before it is kept.
        page.click(f"#plate-map a[data-well='{well}']")
        page.fill("#mask-reason", "bubble in the well (photo in the lab book)")
        page.click("#preview-refit")
        page.locator("#changes").wait_for()
        assert page.locator("#changes tr").count() > 1
        assert page.get_attribute("#preview-report", "sandbox") == "allow-scripts"
        page.frame_locator("#preview-report").locator(".js-plotly-plot").first.wait_for()
        assert [e["action"] for e in read_entries(folder)] == ["process"]  # nothing kept yet
        w.shot(f"web_mask_preview{suffix}.png")
        page.click("#keep")
        page.locator("#notice").wait_for()
        assert f"mask of {well} kept" in page.inner_text("#notice")
        assert page.locator(f"#plate-map td.masked[data-well='{well}']").count() == 1
        page.frame_locator("#report").locator(".js-plotly-plot").first.wait_for()
        # Accept with the password: an electronic signature.
        page.check("#decide-accept")
        page.fill("#sign-reason", "curve, controls and the masked replicate checked")
        page.fill("#sign-password", PASSWORD)
        w.shot(f"web_sign{suffix}.png")
        page.click("#sign-button")
        page.locator("#notice").wait_for()
        assert "signed: approved by Lin Wei" in page.inner_text("#notice")
        assert page.inner_text("#review-status").startswith("accepted by Lin Wei")
        page.frame_locator("#report").locator(".js-plotly-plot").first.wait_for()
        page.click("#history-link")
        page.locator("#audit").wait_for()
        assert "approved by Lin Wei" in page.inner_text("#audit")
        w.shot(f"web_history{suffix}.png")
        # The study pages, served by the app with its header, their charts drawn.
        for nav, shot in (("#nav-controls", "web_controls"), ("#nav-summary", "web_summary")):
            page.click(nav)
            page.locator(".js-plotly-plot svg.main-svg").first.wait_for()
            assert page.locator("header #nav-queue").is_visible()
            assert not page.locator("#plotly-missing").is_visible()
            w.shot(f"{shot}{suffix}.png")
        w.check()
        assert not any(PASSWORD in u for u in w.urls)

    entries = read_entries(folder)
    assert [e["action"] for e in entries] == ["process", "mask", "review-accept"]
    _, mask, decision = entries
    assert mask["account"] == "lin" and mask["wells"] == [well]
    assert mask["previewed"]["results_sha256"] == sha256_file(folder / "results.csv")
    record = json.loads((folder / "run.json").read_text())
    assert record["created_utc"] == processed_utc  # the mask has its own time
    sig = decision["signature"]
    assert sig["printed_name"] == "Lin Wei" and sig["meaning"] == "approved"
    assert sig["content_sha256"] == content_sha256(open_run(folder))
    engine = make_engine(str(work / db) if backend == "sqlite" else db)
    with Session(engine) as session:
        rows = session.scalars(select(DbSignature)).all()
        # The set-up's command-line review of the pushed run is signed too (accounts exist).
        assert sorted((r.run_id, r.meaning) for r in rows) == sorted(
            [(run_id, "approved"), (ids["pushed"], "approved")]
        )


def test_sign_in_works_after_the_browser_fetches_its_favicon_an_asset_and_a_prefetch_unasked(
    watched,  # noqa: F811
    shared_lab,
):
    base, _, _ = shared_lab
    w = watched()
    w.page.goto(f"{base}/login")
    before = {c["name"]: c["value"] for c in w.context.cookies()}
    # What a browser fetches on its own with the page's cookies, while the form is on screen.
    for path in ("/favicon.ico", "/apple-touch-icon.png", "/static/style.css", "/queue"):
        w.context.request.get(f"{base}{path}")
    w.page.goto(f"{base}/queue")  # a prefetched page, then really opened: the form again
    assert {c["name"]: c["value"] for c in w.context.cookies()} == before
    w.page.fill("#username", "lin")
    w.page.fill("#password", PASSWORD)
    w.page.click("#sign-in")
    w.page.wait_for_url(f"{base}/queue")
    assert w.page.locator("header .who").inner_text().startswith("Lin Wei")


PROBE = """async () => {
  const out = {origin: window.origin};
  try { out.parent = window.parent.document.body.innerHTML.length; }
  catch (e) { out.parent = 'blocked: ' + e.name; }
  try { out.cookie = document.cookie; } catch (e) { out.cookie = 'blocked: ' + e.name; }
  try { const r = await fetch('/queue'); out.fetch = (await r.text()).slice(0, 100); }
  catch (e) { out.fetch = 'blocked: ' + e.name; }
  return out;
}"""


def test_a_script_in_the_report_frame_cannot_read_the_apps_page_or_its_cookies(
    watched,  # noqa: F811
    shared_lab,
):
    base, _, ids = shared_lab
    w = watched()
    sign_in(w, base)
    reply = w.page.goto(f"{base}/runs/{ids['walk']}")
    assert "script-src 'self';" in reply.headers["content-security-policy"]
    assert w.page.get_attribute("#report", "sandbox") == "allow-scripts"
    frame = w.page.locator("#report").element_handle().content_frame()
    frame.wait_for_selector(".js-plotly-plot")
    served = w.context.request.get(f"{base}{w.page.get_attribute('#report', 'src')}")
    assert served.headers["content-security-policy"].startswith("sandbox allow-scripts;")
    found = frame.evaluate(PROBE)  # run as the report's own scripts run
    assert found["origin"] == "null"  # an opaque origin: not the app's
    assert found["parent"].startswith("blocked: SecurityError")
    assert found["cookie"].startswith("blocked: SecurityError")
    assert found["fetch"] == "blocked: TypeError"  # connect-src 'none'
    # The one refusal the probe caused is the CSP's; nothing else went wrong.
    refused = [p for p in w.problems if "Content Security Policy" in p]
    assert refused and len(refused) == len(w.problems)
    w.problems.clear()


def test_hostile_sample_label_runs_no_script_in_the_browser(watched, shared_lab):  # noqa: F811
    base, _, ids = shared_lab
    w = watched()
    sign_in(w, base)
    w.page.goto(f"{base}/runs/{ids['hostile']}?well=A4")
    w.page.frame_locator("#report").locator(".js-plotly-plot").first.wait_for()
    assert HOSTILE_LABEL in w.page.inner_text("#plate-map")  # shown as text
    assert w.page.locator("#plate-map script").count() == 0
    w.page.fill("#mask-reason", "<img src=x onerror=alert('reason')>")
    w.page.click("#preview-refit")
    w.page.locator("#changes").wait_for()
    assert w.page.locator("main img").count() == 0


def test_review_doc_shows_the_screenshots_the_walk_takes():
    import re

    doc = (ROOT / "docs" / "review.md").read_text()
    shown = re.findall(r"\]\(img/(web_[a-z_]+)\.png\)", doc)
    text = Path(__file__).read_text()
    taken = set(re.findall(r'shot\(f"(web_[a-z_]+)\{suffix\}\.png"\)', text))
    taken |= set(re.findall(r'"#nav-[a-z]+", "(web_[a-z_]+)"', text))
    assert shown and set(shown) == taken
    for name in shown:
        assert (ROOT / "docs" / "img" / f"{name}.png").stat().st_size > 10_000
