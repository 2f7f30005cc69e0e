"""Separation of duties, signatures and the account commands of the review app.

Separation of duties is checked through the library (the browser test
drives the same code over HTTP): under the default policy neither who
processed nor who masked a plate may accept it; ``allow-own-masks`` lets who
masked accept and ``off`` lets anyone, each relaxation written into the
signature. The CLI's ``review`` still works and says it is unsigned.
"""

from __future__ import annotations

import json
import weakref
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from il6assay.cli import main
from il6assay.db.engine import make_engine
from il6assay.db.models import DbAccount, DbAudit, DbSignature
from il6assay.record.audit import read_entries
from il6assay.record.folder import open_run
from il6assay.web.accounts import (
    OFF,
    OWN_MASKS,
    authenticate,
    list_accounts,
    separation_policy,
    set_separation_policy,
)
from il6assay.web.decisions import (
    NotAllowed,
    Refused,
    commit_mask,
    content_sha256,
    preview_mask,
    run_version,
    sign_decision,
)
from tests.conftest import EXAMPLE
from tests.web_support import PASSWORD, accounts_engine, results_folder, run_folder


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    return accounts_engine(request, tmp_path)


_signed_in: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> {user: account}


def person(engine, username: str):
    """The account of ``username``, signed in once per test database (no test here changes an
    account after signing in; sign_decision checks the password at every signature)."""
    accounts = _signed_in.setdefault(engine, {})
    if username not in accounts:
        accounts[username] = authenticate(engine, username, PASSWORD)
    return accounts[username]


def sign(engine, folder: Path, username: str, decision: str = "accept", **kw):
    account = person(engine, username)
    return sign_decision(
        engine,
        folder,
        account,
        kw.pop("password", PASSWORD),
        decision,
        kw.pop("reason", "checked"),
        seen_version=run_version(engine, folder.name),
        seen_content=content_sha256(open_run(folder)),
        **kw,
    )


def mask(engine, folder: Path, username: str, well: str = "A4") -> None:
    account = person(engine, username)
    preview = preview_mask(
        folder,
        account,
        [well],
        unmask=False,
        seen_version=run_version(engine, folder.name),
        seen_content=content_sha256(open_run(folder)),
        previews=folder.parent.parent,
    )
    commit_mask(engine, folder, account, preview, "bubble")


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return results_folder(tmp_path, "by_tech", "by_lin")


def test_by_default_who_masked_a_plate_cannot_accept_it_but_another_reviewer_can(engine, runs):
    folder = run_folder(runs, "by_tech")
    mask(engine, folder, "lin")
    with pytest.raises(NotAllowed, match="masked or unmasked wells"):
        sign(engine, folder, "lin")
    signed = sign(engine, folder, "chen")
    assert signed.entry["signature"]["separation_of_duties"]["masked_by"] == ["lin"]
    assert signed.entry["signature"]["separation_of_duties"]["relaxed"] == []


def test_who_processed_a_plate_cannot_accept_it_unless_the_policy_is_off_on_the_record(
    engine, runs
):
    folder = run_folder(runs, "by_lin")
    for policy in ("strict", OWN_MASKS):
        if policy != "strict":
            set_separation_policy(engine, policy, by="Admin Xu", reason="small lab")
        with pytest.raises(NotAllowed, match="Lin Wei processed this run"):
            sign(engine, folder, "lin")
    set_separation_policy(engine, OFF, by="Admin Xu", reason="one reviewer this month")
    assert separation_policy(engine) == OFF
    signed = sign(engine, folder, "lin")
    relaxed = signed.entry["signature"]["separation_of_duties"]["relaxed"]
    assert relaxed == ["the signer processed this run (policy off)"]
    with Session(engine) as session:
        changes = session.scalars(select(DbAudit).where(DbAudit.action == "policy")).all()
        assert [json.loads(c.new_value) for c in changes] == [OWN_MASKS, OFF]
        assert changes[-1].reason == "one reviewer this month"


def test_who_processed_a_plate_may_reject_it(engine, runs):
    signed = sign(engine, run_folder(runs, "by_lin"), "lin", "reject", reason="low control")
    assert signed.entry["signature"]["meaning"] == "rejected"
    assert signed.entry["review_after"] == "rejected"


def test_a_decision_stands_a_second_signature_is_refused_until_a_mask_reopens_review(engine, runs):
    folder = run_folder(runs, "by_tech")
    sign(engine, folder, "chen")
    with pytest.raises(Refused, match="already accepted"):
        sign(engine, folder, "lin", "reject")
    set_separation_policy(engine, OWN_MASKS, by="Admin Xu", reason="masks are part of review")
    mask(engine, folder, "lin")  # back to "unreviewed", with new content
    signed = sign(engine, folder, "lin", "reject", reason="the refit moves P01")
    assert signed.run_version == 3
    with Session(engine) as session:
        rows = session.scalars(select(DbSignature).order_by(DbSignature.id)).all()
    assert [(r.printed_name, r.meaning) for r in rows] == [
        ("Chen Yu", "approved"),
        ("Lin Wei", "rejected"),
    ]
    assert rows[0].content_sha256 != rows[1].content_sha256


def test_a_page_older_than_the_runs_last_change_cannot_sign(engine, runs):
    folder = run_folder(runs, "by_tech")
    seen_content = content_sha256(open_run(folder))
    mask(engine, folder, "tech")
    with pytest.raises(Refused, match="outputs changed since this page was opened"):
        sign_decision(engine, folder, person(engine, "chen"), PASSWORD, "accept", "ok",
                      seen_version=0, seen_content=seen_content)  # fmt: skip
    with pytest.raises(Refused, match="changed or decided by someone else"):
        sign_decision(engine, folder, person(engine, "chen"), PASSWORD, "accept", "ok",
                      seen_version=0, seen_content=content_sha256(open_run(folder)))  # fmt: skip


def test_accepting_a_plate_that_fails_the_rules_needs_override(engine, tmp_path):
    from il6assay.record.outputs import write_run
    from il6assay.run import process_plate

    run = process_plate(
        EXAMPLE / "plate_002_rejected.csv",
        EXAMPLE / "plate_002_rejected.layout.toml",
        EXAMPLE / "plate_002_rejected.samples.csv",
    )
    run.processed_by = "tech"
    folder = write_run(run, tmp_path / "rejected", report=False)
    with pytest.raises(Refused, match="needs --override"):
        sign(engine, folder, "chen")
    assert [e["action"] for e in read_entries(folder)] == ["process"]  # nothing signed
    signed = sign(engine, folder, "chen", override=True, reason="swap documented")
    assert signed.entry["override"] is True


def test_process_records_who_processed_and_a_mask_keeps_it(tmp_path):
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        main, ["process", str(EXAMPLE / "plate_001.xlsx"), "--out", str(out), "--by", "tech"]
    )
    assert result.exit_code == 0, result.output
    folder = next(p for p in out.iterdir() if p.is_dir())
    assert json.loads((folder / "run.json").read_text())["processed_by"] == "tech"
    masked = CliRunner().invoke(
        main, ["mask", str(folder), "--well", "A4", "--reason", "bubble", "--by", "Lin Wei"]
    )
    assert masked.exit_code == 0, masked.output
    assert json.loads((folder / "run.json").read_text())["processed_by"] == "tech"
    review = CliRunner().invoke(
        main, ["review", str(folder), "--accept", "--by", "Lin", "--reason", "ok"]
    )
    assert review.exit_code == 0 and "unsigned" in review.output
    assert read_entries(folder)[-1]["signed"] is False


def test_process_without_by_records_the_os_account(tmp_path):
    from il6assay.record.audit import os_account

    out = tmp_path / "runs"
    CliRunner().invoke(main, ["process", str(EXAMPLE / "plate_001.xlsx"), "--out", str(out)])
    folder = next(p for p in out.iterdir() if p.is_dir())
    assert json.loads((folder / "run.json").read_text())["processed_by"] == os_account()


def test_users_commands_add_list_disable_and_set_the_policy(tmp_path, monkeypatch):
    db = str(tmp_path / "study.db")
    monkeypatch.setenv("IL6_TEST_PW", "a long enough password")

    def run(*args: str):
        return CliRunner().invoke(main, [*args, "--db", db])

    assert run("db", "upgrade").exit_code == 0
    added = run("users", "add", "wang", "--role", "reviewer", "--name", "Wang Fang",
                "--password-env", "IL6_TEST_PW", "--by", "Admin Xu")  # fmt: skip
    assert added.exit_code == 0, added.output
    again = run("users", "add", "WANG", "--role", "admin", "--name", "X",
                "--password-env", "IL6_TEST_PW")  # fmt: skip
    assert again.exit_code == 2 and "already exists" in again.output
    monkeypatch.setenv("IL6_SHORT", "short")
    short = run("users", "add", "li", "--role", "technician", "--name", "Li",
                "--password-env", "IL6_SHORT")  # fmt: skip
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    listed = run("users", "list")
    assert "wang" in listed.output and "reviewer" in listed.output and "Wang Fang" in listed.output
    engine = make_engine(db)
    assert authenticate(engine, "wang", "a long enough password").printed_name == "Wang Fang"
    disabled = run("users", "disable", "wang", "--reason", "left the lab")
    assert disabled.exit_code == 0 and "disabled" in run("users", "list").output
    with pytest.raises(Exception, match="not accepted"):
        authenticate(engine, "wang", "a long enough password")
    policy = run("users", "policy", "--separation", "off", "--reason", "one-person lab")
    assert policy.exit_code == 0 and separation_policy(engine) == OFF
    with Session(engine) as session:
        stored = session.scalars(select(DbAccount)).one().password_hash
    assert stored.startswith("$argon2id$") and "a long enough password" not in stored
    assert [r["username"] for r in list_accounts(engine)] == ["wang"]


def test_serve_runs_as_a_real_process_on_localhost_and_refuses_a_missing_folder(tmp_path):
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    missing = CliRunner().invoke(main, ["serve", "--runs", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such folder" in missing.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "runs").mkdir()
    made = CliRunner().invoke(main, ["db", "upgrade", "--db", str(tmp_path / "s.db")])
    assert made.exit_code == 0, made.output
    cmd = [sys.executable, "-m", "il6assay.cli", "serve", "--db", str(tmp_path / "s.db"),
           "--runs", str(tmp_path / "runs"), "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    assert r.status == 200 and "Sign in" in r.read().decode()
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in err


def test_a_data_manager_pushes_an_accepted_run_from_its_page_and_others_cannot(engine, runs):
    from il6assay.db.models import DbRun
    from tests.web_support import Client, field, processed, serving

    folder = run_folder(runs, "by_tech")
    sign(engine, folder, "chen")
    run_id = processed("by_tech").name
    with serving(engine, [runs]) as url:
        lin = Client(url)
        lin.login("lin")
        page = lin.get(f"/runs/{run_id}").text
        assert 'id="push"' not in page
        assert lin.post(f"/runs/{run_id}/push", {"csrf": field(page, "csrf")}).status == 403
        dm = Client(url)
        dm.login("dm")
        page = dm.get(f"/runs/{run_id}").text
        pushed = dm.post(f"/runs/{run_id}/push", {"csrf": field(page, "csrf")})
        assert pushed.status == 200 and run_id in pushed.text
    with Session(engine) as session:
        row = session.scalars(select(DbRun)).one()
    assert row.run_id == run_id and row.pushed_by == "Zhao Min" and row.reviewed_by == "Chen Yu"


def test_the_queue_lists_runs_awaiting_review_filtered_by_date_verdict_and_kit_lot(
    engine, tmp_path
):
    from datetime import date, timedelta

    from tests.web_support import Client, processed, serving

    runs = results_folder(tmp_path, "by_tech", "rejected", "lot_a1234")
    ids = {name: processed(name).name for name in ("by_tech", "rejected", "lot_a1234")}
    sign(engine, run_folder(runs, "by_tech"), "chen")
    # The days the runs were processed on (a session's runs may straddle midnight).
    days = sorted(
        json.loads((run_folder(runs, name) / "run.json").read_text())["created_utc"][:10]
        for name in ids
    )
    with serving(engine, [runs]) as url:
        lin = Client(url)
        lin.login("lin")

        def listed(query: str) -> set[str]:
            page = lin.get(f"/queue?{query}").text
            return {name for name, run_id in ids.items() if f">{run_id}</a>" in page}

        assert listed("") == {"rejected", "lot_a1234"}  # awaiting review
        assert listed("review=all") == set(ids)
        assert listed("review=accepted") == {"by_tech"}
        assert listed("review=all&verdict=rejected") == {"rejected"}
        assert listed("review=all&kit_lot=A1234") == {"lot_a1234"}
        after = (date.fromisoformat(days[-1]) + timedelta(days=1)).isoformat()
        assert listed(f"review=all&since={after}") == set()
        assert listed(f"review=all&since={days[0]}&until={days[-1]}") == set(ids)


def test_a_reviewed_signature_records_a_review_without_deciding(engine, runs):
    folder = run_folder(runs, "by_tech")
    first = sign(engine, folder, "lin", "review", reason="curve and controls read")
    assert first.entry["action"] == "review-signed"
    assert first.entry["signature"]["meaning"] == "reviewed"
    assert json.loads((folder / "run.json").read_text())["review"]["status"] == "unreviewed"
    second = sign(engine, folder, "chen", reason="second review")
    assert second.entry["signature"]["meaning"] == "approved" and second.run_version == 2
    with Session(engine) as session:
        meanings = [
            r.meaning for r in session.scalars(select(DbSignature).order_by(DbSignature.id))
        ]
    assert meanings == ["reviewed", "approved"]
