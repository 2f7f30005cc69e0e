"""A web decision killed at any write: before, after, or named by status and mended by repair.

``sign_decision`` (what the review app and ``il6assay review`` with accounts
call) commits the ``web_signatures`` row first, holding the exact audit line,
then writes the folder's copy (audit.jsonl, run.json, review.js). The
harness forks a child that signs an accept as the app does, counts every
write (files and database commits, tests/test_crash_safety.py's counter) and
SIGKILLs itself at the Nth; for every N the run and database must be as
before, as after, or in a state ``il6assay status RUN --db URL`` names (exit
1) that one ``il6assay repair RUN --db URL --by NAME`` turns into before or
after. The issue's own case, a folder signed by a process killed before its
commit (the order before this change), is voided by repair. SQLite and
PostgreSQL.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from il6assay.db.chain_key import anchor_path, key_path
from il6assay.db.engine import make_engine, resolve_url
from il6assay.db.models import DbSignature
from il6assay.record.audit import read_entries
from il6assay.record.schema import load_record
from tests import pg
from tests.test_authority import cli, no_configured_database, processed  # noqa: F401 (autouse)
from tests.test_crash_safety import _instrument, reap
from tests.web_support import PASSWORD, accounts_copy, add_people

BEFORE = (0, "unreviewed")
AFTER = (1, "accepted")
SIGNED_IN: dict[str, object] = {}  # lin's account, signed in once per template


@pytest.fixture(params=["sqlite", "postgresql"])
def template(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An upgraded study database holding the lab's accounts, to clone per kill point."""
    url = pg.backend_url(request, tmp_path)
    if request.param == "sqlite":
        url = accounts_copy(request, Path(url))
        engine = make_engine(url)
    else:
        assert cli("db", "upgrade", "--db", url).exit_code == 0
        engine = make_engine(url)
        add_people(engine)
    from il6assay.web.accounts import authenticate

    # lin signs in once, in the template; each forked child signs as that account, and its
    # sign_decision still checks lin's password in full (its sign-in was no kill point).
    SIGNED_IN["lin"] = authenticate(engine, "lin", PASSWORD)
    engine.dispose()
    return url


def clone(template: str, n: int, tmp_path: Path) -> str:
    """A copy of the template database (and its chain key and anchor) for one kill point."""
    if template.startswith("postgresql"):
        import psycopg

        base = template.rsplit("/", 1)[0]
        name = f"{template.rsplit('/', 1)[1]}_k{n}"
        conninfo = template.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
        with psycopg.connect(f"{conninfo}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.rsplit("/", 1)[1]}"')
        url = f"{base}/{name}"
    else:
        url = str(tmp_path / f"study-{n}.db")
        shutil.copy(template, url)
    for src, dst in ((key_path(resolve_url(template)), key_path(resolve_url(url))),):
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
        if anchor_path(src).exists():
            shutil.copy(anchor_path(src), anchor_path(dst))
    return url


def fresh_run(tmp_path_factory: pytest.TempPathFactory, target: Path) -> Path:
    """A private copy of the example plate's run, processed by the technician, unreviewed."""
    source = processed("plain", tmp_path_factory)
    shutil.copytree(source.parent, target)
    return target / source.name


def sign_in_child(url: str, run: Path, kill_at: int = 0, fail: int = 0) -> tuple[bool, int]:
    """Sign an accept as lin in a forked child, killed at write ``kill_at`` (0: never), or with
    every file write failing with errno ``fail``; returns (killed, writes counted)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            from il6assay.web.decisions import Refused, content_sha256, run_version, sign_decision

            engine = make_engine(url)
            account = SIGNED_IN["lin"]
            from il6assay.record.folder import open_run

            content = content_sha256(open_run(run))
            version = run_version(engine, run.name)
            count = [0]

            def on_write(kind: str, what: str) -> None:
                count[0] += 1
                if count[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                if fail and kind == "open" and what.startswith(str(run)):
                    raise OSError(fail, os.strerror(fail), what)

            _instrument(on_write)
            outcome = "signed"
            try:
                sign_decision(
                    engine, run, account, PASSWORD, "accept", "curve and controls fine",
                    seen_version=version, seen_content=content,
                )  # fmt: skip
            except Refused as err:
                outcome = f"refused: {err}"
            with os.fdopen(write, "w") as fh:
                fh.write(f"{count[0]}\n{outcome}")
        finally:
            os._exit(0)
    text = reap(pid, read, write)
    if text is None:
        return True, kill_at
    writes, outcome = text.split("\n", 1)
    assert outcome == "signed" or fail, outcome
    return False, int(writes)


def state(url: str, run: Path) -> tuple[int, str]:
    """How many signatures the database holds for the run, and the folder's review status."""
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.scalar(select(func.count()).where(DbSignature.run_id == run.name))
    engine.dispose()
    return int(rows or 0), load_record(run)["review"]["status"]


def settle(url: str, run: Path) -> tuple[int, str]:
    """After a kill: status --db, and the one repair it names; returns the state reached."""
    status = cli("status", run, "--db", url)
    if status.exit_code != 0:
        assert status.exit_code == 1, status.output
        named = re.findall(r"il6assay repair (\S+)(?: --db (\S+))? --by NAME", status.output)
        assert named and {n[0] for n in named} == {str(run)}, status.output
        assert {n[1] for n in named} <= {"", url}, status.output
        repaired = cli("repair", run, "--db", url, "--by", "Wu")
        assert repaired.exit_code == 0, repaired.output
        again = cli("status", run, "--db", url)
        assert again.exit_code == 0, again.output
    assert cli("db", "verify", "--db", url).exit_code == 0
    return state(url, run)


def test_a_web_decision_killed_at_any_write_is_before_after_or_named_and_repaired(
    template: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    dry = fresh_run(tmp_path_factory, tmp_path / "dry")
    killed, writes = sign_in_child(clone(template, 0, tmp_path), dry)
    assert not killed and writes >= 5
    reached = set()
    for n in range(1, writes + 1):
        run = fresh_run(tmp_path_factory, tmp_path / f"k{n}")
        url = clone(template, n, tmp_path)
        killed, _ = sign_in_child(url, run, kill_at=n)
        assert killed
        after = settle(url, run)
        assert after in (BEFORE, AFTER), f"kill at write {n}: {after}"
        reached.add(after)
    assert reached == {BEFORE, AFTER}  # the sweep crosses the commit


def test_a_folder_signed_by_a_process_killed_before_its_commit_is_voided_by_repair(
    template: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The issue's case: the folder's copy written, the database's commit never made."""
    from il6assay.record.review import review_run

    run = fresh_run(tmp_path_factory, tmp_path / "runs")
    url = clone(template, 0, tmp_path)
    signature = {"printed_name": "Lin Wei", "meaning": "approved"}
    review_run(run, "accept", "Lin Wei", "ok", extra={"signed": True, "account": "lin",
               "signature": signature})  # fmt: skip
    assert state(url, run) == (0, "accepted")  # the folder claims a signature the db lacks
    status = cli("status", run, "--db", url)
    assert status.exit_code == 1 and "does not hold" in status.output, status.output
    assert cli("status", run).exit_code == 0  # without the database nothing can tell
    assert settle(url, run) == BEFORE
    lines = read_entries(run)
    assert [e["action"] for e in lines][-3:] == ["review-accept", "void-signature", "repair"]
    push = cli("push", run, "--db", url, "--by", "dm")
    assert push.exit_code == 2 and "not accepted by review" in push.output, push.output
    killed, _ = sign_in_child(url, run)  # the run is open to review again: a real signature
    assert not killed and state(url, run) == AFTER
    assert cli("status", run, "--db", url).exit_code == 0


def test_a_signature_committed_before_its_folder_copy_is_copied_by_repair(
    template: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Killed right after the commit: the database holds the accept, the folder does not."""
    run = fresh_run(tmp_path_factory, tmp_path / "runs")
    url = clone(template, 0, tmp_path)
    _, writes = sign_in_child(clone(template, 1, tmp_path), fresh_run(
        tmp_path_factory, tmp_path / "dry"))  # fmt: skip
    for n in range(1, writes + 1):  # the first kill point after which the row is committed
        run = fresh_run(tmp_path_factory, tmp_path / f"k{n}")
        url = clone(template, n + 1, tmp_path)
        sign_in_child(url, run, kill_at=n)
        if state(url, run) == (1, "unreviewed"):
            break
    else:
        pytest.fail("no kill point leaves the database ahead of the folder")
    status = cli("status", run, "--db", url)
    assert status.exit_code == 1 and "audit.jsonl lacks" in status.output, status.output
    assert settle(url, run) == AFTER
    copied = [e for e in read_entries(run) if e.get("signed")]
    engine = make_engine(url)
    with Session(engine) as session:
        (row,) = session.scalars(select(DbSignature)).all()
        assert copied[-1]["signature_id"] == row.id
    engine.dispose()


@pytest.mark.parametrize("fail", [errno.EROFS, errno.ENOSPC], ids=["read-only", "disk full"])
def test_a_folder_that_cannot_be_written_withdraws_the_signature(
    template: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, fail: int
) -> None:
    run = fresh_run(tmp_path_factory, tmp_path / "runs")
    url = clone(template, 0, tmp_path)
    killed, _ = sign_in_child(url, run, fail=fail)
    assert not killed
    assert state(url, run) == BEFORE
    assert cli("status", run, "--db", url).exit_code == 0
    assert cli("db", "verify", "--db", url).exit_code == 0
