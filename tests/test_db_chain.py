"""The database's own chain: ``il6assay db verify`` names each row changed, forged or deleted.

Every test runs on SQLite and on a real PostgreSQL (tests/pg.py). The study
database is made by ``db upgrade``; runs are pushed with ``push``, a signature
is signed as the review app signs it (``sign_decision``, password and all);
then the database is tampered with in plain SQL, as someone with write access
to it but not to the key would, and the commands a person types are run.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from il6assay.cli import main
from il6assay.db.chain_key import anchor_path, key_path
from il6assay.db.engine import make_engine, upgrade
from tests import pg
from tests.db_support import copy_run, run_folder, snapshot, upgraded_db

# Per backend: (drop the audit delete trigger, put it back, drop the chain's triggers).
DROP_AUDIT_DELETE = {
    "sqlite": "DROP TRIGGER audit_no_delete",
    "postgresql": "DROP TRIGGER audit_append_only ON audit",
}
RESTORE_AUDIT_DELETE = {
    "sqlite": "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit table is append-only'); END",
    "postgresql": "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
    "FOR EACH ROW EXECUTE FUNCTION il6assay_audit_append_only()",
}
DROP_CHAIN_TRIGGERS = {
    "sqlite": ["DROP TRIGGER row_chain_no_update", "DROP TRIGGER row_chain_no_delete"],
    "postgresql": ["DROP TRIGGER row_chain_append_only ON row_chain"],
}

RESTORE_CHAIN = {
    "sqlite": [
        f"CREATE TRIGGER row_chain_no_{e.lower()} BEFORE {e} ON row_chain "
        "BEGIN SELECT RAISE(ABORT, 'the row chain is append-only'); END"
        for e in ("UPDATE", "DELETE")
    ],
    "postgresql": [
        "CREATE TRIGGER row_chain_append_only BEFORE UPDATE OR DELETE ON row_chain "
        "FOR EACH ROW EXECUTE FUNCTION il6assay_row_chain_append_only()"
    ],
}


def invoke(*args: str | Path) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def sql(url: str, *statements: str) -> None:
    """Run SQL on the database as an intruder would: no il6assay code in the way."""
    with make_engine(url).begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def one(url: str, query: str) -> object:
    with make_engine(url).connect() as conn:
        return conn.execute(text(query)).one()


def verify(url: str) -> tuple[int, list[str]]:
    out = invoke("db", "verify", "--db", url)
    lines = [ln for ln in out.stdout.splitlines() if not ln.startswith("chain intact")]
    return out.exit_code, lines


def backend(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def sign(url: str, folder: Path, decision: str = "reject") -> None:
    """A reviewer's signed decision on ``folder``, as the review app records it."""
    from il6assay.record.folder import open_run
    from il6assay.web.accounts import add_account, authenticate
    from il6assay.web.decisions import content_sha256, run_version, sign_decision

    engine = make_engine(url)
    add_account(engine, "lin", "Lin Wei", "reviewer", "correct horse battery", by="set-up")
    account = authenticate(engine, "lin", "correct horse battery")
    sign_decision(
        engine,
        folder,
        account,
        "correct horse battery",
        decision,
        "the top standard is off",
        seen_version=run_version(engine, folder.name),
        seen_content=content_sha256(open_run(folder)),
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A study database with runs a and b pushed and one signed rejection (made once)."""
    root = tmp_path_factory.mktemp("chain")
    url = str(root / "study.db") if request.param == "sqlite" else pg.database_url(request)
    engine = make_engine(url)
    upgrade(engine)
    for name in ("a", "b"):
        assert invoke("push", run_folder(name), "--db", url).exit_code == 0
    signed = copy_run("unreviewed", root)
    sign(url, signed)
    return url, signed


@pytest.fixture
def study(template, tmp_path: Path) -> str:
    """A private copy of the template database, with its key and anchor."""
    url, _ = template
    if backend(url) == "sqlite":
        new = str(tmp_path / "study.db")
        shutil.copyfile(url, new)
    else:
        import psycopg

        source = url.rsplit("/", 1)[1]
        name = f"c_{tmp_path.name[-20:]}".replace("-", "_").lower()[:40] + str(time.time_ns())[-6:]
        admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        new = url.rsplit("/", 1)[0] + "/" + name
    old_key = key_path(make_engine(url).url.render_as_string(False))
    new_key = key_path(make_engine(new).url.render_as_string(False))
    new_key.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(old_key, new_key)
    shutil.copyfile(anchor_path(old_key), anchor_path(new_key))
    return new


def a_result(url: str, study_id: str = "AML-005") -> tuple[int, str]:
    row = one(
        url,
        f"SELECT id, visit FROM sample_results WHERE study_id = '{study_id}' ORDER BY id LIMIT 1",
    )
    return row[0], row[1]


def test_an_untouched_database_verifies_exit_0_and_results_are_shown(study):
    out = invoke("db", "verify", "--db", study)
    assert out.exit_code == 0, out.output
    assert "chain intact:" in out.stdout and "anchored at entry #" in out.stdout
    assert invoke("results", "--db", study).exit_code == 0


def test_an_edited_result_is_named_and_results_refuses_to_show_it(study):
    rid, visit = a_result(study)
    sql(study, f"UPDATE sample_results SET conc_pg_ml = 137, result = '137' WHERE id = {rid}")
    entry = one(
        study,
        f"SELECT max(id) FROM row_chain WHERE table_name = 'sample_results' AND row_id = {rid}",
    )[0]
    code, lines = verify(study)
    assert code == 1
    assert lines == [
        f"sample_results #{rid} (AML-005 {visit}): changed outside il6assay since chain "
        f"entry #{entry}"
    ]
    out = invoke("results", "--db", study)
    assert out.exit_code == 1 and out.stdout == ""
    assert f"sample_results #{rid} (AML-005 {visit}): changed" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 2  # the database named, then one line


def test_an_edited_signature_row_is_named(study):
    sid = one(study, "SELECT id FROM web_signatures")[0]
    sql(
        study,
        f"UPDATE web_signatures SET decision = 'accept', meaning = 'approved' WHERE id = {sid}",
    )
    code, lines = verify(study)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(f"web_signatures #{sid} (")
    assert "changed outside il6assay" in lines[0]


def test_a_forged_signature_row_is_named(study):
    kept = (
        "run_id, content_sha256, account_id, username, printed_name, role, reason, override, "
        "signed_utc, signed_local, separation, audit_entry"
    )
    sql(
        study,
        f"INSERT INTO web_signatures (run_version, decision, meaning, {kept}) "
        f"SELECT run_version + 1, 'accept', 'approved', {kept} FROM web_signatures",
    )
    forged = one(study, "SELECT max(id) FROM web_signatures")[0]
    code, lines = verify(study)
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith(f"web_signatures #{forged} (")
    assert lines[0].endswith("not in the chain (written outside il6assay)")


def test_an_accept_forged_in_the_database_is_refused_by_what_push_asks(study):
    """Someone who can write the database but not the key adds an accept after the signed
    rejection of the template's run: the decision push weighs (db.decisions.authorise_push)
    is refused naming the forged row, never trusted."""
    from sqlalchemy.orm import Session

    from il6assay.db.chain_check import ChainBroken
    from il6assay.db.decisions import authorise_push

    kept = (
        "run_id, content_sha256, account_id, username, printed_name, role, reason, override, "
        "signed_utc, signed_local, separation, audit_entry, export_sha256"
    )
    sql(
        study,
        f"INSERT INTO web_signatures (run_version, decision, meaning, {kept}) "
        f"SELECT run_version + 1, 'accept', 'approved', {kept} FROM web_signatures",
    )
    forged = one(study, "SELECT max(id) FROM web_signatures")[0]
    run_id, content, export = one(
        study,
        f"SELECT run_id, content_sha256, export_sha256 FROM web_signatures WHERE id = {forged}",
    )
    with Session(make_engine(study)) as session, pytest.raises(ChainBroken) as refused:
        authorise_push(
            session,
            run_id=run_id,
            export_sha256=export,
            content_sha256=content,
            processed_by="tech",
            entries=[],
        )
    assert f"web_signatures #{forged} is not in the chain" in str(refused.value)


def test_a_deleted_audit_row_is_named_even_with_its_trigger_put_back(study):
    b = backend(study)
    aid = one(study, "SELECT min(id) FROM audit WHERE action = 'push'")[0]
    sql(study, DROP_AUDIT_DELETE[b], f"DELETE FROM audit WHERE id = {aid}", RESTORE_AUDIT_DELETE[b])
    code, lines = verify(study)
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith(f"audit #{aid}: deleted outside il6assay (chained as entry #")


def test_a_dropped_append_only_trigger_then_a_delete_are_both_named(study):
    b = backend(study)
    aid = one(study, "SELECT max(id) FROM audit")[0]
    sql(study, DROP_AUDIT_DELETE[b], f"DELETE FROM audit WHERE id = {aid}")
    code, lines = verify(study)
    assert code == 1
    trigger = "audit_no_delete" if b == "sqlite" else "audit_append_only"
    assert lines[0].startswith(f"audit #{aid}: deleted outside il6assay")
    assert lines[1] == f"audit: append-only trigger {trigger} is missing (dropped)"
    assert len(lines) == 2


def test_an_entry_rewritten_to_match_an_edited_row_without_the_key_is_named(study):
    """Edit a result, then its chain entry's SHA-256 to match: the entry's keyed hash fails."""
    from il6assay.db.chain import row_sha256
    from il6assay.db.models import DbResult

    rid, _ = a_result(study)
    sql(study, f"UPDATE sample_results SET conc_pg_ml = 23.9 WHERE id = {rid}")
    table = DbResult.__table__
    with make_engine(study).connect() as conn:
        row = conn.execute(table.select().where(table.c.id == rid)).one()
    digest = row_sha256(table, row)
    seq = one(
        study,
        f"SELECT max(id) FROM row_chain WHERE table_name = 'sample_results' AND row_id = {rid}",
    )[0]
    sql(
        study,
        *DROP_CHAIN_TRIGGERS[backend(study)],
        f"UPDATE row_chain SET row_sha256 = '{digest}' WHERE id = {seq}",
    )
    code, lines = verify(study)
    assert code == 1
    assert f"row_chain #{seq} (for sample_results #{rid}): changed or forged" in lines[0]
    assert "row_chain: append-only trigger" in lines[-1]


def test_deleting_the_newest_rows_and_their_entries_is_caught_by_the_anchor_only(study):
    """The tail (the signature's transaction) removed whole: only the anchor beside the key
    tells; without the anchor the shortened chain is consistent (docs/database.md says so)."""
    b = backend(study)
    head = one(study, "SELECT max(id) FROM row_chain")[0]
    first = one(study, "SELECT min(id) FROM row_chain WHERE table_name = 'web_signatures'")[0]
    sql(
        study,
        *DROP_CHAIN_TRIGGERS[b],
        "DELETE FROM web_signatures",
        f"DELETE FROM row_chain WHERE id >= {first}",
        *RESTORE_CHAIN[b],
    )
    code, lines = verify(study)
    assert code == 1
    assert lines == [
        f"row_chain: ends at entry #{first - 1} but was anchored at #{head} "
        + lines[0].split(f"#{head} ", 1)[1]
    ]
    assert "the last entries, and the rows they chained, were deleted" in lines[0]
    anchor_path(key_path(make_engine(study).url.render_as_string(False))).unlink()
    assert verify(study)[0] == 0  # the limit: nothing outside the database remembers the head


def test_without_its_key_nothing_is_written_and_nothing_is_verified(study, tmp_path):
    key = key_path(make_engine(study).url.render_as_string(False))
    key.rename(tmp_path / "elsewhere")
    before = snapshot(make_engine(study))
    out = invoke("push", run_folder("c"), "--db", study)
    assert out.exit_code == 2
    assert f"the study database's chain key is missing ({key})" in out.stderr
    assert snapshot(make_engine(study)) == before
    for args in (("db", "verify"), ("results",)):
        out = invoke(*args, "--db", study)
        assert out.exit_code == 2 and "chain key is missing" in out.stderr


def test_a_chain_is_not_started_again_over_an_anchor_that_remembers_one(study):
    """The database replaced by an empty one (its chain gone with it): db upgrade refuses to
    start a new chain while the anchor beside the key records the old one."""
    if backend(study) == "sqlite":
        Path(study).unlink()
    else:
        import psycopg

        server, name = study.rsplit("/", 1)
        admin = server.replace("postgresql+psycopg", "postgresql") + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    key = key_path(make_engine(study).url.render_as_string(False))
    out = invoke("db", "upgrade", "--db", study)
    assert out.exit_code == 2
    assert f"the chain anchor {anchor_path(key)} records" in out.stderr
    assert "this database's chain is empty" in out.stderr


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return pg.backend_url(request, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def upgraded_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new study database made by db upgrade (tests/db_support.py's upgraded_db)."""
    return upgraded_db(request, tmp_path)


def test_a_database_from_before_the_chain_is_chained_from_the_upgrade_on(empty_url):
    engine = make_engine(empty_url)
    upgrade(engine, "0006")
    sql(
        empty_url,
        "INSERT INTO runs (id, run_id, content_sha256, settings, accepted_by_rules, verdict, "
        "review_status, review_override, pushed_utc, pushed_os_account, run_json) VALUES "
        "(1, 'old-run', 'abc', '{}', true, 'accepted', 'accepted', false, "
        "'2025-01-01T00:00:00+00:00', 'lin', '{}')",
        "INSERT INTO sample_results (id, run_pk, study_id, visit, result, flags, status) "
        "VALUES (1, 1, 'AML-900', 'D0', '12.3', '', 'current')",
    )
    out = invoke("db", "upgrade", "--db", empty_url)
    assert out.exit_code == 0, out.output
    assert "row chain started: 2 existing row(s) chained" in out.stdout
    assert verify(empty_url) == (0, [])
    again = invoke("db", "upgrade", "--db", empty_url)
    assert "row chain started" not in again.stdout  # started once, never re-chained
    assert invoke("push", run_folder("a"), "--db", empty_url).exit_code == 0
    assert verify(empty_url) == (0, [])
    sql(empty_url, "UPDATE sample_results SET result = '1.23' WHERE id = 1")
    assert verify(empty_url)[1] == [
        "sample_results #1 (AML-900 D0): changed outside il6assay since chain entry #3"
    ]


def test_rows_updated_and_deleted_by_il6assay_itself_keep_the_chain_intact(upgraded_url):
    """A run's QC figures recorded again (its row updated, its controls deleted and written
    anew, as after a mask) and a re-assay superseding results: chained, not flagged."""
    from il6assay.study.store import record_qc
    from tests.study_support import run_qc

    engine = make_engine(upgraded_url)
    assert record_qc(engine, [run_qc(1, 20.0, 120.0)]) == ["recorded"]
    assert record_qc(engine, [run_qc(1, 21.5, 118.0)]) == ["updated"]
    assert invoke("push", run_folder("a"), "--db", upgraded_url).exit_code == 0
    reason = "re-assayed unweighted"
    out = invoke(
        "push", run_folder("a_reassay"), "--db", upgraded_url, "--supersede", "--reason", reason
    )
    assert out.exit_code == 0, out.output
    assert verify(upgraded_url) == (0, [])
    updates = one(upgraded_url, "SELECT count(*) FROM row_chain WHERE action = 'update'")[0]
    assert updates >= 35  # the superseded results and dilution rows, each chained again
    low = one(upgraded_url, "SELECT value_pg_ml FROM qc_controls WHERE level = 'low'")[0]
    assert low == 21.5  # the controls as recorded the second time


def test_concurrent_pushes_extend_one_chain_without_a_fork(upgraded_url):
    """Four pushes racing (their transactions overlap): one chain, every row on it."""
    from il6assay.db.push import load_run, push_run

    engine = make_engine(upgraded_url)
    runs = [load_run(run_folder(n)) for n in ("a", "b", "c")]
    barrier = threading.Barrier(len(runs))
    errors: list[BaseException] = []

    def pusher(run) -> None:
        try:
            barrier.wait()
            push_run(engine, run)
        except BaseException as err:  # reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=pusher, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    code, lines = verify(upgraded_url)
    assert (code, lines) == (0, [])
    with make_engine(upgraded_url).connect() as conn:
        seqs = list(conn.execute(text("SELECT id FROM row_chain ORDER BY id")).scalars())
    assert seqs == list(range(1, len(seqs) + 1))
    n_rows = sum(
        one(upgraded_url, f"SELECT count(*) FROM {t}")[0]
        for t in ("runs", "curves", "wells", "sample_results", "dilution_results", "audit")
    )
    assert len(seqs) == 1 + n_rows  # the start, then each row once (nothing superseded)


def test_db_verify_of_a_study_of_many_runs_stays_within_its_cpu_budget(upgraded_url, tmp_path):
    """10 s of CPU for 1,000 runs (benchmarks/bench_chain.py); here 40 runs, a 0.4 s budget
    for this process (on PostgreSQL the server's share is not counted). The least of three
    verifications is held to it, as timeit takes the least of its repeats: on a shared
    machine another program's load adds CPU time (cache and core sharing) to any one run."""
    from benchmarks.bench_chain import add_runs, example_rows, verify_cpu

    engine = make_engine(upgraded_url)
    add_runs(engine, example_rows(tmp_path), 1, 40)
    cpu, report = min((verify_cpu(engine) for _ in range(3)), key=lambda done: done[0])
    assert report.intact, report.problems[:3]
    assert report.rows > 40 * 200
    assert cpu < 0.4, f"{cpu:.2f} s CPU for 40 runs"


def test_the_review_app_shows_an_edited_or_malformed_signature_as_an_error_naming_it(
    template, study, tmp_path
):
    from tests.web_support import Client, serving

    _, signed = template
    sid = one(study, "SELECT id FROM web_signatures")[0]
    sql(study, f"UPDATE web_signatures SET separation = '{{not json' WHERE id = {sid}")
    with serving(make_engine(study), [signed.parent]) as base:
        client = Client(base)
        landing = client.login("lin", "correct horse battery")  # signed in, shown the queue
        page = client.get(f"/runs/{signed.name}")
        history = client.get(f"/runs/{signed.name}/history")
        queue = client.get("/queue?review=all")
    assert landing.url.endswith("/queue")
    # What a page shows is checked: the run's page, its history, and a queue that lists it
    # (the landing queue of unreviewed runs does not list this reviewed run).
    for reply in (page, history, queue):
        assert reply.status == 400, reply.status
        assert f"web_signatures #{sid} is changed outside il6assay" in reply.text
