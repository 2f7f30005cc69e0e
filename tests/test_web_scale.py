"""The review app does not grow with the study: an indexed queue, paged, and cached study pages.

The queue lists rows of ``web_run_index`` (copied from run.json), kept current by
a change check that sees runs added, changed (a review on the command line)
and removed; the controls and summary pages are built once per change of the
study database (a QC record, a push), not per request nor per sign-in. Each
test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from il6assay.cli import main
from il6assay.db.models import DbRunIndex
from il6assay.db.run_index import refresh
from il6assay.study.pages import cached_page, controls_html
from il6assay.study.qc import from_folder
from il6assay.study.store import record_qc
from il6assay.web.runs import queue
from tests.web_support import Client, accounts_engine, results_folder, run_folder, serving


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    engine = accounts_engine(request, tmp_path)
    yield engine
    engine.dispose()


def _ids(rows: list[dict]) -> list[str]:
    return [r["run_id"] for r in rows]


def test_the_queue_lists_indexed_rows_and_follows_runs_added_reviewed_and_removed(engine, tmp_path):
    results = results_folder(tmp_path, "by_tech", "rejected")
    tech, rejected = run_folder(results, "by_tech"), run_folder(results, "rejected")
    assert _ids(queue(engine, [results])) == [rejected.name, tech.name]  # rejected first
    with Session(engine) as session:  # the rows are what the queue shows, not the folders
        session.execute(
            update(DbRunIndex).where(DbRunIndex.run_id == tech.name).values(plate_id="FROM-ROW")
        )
        session.commit()
    assert [r["plate_id"] for r in queue(engine, [results]) if r["run_id"] == tech.name] == [
        "FROM-ROW"
    ]
    # Reviewed on the command line: its run.json changed, so its row is read again.
    done = CliRunner().invoke(
        main, ["review", str(tech), "--accept", "--by", "Lin Wei", "--reason", "fine"]
    )
    assert done.exit_code == 0, done.output
    assert _ids(queue(engine, [results])) == [rejected.name]
    accepted = queue(engine, [results], review="accepted")
    assert _ids(accepted) == [tech.name] and accepted[0]["plate_id"] != "FROM-ROW"
    # A run added (processed elsewhere, copied in) and one removed.
    shutil.copytree(tech, results / "copied-run")
    shutil.rmtree(rejected)
    # Same processing time: the run id decides, newest-first order reversed (p > c).
    assert _ids(queue(engine, [results], review="all")) == [tech.name, "copied-run"]
    with Session(engine) as session:
        assert set(session.scalars(select(DbRunIndex.run_id))) == {tech.name, "copied-run"}
    assert refresh(engine, [results]) == 0  # nothing changed: nothing read or written


def test_the_queue_page_shows_fifty_runs_a_page_with_links_and_an_unknown_run_is_a_404(
    engine, tmp_path
):
    results = results_folder(tmp_path, "by_tech")
    source = run_folder(results, "by_tech")
    for i in range(54):  # distinct run ids (folder names); files hard-linked, not copied
        shutil.copytree(source, results / f"copy-{i:03d}", copy_function=os.link)
    with serving(engine, [results]) as url:
        lin = Client(url)
        lin.login("lin")
        first = lin.get("/queue").text
        assert "Runs 1-50 of 55, page 1 of 2" in first
        assert len(re.findall(r'<a href="/runs/', first)) == 50
        second = lin.get(
            re.search(r'id="queue-next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
        )
        assert second.status == 200 and "Runs 51-55 of 55, page 2 of 2" in second.text
        assert len(re.findall(r'<a href="/runs/', second.text)) == 5
        assert lin.get("/runs/copy-007").status == 200
        assert lin.get("/runs/no-such-run").status == 404


def test_the_controls_page_is_built_once_per_change_of_the_study_not_per_request_or_sign_in(
    engine, tmp_path
):
    results = results_folder(tmp_path, "by_tech", "w_1y")
    builds: list[int] = []

    def controls(engine, **args):
        builds.append(1)
        return controls_html(engine, **args)

    record_qc(engine, [from_folder(run_folder(results, "by_tech"))])
    first = cached_page(engine, controls, plotly_src="/plotly.js")
    assert cached_page(engine, controls, plotly_src="/plotly.js") is first and len(builds) == 1
    with serving(engine, [results]) as url:  # a sign-in is audited, and changes no study page
        Client(url).login("lin")
    assert cached_page(engine, controls, plotly_src="/plotly.js") is first and len(builds) == 1
    record_qc(engine, [from_folder(run_folder(results, "w_1y"))])  # a QC record: built again
    again = cached_page(engine, controls, plotly_src="/plotly.js")
    assert len(builds) == 2 and "2 run(s) shown" in again and "1 run(s) shown" in first
    other = cached_page(engine, controls, plotly_src="/plotly.js", level="low")
    assert len(builds) == 3 and other != again  # each level and date its own page


def test_the_queue_change_check_reads_what_changed_not_every_run_folder(
    engine, tmp_path, monkeypatch
):
    import il6assay.db.run_index as run_index

    results = results_folder(tmp_path, "by_tech", "rejected")
    tech, rejected = run_folder(results, "by_tech"), run_folder(results, "rejected")
    for i in range(20):  # a study of 22 runs
        shutil.copytree(tech, results / f"copy-{i:02d}", copy_function=os.link)
    assert refresh(engine, [results]) == 22  # the full check: every run folder read
    stats: list[str] = []
    real_stamp = run_index._stamp
    monkeypatch.setattr(run_index, "_stamp", lambda p: stats.append(p) or real_stamp(p))
    quick = {"at_most_every": run_index.FULL_CHECK_S}
    assert refresh(engine, [results], **quick) == 0
    assert len(stats) <= 1  # the root only: no run folder looked at
    # Reviewed on the command line: named in the change journal, read again at once.
    done = CliRunner().invoke(
        main, ["review", str(rejected), "--reject", "--by", "Lin Wei", "--reason", "bad"]
    )
    assert done.exit_code == 0, done.output
    stats.clear()
    assert refresh(engine, [results], **quick) == 1
    assert len(stats) <= 3  # the root and the one run, not 22
    assert _ids(queue_rows(engine, results, "rejected")) == [rejected.name]
    # Added and removed (the folder of runs' own time moves): only those read.
    shutil.copytree(tech, results / "copied-run")
    shutil.rmtree(results / "copy-00")
    stats.clear()
    assert refresh(engine, [results], **quick) == 2
    assert len(stats) <= 4
    with Session(engine) as session:
        names = set(session.scalars(select(DbRunIndex.run_id)))
    assert "copied-run" in names and "copy-00" not in names
    # Edited by hand (no command, no journal): the queue keeps the row until the run's own
    # check (its page) or the next full check.
    record = json.loads((tech / "run.json").read_text(encoding="utf-8"))
    record["kit_lot"] = "HAND-EDITED"
    (tmp_path / "edited.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    os.replace(tmp_path / "edited.json", tech / "run.json")  # its copies are hard links
    assert refresh(engine, [results], **quick) == 0
    assert run_index.refresh_run(engine, [results], tech.name) == 1
    assert run_index.refresh_run(engine, [results], tech.name) == 0
    (results / "copy-01" / "run.json").unlink()
    assert refresh(engine, [results]) == 1  # the full check sees every change by hand
    assert run_index.refresh_run(engine, [results], "..") == 0  # never a folder above


def queue_rows(engine, results: Path, review: str) -> list[dict]:
    return queue(engine, [results], review=review)


def test_a_run_pages_plate_map_is_rendered_once_per_content_and_again_after_a_mask(
    engine, tmp_path, monkeypatch
):
    import il6assay.web.views.queue as views

    results = results_folder(tmp_path, "by_tech")
    tech = run_folder(results, "by_tech")
    built: list[str] = []
    real = views.plate_map
    monkeypatch.setattr(views, "plate_map", lambda path: built.append(path.name) or real(path))
    with serving(engine, [results]) as url:
        lin = Client(url)
        lin.login("lin")
        first = lin.get(f"/runs/{tech.name}")
        again = lin.get(f"/runs/{tech.name}")
        assert first.status == again.status == 200 and built == [tech.name]
        assert _plate(first.text) == _plate(again.text) and 'data-well="E4"' in _plate(first.text)
        done = CliRunner().invoke(
            main, ["mask", str(tech), "--well", "E4", "--reason", "bubble", "--by", "Tang Hui"]
        )
        assert done.exit_code == 0, done.output
        masked = lin.get(f"/runs/{tech.name}")
        assert masked.status == 200 and built == [tech.name, tech.name]  # wells.csv changed
        cell = re.search(r'<td class="[^"]*" data-well="E4">.*?</td>', _plate(masked.text), re.S)
        assert cell and "masked" in cell.group(0) and ">M</b>" in cell.group(0)


def _plate(page: str) -> str:
    return re.search(r'<table class="plate".*?</table>', page, re.S).group(0)


def test_the_change_journal_is_read_from_where_it_was_left_and_a_cut_or_flood_does_not_stall(
    tmp_path,
):
    from il6assay.record.changes import JOURNAL, READ_AT_MOST, note_change, read_changes

    note_change(tmp_path / "run-a")
    note_change(tmp_path / ".run-b.partial-1")  # a folder being written: its rename is seen
    names, at = read_changes(tmp_path, 0)
    assert names == ["run-a"]
    note_change(tmp_path / "run-c")
    assert read_changes(tmp_path, at) == (["run-c"], at + len("run-c\n"))
    (tmp_path / JOURNAL).write_text("run-d\n")  # cut by hand: read again from its start
    assert read_changes(tmp_path, 100)[0] == ["run-d"]
    (tmp_path / JOURNAL).write_bytes(b"x" * (READ_AT_MOST + 10) + b"\nrun-e\n")
    names, at = read_changes(tmp_path, 0)
    assert names == [] and at == READ_AT_MOST  # a line longer than any name: skipped
    assert read_changes(tmp_path, at)[0] == ["x" * 10, "run-e"]
