"""The index page of a batch: folders the batch just wrote are not hashed again, yet a
folder changed since its write is checked whole, as ``il6assay status`` checks it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from il6assay.cli import main
from il6assay.record.folder import read_record
from il6assay.record.review import folder_state, run_status, written_status
from il6assay.study.pages import index_html
from tests.conftest import EXAMPLE, STANDARD_LAYOUT, run_dirs

_DIV_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _day(tmp_path: Path) -> Path:
    day = tmp_path / "day"
    day.mkdir()
    for name in ("plate_001.xlsx", "plate_002_rejected.csv"):
        shutil.copy(EXAMPLE / name, day / name)
        stem = Path(name).stem
        shutil.copy(EXAMPLE / f"{stem}.samples.csv", day / f"{stem}.samples.csv")
    return day


def _page(html: str) -> str:
    return _DIV_ID.sub("ID", html)  # the figure's element id is random


def test_a_batchs_index_is_the_page_a_whole_check_of_every_folder_gives(tmp_path, monkeypatch):
    import il6assay.record.review as review

    whole_checks: list[Path] = []
    check = review.run_status
    monkeypatch.setattr(review, "run_status", lambda f: whole_checks.append(f) or check(f))
    out = tmp_path / "runs"
    args = ["batch", str(_day(tmp_path)), "--layout", str(STANDARD_LAYOUT), "--out", str(out)]
    done = CliRunner().invoke(main, [*args, "--jobs", "2"])
    assert done.exit_code == 3, done.output  # plate_002 is rejected
    assert whole_checks == []  # the folders it wrote, as written: not hashed again
    monkeypatch.undo()
    written = (out / "index.html").read_text(encoding="utf-8")
    assert _page(written) == _page(index_html(out))  # every folder hashed and its chain read
    folders = run_dirs(out)
    assert len(folders) == 2
    for folder in folders:
        as_written = folder_state(folder)
        assert written_status(folder, read_record(folder), as_written) == run_status(folder)


def test_a_folder_changed_after_the_batch_wrote_it_is_checked_whole_on_the_index(tmp_path):
    out = tmp_path / "runs"
    args = ["batch", str(_day(tmp_path)), "--layout", str(STANDARD_LAYOUT), "--out", str(out)]
    assert CliRunner().invoke(main, [*args, "--jobs", "1"]).exit_code == 3
    folders = run_dirs(out)
    states = {f.name: folder_state(f) for f in folders}
    changed = folders[0] / "results.csv"
    size = changed.stat().st_size
    changed.write_bytes(changed.read_bytes()[:-2] + b"9\n")  # same size, new content
    assert changed.stat().st_size == size
    assert written_status(folders[0], read_record(folders[0]), states[folders[0].name]) is None
    assert "results.csv was changed" in run_status(folders[0])["integrity"]
    page = index_html(out, written=states)
    assert "results.csv was changed" in page
    assert _page(page) == _page(index_html(out))
