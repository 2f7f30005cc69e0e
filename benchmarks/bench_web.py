"""The review app at study scale: N run folders, then 20 reviewers at once on loopback (issue 27).

1. **The study**: four real runs of the shipped example plates, processed by
   il6assay (plate_001 with the default weighting and with 1/y, plate_001 with
   the lab layout's kit lot A1234, and the rejected plate_002), each copied
   N/4 times (hard links: no disk) under distinct folder names. The folder's
   name is the run id, so the app lists, opens, counts versions of and signs
   each copy as its own run; copies of one run share its export's SHA-256, so
   push and a rejection would treat them as runs of one export (this script
   only reads). Every copy's QC figures are recorded in the study database
   (a SQLite file, or ``--db URL``), one minute apart, so the controls page
   charts N runs.
2. **The server**: ``il6assay serve --db DB --runs RUNS`` in its own process,
   as a lab starts it (it indexes the N folders at start).
3. **Server CPU per request**: one signed-in reviewer asks each page
   (``/queue``, a run's page ``/runs/ID``, ``/controls``) ``--repeat`` times in
   turn; the server process's CPU time (user + system, /proc) over them,
   divided by the requests.
4. **20 concurrent reviewers**: 20 threads, each signed in with its own
   session, each asking ``--rounds`` rounds of queue, a random run's page and
   controls, all starting at once, each reading every page for 0.5-1.5 x
   ``--think`` seconds (1 s: a reviewer clicking fast) before the next; the
   latency of each answer (wall time on loopback, which is what a reviewer
   waits), p50 / p90 / max per page, and the same of the first round alone
   (20 queue requests arriving in the same instant: the burst). Then the same
   with no pause at all (20 requests always waiting: the server saturated),
   for the record.
5. **Peak memory**: the server's ru_maxrss, read when it has stopped.

After the server stops, the run index's change check is timed in this
process: a whole check (every run.json stat-ed, as at start and every 5
minutes) and the check a queue page makes when nothing changed.

Goals (issue 27): queue and run pages under 20 ms server CPU each; p90 under
300 ms for queue, run and controls pages with 20 reviewers. Figures are quoted
in docs/review.md ("Scale") and README ("Speed").

Usage: python benchmarks/bench_web.py [--runs 2000] [--reviewers 20] [--rounds 5]
       [--repeat 30] [--think 1.0] [--db URL] [--keep DIR]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fixtures" / "example"
PASSWORD = "a long benchmark password"
IL6ASSAY = str(Path(sys.executable).parent / "il6assay")
PAGES = ("queue", "run", "controls")


def real_runs(out: Path) -> list[Path]:
    """Four real run folders of the example plates, processed by il6assay."""
    from il6assay.record.outputs import write_run
    from il6assay.run import process_plate
    from il6assay.settings import Settings

    plate1 = (EXAMPLE / "plate_001.xlsx", EXAMPLE / "plate_001.samples.csv")
    recipes = [
        ("default", *plate1, EXAMPLE / "plate_001.layout.toml", Settings()),
        ("w1y", *plate1, EXAMPLE / "plate_001.layout.toml", replace(Settings(), weighting="1/y")),
        ("lot", *plate1, ROOT / "plate_layouts" / "example_lab_layout.toml", Settings()),
        (
            "rejected",
            EXAMPLE / "plate_002_rejected.csv",
            EXAMPLE / "plate_002_rejected.samples.csv",
            EXAMPLE / "plate_002_rejected.layout.toml",
            Settings(),
        ),
    ]
    folders = []
    for name, export, sheet, layout, settings in recipes:
        run = process_plate(export, layout, sheet, settings)
        run.processed_by = "tech"
        folders.append(write_run(run, out / name))
    return folders


def build_study(work: Path, n: int, db: str) -> tuple[Path, list[str], float]:
    """N run folders (hard-linked copies of four real runs), their QC figures recorded, and
    the study database with a reviewer account; returns the runs folder, run ids, CPU s."""
    from il6assay.db.engine import make_engine, upgrade
    from il6assay.study.qc import from_folder
    from il6assay.study.store import record_qc
    from il6assay.web.accounts import add_account

    t0 = time.process_time()
    sources = real_runs(work / "sources")
    runs = work / "runs"
    runs.mkdir()
    for js in (work / "sources" / "default").glob("plotly-*.min.js"):
        shutil.copyfile(js, runs / js.name)
    engine = make_engine(db)
    upgrade(engine)
    add_account(engine, "rev", "Re Viewer", "reviewer", PASSWORD, by="bench set-up")
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    ids, qcs = [], []
    figures = [from_folder(s) for s in sources]
    for i in range(n):
        src = sources[i % len(sources)]
        run_id = f"{src.name}-{i:05d}"
        shutil.copytree(src, runs / run_id, copy_function=os.link)
        moment = (start + timedelta(minutes=i)).isoformat()
        qcs.append(replace(figures[i % len(sources)], run_id=run_id, run_time=moment))
        ids.append(run_id)
    record_qc(engine, qcs, by="bench set-up")
    engine.dispose()
    return runs, ids, time.process_time() - t0


def change_checks(db: str, runs: Path) -> tuple[float, float]:
    """CPU ms of the run index's whole check (every run.json stat-ed: every 5 minutes) and of
    the check a queue page makes when nothing changed, in this process."""
    from il6assay.db import run_index
    from il6assay.db.engine import make_engine

    engine = make_engine(db, must_exist=True)
    roots = [runs.resolve()]
    run_index.refresh(engine, roots)  # the rows the server wrote, read into this process
    t0 = time.process_time()
    run_index.refresh(engine, roots)
    full = time.process_time() - t0
    t0 = time.process_time()
    for _ in range(100):
        run_index.refresh(engine, roots, at_most_every=run_index.FULL_CHECK_S)
    quick = (time.process_time() - t0) / 100
    run_index.forget(engine)
    engine.dispose()
    return full * 1000, quick * 1000


class Reviewer:
    """A browser-like client: its own cookies, signed in once."""

    def __init__(self, base: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=300) as resp:
                return resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def sign_in(self) -> None:
        _, page = self.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]*)"', page).group(1)
        status, _ = self.get("/login", {"csrf": csrf, "username": "rev", "password": PASSWORD})
        assert status == 200, f"sign-in failed: {status}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_cpu(pid: int) -> float:
    """The server process's CPU seconds so far (user + system, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def paths(page: str, ids: list[str], rng: random.Random) -> str:
    """The address of ``page`` (a run's page: a random run)."""
    return {"queue": "/queue", "controls": "/controls"}.get(page) or f"/runs/{rng.choice(ids)}"


def cpu_per_request(
    base: str, pid: int, ids: list[str], repeat: int, sizes: dict[str, int]
) -> dict[str, float]:
    """Server CPU ms per request of each page, one reviewer asking in turn (``sizes``: each
    page's size in bytes, filled in)."""
    rng = random.Random(1)
    who = Reviewer(base)
    who.sign_in()
    for page in PAGES:  # warm: templates compiled, caches filled
        status, body = who.get(paths(page, ids, rng))
        assert status == 200, page
        sizes[page] = len(body.encode())
    used = {}
    for page in PAGES:
        before = server_cpu(pid)
        for _ in range(repeat):
            status, _ = who.get(paths(page, ids, rng))
            assert status == 200, (page, status)
        used[page] = (server_cpu(pid) - before) / repeat * 1000
    return used


def concurrent(
    base: str, ids: list[str], reviewers: int, rounds: int, think: float
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each page's latencies (ms) with ``reviewers`` asking at once, each pausing a random
    0.5-1.5 x ``think`` seconds after each answer (reading it; 0: no pause); then the same of
    the first round alone (every reviewer asking for the queue at the same instant)."""
    people = [Reviewer(base) for _ in range(reviewers)]
    for p in people:
        p.sign_in()
    times: dict[str, list[float]] = {page: [] for page in PAGES}
    first: dict[str, list[float]] = {page: [] for page in PAGES}
    failures: list[str] = []
    barrier = threading.Barrier(reviewers)

    def walk(i: int) -> None:
        rng = random.Random(i)
        barrier.wait()
        for round_ in range(rounds):
            for page in PAGES:
                t0 = time.perf_counter()
                status, _ = people[i].get(paths(page, ids, rng))
                times[page].append((time.perf_counter() - t0) * 1000)
                if round_ == 0:
                    first[page].append(times[page][-1])
                if status != 200:
                    failures.append(f"{page}: {status}")
                time.sleep(think * rng.uniform(0.5, 1.5))

    threads = [threading.Thread(target=walk, args=(i,)) for i in range(reviewers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:5]
    return times, first


def p90(values: list[float]) -> float:
    """The 90th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 9 // 10) - 1)]


def main() -> int:
    """Build the study, serve it, measure; exit 1 when a goal is missed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--reviewers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--think", type=float, default=1.0, help="mean s a reviewer reads a page")
    ap.add_argument("--db", default=None, help="study database URL (default: a SQLite file)")
    ap.add_argument("--keep", type=Path, default=None, help="build in DIR and keep it")
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="il6assay-bench-web-"))
    work.mkdir(parents=True, exist_ok=True)
    db = a.db or str(work / "study.db")
    try:
        runs, ids, build_cpu = build_study(work, a.runs, db)
        print(f"{a.runs} runs built and their QC recorded: {build_cpu:.1f} s CPU")
        port = _free_port()
        server = subprocess.Popen(
            [IL6ASSAY, "serve", "--db", db, "--runs", str(runs), "--port", str(port)],
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                with urllib.request.urlopen(base + "/favicon.ico", timeout=5):
                    break
            except OSError:
                time.sleep(0.1)
        start_cpu = server_cpu(server.pid)
        print(f"server started, {a.runs} runs indexed: {start_cpu:.2f} s CPU (imports included)")
        sizes: dict[str, int] = {}
        cpu = cpu_per_request(base, server.pid, ids, a.repeat, sizes)
        times, burst = concurrent(base, ids, a.reviewers, a.rounds, a.think)
        rush, _ = concurrent(base, ids, a.reviewers, a.rounds, 0.0)
        hwm = re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{server.pid}/status").read_text())
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        full, quick = change_checks(db, runs)
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nserver CPU per request (one reviewer, {a.repeat} requests each):")
    for page in PAGES:
        print(f"  {page:9s} {cpu[page]:6.1f} ms   ({sizes[page] / 1024:.0f} KB a page)")
    for title, found in (
        (f"each reading a page for {a.think:g} s on average", times),
        ("no pause between pages: the server saturated", rush),
    ):
        print(f"\n{a.reviewers} reviewers at once, {title}, {a.rounds} rounds (latency, ms):")
        print(f"  {'page':9s} {'n':>4s} {'p50':>7s} {'p90':>7s} {'max':>7s}")
        for page in PAGES:
            v = found[page]
            p50, top = statistics.median(v), max(v)
            print(f"  {page:9s} {len(v):4d} {p50:7.0f} {p90(v):7.0f} {top:7.0f}")
        if found is times:  # the first round: all reviewers ask for the queue at once
            print(f"  of which the first round (all {a.reviewers} start at the same instant):")
            for page in PAGES:
                v = burst[page]
                p50, top = statistics.median(v), max(v)
                print(f"  {page:9s} {len(v):4d} {p50:7.0f} {p90(v):7.0f} {top:7.0f}")
    vm = f" (VmHWM {int(hwm.group(1)) / 1024:.0f} MB)" if hwm else ""
    print(f"\nserver peak memory (ru_maxrss): {peak_mb:.0f} MB{vm}")
    print(f"the queue's change check: {full:.1f} ms CPU whole, {quick:.3f} ms nothing changed")
    met = cpu["queue"] < 20 and cpu["run"] < 20 and all(p90(times[p]) < 300 for p in PAGES)
    print("goals (queue, run < 20 ms CPU; p90 < 300 ms):", "met" if met else "NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
