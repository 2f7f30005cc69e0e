"""The project's settings, read once (il6assay.project): one path rule, one database, one
language and one layout for every command, and no other module opening il6assay.toml.

Each test stands in a project folder with its il6assay.toml and runs the commands a user
types (click's CliRunner; ``serve`` as a real server in a subprocess), with HOME pointed at
a temporary folder so that ``~`` in the file is a place the test can look at.
"""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

import il6assay
from il6assay.cli import main
from tests.conftest import EXAMPLE, LAYOUTS, run_dirs

PACKAGE = Path(il6assay.__file__).parent
EXPORT = "plate_001.xlsx"


def il6(*args: str | Path) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (the working folder) with the example export and its sample sheet,
    no layout beside it; HOME is a temporary folder; no $IL6ASSAY_DB."""
    home, folder = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    (folder / "day").mkdir(parents=True)
    shutil.copy(EXAMPLE / EXPORT, folder / "day" / EXPORT)
    shutil.copy(EXAMPLE / "plate_001.samples.csv", folder / "day" / "plate_001.samples.csv")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("IL6ASSAY_DB", raising=False)
    monkeypatch.chdir(folder)
    return folder


def _toml(project: Path, text: str) -> None:
    (project / "il6assay.toml").write_text(text, encoding="utf-8")


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_answers(project: Path, home: Path) -> tuple[int, str]:
    """Start ``il6assay serve`` in ``project`` (a real waitress server), GET / and stop it."""
    port = _free_port()
    env = {**os.environ, "HOME": str(home)}
    env.pop("IL6ASSAY_DB", None)
    cmd = [sys.executable, "-m", "il6assay.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=project, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return proc.returncode, proc.stderr.read()  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    return response.status, ""
            except OSError:
                time.sleep(0.3)
        return -1, "serve did not answer within 60 s"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_home_relative_db_is_one_database_for_upgrade_process_batch_push_and_serve(project):
    home = Path(os.environ["HOME"])
    _toml(project, f'db = "~/x.db"\nlayout = "{(LAYOUTS / "il6_96_standard.toml").as_posix()}"\n')
    db = home / "x.db"

    assert il6("db", "upgrade").exit_code == 0
    assert db.is_file()

    processed = il6("process", Path("day") / EXPORT)
    assert processed.exit_code == 0, processed.output
    assert "Westgard check not evaluated" not in processed.output
    assert _count(db, "qc_runs") == 1  # process found the database and recorded its run

    shutil.copy(EXAMPLE / "plate_002_rejected.csv", project / "day2.csv")
    shutil.copy(EXAMPLE / "plate_002_rejected.samples.csv", project / "day2.samples.csv")
    batched = il6("batch", "day2.csv", "--out", "batch-out", "--jobs", "1")
    assert batched.exit_code == 3, batched.output  # the failing plate, rejected
    assert _count(db, "qc_runs") == 2  # batch recorded its run in the same database

    (folder,) = run_dirs(project / "il6assay-results")
    assert il6("review", folder, "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0
    pushed = il6("push", folder)
    assert pushed.exit_code == 0, pushed.output
    assert f"study database: {db}" in pushed.stderr
    assert _count(db, "runs") == 1

    status, why = _serve_answers(project, home)  # refuses a database that does not exist
    assert status == 200, why
    assert not (project / "~").exists()  # no second database made under the project


def test_lang_zh_cn_in_il6assay_toml_gives_chinese_reports_from_process_and_batch(project):
    _toml(project, f'lang = "zh-CN"\nlayout = "{(LAYOUTS / "il6_96_standard.toml").as_posix()}"\n')
    assert il6("process", Path("day") / EXPORT, "--out", "p").exit_code == 0
    assert il6("batch", "day", "--out", "b", "--jobs", "1").exit_code == 0
    for out in ("p", "b"):
        (run,) = run_dirs(project / out)
        page = (run / "report.html").read_text(encoding="utf-8")
        assert '<html lang="zh-CN">' in page and "验收规则" in page, out
        assert json.loads((run / "run.json").read_text())["report"]["lang"] == "zh-CN"


def test_batch_takes_a_sheet_layout_named_by_il6assay_toml_as_process_does(project):
    home = Path(os.environ["HOME"])
    (home / "lab").mkdir()
    shutil.copy(LAYOUTS / "il6_96_standard.xlsx", home / "lab" / "standard.xlsx")
    _toml(project, 'layout = "~/lab/standard.xlsx"\n')  # a sheet layout, ~ expanded
    processed = il6("process", Path("day") / EXPORT, "--out", "p")
    assert processed.exit_code == 0, processed.output
    batched = il6("batch", "day", "--out", "b", "--jobs", "1")
    assert batched.exit_code == 0, batched.output
    (p,), (b,) = run_dirs(project / "p"), run_dirs(project / "b")
    assert p.name == b.name
    for name in ("results.csv", "wells.csv", "curve.json"):
        assert (p / name).read_bytes() == (b / name).read_bytes(), name
    assert (p / "inputs" / "layout" / "standard.xlsx").is_file()
    assert (b / "inputs" / "layout" / "standard.xlsx").is_file()


def test_only_the_settings_module_opens_il6assay_toml(project, monkeypatch):
    """At run time (every open of the file, with who opened it) and in the source."""
    _toml(project, f'layout = "{(LAYOUTS / "il6_96_standard.toml").as_posix()}"\ndb = "s.db"\n')
    openers: list[str] = []
    real_open = io.open

    def watching_open(file, *args, **kwargs):
        if Path(str(file)).name == "il6assay.toml":
            frames = [f.filename for f in traceback.extract_stack()[:-1]]
            openers.append(next(f for f in reversed(frames) if f.startswith(str(PACKAGE))))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", watching_open)
    monkeypatch.setattr("builtins.open", watching_open)
    assert il6("db", "upgrade").exit_code == 0
    assert il6("process", Path("day") / EXPORT).exit_code == 0
    assert il6("batch", "day", "--out", "b", "--jobs", "1").exit_code == 0
    assert il6("summary").exit_code == 0
    assert openers and set(openers) == {str(PACKAGE / "project.py")}

    # In the source: only il6assay/project.py reads a file by the project file's name.
    readers = []
    for path in PACKAGE.rglob("*.py"):
        names, texts, attributes = set(), [], set()
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # one walk a module
            if isinstance(n, ast.Name):
                names.add(n.id)
            elif isinstance(n, ast.Constant):
                texts.append(n.value)
            elif isinstance(n, ast.Attribute):
                attributes.add(n.attr)
        named = "PROJECT_FILE" in names or any(t == "il6assay.toml" for t in texts)
        reads = {"tomllib", "read_text", "open"} & (names | attributes)
        if named and reads:
            readers.append(path.relative_to(PACKAGE).as_posix())
    assert readers == ["project.py"]


def test_a_path_that_is_not_text_in_il6assay_toml_is_one_line_naming_the_file(project):
    _toml(project, "db = 5\n")
    result = il6("process", Path("day") / EXPORT)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "il6assay.toml" in line and "db = 5: expected a text in quotes" in line
