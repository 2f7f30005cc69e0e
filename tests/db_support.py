"""Run folders and database helpers shared by the database tests (made once per session).

Every run is the example plate processed for real (no fake run folders):
``a`` is the example as shipped; ``a_reassay`` the same specimens measured
again (processed unweighted, so other values and another run id); ``b`` and
``c`` other subjects (the sheet's study IDs renumbered); ``unreviewed`` and
``rejected`` never accepted; ``two_spellings`` a sheet that writes AML-001
as "aml-001" on a second sample; ``fullwidth`` writes P01's AML-001 in
fullwidth letters and digits; ``unicode_dash`` writes every study ID with a
Unicode hyphen (U+2010) instead of "-"; ``swap`` gives P01 (<4.69) and P04
(12.1) each other's study ID, so AML-004 D0's number becomes a censored
result; ``override`` is the rejected example plate (nothing quantifiable)
accepted by ``--override``.

Each recipe but ``a`` reads its own copy of the example export, one whose
workbook properties carry another modification time (same reads, other bytes):
the study refuses an export whose SHA-256 another run already brought into it
(issue 25), so the recipes are different plates, as in a real study.
"""

from __future__ import annotations

import atexit
import csv
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from il6assay.db.models import Base
from tests.conftest import EXAMPLE

_runs: dict[str, Path] = {}
_root: Path | None = None


def _sheet(
    folder: Path,
    name: str,
    edit: dict[str, str] | None,
    prefix: str | None,
    plate: str = "plate_001",
) -> Path:
    with (EXAMPLE / f"{plate}.samples.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if prefix is not None:
            row["study_id"] = row["study_id"].replace("AML-0", prefix)
        if edit and row["sample"] in edit:
            row["study_id"] = edit[row["sample"]]
    path = folder / f"{name}.samples.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


RECIPES: dict[str, dict[str, Any]] = {
    "a": {"review": "accept"},
    "a_reassay": {"review": "accept", "weighting": "none"},
    "b": {"review": "accept", "prefix": "AML-1"},
    "c": {"review": "accept", "prefix": "AML-2"},
    "unreviewed": {"review": None, "weighting": "1/y"},
    "rejected": {"review": "reject", "prefix": "AML-3"},
    "two_spellings": {"review": "accept", "edit": {"P02": "aml-001"}},
    "fullwidth": {"review": "accept", "edit": {"P01": "\uff21\uff2d\uff2c-\uff10\uff10\uff11"}},
    "unicode_dash": {"review": "accept", "prefix": "AML\u20100"},
    "swap": {"review": "accept", "edit": {"P01": "AML-004", "P04": "AML-001"}},
    "override": {"review": "accept", "override": True, "plate": "plate_002_rejected"},
}


def distinct_export(export: Path, folder: Path, tag: int) -> Path:
    """A copy of the example XLSX in ``folder`` whose docProps/core.xml carries modification
    minute ``tag``: the same reads in other bytes (another plate, to the study's SHA-256 check)."""
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / export.name
    stamp = f"2000-01-01T02:{tag:02d}:00Z</dcterms:modified>".encode()
    with zipfile.ZipFile(export) as src, zipfile.ZipFile(copy, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"[0-9T:-]+Z</dcterms:modified>", stamp, data)
            dst.writestr(item, data)
    assert copy.read_bytes() != export.read_bytes()
    return copy


def run_folder(name: str) -> Path:
    """The run folder ``name`` of RECIPES, processed (and reviewed) on first use."""
    global _root
    if name in _runs:
        return _runs[name]
    from il6assay.record.outputs import write_run
    from il6assay.record.review import review_run
    from il6assay.run import process_plate
    from il6assay.settings import Settings

    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="il6assay-dbruns-"))
        atexit.register(shutil.rmtree, _root, True)
    recipe = RECIPES[name]
    plate = recipe.get("plate", "plate_001")
    sheet = _sheet(_root, name, recipe.get("edit"), recipe.get("prefix"), plate)
    settings = Settings()
    if "weighting" in recipe:
        settings = replace(settings, weighting=recipe["weighting"])
    export = EXAMPLE / ("plate_001.xlsx" if plate == "plate_001" else f"{plate}.csv")
    if plate == "plate_001" and name != "a":
        export = distinct_export(export, _root / f"{name}-export", sorted(RECIPES).index(name))
    run = process_plate(export, EXAMPLE / f"{plate}.layout.toml", sheet, settings)
    folder = write_run(run, _root / name, report=False)
    if recipe["review"]:
        review_run(
            folder,
            recipe["review"],
            "Lin",
            "checked the curve and controls",
            override=recipe.get("override", False),
        )
    _runs[name] = folder
    return folder


def copy_run(name: str, target: Path) -> Path:
    """A private copy of a run folder, for a test that changes it."""
    dest = target / run_folder(name).name
    shutil.copytree(run_folder(name), dest)
    return dest


def copy_study_db(source: Path, target: Path) -> str:
    """A private copy of a SQLite study database with its chain key and anchor (if any)."""
    from il6assay.db.chain_key import anchor_path, key_path

    shutil.copyfile(source, target)
    old_key, new_key = key_path(f"sqlite:///{source}"), key_path(f"sqlite:///{target}")
    for src, dst in ((old_key, new_key), (anchor_path(old_key), anchor_path(new_key))):
        if src.exists() and src != dst:  # ($IL6ASSAY_CHAIN_KEY names one key for both)
            shutil.copy(src, dst)  # with its mode: the key is 0600, as db upgrade made it
    return str(target)


_made_dbs: dict[str, Path] = {}


def made_study_db(
    target: Path, name: str = "empty", then: Callable[[Engine], object] | None = None
) -> str:
    """A private copy, at the new file ``target``, of the SQLite study database ``name``: made
    once per session by ``db upgrade`` (its chain started: key and anchor copied with it),
    then ``then(engine)`` (e.g. the lab's accounts added); a test may change its copy."""
    from il6assay.db.engine import make_engine, upgrade

    if name not in _made_dbs:
        folder = Path(tempfile.mkdtemp(prefix="il6assay-studydb-"))
        atexit.register(shutil.rmtree, folder, True)
        engine = make_engine(str(folder / "study.db"))
        upgrade(engine)
        if then is not None:
            then(engine)
        engine.dispose()
        _made_dbs[name] = folder / "study.db"
    return copy_study_db(_made_dbs[name], target)


def upgraded_db(request: Any, tmp_path: Path, *, by_cli: bool = False) -> str:
    """A new study database made by ``db upgrade`` on the test's backend (``request.param``):
    on SQLite ``tmp_path/study.db``, a copy of one made once per session (made_study_db); on
    PostgreSQL a new database upgraded in place (``by_cli``: by the command, else the library)."""
    from il6assay.db.engine import make_engine, upgrade
    from tests import pg

    url = pg.backend_url(request, tmp_path)
    if request.param == "sqlite":
        return made_study_db(Path(url))
    if by_cli:
        from click.testing import CliRunner

        from il6assay.cli import main

        made = CliRunner().invoke(main, ["db", "upgrade", "--db", url])
        assert made.exit_code == 0, made.output
    else:
        upgrade(make_engine(url))
    return url


def pushed_db(request: Any, tmp_path: Path, name: str, *options: str, by_cli: bool = False) -> str:
    """A study database made by ``db upgrade`` with run folder ``name`` pushed by ``il6assay
    push`` (with ``options``): on SQLite a copy of one made once per session; on PostgreSQL
    made in place (``by_cli``: as upgraded_db)."""
    from tests import pg

    if request.param == "sqlite":
        target = Path(pg.backend_url(request, tmp_path))
        made = f"{name} pushed {options!r}"
        return made_study_db(target, made, lambda e: push_by_cli(e.url.database, name, *options))
    url = upgraded_db(request, tmp_path, by_cli=by_cli)
    push_by_cli(url, name, *options)
    return url


def push_by_cli(url: str, name: str, *options: str) -> None:
    """``il6assay push`` the run folder ``name`` to the database at ``url``; it must succeed."""
    from click.testing import CliRunner

    from il6assay.cli import main

    out = CliRunner().invoke(main, ["push", str(run_folder(name)), "--db", url, *options])
    assert out.exit_code == 0, out.output


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (and the schema version): to prove nothing changed.

    Each table's every column as the database holds it (``SELECT *``: a column added outside
    the models shows too), read without reflecting the schema (a dozen queries a table)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        for table in Base.metadata.sorted_tables:
            if table.name in names:
                rows = conn.execute(text(f'SELECT * FROM "{table.name}" ORDER BY id'))
                out[table.name] = [tuple(r) for r in rows]
        if "alembic_version" in names:
            rows = conn.execute(text("SELECT version_num FROM alembic_version"))
            out["alembic_version"] = [tuple(r) for r in rows]
    return out


def count(engine: Engine, model: Any, **where: Any) -> int:
    """Rows of ``model`` matching ``where``."""
    with Session(engine) as session:
        query = select(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return len(session.scalars(query).all())


def error_lines(result: Any) -> list[str]:
    """A command's output lines without the line naming the study database it used."""
    return [
        line
        for line in result.output.strip().splitlines()
        if not line.startswith("study database: ")
    ]
