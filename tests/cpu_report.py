"""``pytest --cpu-report FILE``: each test's CPU time, its children's and PostgreSQL's, as JSON.

Opt-in (no option, no cost). For every test (setup, call and teardown) it
records the CPU seconds of the pytest process and of its waited-for children
(``resource.getrusage`` SELF + CHILDREN deltas: ``il6assay`` subprocesses,
``il6assay serve`` servers, Playwright's driver and the chromium it launched,
counted when they exit, so a module's chromium lands on the test whose
teardown closes it) and of the throwaway PostgreSQL servers of tests/pg.py
(daemons, not children: their postmaster's ``/proc/PID/stat`` utime + stime +
cutime + cstime plus those of its live backends, read before and after).
The report's ``session`` holds the whole run's CPU (interpreter start,
collection and all) and the PostgreSQL total, so quick run and full suite
compare on one measure: ``total_s``.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import pytest

OPTION = "--cpu-report"
# The quick run is `-m "not browser and not pg"`, which leaves out `slow` too (tests/conftest.py).
SLOW_MARKERS = ("browser", "pg", "slow")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--cpu-report FILE``."""
    parser.addoption(
        OPTION,
        metavar="FILE",
        default=None,
        help="write each test's CPU time (incl. children and the test PostgreSQL) to FILE (JSON)",
    )


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def own_and_children_cpu() -> float:
    """CPU seconds (user + system) of this process and its waited-for children so far."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class CpuReport:
    """The per-test and session figures, written as JSON when the session ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tests: list[dict[str, object]] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        """Measure one test, its fixtures' setup and teardown included."""
        from tests import pg

        cpu0, kids0, pg0 = own_and_children_cpu(), children_cpu(), pg.servers_cpu()
        yield
        cpu1, kids1, pg1 = own_and_children_cpu(), children_cpu(), pg.servers_cpu()
        markers = sorted({m.name for m in item.iter_markers()})
        self.tests.append(
            {
                "test": item.nodeid,
                "markers": markers,
                "quick": not any(m in SLOW_MARKERS for m in markers),
                "cpu_s": round(cpu1 - cpu0, 3),
                "children_s": round(kids1 - kids0, 3),
                "pg_s": round(pg1 - pg0, 3),
            }
        )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the report (the PostgreSQL servers still running are read now)."""
        from tests import pg

        process = own_and_children_cpu()
        postgres = pg.servers_cpu()
        quick = [t for t in self.tests if t["quick"]]
        report = {
            "session": {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "args": session.config.invocation_params.args,
                "tests": len(self.tests),
                "pytest_and_children_s": round(process, 1),
                "postgresql_s": round(postgres, 1),
                "total_s": round(process + postgres, 1),
                "in_tests_s": round(sum(t["cpu_s"] + t["pg_s"] for t in self.tests), 1),
                "quick_tests_s": round(sum(t["cpu_s"] + t["pg_s"] for t in quick), 1),
            },
            "tests": sorted(self.tests, key=lambda t: -(t["cpu_s"] + t["pg_s"])),
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        """One line: where the report went and the total."""
        terminalreporter.write_line(f"CPU report ({len(self.tests)} tests): {self.path}")


def pytest_configure(config: pytest.Config) -> None:
    """Register the reporter when ``--cpu-report`` is given."""
    target = config.getoption(OPTION)
    if target:
        config.pluginmanager.register(CpuReport(Path(target).resolve()), "il6assay-cpu-report")
