"""Twenty reviewers signing at once over HTTP, on PostgreSQL (and SQLite): none lost or doubled.

Twenty reviewer accounts sign in to one real server and open one of five
runs (four reviewers on each), all seeing the same version of their run;
then all twenty press "Sign" at the same moment (a barrier). Each run must
end with exactly one signed decision, by the reviewer whose request was
told so, in its audit log, its run.json and the database; every other
request is refused with a reason, none fails with a server error.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from il6assay.db.models import DbSignature
from il6assay.record.audit import read_entries
from tests.web_support import (
    PASSWORD,
    Client,
    accounts_engine,
    processed,
    results_folder,
    run_folder,
    serving,
    sign_form,
)

RUNS = ["by_tech", "by_lin", "w_1y", "w_1y2", "subtract"]
REVIEWERS = [(f"r{i:02d}", f"Reviewer {i:02d}", "reviewer") for i in range(1, 21)]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    return accounts_engine(request, tmp_path, *REVIEWERS)


def test_twenty_concurrent_reviewers_lose_no_decision_and_double_none(engine, tmp_path):
    results = results_folder(tmp_path, *RUNS)
    barrier = threading.Barrier(len(REVIEWERS), timeout=120)
    outcomes: dict[str, tuple[str, int, str]] = {}
    failures: list[BaseException] = []

    def reviewer(index: int, base: str) -> None:
        username, name, _ = REVIEWERS[index]
        run_id = processed(RUNS[index % len(RUNS)]).name
        try:
            client = Client(base)
            assert client.login(username).url.endswith("/queue")
            form = sign_form(client.get(f"/runs/{run_id}").text)
            form.update(decision="accept", reason=f"checked by {name}", password=PASSWORD)
            barrier.wait()
            reply = client.post(f"/runs/{run_id}/sign", form)
            outcomes[username] = (run_id, reply.status, reply.text)
        except BaseException as err:  # reported below, with the others
            failures.append(err)
            barrier.abort()

    with serving(engine, [results]) as base:
        threads = [threading.Thread(target=reviewer, args=(i, base)) for i in range(len(REVIEWERS))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    assert failures == [] and len(outcomes) == len(REVIEWERS)
    assert {status for _, status, _ in outcomes.values()} <= {200, 409}

    winners: dict[str, str] = {}
    for username, (run_id, status, text) in outcomes.items():
        name = dict((u, n) for u, n, _ in REVIEWERS)[username]
        if status == 200:
            assert f"signed: approved by {name}" in text
            assert run_id not in winners, f"two reviewers were told they signed {run_id}"
            winners[run_id] = name
        else:
            message = re.search(r'id="message">(.*?)</p>', text, re.S).group(1)
            assert "someone else" in message or "already accepted" in message, message
    assert sorted(winners) == sorted(processed(r).name for r in RUNS)  # one per run: none lost

    with Session(engine) as session:
        rows = session.scalars(select(DbSignature)).all()
        stored = {(r.run_id, r.printed_name) for r in rows}
    assert len(rows) == len(RUNS) and stored == set(winners.items())  # none doubled
    for recipe in RUNS:
        folder = run_folder(results, recipe)
        decisions = [e for e in read_entries(folder) if e["action"] == "review-accept"]
        assert [e["signature"]["printed_name"] for e in decisions] == [winners[folder.name]]
        review = json.loads((folder / "run.json").read_text())["review"]
        assert review["status"] == "accepted" and review["by"] == winners[folder.name]
