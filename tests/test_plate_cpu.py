"""A plate's CPU cut without moving a figure (issue 27): the same run folders, to the byte.

The fitting, judging and writing of a plate were made cheaper (fewer numpy calls on tiny
arrays in the solvers, every well's and every sample's figures computed in one call):
each figure must be the one the code before computed. A batch of simulated plates and the
shipped example plates is written under several settings by the code before (git commit
BEFORE, from git) and by this code, and every file of every run folder is compared byte for
byte, but the times (run.json's created_utc, the audit line's time and the hashes that
cover run.json, index.html's times and its chart's random element id).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.code_before import package_at

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "cce9474"  # the code before the per-plate CPU work (docs/speed.md)
LAYOUT = ROOT / "plate_layouts" / "il6_96_standard.toml"
EXAMPLE = ROOT / "fixtures" / "example"
SETTINGS = {
    "default": [],
    "kit-none": ["--rules", "kit", "--weighting", "none"],
    "5pl-y2": ["--model", "5pl", "--weighting", "1/y^2"],
    "loglog-y": ["--model", "loglog", "--weighting", "1/y"],
    "means": ["--fit-standards", "means"],
    "kit-5pl-subtract": ["--rules", "kit", "--model", "5pl", "--zero-standard", "subtract"],
}
# One interpreter per code writes every setting's batch (the imports paid once).
WRITE = """
import sys
from il6assay.cli import main
plates, out = sys.argv[1], sys.argv[2]
for name, options in {settings!r}.items():
    args = ["batch", plates, "--out", out + "/" + name, "--jobs", "1", "--by", "tester"]
    try:
        main([*args, *options], standalone_mode=False)
    except SystemExit:
        pass
"""
_TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _plates(folder: Path, n: int) -> None:
    """``n`` simulated plates (each with the shipped layout beside it) and the example plates."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_study import make_plates
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    make_plates(folder, n, seed=31)
    for i in range(n):
        shutil.copy(LAYOUT, folder / f"plate_{i:04d}.layout.toml")
    for name in ("plate_001", "plate_002_rejected"):
        text = (EXAMPLE / f"{name}.layout.toml").read_text(encoding="utf-8")
        # the example layouts include the shipped one by a path relative to fixtures/example
        text = text.replace("../../plate_layouts/", LAYOUT.parent.as_posix() + "/")
        (folder / f"{name}.layout.toml").write_text(text, encoding="utf-8")
        export = "plate_001.xlsx" if name == "plate_001" else f"{name}.csv"
        for file in (export, f"{name}.samples.csv"):
            shutil.copy(EXAMPLE / file, folder / file)


def _write(code: Path, plates: Path, out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IL6ASSAY_DB"}
    env["PYTHONPATH"] = str(code)
    script = WRITE.format(settings=SETTINGS)
    proc = subprocess.run([sys.executable, "-c", script, str(plates), str(out)],
                          capture_output=True, text=True, env=env, cwd=out.parent)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]


def _same(name: str, old: bytes, new: bytes) -> bool:
    """The same bytes, or (run.json, audit.jsonl, index.html) the same but for the times."""
    if old == new:
        return True
    if name == "run.json":
        docs = [json.loads(text) for text in (old, new)]
        for doc in docs:
            doc.pop("created_utc")
        return docs[0] == docs[1]
    if name == "audit.jsonl":
        entries = [json.loads(text) for text in (old, new)]
        for entry in entries:
            entry.pop("time_utc"), entry.pop("content_sha256")
            entry["files_sha256"].pop("run.json")
        return entries[0] == entries[1]
    if name == "index.html":
        return _UUID.sub(b"ID", _TIME.sub(b"T", old)) == _UUID.sub(b"ID", _TIME.sub(b"T", new))
    return False


def _compare_batches(tmp_path: Path, n: int) -> None:
    old_code = package_at(BEFORE, tmp_path)
    if old_code is None:
        pytest.skip(f"git or commit {BEFORE} not available to run the code before")
    plates = tmp_path / "plates"
    _plates(plates, n)
    for label, code in (("old", old_code), ("new", ROOT)):
        (tmp_path / label).mkdir()
        _write(code, plates, tmp_path / label)
    old_files = sorted(p.relative_to(tmp_path / "old") for p in (tmp_path / "old").rglob("*"))
    new_files = sorted(p.relative_to(tmp_path / "new") for p in (tmp_path / "new").rglob("*"))
    assert old_files == new_files
    runs = [p for p in old_files if p.name == "results.csv"]
    assert len(runs) == len(SETTINGS) * (n + 2)  # every plate written under every setting
    differ = [
        str(rel)
        for rel in old_files
        if (tmp_path / "old" / rel).is_file()
        and not _same(
            rel.name, (tmp_path / "old" / rel).read_bytes(), (tmp_path / "new" / rel).read_bytes()
        )
    ]
    assert not differ


@pytest.mark.slow  # re-runs the code of BEFORE from git
def test_a_batchs_run_folders_are_byte_for_byte_those_of_the_code_before(tmp_path):
    _compare_batches(tmp_path, 1)  # and the two example plates: 18 run folders a code


@pytest.mark.slow
def test_twenty_plates_under_six_settings_are_written_as_the_code_before_wrote_them(tmp_path):
    _compare_batches(tmp_path, 20)


def test_each_od_back_calculated_in_one_call_is_what_a_call_of_its_own_gives():
    from il6assay.curve.models import invert, invert_each

    rng = np.random.default_rng(27)
    differ_from_array = 0
    for trial in range(300):
        model = ("4pl", "5pl", "loglog")[trial % 3]
        if model == "loglog":
            params = {"alpha": rng.normal(-3, 1), "beta": rng.uniform(0.3, 2)}
        else:
            a, d = rng.uniform(-0.1, 0.3), rng.uniform(0.5, 4)
            a, d = (d, a) if trial % 2 else (a, d)
            params = {"a": a, "b": rng.uniform(0.05, 5), "c": math.exp(rng.uniform(-3, 12)), "d": d}
            if model == "5pl":
                params["g"] = math.exp(rng.uniform(-2.9, 2.9))
        ods = np.round(np.append(rng.uniform(-0.2, 4.5, 40), [0.0, params.get("a", 1.0)]), 3)
        alone = np.array([float(invert(model, params, float(od))) for od in ods])
        each = invert_each(model, params, ods.tolist())
        assert np.array_equal(alone, each, equal_nan=True), (model, params)
        together = invert(model, params, ods)
        differ_from_array += int(np.sum((alone != together) & ~np.isnan(alone)))
    # numpy's power over an array is not the C library's: one call over the array would differ
    assert differ_from_array
