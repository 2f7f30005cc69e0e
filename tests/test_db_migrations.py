"""The schema: created and migrated by the shipped migrations, never dropped, newer refused.

Run against SQLite and a real PostgreSQL (tests/pg.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from il6assay.cli import main
from il6assay.db.engine import head_revision, known_revisions, make_engine, upgrade
from il6assay.db.models import Base
from tests import pg
from tests.db_support import error_lines, run_folder, snapshot


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on either backend."""
    if request.param == "sqlite":
        return str(tmp_path / "study.db")
    return pg.database_url(request)


def invoke(*args: str | Path) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_migrations_are_shipped_inside_the_package_in_one_line():
    assert known_revisions()[:6] == ["0001", "0002", "0003", "0004", "0005", "0006"]
    assert head_revision() == known_revisions()[-1]


def test_db_upgrade_creates_the_schema_then_says_it_is_up_to_date(db_url):
    first = invoke("db", "upgrade", "--db", db_url)
    assert first.exit_code == 0, first.output
    assert f"new study database created, schema version none -> {head_revision()}" in first.output
    second = invoke("db", "upgrade", "--db", db_url)
    assert second.exit_code == 0 and f"{head_revision()}, up to date" in second.output


def test_migrations_build_exactly_the_schema_the_models_describe(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_database_stamped_at_the_first_migration_is_upgraded_keeping_its_rows(db_url):
    engine = make_engine(db_url)
    assert upgrade(engine, "0001") == (None, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO runs (id, run_id, content_sha256, settings, accepted_by_rules, "
                "verdict, review_status, review_override, pushed_utc, pushed_os_account, "
                "run_json) VALUES (1, 'old-run', 'abc', '{}', true, 'accepted', 'accepted', "
                "false, '2025-01-01T00:00:00+00:00', 'lin', '{}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sample_results (id, run_pk, study_id, visit, result, flags, status) "
                "VALUES (1, 1, 'AML-900', 'D0', '12.3', '', 'current')"
            )
        )
    columns = {c["name"] for c in inspect(engine).get_columns("sample_results")}
    assert "conc_cv_pct" not in columns
    out = invoke("db", "upgrade", "--db", db_url)
    assert out.exit_code == 0 and f"0001 -> {head_revision()}" in out.output
    columns = {c["name"] for c in inspect(engine).get_columns("sample_results")}
    assert {"conc_cv_pct", "dilutions"} <= columns
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT study_id, result FROM sample_results")).all()
    assert [tuple(r) for r in kept] == [("AML-900", "12.3")]
    # the old row is still the current value, next to what a new push adds
    assert invoke("push", run_folder("a"), "--db", db_url).exit_code == 0
    out = invoke("results", "--db", db_url, "--study-id", "AML-900")
    assert "12.3" in out.output


def _insert_0002_result(engine, study_id: str, visit: str, result: str) -> None:
    """A run and one result as il6assay at schema 0002 pushed them (no dilution rows)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO runs (id, run_id, content_sha256, settings, accepted_by_rules, "
                "verdict, review_status, review_override, pushed_utc, pushed_os_account, "
                "run_json) VALUES (1, 'old-run', 'abc', '{}', true, 'accepted', 'accepted', "
                "false, '2025-01-01T00:00:00+00:00', 'lin', '{}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sample_results (id, run_pk, study_id, visit, result, flags, status, "
                "conc_cv_pct, dilutions) VALUES (1, 1, :sid, :visit, :result, '', 'current', "
                "3.5, 'P10@1 P11@10')"
            ),
            {"sid": study_id, "visit": visit, "result": result},
        )


def test_database_at_0002_is_upgraded_to_0003_keeping_its_rows_and_naming_their_run(db_url):
    engine = make_engine(db_url)
    assert upgrade(engine, "0002") == (None, "0002")
    _insert_0002_result(engine, "AML-900", "D0", "12.3")
    before = snapshot(engine)
    out = invoke("db", "upgrade", "--db", db_url)
    assert out.exit_code == 0 and f"0002 -> {head_revision()}" in out.output
    assert "dilution_results" in inspect(engine).get_table_names()
    after = snapshot(engine)
    assert after["dilution_results"] == []
    assert [r[:5] for r in after["sample_results"]] == [r[:5] for r in before["sample_results"]]
    with engine.connect() as conn:
        kept = conn.execute(
            text("SELECT study_id, result, conc_cv_pct, dilutions, source_runs FROM sample_results")
        ).all()
    assert [tuple(r) for r in kept] == [("AML-900", "12.3", 3.5, "P10@1 P11@10", "old-run")]
    rows = invoke("results", "--db", db_url, "--format", "json")
    assert rows.exit_code == 0 and '"source_runs": "old-run"' in rows.output


def test_result_pushed_before_0003_is_not_combined_and_still_needs_supersede(db_url):
    engine = make_engine(db_url)
    upgrade(engine, "0002")
    _insert_0002_result(engine, "AML-010", "D0", ">300")  # a specimen run "a" brings
    assert invoke("db", "upgrade", "--db", db_url).exit_code == 0
    before = snapshot(engine)
    out = invoke("push", run_folder("a"), "--db", db_url)
    assert out.exit_code == 2
    assert "1 specimen(s)" in out.output and "pushed before dilutions were kept" in out.output
    assert "--supersede --reason TEXT" in out.output
    assert snapshot(engine) == before
    reason = "re-assayed at 1:10"
    out = invoke("push", run_folder("a"), "--db", db_url, "--supersede", "--reason", reason)
    assert out.exit_code == 0, out.output
    assert "superseding 1 (AML-010 D0)" in out.output
    with engine.connect() as conn:
        old = conn.execute(
            text("SELECT status, supersede_reason FROM sample_results WHERE id = 1")
        ).one()
        new = conn.execute(
            text(
                "SELECT source_runs, dilutions FROM sample_results "
                "WHERE study_id = 'AML-010' AND status = 'current'"
            )
        ).one()
        actions = (
            conn.execute(text("SELECT action FROM audit WHERE study_id = 'AML-010'"))
            .scalars()
            .all()
        )
    assert tuple(old) == ("superseded", reason)
    assert tuple(new) == (run_folder("a").name, "P10@1 P11@10")  # the plate's own combination
    assert actions == ["supersede"]


def test_push_to_a_database_at_an_older_version_asks_for_db_upgrade(db_url):
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    before = snapshot(engine)
    out = invoke("push", run_folder("a"), "--db", db_url)
    assert out.exit_code == 2
    assert "schema version 0001" in out.output and "il6assay db upgrade" in out.output
    assert snapshot(engine) == before


def test_schema_newer_than_the_tool_is_refused_naming_its_version(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0042'"))
    before = snapshot(engine)
    for args in (("push", run_folder("a")), ("results",), ("db", "upgrade")):
        out = invoke(*args, "--db", db_url)
        assert out.exit_code == 2, args
        assert "schema version 0042, newer than this il6assay" in out.output
        assert len(error_lines(out)) == 1
    assert snapshot(engine) == before


def test_a_database_that_is_not_il6assays_is_left_untouched(tmp_path):
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE patients (name TEXT)")
    out = invoke("push", run_folder("a"), "--db", path)
    assert out.exit_code == 2
    out = invoke("db", "upgrade", "--db", path)
    assert out.exit_code == 2 and "not an il6assay database" in out.output
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["patients"]


@pytest.mark.parametrize("damage", ["not a database", "truncated", "pages zeroed"])
def test_db_upgrade_of_a_file_that_is_no_sound_database_is_one_line_and_leaves_it(tmp_path, damage):
    path = tmp_path / "study.db"
    assert invoke("db", "upgrade", "--db", path).exit_code == 0
    sound = path.read_bytes()
    bad = {
        "not a database": b"study IDs, one per line\nAML-001\n" * 50,
        "truncated": sound[: len(sound) // 3],
        "pages zeroed": sound[:100] + bytes(len(sound) - 100),
    }[damage]
    path.write_bytes(bad)
    out = invoke("db", "upgrade", "--db", path)
    assert out.exit_code == 2, out.output
    [line] = error_lines(out)
    assert line.startswith("il6assay: cannot use database ") and str(path) in line, line
    assert "Traceback" not in out.output
    assert path.read_bytes() == bad


def test_process_with_a_damaged_database_says_so_in_one_line_a_warning(tmp_path):
    path = tmp_path / "study.db"
    assert invoke("db", "upgrade", "--db", path).exit_code == 0
    path.write_bytes(path.read_bytes()[:100] + bytes(4096))  # its pages zeroed
    example = Path(__file__).resolve().parents[1] / "fixtures" / "example" / "plate_001.xlsx"
    out = invoke("process", example, "--db", path, "--out", tmp_path / "runs")
    assert out.exit_code == 0, out.output  # a database that cannot be read: a note, not a refusal
    warnings = [line for line in out.output.splitlines() if "warning" in line]
    assert len(warnings) == 2 and all("database disk image is malformed" in w for w in warnings)
    assert "[SQL:" not in out.output and "sqlalche.me" not in out.output


def test_database_at_0003_gets_indexed_spelling_keys_and_its_old_spellings_still_count(db_url):
    engine = make_engine(db_url)
    assert upgrade(engine, "0003") == (None, "0003")
    _insert_0002_result(engine, "aml-001", "D0", "12.3")  # spelled so by an older il6assay
    before = snapshot(engine)
    out = invoke("db", "upgrade", "--db", db_url)
    assert out.exit_code == 0 and f"0003 -> {head_revision()}" in out.output
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("sample_results")}
    assert indexes["ix_sample_results_study_key"] == ["study_key"]
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT study_id, result, study_key FROM sample_results")).all()
    assert [tuple(r) for r in kept] == [("aml-001", "12.3", "aml-001")]
    after = snapshot(engine)
    # study_key (0004), collection_date (0011, empty) and study_skeleton (0012, NULL for
    # rows from before) added after the older columns; every older value kept
    width = len(before["sample_results"][0])
    assert [r[:width] for r in after["sample_results"]] == before["sample_results"]
    # the example plate writes AML-001: the stored spelling is found through the new key
    out = invoke("push", run_folder("a"), "--db", db_url)
    assert out.exit_code == 2
    assert "study ID 'AML-001' is stored in the database as 'aml-001'" in out.output
    assert len(error_lines(out)) == 1
