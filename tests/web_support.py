"""Helpers for the review app's tests: real run folders, accounts, a real server, an HTTP client.

Runs are the example plate processed for real (once per test session, then
copied per test); the server is waitress in a thread on a free 127.0.0.1
port, or (``lab_folder``, ``lab_server``) ``il6assay serve`` started as the
README tells a lab, from a working folder whose plates ``il6assay process``
wrote; the client speaks plain HTTP with its own cookie jar, as a browser does.
"""

from __future__ import annotations

import atexit
import csv
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE, LAYOUTS, STANDARD_LAYOUT

PASSWORD = "correct horse battery"
_made: dict[str, Path] = {}
_root: Path | None = None

# name -> (processed_by, weighting, zero standard): each a distinct, accepted run (its own id).
RECIPES = {
    "by_tech": ("tech", "1/(k^2+y^2)", "fit"),
    "by_lin": ("lin", "none", "fit"),
    "w_1y": ("tech", "1/y", "fit"),
    "w_1y2": ("tech", "1/y^2", "fit"),
    "subtract": ("tech", "1/(k^2+y^2)", "subtract"),
}
HOSTILE_LABEL = "<script>alert('label')</script>"
HOSTILE_STUDY_ID = "<img src=x onerror=alert('study')>"


def _tmp_root() -> Path:
    global _root
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="il6assay-webruns-"))
        atexit.register(shutil.rmtree, _root, True)
    return _root


def _hostile_inputs(folder: Path) -> tuple[Path, Path]:
    """A layout whose first sample label is a script and a sheet whose study ID is an <img>."""
    layout = folder / "hostile.layout.toml"
    layout.write_text(
        f'[meta]\ninclude = "{STANDARD_LAYOUT.as_posix()}"\n\n'
        f'[block.2x1]\nA4.sample = "{HOSTILE_LABEL}"\n',
        encoding="utf-8",
    )
    with (EXAMPLE / "plate_001.samples.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["sample"], rows[0]["study_id"] = HOSTILE_LABEL, HOSTILE_STUDY_ID
    sheet = folder / "hostile.samples.csv"
    with sheet.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return layout, sheet


def processed(name: str) -> Path:
    """The run folder ``name`` (RECIPES, or "hostile"), processed for real on first use."""
    if name in _made:
        return _made[name]
    from il6assay.record.outputs import write_run
    from il6assay.run import process_plate
    from il6assay.settings import Settings

    root = _tmp_root()
    layout, sheet = EXAMPLE / "plate_001.layout.toml", EXAMPLE / "plate_001.samples.csv"
    settings, by, export = Settings(), "tech", EXAMPLE / "plate_001.xlsx"
    if name == "hostile":
        layout, sheet = _hostile_inputs(root)
    elif name == "rejected":
        layout, sheet = (
            EXAMPLE / "plate_002_rejected.layout.toml",
            EXAMPLE / "plate_002_rejected.samples.csv",
        )
        export = EXAMPLE / "plate_002_rejected.csv"
    elif name == "lot_a1234":
        layout = LAYOUTS / "example_lab_layout.toml"
    else:
        by, weighting, zero = RECIPES[name]
        settings = replace(settings, weighting=weighting, zero_standard=zero)
    run = process_plate(export, layout, sheet, settings)
    run.processed_by = by
    _made[name] = write_run(run, root / name)
    return _made[name]


def results_folder(target: Path, *names: str) -> Path:
    """A results folder under ``target`` holding private copies of the named runs."""
    out = target / "results"
    out.mkdir()
    for name in names:
        src = processed(name)
        shutil.copytree(src, out / src.name)
        for extra in src.parent.glob("plotly-*.min.js"):
            if not (out / extra.name).exists():
                shutil.copyfile(extra, out / extra.name)
    return out


def run_folder(results: Path, name: str) -> Path:
    """The copy of run ``name`` inside a results folder."""
    return results / processed(name).name


def add_people(engine: Any, *extra: tuple[str, str, str]) -> None:
    """The lab's accounts: a technician, two reviewers, a data manager, an admin (and extra)."""
    from il6assay.web.accounts import add_account

    people = [
        ("tech", "Tang Hui", "technician"),
        ("lin", "Lin Wei", "reviewer"),
        ("chen", "Chen Yu", "reviewer"),
        ("dm", "Zhao Min", "data-manager"),
        ("admin", "Admin Xu", "admin"),
        *extra,
    ]
    for username, name, role in people:
        add_account(engine, username, name, role, PASSWORD, by="test set-up")


@contextmanager
def serving(
    engine: Any,
    roots: list[Path],
    *,
    idle: timedelta | None = None,
    https: bool = False,
    **options: Any,
) -> Iterator[str]:
    """The review app on a real waitress server in a thread; yields its base URL."""
    from il6assay.web.app import create_app
    from il6assay.web.server import start_in_thread

    kwargs: dict[str, Any] = {"https": https, **options}
    if idle is not None:
        kwargs["idle_timeout"] = idle
    app = create_app(engine, roots, **kwargs)
    server = start_in_thread(app, https=https)
    try:
        yield server.url
    finally:
        server.stop()


@dataclass
class Reply:
    """One HTTP response."""

    status: int
    text: str
    headers: Any
    url: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Client:
    """A browser-like HTTP client: its own cookies; hidden form fields read from the page."""

    def __init__(self, base: str, *, follow: bool = True) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        handlers: list[Any] = [urllib.request.HTTPCookieProcessor(self.jar)]
        if not follow:
            handlers.append(_NoRedirect())
        self.opener = urllib.request.build_opener(*handlers)

    def request(
        self, path: str, data: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=120) as resp:
                return Reply(
                    resp.status, resp.read().decode(errors="replace"), resp.headers, resp.url
                )
        except urllib.error.HTTPError as err:
            return Reply(err.code, err.read().decode(errors="replace"), err.headers, err.url)

    def get(self, path: str) -> Reply:
        return self.request(path)

    def post(self, path: str, data: dict[str, Any], **kw: Any) -> Reply:
        return self.request(path, data, **kw)

    def login(self, username: str, password: str = PASSWORD) -> Reply:
        page = self.get("/login")
        return self.post(
            "/login", {"csrf": field(page.text, "csrf"), "username": username, "password": password}
        )


def field(html: str, name: str, form_id: str | None = None) -> str:
    """The value of the hidden input ``name`` (in form ``form_id`` if given)."""
    if form_id is not None:
        found = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S)
        assert found, f"no form {form_id}"
        html = found.group(0)
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no field {name}"
    return match.group(1)


def sign_form(page: str) -> dict[str, str]:
    """The hidden fields of a run page's signature form."""
    return {k: field(page, k, "sign") for k in ("csrf", "version", "content")}


def accounts_copy(request: Any, target: Path, *people: tuple[str, str, str]) -> str:
    """A private copy at ``target`` of a SQLite study database made by db upgrade once per
    session, holding the lab's accounts and ``people`` hashed as the test hashes them (its
    ``real_argon2`` marker or not); tests/db_support.py's made_study_db."""
    from tests.db_support import made_study_db

    real = request.node.get_closest_marker("real_argon2") is not None
    name = f"accounts real_argon2={real} {people!r}"
    return made_study_db(target, name, lambda engine: add_people(engine, *people))


def accounts_engine(request: Any, tmp_path: Path, *people: tuple[str, str, str]) -> Any:
    """A study database (made by db upgrade) holding the lab's accounts and ``people``, on
    the test's backend (``request.param``: sqlite or postgresql; on SQLite accounts_copy)."""
    from il6assay.db.engine import make_engine, upgrade
    from tests import pg

    url = pg.backend_url(request, tmp_path)
    if request.param == "sqlite":
        return make_engine(accounts_copy(request, Path(url), *people))
    engine = make_engine(url)
    upgrade(engine)
    add_people(engine, *people)
    return engine


IL6ASSAY = str(Path(sys.executable).parent / "il6assay")  # the command a lab types


def il6assay(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``il6assay ARGS`` in ``cwd`` as a person does; its stdout (fails on a non-zero exit)."""
    done = subprocess.run(
        [IL6ASSAY, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode in (0, 3), f"il6assay {' '.join(args)}: {done.stderr}"
    return done.stdout


def lab_folder(work: Path, db: str) -> dict[str, str]:
    """A lab's working folder as the README sets it up: a study database with accounts, and
    plates processed there by ``il6assay process`` into ./il6assay-results; one of them
    reviewed and pushed on the command line (so the study pages have data). Run ids by role:
    ``walk`` (processed by tech, awaiting review), ``pushed``, ``rejected``."""
    work.mkdir(parents=True, exist_ok=True)
    il6assay(work, "db", "upgrade", "--db", db)
    secret = {"IL6_PW": PASSWORD}
    for username, name, role in (
        ("lin", "Lin Wei", "reviewer"),
        ("chen", "Chen Yu", "reviewer"),
        ("tech", "Tang Hui", "technician"),
    ):
        il6assay(
            work, "users", "add", username, "--role", role, "--name", name,
            "--password-env", "IL6_PW", "--db", db, env=secret,
        )  # fmt: skip
    ids = {}
    for key, export, extra in (
        ("walk", EXAMPLE / "plate_001.xlsx", []),
        ("pushed", EXAMPLE / "plate_001.xlsx", ["--weighting", "none"]),
        ("rejected", EXAMPLE / "plate_002_rejected.csv", []),
    ):
        out = il6assay(work, "process", str(export), "--by", "tech", "--json", *extra)
        ids[key] = Path(json.loads(out)["run_dir"]).name
    pushed = f"il6assay-results/{ids['pushed']}"
    # With review accounts in the study database, an accept counts only signed by an account.
    il6assay(
        work, "review", pushed, "--accept", "--by", "chen", "--reason", "checked",
        "--db", db, "--password-env", "IL6_PW", env=secret,
    )  # fmt: skip
    il6assay(work, "push", pushed, "--by", "Chen Yu", "--db", db)
    return ids


def free_port() -> int:
    """A TCP port free on 127.0.0.1 just now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def lab_server(work: Path, db: str, *args: str) -> Iterator[str]:
    """``il6assay serve --db DB`` started in ``work`` as the README tells a lab (the default
    runs folder, ./il6assay-results); yields its URL, stops it (Ctrl-C) at the end."""
    port = free_port()
    proc = subprocess.Popen(
        [IL6ASSAY, "serve", "--db", db, "--port", str(port), *args],
        cwd=work,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise AssertionError(f"il6assay serve stopped: {proc.stderr.read()}")
            try:
                with urllib.request.urlopen(base + "/favicon.ico", timeout=5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("il6assay serve did not answer within 30 s")
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
