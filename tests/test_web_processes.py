"""Several review-app processes on one PostgreSQL, as a lab that outgrows one process runs them.

Two ``il6assay serve`` processes, started as the README says on different
ports in one lab folder against one PostgreSQL database: a sign-in on one is
a session on the other (sessions live in the database), a decision signed on
one is seen on the other and makes the other's open form stale (the run's
change counter is in the database), a run processed on the command line
while both serve appears in both queues (the run index and its change check),
and a QC record made meanwhile reaches both controls pages (their cache is
keyed by the database's change mark).
"""

from __future__ import annotations

import re

import pytest

from tests import pg
from tests.conftest import EXAMPLE
from tests.web_support import (
    PASSWORD,
    Client,
    il6assay,
    lab_folder,
    lab_server,
    sign_form,
)


def _runs_shown(page: str) -> int:
    found = re.search(r"(\d+) run\(s\) shown", page)
    assert found, "the controls page says how many runs it shows"
    return int(found.group(1))


@pytest.mark.pg  # starts PostgreSQL itself, not through a backend parameter
def test_two_serve_processes_on_one_postgresql_share_sessions_decisions_queue_and_caches(
    request, tmp_path
):
    db = pg.database_url(request)
    work = tmp_path / "lab"
    ids = lab_folder(work, db)
    walk = ids["walk"]
    with lab_server(work, db) as one, lab_server(work, db) as two:
        lin = Client(one)
        assert lin.login("lin").url.endswith("/queue")
        there = Client(two)  # the same browser, its session cookie sent to the other process
        for cookie in lin.jar:
            there.jar.set_cookie(cookie)
        queue = there.get("/queue")
        assert queue.status == 200 and queue.url.endswith("/queue") and walk in queue.text
        stale = sign_form(there.get(f"/runs/{walk}").text)  # opened on two before the decision
        controls_before = _runs_shown(there.get("/controls").text)

        form = sign_form(lin.get(f"/runs/{walk}").text)
        form.update(decision="accept", reason="checked on one", password=PASSWORD)
        signed = lin.post(f"/runs/{walk}/sign", form)
        assert signed.status == 200, signed.text

        # Seen on the other process: the run page, the queue's review filter and signature.
        page = there.get(f"/runs/{walk}").text
        assert "Lin Wei" in page and "checked on one" in page
        assert walk not in there.get("/queue").text  # no longer awaiting review
        accepted = there.get("/queue?review=accepted").text
        assert walk in accepted and "approved by Lin Wei" in accepted
        # The form opened on two before the decision cannot sign: one decision per version.
        stale.update(decision="review", reason="read on two", password=PASSWORD)
        late = there.post(f"/runs/{walk}/sign", stale)
        assert late.status == 409 and "reload" in late.text

        # A plate processed on the command line while both serve: in both queues.
        out = il6assay(
            work, "process", str(EXAMPLE / "plate_001.xlsx"), "--by", "tech",
            "--weighting", "1/y", "--json",
        )  # fmt: skip
        new = re.search(r'"run_dir": "[^"]*?([^"/\\]+)"', out).group(1)
        assert new in lin.get("/queue").text and new in there.get("/queue").text

        # A QC record made on the command line: both controls pages are rebuilt with it.
        il6assay(work, "controls", "--record", f"il6assay-results/{new}", "--db", db)
        assert _runs_shown(there.get("/controls").text) == controls_before + 1
        assert _runs_shown(lin.get("/controls").text) == controls_before + 1
