"""``pytest --cpu-report FILE`` (tests/cpu_report.py): each test's CPU, its children's included."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from tests import pg
from tests.conftest import ROOT

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}:\n    pass\n"


def test_a_tests_child_processes_cpu_is_counted_in_its_line_and_the_session_total(tmp_path):
    tests = tmp_path / "test_inner.py"
    tests.write_text(
        "import subprocess, sys\n\n"
        "def test_burns_in_a_child():\n"
        f"    subprocess.run([sys.executable, '-c', {BURN.format(s=0.4)!r}], check=True)\n\n"
        "def test_idle():\n"
        "    pass\n",
        encoding="utf-8",
    )
    out = tmp_path / "cpu.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["-q", "-p", "no:cacheprovider", "-p", "tests.cpu_report", "--cpu-report", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args, str(tests)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    cpu = {t["test"].split("::")[1]: t["cpu_s"] for t in report["tests"]}
    assert cpu["test_burns_in_a_child"] >= 0.35 and cpu["test_idle"] < 0.1, cpu
    session = report["session"]
    assert session["tests"] == 2 and session["quick_tests_s"] >= 0.35
    assert session["total_s"] >= session["in_tests_s"] >= 0.35


def test_a_process_cpu_is_read_from_proc_as_getrusage_counts_it():
    t = time.process_time()
    while time.process_time() - t < 0.2:
        pass
    own, _ = pg._proc_cpu(os.getpid())
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    counted = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    assert abs(own - counted) < 0.1 and own >= 0.2
    assert pg._proc_cpu(2**22 + 1) == (0.0, [])  # no such process: nothing
