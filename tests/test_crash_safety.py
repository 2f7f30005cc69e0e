"""Crash safety: kill -9 at every write of each command that changes a run folder or database.

The harness forks a child (no interpreter start: the libraries are already
imported) that runs the command a user types, counting every write the
package makes (a file opened for writing, rename, replace, fsync, mkdir,
unlink, rmdir, chmod, a database commit) and SIGKILLs itself at the Nth:
review, mask, unmask, push (SQLite; PostgreSQL below), batch and batch --force.
For every N up to the command's last write, the folder must then be the
state before, the state after, or a state ``il6assay status`` names (exit
1, naming ``il6assay repair``) that one ``il6assay repair`` turns into the
state before or after, with nothing unfinished left. The same children,
made to fail a write with ENOSPC or EROFS instead of dying, show a full
disk and a read-only folder: one line, exit 2, nothing changed.

Kill points that broke il6assay before: ``review`` after its audit line
(every command refused the run, nothing repaired it), ``mask`` between its
two renames (the run folder vanished and ``status`` exited 0),
``batch --force`` between setting the old run aside and renaming the new in
(a reviewed run hidden in ``.replaced/``).
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.db.chain_key import anchor_path, key_path
from il6assay.record.audit import read_entries
from tests.conftest import EXAMPLE

EXPORT = EXAMPLE / "plate_001.xlsx"
STUDY_DB = "study.db"  # beside the runs in the push template, so it is copied with them
WRITE_CALLS = ("rename", "replace", "fsync", "mkdir", "unlink", "rmdir", "chmod")
SPACE_CALLS = ("open", "mkdir")  # what a full disk or a read-only folder refuses


@dataclass
class Child:
    """How a forked command ended: killed at a write, or finished (exit code, output)."""

    killed: bool
    writes: int
    exit_code: int | None = None
    stderr: str = ""
    what: list[tuple[str, str]] | None = None  # each write: (kind, path)


def _instrument(on_write: Callable[[str, str], None]) -> None:
    """In the child: call ``on_write(kind, what)`` before every write the package makes."""
    real_open = builtins.open

    def opener(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            on_write("open", str(file))
        return real_open(file, mode, *args, **kwargs)

    builtins.open = io.open = opener  # type: ignore[assignment]
    for name in WRITE_CALLS:
        real = getattr(os, name)

        def call(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            on_write(_name, str(args[0]) if args else "")
            return _real(*args, **kwargs)

        setattr(os, name, call)
    from sqlalchemy.engine import Connection

    real_commit = Connection._commit_impl  # every commit: a Session's, a Connection's, begin()'s

    def commit(self: Any) -> Any:
        on_write("commit", "database")
        return real_commit(self)

    Connection._commit_impl = commit  # type: ignore[method-assign]


def run_child(args: list[str], kill_at: int = 0, fail_at: int = 0, fail: int = 0) -> Child:
    """Run ``il6assay ARGS`` in a forked child; SIGKILL it at write ``kill_at`` (0: never),
    or make every space-taking write from ``fail_at`` on fail with errno ``fail``."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            count = [0]
            seen: list[tuple[str, str]] = []

            def on_write(kind: str, what: str) -> None:
                if count[0] < 0:
                    return  # the harness's own report
                count[0] += 1
                seen.append((kind, what))
                if count[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                if fail_at and count[0] >= fail_at and kind in SPACE_CALLS:
                    raise OSError(fail, os.strerror(fail), what)

            _instrument(on_write)
            result = CliRunner().invoke(main, args)
            writes, count[0] = count[0], -1
            report = {
                "writes": writes,
                "exit": result.exit_code,
                "stderr": result.stderr,
                "what": seen,
            }
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                report["stderr"] += f"\nUNCAUGHT {type(result.exception).__name__}"
            with os.fdopen(write, "w") as fh:
                json.dump(report, fh)
        finally:
            os._exit(0)
    text = reap(pid, read, write)
    if text is None:
        return Child(killed=True, writes=kill_at)
    report = json.loads(text)
    what = [tuple(w) for w in report["what"]]
    return Child(False, report["writes"], report["exit"], report["stderr"], what)  # type: ignore[arg-type]


def reap(pid: int, read: int, write: int) -> str | None:
    """The forked child's report from the pipe, or None when it was killed (SIGKILL only)."""
    os.close(write)
    with os.fdopen(read) as fh:
        text = fh.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return None
    return text


def kill_points(writes: list[tuple[str, str]], out: Path, every: bool) -> list[int]:
    """Which writes (1-based) to kill at: all, or all but most of those that cannot change
    what a run is: inside a hidden folder still being built (``.<run>.partial-``) or being
    deleted (``.<run>.trash-``, and a tree's removal, by names relative to its folder), or
    outside the runs folder (a scratch folder). One in five of those is kept; the slow
    sweep kills at every write."""
    points = []
    hidden_seen = 0
    for n, (kind, what) in enumerate(writes, start=1):
        inside = what.startswith(str(out)) or kind == "commit"
        hidden = not inside or ".partial-" in what or ".trash-" in what
        hidden = hidden and kind not in ("rename", "replace", "commit")
        hidden_seen += hidden
        if every or not hidden or hidden_seen % 5 == 1:
            points.append(n)
    return points


def cli(*args: Any) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args])


def fingerprint(out: Path) -> dict[str, Any]:
    """What a command changes, per run: its log's actions, review and masked wells."""

    def one(folder: Path) -> tuple[Any, ...]:
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        actions = [e["action"] for e in read_entries(folder) if e["action"] != "repair"]
        return (tuple(actions), record["review"]["status"], tuple(record["settings"]["masked"]))

    runs = {
        p.name: one(p)
        for p in sorted(out.iterdir())
        if not p.name.startswith(".") and (p / "run.json").is_file()
    }
    replaced = out / ".replaced"
    kept = sorted(one(p) for p in replaced.iterdir()) if replaced.is_dir() else []
    state: dict[str, Any] = {"runs": runs, "replaced": kept}
    if (out / STUDY_DB).is_file():  # the study database a push writes
        with closing(sqlite3.connect(out / STUDY_DB)) as db:
            state["database"] = [
                db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("runs", "sample_results", "audit")
            ]
    return state


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if re.match(r"^\..+\.(partial|old|trash)-", p.name))


def copy_tree(src: Path, dst: Path) -> Path:
    if dst.exists():
        remove_tree(dst)
    shutil.copytree(src, dst)
    return dst


def remove_tree(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_dir():
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    shutil.rmtree(path)


def settle(out: Path) -> dict[str, Any]:
    """After a kill: status, then repair where status says so; returns the state reached."""
    status = cli("status", out)
    if status.exit_code == 2 and "neither a run folder nor a folder of runs" in status.output:
        assert fingerprint(out)["runs"] == {}  # nothing written yet: the state before a batch
    elif status.exit_code != 0:
        assert status.exit_code == 1, status.output
        named = set(re.findall(r"il6assay repair (\S+) --by NAME", status.output))
        assert named, f"status names a problem but no repair:\n{status.output}"
        for path in sorted(named):
            repaired = cli("repair", path, "--by", "Wu")
            assert repaired.exit_code == 0, repaired.output
        status = cli("status", out)
        assert status.exit_code == 0, status.output
    repaired = cli(
        "repair", out, "--by", "Wu"
    )  # every run of the folder: removes what is unfinished
    assert repaired.exit_code == 0, repaired.output
    assert leftovers(out) == []
    return fingerprint(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Templates: a processed run; reviewed; reviewed then masked; and an empty folder."""
    base = tmp_path_factory.mktemp("templates")
    made = base / "processed"
    assert cli("process", EXPORT, "--out", made).exit_code == 0
    reviewed = copy_tree(made, base / "reviewed")
    (run,) = [p for p in reviewed.iterdir() if (p / "run.json").is_file()]
    assert cli("review", run, "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0
    masked = copy_tree(reviewed, base / "masked")
    assert cli("mask", masked / run.name, "--well", "E4", "--reason", "bubble", "--by", "Lin")
    (base / "empty").mkdir()
    pushable = base / "pushable"  # processed with a study database, reviewed, not pushed
    db = str(pushable / STUDY_DB)
    pushable.mkdir()
    assert cli("db", "upgrade", "--db", db).exit_code == 0
    assert cli("batch", EXPORT, "--out", pushable, "--db", db, "--jobs", "1").exit_code == 0
    name = run_name(pushable)
    accept = ["review", pushable / name, "--accept", "--by", "Lin", "--reason", "ok"]
    assert cli(*accept).exit_code == 0
    return {
        "processed": made,
        "reviewed": reviewed,
        "masked": masked,
        "empty": base / "empty",
        "pushable": pushable,
    }


def run_name(out: Path) -> str:
    (name,) = fingerprint(out)["runs"]
    return name


COMMANDS: dict[str, tuple[str, Callable[[Path, str], list[str]]]] = {
    "review": (
        "processed",
        lambda out, run: ["review", str(out / run), "--accept", "--by", "Lin", "--reason", "ok"],
    ),
    "mask": (
        "reviewed",
        lambda out, run: [
            *("mask", str(out / run), "--well", "E4", "--reason", "bubble", "--by", "Lin")
        ],
    ),
    "unmask": (
        "masked",
        lambda out, run: [
            *("unmask", str(out / run), "--well", "E4", "--reason", "wrong well", "--by", "Lin")
        ],
    ),
    "push": (
        "pushable",
        lambda out, run: ["push", str(out / run), "--db", str(out / STUDY_DB), "--by", "Chen"],
    ),
    "batch": ("empty", lambda out, run: ["batch", str(EXPORT), "--out", str(out), "--jobs", "1"]),
    "batch --force": (
        "reviewed",
        lambda out, run: [
            *("batch", str(EXPORT), "--out", str(out), "--jobs", "1", "--force"),
            *("--reason", "re-read after a lamp change"),
        ],
    ),
}


@pytest.mark.parametrize(
    "every", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["sampled", "every"]
)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_kill_at_every_write_leaves_before_after_or_what_status_names_and_repair_mends(
    runs: dict[str, Path], tmp_path: Path, command: str, every: bool
) -> None:
    template_name, make_args = COMMANDS[command]
    template = runs[template_name]
    name = run_name(runs["processed"])
    out = tmp_path / "out"
    before = fingerprint(template)
    copy_tree(template, out)
    full = run_child(make_args(out, name))
    assert not full.killed and full.exit_code in (0, 3), full.stderr
    after = fingerprint(out)
    assert after != before
    # A push of a run batch made with the study database (remembered in verified_runs)
    # writes no scratch folder: the commit and the chain's anchor are its writes.
    assert full.writes >= (3 if command == "push" else 4)
    seen = set()
    assert full.what is not None and len(full.what) == full.writes
    for n in kill_points(full.what, out, every):
        copy_tree(template, out)
        child = run_child(make_args(out, name), kill_at=n)
        assert child.killed, f"write {n} of {full.writes}: the command finished"
        state = settle(out)
        assert state in (before, after), f"{command} killed at write {n}: {state}"
        seen.add("after" if state == after else "before")
    assert "before" in seen  # ("after" needs a write after the last commit: not for a push)
    if command == "push":
        assert ("commit", "database") in full.what


def test_a_review_killed_after_its_audit_line_is_named_by_status_and_repaired(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    out = copy_tree(runs["processed"], tmp_path / "out")
    name = run_name(out)
    args = COMMANDS["review"][1](out, name)
    writes = []
    for n in range(1, run_child(args).writes + 1):
        copy_tree(runs["processed"], out)
        run_child(args, kill_at=n)
        writes.append(cli("status", out).exit_code)
    assert 1 in writes  # some kill point leaves the review half-recorded
    n = writes.index(1) + 1
    copy_tree(runs["processed"], out)
    run_child(args, kill_at=n)
    refused = cli("mask", out / name, "--well", "E4", "--reason", "x", "--by", "Lin")
    assert refused.exit_code == 2 and f"il6assay repair {out / name} --by NAME" in refused.stderr
    assert cli("repair", out / name, "--by", "Wu").exit_code == 0
    assert cli("status", out).exit_code == 0
    (*_, review, repair) = read_entries(out / name)
    assert (review["action"], repair["action"], repair["by"]) == ("review-accept", "repair", "Wu")
    assert cli("verify", out / name).exit_code == 0
    assert cli("mask", out / name, "--well", "E4", "--reason", "x", "--by", "Lin").exit_code == 0


def test_a_mask_killed_between_its_renames_makes_status_exit_1_not_0(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    out = copy_tree(runs["reviewed"], tmp_path / "out")
    name = run_name(out)
    args = COMMANDS["mask"][1](out, name)
    writes = run_child(args).what or []
    # The second of the two renames: the new folder (still .partial-) into the run's place.
    n = 1 + next(
        i for i, (kind, what) in enumerate(writes) if kind == "rename" and ".partial-" in what
    )
    assert writes[n - 2] == ("rename", str(out / name))  # the first: the run set aside
    copy_tree(runs["reviewed"], out)
    assert run_child(args, kill_at=n).killed
    assert not (out / name).exists()
    status = cli("status", out)
    assert status.exit_code == 1
    assert f"il6assay repair {out / name} --by NAME" in status.output
    assert cli("status", out / name).exit_code == 1  # the run named directly, too
    assert cli("repair", out / name, "--by", "Wu").exit_code == 0
    assert fingerprint(out) == fingerprint(runs["reviewed"])  # the mask undone, whole


@pytest.mark.parametrize("command", ["review", "mask", "batch --force", "batch"])
@pytest.mark.parametrize("fail", [errno.ENOSPC, errno.EROFS], ids=["disk full", "read-only folder"])
def test_disk_full_or_read_only_is_one_line_exit_2_and_nothing_changed(
    runs: dict[str, Path], tmp_path: Path, command: str, fail: int
) -> None:
    template_name, make_args = COMMANDS[command]
    name = run_name(runs["processed"])
    out = tmp_path / "out"
    before = fingerprint(runs[template_name])
    copy_tree(runs[template_name], out)
    writes = run_child(make_args(out, name)).what or []
    after = fingerprint(out)
    taking = [n for n, (kind, _) in enumerate(writes, start=1) if kind in SPACE_CALLS]
    for n in (taking[0], taking[len(taking) // 2], taking[-1]):  # the first, mid-way, the last
        copy_tree(runs[template_name], out)
        child = run_child(make_args(out, name), fail_at=n, fail=fail)
        lines = child.stderr.strip().splitlines()
        assert child.exit_code == 2, (n, child.stderr)
        assert "UNCAUGHT" not in child.stderr and "Traceback" not in child.stderr
        assert lines[-1].startswith("il6assay: ") and "cannot write: " in lines[-1], lines
        assert leftovers(out) == []
        if fingerprint(out) == before:  # a batch reports each plate, then its index page
            assert any("cannot write: " in x and "nothing was changed" in x for x in lines), lines
        else:  # a batch's plates were written whole, then its index page failed
            assert command.startswith("batch") and fingerprint(out) == after
            assert "index.html: cannot write" in lines[-1] and "written whole" in lines[-1]
        if fingerprint(out)["runs"]:
            assert cli("status", out).exit_code == 0


def test_batch_force_refuses_a_reviewed_run_without_a_reason(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    out = copy_tree(runs["reviewed"], tmp_path / "out")
    result = cli("batch", EXPORT, "--out", out, "--force")
    assert result.exit_code == 2
    assert "accepted by Lin" in result.stderr and "--reason TEXT" in result.stderr
    assert fingerprint(out) == fingerprint(runs["reviewed"])


# --- Batches: a dead worker, a killed batch, two batches, a pushed run ---------------------


def _plates(tmp_path: Path) -> Path:
    """A day's folder with the two example plates (layouts pointing at the standard layout)."""
    from tests.test_batch import _copy_plate

    day = tmp_path / "day"
    day.mkdir()
    _copy_plate(EXAMPLE / "plate_001.xlsx", day)
    _copy_plate(EXAMPLE / "plate_002_rejected.csv", day)
    return day


def test_a_killed_batch_worker_costs_its_plate_and_the_others_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from il6assay.study import batch as batch_module

    real = batch_module.process_job

    def dies_on_plate_002(job: Any) -> Any:
        if job.export.name.startswith("plate_002"):
            os.kill(os.getpid(), signal.SIGKILL)  # the worker, as the OOM killer would
        return real(job)

    monkeypatch.setattr(batch_module, "process_job", dies_on_plate_002)
    out = tmp_path / "runs"
    result = cli("batch", _plates(tmp_path), "--out", out, "--jobs", "2", "--json")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    status = {Path(o["export"]).name: o for o in json.loads(result.stdout)}
    assert status["plate_001.xlsx"]["status"] == "written"
    lost = status["plate_002_rejected.csv"]
    assert lost["status"] == "lost" and "killed (SIGKILL)" in lost["error"]
    (written,) = fingerprint(out)["runs"]
    assert written.startswith("plate_001")
    assert cli("status", out).exit_code == 0
    assert "1 lost with their worker" in result.stderr


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _batch_in_child(args: list[str], hold: Path, pids: Path) -> int:
    """Fork a child running ``il6assay batch ARGS`` whose workers write their pid into ``pids``
    and then wait until ``hold`` exists. Returns the child's pid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            from il6assay.study import batch as batch_module

            real = batch_module.process_job

            def waits(job: Any) -> Any:
                (pids / str(os.getpid())).write_text(job.export.name, encoding="utf-8")
                while not hold.exists():
                    time.sleep(0.05)
                return real(job)

            batch_module.process_job = waits  # type: ignore[assignment]
            result = CliRunner().invoke(main, ["batch", *args])
            os._exit(result.exit_code if isinstance(result.exit_code, int) else 99)
        finally:
            os._exit(98)
    return pid


def _wait_for(check: Callable[[], bool], seconds: float = 20) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_killing_a_batch_stops_its_workers(tmp_path: Path) -> None:
    pids, hold = tmp_path / "pids", tmp_path / "never"
    pids.mkdir()
    args = [str(_plates(tmp_path)), "--out", str(tmp_path / "runs"), "--jobs", "2"]
    parent = _batch_in_child(args, hold, pids)
    assert _wait_for(lambda: len(list(pids.iterdir())) == 2)  # both workers at work
    workers = [int(p.name) for p in pids.iterdir()]
    assert all(_pid_alive(w) for w in workers)
    os.kill(parent, signal.SIGKILL)
    os.waitpid(parent, 0)
    assert _wait_for(lambda: not any(_pid_alive(w) for w in workers)), "orphaned workers"
    assert fingerprint(tmp_path / "runs")["runs"] == {}


def test_a_second_batch_of_the_same_folder_is_one_line_and_the_first_finishes(
    tmp_path: Path,
) -> None:
    pids, hold = tmp_path / "pids", tmp_path / "go"
    pids.mkdir()
    day, out = _plates(tmp_path), tmp_path / "runs"
    first = _batch_in_child([str(day), "--out", str(out), "--jobs", "2"], hold, pids)
    assert _wait_for(lambda: len(list(pids.iterdir())) == 2)
    second = cli("batch", day, "--out", out, "--jobs", "2")
    assert second.exit_code == 2
    (line,) = second.stderr.strip().splitlines()
    assert str(out) in line and "another batch is writing to this folder" in line
    hold.touch()
    _, status = os.waitpid(first, 0)
    assert os.WEXITSTATUS(status) == 3  # both plates written; one fails its rules
    assert cli("status", out).exit_code == 0
    assert len(fingerprint(out)["runs"]) == 2


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new study database (made by db upgrade): a SQLite file, or one on the session's server."""
    from il6assay.db.engine import make_engine, upgrade
    from tests import pg

    url = pg.backend_url(request, tmp_path)
    upgrade(make_engine(url))
    return url


def test_batch_force_refuses_a_pushed_run_without_a_reason(tmp_path: Path, db_url: str) -> None:
    from tests.test_batch import _copy_plate

    day = tmp_path / "day"
    day.mkdir()
    _copy_plate(EXAMPLE / "plate_001.xlsx", day)
    out = tmp_path / "runs"
    assert cli("batch", day, "--out", out, "--db", db_url).exit_code == 0
    name = run_name(out)
    assert cli("review", out / name, "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0
    pushed = cli("push", out / name, "--db", db_url, "--by", "Chen")
    assert pushed.exit_code == 0, pushed.output
    before = fingerprint(out)
    refused = cli("batch", day, "--out", out, "--db", db_url, "--force")
    assert refused.exit_code == 2
    (line,) = refused.stderr.strip().splitlines()
    assert "accepted by Lin and pushed to the study database" in line and "--reason" in line
    assert fingerprint(out) == before
    why = "plate re-read after a calibration"
    forced = cli("batch", day, "--out", out, "--db", db_url, "--force", "--reason", why)
    assert forced.exit_code == 0, forced.output
    (processing,) = read_entries(out / name)
    assert processing["replaces"]["reason"] == why
    assert "pushed" not in processing["replaces"]["review"]  # the review as run.json said it


@pytest.mark.pg  # starts PostgreSQL itself, not through a backend parameter
def test_kill_at_every_write_of_push_on_postgresql_leaves_the_database_before_or_after(
    runs: dict[str, Path], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    import psycopg

    from tests import pg

    template_url = pg.database_url(request)  # skipped when no PostgreSQL server can start
    server = pg.server(request.config)
    folders = copy_tree(runs["empty"], tmp_path / "template")
    assert cli("db", "upgrade", "--db", template_url).exit_code == 0
    assert (
        cli("batch", EXPORT, "--out", folders, "--db", template_url, "--jobs", "1").exit_code == 0
    )
    name = run_name(folders)
    accept = ["review", folders / name, "--accept", "--by", "Lin", "--reason", "ok"]
    assert cli(*accept).exit_code == 0
    admin = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
    template = template_url.rsplit("/", 1)[1]

    def fresh() -> str:
        """A copy of the template database, made by PostgreSQL itself."""
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (template,),
            )
            copy = f"t_{os.urandom(6).hex()}"
            conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"')
        url = server.url(copy)
        # the copy's chain key (kept outside the database) is the template's
        old_key, new_key = key_path(template_url), key_path(url)
        new_key.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(old_key, new_key)
        shutil.copyfile(anchor_path(old_key), anchor_path(new_key))
        return url

    def rows(url: str) -> list[int]:
        dsn = f"{admin.rsplit('=', 1)[0]}={url.rsplit('/', 1)[1]}"
        with psycopg.connect(dsn) as conn:
            tables = ("runs", "sample_results", "audit")
            return [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables]  # type: ignore[index]

    out = tmp_path / "out"
    copy_tree(folders, out)
    url = fresh()
    before = (fingerprint(out), rows(url))
    full = run_child(["push", str(out / name), "--db", url, "--by", "Chen"])
    assert full.exit_code == 0, full.stderr
    after = (fingerprint(out), rows(url))
    assert after != before
    commits = [n for n, w in enumerate(full.what or [], start=1) if w[0] == "commit"]
    assert commits
    seen = set()
    for n in kill_points(full.what or [], out, every=False):
        copy_tree(folders, out)
        url = fresh()
        assert run_child(["push", str(out / name), "--db", url, "--by", "Chen"], kill_at=n).killed
        state = (settle(out), rows(url))
        assert state in (before, after), f"push killed at write {n}: {state}"
        seen.add(state == after)
    assert False in seen


def test_an_export_that_aborts_its_reader_is_one_line_and_the_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import il6assay.plate.readers as readers

    real = readers.read_export

    def aborts_on_plate_002(path: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(path).name.startswith("plate_002"):
            os.abort()  # as python-calamine did on a cell at XFD1048576 (SIGABRT)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(readers, "read_export", aborts_on_plate_002)
    out = tmp_path / "runs"
    result = cli("batch", _plates(tmp_path), "--out", out, "--jobs", "2", "--json")
    assert result.exit_code == 2, result.output
    status = {Path(o["export"]).name: o for o in json.loads(result.stdout)}
    assert status["plate_001.xlsx"]["status"] == "written"
    dead = status["plate_002_rejected.csv"]
    assert dead["status"] == "unreadable" and "SIGABRT" in dead["error"]
    assert sum("SIGABRT" in line for line in result.stderr.splitlines()) == 1
    assert list(fingerprint(out)["runs"]) == [status["plate_001.xlsx"]["run_id"]]
