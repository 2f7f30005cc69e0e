"""The across-runs pages (il6assay.study.pages) mounted in the review app, when they exist.

Skipped until that module is there (it is built on another branch): then
/controls and /summary must show its pages to a signed-in account, and
send anyone else to the sign-in page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from il6assay.db.engine import make_engine
from tests.web_support import Client, accounts_copy, results_folder, serving

pages = pytest.importorskip("il6assay.study.pages", reason="il6assay.study.pages not built yet")


def test_levey_jennings_and_study_overview_are_served_to_signed_in_accounts(
    request: pytest.FixtureRequest, tmp_path: Path
):
    # a study database made by db upgrade, holding the lab's accounts (web_support)
    engine = make_engine(accounts_copy(request, tmp_path / "study.db"))
    results = results_folder(tmp_path, "by_tech")
    with serving(engine, [results]) as url:
        assert Client(url).get("/controls").url.endswith("/login")
        assert Client(url).get("/summary").url.endswith("/login")
        dm = Client(url)
        dm.login("dm")
        controls, summary = dm.get("/controls"), dm.get("/summary")
        for reply, made in (
            (controls, pages.controls_html(engine)),
            (summary, pages.summary_html(engine)),
        ):
            assert reply.status == 200 and reply.url.endswith(("/controls", "/summary"))
            assert reply.headers["Content-Type"].startswith("text/html")
            assert "<html" in reply.text.lower() or len(reply.text) > 0.5 * len(made)
        assert "Controls (Levey-Jennings)" in dm.get("/queue").text


@pytest.fixture(params=["sqlite", "postgresql"])
def study_engine(request: pytest.FixtureRequest, tmp_path: Path):
    """A study database (either backend) with the lab's accounts."""
    from tests.web_support import accounts_engine

    return accounts_engine(request, tmp_path)


def test_the_controls_page_charts_the_last_runs_and_links_to_all_of_them(
    study_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from dataclasses import replace

    from il6assay.study.qc import from_folder
    from il6assay.study.store import record_qc
    from il6assay.web.views import study
    from tests.web_support import processed

    figures = from_folder(processed("by_tech"))
    ids = [f"plate-{i:02d}" for i in range(5)]
    record_qc(
        study_engine,
        [replace(figures, run_id=r, run_time=f"2026-03-0{i + 1}T09:00:00+00:00") for i, r in
         enumerate(ids)],
        by="test set-up",
    )  # fmt: skip
    monkeypatch.setattr(study, "CHARTED_RUNS", 3)
    with serving(study_engine, [results_folder(tmp_path, "by_tech")]) as url:
        lin = Client(url)
        lin.login("lin")
        recent = lin.get("/controls")
        assert recent.status == 200
        assert "The last 3 of 5 runs are charted" in recent.text
        assert [r for r in ids if r in recent.text] == ids[2:]  # the newest three only
        everything = lin.get("/controls?since=all")
        assert everything.status == 200 and "All 5 runs are charted." in everything.text
        assert [r for r in ids if r in everything.text] == ids
        # A date given charts from that date, without a note.
        dated = lin.get("/controls?since=2026-03-02")
        assert [r for r in ids if r in dated.text] == ids[1:]
        assert 'id="controls-window"' not in dated.text
        # A new run recorded moves the window (the study's change mark, read from the database).
        record_qc(
            study_engine,
            [replace(figures, run_id="plate-05", run_time="2026-03-06T09:00:00+00:00")],
            by="t",
        )
        moved = lin.get("/controls")
        assert "The last 3 of 6 runs are charted" in moved.text
        assert [r for r in [*ids, "plate-05"] if r in moved.text] == [*ids[3:], "plate-05"]
