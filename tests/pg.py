"""A throwaway PostgreSQL server for the database tests, started once per test session.

Started from the installed binaries (Debian: /usr/lib/postgresql/<version>/bin)
on 127.0.0.1 with a free port, trust authentication and a temporary data
folder; stopped and deleted when the session ends. PostgreSQL refuses to run
as root, so as root (CI) the data folder belongs to the ``postgres`` account
the Debian package creates and the binaries run through ``runuser``. Each test
gets a fresh database (``database_url``). When the binaries are absent the
PostgreSQL tests skip, saying so, unless IL6ASSAY_REQUIRE_PG=1 (CI sets it),
when they fail.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
REQUIRE_ENV = "IL6ASSAY_REQUIRE_PG"


def find_bin() -> Path | None:
    """The newest installed PostgreSQL bin folder holding initdb and pg_ctl (None if none)."""
    found = [
        Path(d)
        for d in glob.glob(PG_BIN_GLOB)
        if (Path(d) / "initdb").is_file() and (Path(d) / "pg_ctl").is_file()
    ]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_cpu(pid: int) -> tuple[float, list[int]]:
    """CPU seconds of process ``pid`` and its waited-for children (/proc stat), and its children."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0, []
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime (fields 14-17)
    return ticks / os.sysconf("SC_CLK_TCK"), [int(k) for k in kids]


_live: list[PgServer] = []
_stopped_cpu = 0.0  # CPU seconds of the servers already stopped


def servers_cpu() -> float:
    """CPU seconds of every throwaway server this session started (for tests/cpu_report.py)."""
    return _stopped_cpu + sum(s.cpu_seconds() for s in _live)


class PgServer:
    """One running throwaway server."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="il6assay-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.prefix: list[str] = []
        self.stopped = False
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")  # KeyError: no postgres account
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, *args],
            check=True,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )

    def start(self) -> None:
        """initdb, then pg_ctl start (waits until it accepts connections)."""
        from tests.running import require_marker

        require_marker("pg", "PostgreSQL")
        _live.append(self)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = f"-F -p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        """Stop the server and delete its files (once; later calls do nothing)."""
        global _stopped_cpu
        if self.stopped:
            return
        self.stopped = True
        if self in _live:
            _stopped_cpu += self.cpu_seconds()
            _live.remove(self)
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def cpu_seconds(self) -> float:
        """CPU seconds of the postmaster, its live backends and those that ended (0: not running).

        The server is a daemon, not a child of pytest, so getrusage never counts it.
        """
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        total, kids = _proc_cpu(pid)
        for kid in kids:
            total += _proc_cpu(kid)[0]
        return total

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for ``database`` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


_server: PgServer | None = None
_failure: str | None = None


def server(config: pytest.Config | None = None) -> PgServer:
    """The session's server, started on first use; skips (or fails in CI) when impossible.

    Stopped when the pytest session ends (``config``'s cleanup), or at exit at the latest.
    """
    global _server, _failure
    from tests.running import require_marker

    require_marker("pg", "PostgreSQL")
    if _server is None and _failure is None:
        bin_dir = find_bin()
        if bin_dir is None:
            _failure = (
                f"PostgreSQL binaries not found ({PG_BIN_GLOB}/initdb, pg_ctl): "
                "apt-get install postgresql (.ci/run does)"
            )
        else:
            try:
                candidate = PgServer(bin_dir)
                candidate.start()
            except (KeyError, OSError, subprocess.CalledProcessError) as err:
                detail = getattr(err, "stderr", "") or str(err)
                _failure = f"could not start a throwaway PostgreSQL: {detail.strip()[:300]}"
            else:
                _server = candidate
                atexit.register(candidate.stop)
                if config is not None:
                    config.add_cleanup(candidate.stop)
    if _server is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{_failure} ({REQUIRE_ENV}=1)")
        pytest.skip(_failure or "PostgreSQL unavailable")
    return _server


def database_url(request: pytest.FixtureRequest | None = None) -> str:
    """A fresh empty PostgreSQL database on the session's server."""
    return server(request.config if request is not None else None).new_database()


def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh study database URL on the test's backend (``request.param``): a SQLite
    file in ``tmp_path``, or a new empty database on the throwaway PostgreSQL server."""
    return str(tmp_path / "study.db") if request.param == "sqlite" else database_url(request)
