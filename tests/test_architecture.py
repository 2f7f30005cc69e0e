"""The package's stages (docs/architecture.md) hold: imports only go down, no circles.

The layering itself is import-linter's contract in pyproject.toml; these tests
run it, show that it catches an upward import, and look for import circles,
which a layers contract alone does not forbid inside one stage.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(cwd / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_every_stage_imports_only_the_stages_below_it():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("plate/export.py", "from il6assay.record import outputs"),  # files in -> run folder
        ("curve/fit.py", "import il6assay.qc.rules"),  # statistics -> judgement
        ("run.py", "from il6assay.record.outputs import write_run"),  # the run -> its writers
    ],
)
def test_an_upward_import_breaks_the_stages_contract(tmp_path, module, upward):
    shutil.copytree(ROOT / "il6assay", tmp_path / "il6assay")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "il6assay" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{upward}\n", encoding="utf-8")
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "Stages import only the stages below them BROKEN" in done.stdout


CYCLES = """
import json, grimp

graph = grimp.build_graph("il6assay", cache_dir=None)
index, low, stack, on_stack, found = {}, {}, [], set(), []


def visit(m):  # Tarjan's strongly connected components
    index[m] = low[m] = len(index)
    stack.append(m)
    on_stack.add(m)
    for n in sorted(graph.find_modules_directly_imported_by(m)):
        if n not in index:
            visit(n)
            low[m] = min(low[m], low[n])
        elif n in on_stack:
            low[m] = min(low[m], index[n])
    if low[m] == index[m]:
        component = []
        while not component or component[-1] != m:
            component.append(stack.pop())
            on_stack.discard(component[-1])
        if len(component) > 1:
            found.append(sorted(component))


for m in sorted(graph.modules):
    if m not in index:
        visit(m)
print(json.dumps(found))
"""


def _cycles(root: Path) -> list[list[str]]:
    """Groups of il6assay modules that import each other in a circle, found by grimp."""
    done = subprocess.run(
        [sys.executable, "-c", CYCLES],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def test_no_module_imports_itself_through_a_circle():
    assert _cycles(ROOT) == []


def test_an_import_circle_inside_a_stage_is_found(tmp_path):
    shutil.copytree(ROOT / "il6assay", tmp_path / "il6assay")
    report = tmp_path / "il6assay" / "record" / "report.py"  # outputs.py imports report.py
    report.write_text(report.read_text(encoding="utf-8") + "\nimport il6assay.record.outputs\n")
    assert ["il6assay.record.outputs", "il6assay.record.report"] in _cycles(tmp_path)


def test_no_module_lives_outside_the_stages():
    top = {p.name for p in (ROOT / "il6assay").iterdir() if p.suffix == ".py"}
    assert top == {"__init__.py", "run.py", "errors.py", "settings.py", "project.py", "simulate.py"}


def test_the_flat_module_paths_of_0_1_still_import_the_same_modules():
    code = (
        "import warnings; warnings.simplefilter('error');"
        "import il6assay.curve.fit as new, il6assay.plate.readers.gen5 as gen5;"
        "warnings.simplefilter('ignore');"
        "import il6assay.fit as old, il6assay.readers.gen5 as old_gen5;"
        "from il6assay.layout import load_layout; from il6assay.noise import noise_from_duplicates;"
        "assert old is new and old_gen5 is gen5, 'a second copy was loaded';"
        "warnings.simplefilter('error');"
        "import importlib; importlib.import_module('il6assay.rules')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0  # the last import warns: moved, with its new home named
    assert "il6assay.rules moved to il6assay.qc.rules" in done.stderr
    assert "second copy" not in done.stderr
