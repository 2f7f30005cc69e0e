"""What the review app serves and to whom, over real HTTP against a real server.

Sign-in survives the requests a browser makes by itself (favicon, assets,
prefetches); only files il6assay wrote are served, after their hashes check,
never through a symbolic link; a changed shared plotly.js is reported by
``il6assay status`` and never served; every response has a Content-Security-
Policy; a password change or a disable ends every session of the account;
a sign-in flood from one address leaves other people's pages quick; unknown,
disabled and wrong-password sign-ins do the same work; the study database
going away gives a page naming the cause, and the pages come back with it.
Database tests run on SQLite and a real PostgreSQL.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from il6assay.cli import main
from il6assay.db.engine import make_engine, upgrade
from il6assay.db.models import DbAudit
from il6assay.errors import InputError
from il6assay.record.report import plotly_js_name, plotly_js_source
from il6assay.web.accounts import authenticate, prepare_checks, set_active
from il6assay.web.limits import LoginLimits
from tests import pg
from tests.web_support import (
    PASSWORD,
    Client,
    accounts_engine,
    add_people,
    field,
    processed,
    results_folder,
    run_folder,
    serving,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    """A study database with the lab's accounts, on either backend."""
    return accounts_engine(request, tmp_path)


def db_url(engine) -> str:
    return engine.url.render_as_string(hide_password=False).replace("sqlite:///", "")


def frame_src(page: str) -> str:
    found = re.search(r'<iframe src="([^"]+)" id="report"[^>]*sandbox="allow-scripts"', page)
    assert found, "no sandboxed report frame"
    return found.group(1)


def test_sign_in_survives_the_favicon_an_asset_and_a_prefetch_before_the_post(engine, tmp_path):
    with serving(engine, [results_folder(tmp_path, "by_tech")]) as url:
        person = Client(url)
        form = person.get("/login")
        token = field(form.text, "csrf")
        icon = person.get("/favicon.ico")
        assert icon.status == 200 and icon.headers["Content-Type"].startswith("image/")
        assert "Set-Cookie" not in icon.headers
        for path in ("/static/style.css", "/apple-touch-icon.png", "/queue", "/login"):
            reply = person.get(path)
            assert "il6assay_login" not in (reply.headers.get("Set-Cookie") or "")
        assert person.get("/apple-touch-icon.png").status == 404
        signed = person.post("/login", {"csrf": token, "username": "lin", "password": PASSWORD})
        assert signed.status == 200 and signed.url.endswith("/queue")
        # A forged login cookie is replaced by GET /login, and only then.
        stranger = Client(url)
        stranger.get("/login")
        for c in stranger.jar:
            c.value = "forged.0000"
        again = stranger.get("/login")
        assert "il6assay_login" in again.headers["Set-Cookie"]


def test_every_response_carries_a_content_security_policy_and_the_report_is_sandboxed(
    engine, tmp_path
):
    with serving(engine, [results_folder(tmp_path, "by_tech")]) as url:
        lin = Client(url)
        lin.login("lin")
        page = lin.get(f"/runs/{processed('by_tech').name}")
        src = frame_src(page.text)
        for path in ("/login", "/queue", f"/runs/{processed('by_tech').name}", "/nothing",
                     "/favicon.ico", "/static/style.css", "/controls", src):  # fmt: skip
            policy = lin.get(path).headers["Content-Security-Policy"]
            assert "default-src" in policy and "frame-ancestors 'self'" in policy, path
        assert "script-src 'self';" in page.headers["Content-Security-Policy"]
        frame = lin.get(src)
        assert frame.status == 200 and "<html" in frame.text
        assert frame.headers["Content-Security-Policy"].startswith("sandbox allow-scripts;")
        assert "connect-src 'none'" in frame.headers["Content-Security-Policy"]
        # The frame's address lives as long as the session it was made for.
        lin.post("/logout", {"csrf": field(page.text, "csrf")})
        assert Client(url).get(src).status == 404


@pytest.mark.parametrize("target", ["../../study.db", "../../copy-of-review.js"])
def test_a_symbolic_link_in_a_run_folder_is_never_served(engine, tmp_path, target):
    results = results_folder(tmp_path, "by_tech")
    folder = run_folder(results, "by_tech")
    if not (tmp_path / "study.db").exists():  # on SQLite it is the study database itself
        (tmp_path / "study.db").write_bytes(b"SQLite format 3\x00 the study's data")
    (tmp_path / "copy-of-review.js").write_bytes((folder / "review.js").read_bytes())
    with serving(engine, [results]) as url:
        lin = Client(url)
        lin.login("lin")
        src = frame_src(lin.get(f"/runs/{folder.name}").text)
        js = src.replace("report.html", "review.js")
        assert lin.get(js).status == 200
        (folder / "review.js").unlink()
        (folder / "review.js").symlink_to(target)
        reply = lin.get(js)
        assert reply.status == 409 and "SQLite" not in reply.text
        assert "not served" in reply.text
        if target.endswith("copy-of-review.js"):  # the same bytes: refused for being a link
            assert "symbolic link" in reply.text
    # A run folder that is itself a link is not in the queue either.
    (results / "linked-run").symlink_to(folder)
    with serving(engine, [results]) as url:
        lin = Client(url)
        lin.login("lin")
        assert "linked-run" not in lin.get("/queue?review=all").text
        assert lin.get("/runs/linked-run").status == 404


def test_a_changed_shared_plotly_js_is_reported_by_status_and_never_served(engine, tmp_path):
    results = results_folder(tmp_path, "by_tech")
    folder = run_folder(results, "by_tech")
    shared = results / plotly_js_name()
    status = CliRunner().invoke(main, ["status", str(folder)])
    assert status.exit_code == 0, status.output
    with shared.open("a", encoding="utf-8") as fh:
        fh.write("\nfetch('/queue').then(r => r.text()).then(t => top.stolen = t);\n")
    status = CliRunner().invoke(main, ["status", str(folder)])
    assert status.exit_code == 1
    assert "is not plotly's own copy" in status.output
    with serving(engine, [results]) as url:
        lin = Client(url)
        lin.login("lin")
        page = lin.get(f"/runs/{folder.name}").text
        assert "not plotly&#39;s own copy" in page
        src = frame_src(page)
        served = lin.get(src.rsplit("/", 2)[0] + "/" + plotly_js_name())
        assert served.status == 200 and "top.stolen" not in served.text
        assert served.text == plotly_js_source()


def test_a_password_change_or_a_disable_ends_every_session_of_the_account(engine, tmp_path):
    with serving(engine, [results_folder(tmp_path, "by_tech")]) as url:
        office, lab_pc, chen = Client(url), Client(url), Client(url)
        for client, who in ((office, "lin"), (lab_pc, "lin"), (chen, "chen")):
            client.login(who)
            assert client.get("/queue").url.endswith("/queue")
        new = "a brand new passphrase"
        done = CliRunner().invoke(
            main,
            ["users", "password", "lin", "--password-env", "NEW_PW", "--db", db_url(engine)],
            env={"NEW_PW": new},
        )
        assert done.exit_code == 0, done.output
        assert office.get("/queue").url.endswith("/login")
        assert lab_pc.get("/queue").url.endswith("/login")
        assert chen.get("/queue").url.endswith("/queue")  # another account: untouched
        assert office.login("lin", new).url.endswith("/queue")
        set_active(engine, "chen", False, by="Admin Xu", reason="left the lab")
        assert chen.get("/queue").url.endswith("/login")


@pytest.mark.real_argon2  # the hash's cost is the subject
def test_unknown_disabled_and_wrong_password_sign_ins_do_the_same_work(engine):
    set_active(engine, "chen", False, by="Admin Xu", reason="left the lab")
    prepare_checks()
    cases = {"unknown": ("nobody", PASSWORD), "disabled": ("chen", PASSWORD),
             "wrong": ("lin", "not the password")}  # fmt: skip
    spent: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(4):  # interleaved: the machine's load falls on every case alike
        for case, (username, password) in cases.items():
            start = time.process_time()
            with pytest.raises(InputError, match="not accepted"):
                authenticate(engine, username, password)
            spent[case].append(time.process_time() - start)
    # Four failures in a row would lock lin next: the lockout is its own, stated refusal.
    medians = {k: statistics.median(v) for k, v in spent.items()}
    # One argon2id verification each (tens of ms of CPU): a 10x gap would show as >= 5x.
    assert max(medians.values()) < 2 * min(medians.values()), medians
    assert min(medians.values()) > 0.005, medians  # the hash really ran for every case


FLOOD = """
import re, signal, sys, threading, urllib.error, urllib.parse, urllib.request, http.cookiejar
url, names = sys.argv[1], sys.argv[2:]
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
page = opener.open(url + "/login").read().decode()
token = re.search('name="csrf" value="([^"]*)"', page).group(1)
stop = threading.Event()
def flood(name):
    data = urllib.parse.urlencode({"csrf": token, "username": name, "password": "guess"}).encode()
    while not stop.is_set():
        try:
            opener.open(url + "/login", data=data).read()
            print(200, flush=True)
        except urllib.error.HTTPError as err:
            print(err.code, flush=True)
threads = [threading.Thread(target=flood, args=(n,)) for n in names]
signal.signal(signal.SIGTERM, lambda *a: stop.set())
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


@pytest.mark.real_argon2  # the hash's cost is the subject
def test_a_sign_in_flood_from_one_address_leaves_a_signed_in_reviewers_page_quick(engine, tmp_path):
    limits = LoginLimits(per_address=4)  # the flood reaches its steady state within seconds
    with serving(engine, [results_folder(tmp_path, "by_tech")], login_limits=limits) as url:
        reviewer = Client(url)
        reviewer.login("chen")

        def page_time() -> float:
            start = time.perf_counter()
            assert reviewer.get("/queue").url.endswith("/queue")
            return time.perf_counter() - start

        for _ in range(2):
            page_time()
        quiet = statistics.median(page_time() for _ in range(9))
        # The flood comes from another program (its own process), as an attacker's would.
        flood = subprocess.Popen(
            [sys.executable, "-c", FLOOD, url, "lin", "nobody"],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            answers = []
            while "429" not in answers:  # until the limit answers for the address
                answers.append(flood.stdout.readline().strip())
                assert answers[-1], "the flood stopped"
            flooded = statistics.median(page_time() for _ in range(9))
        finally:
            flood.terminate()
            answers += flood.communicate(timeout=30)[0].split()
    assert set(answers) <= {"401", "429"} and answers.count("401") == 4, answers
    assert flooded < 2 * quiet, (quiet, flooded, len(answers))


def test_sign_ins_are_limited_per_address_and_per_account_before_any_password_check(
    engine, tmp_path
):
    limits = LoginLimits(per_address=4, per_account=2)
    with serving(engine, [results_folder(tmp_path, "by_tech")], login_limits=limits) as url:
        guesser = Client(url)
        assert guesser.login("lin", "guess one").status == 401
        assert guesser.login("lin", "guess two").status == 401
        refused = guesser.login("lin", PASSWORD)  # the right one, too late: the account's limit
        assert refused.status == 429 and "for this account" in refused.text
        assert guesser.login("chen", "guess three").status == 401
        assert guesser.login("chen", "guess four").status == 401
        refused = guesser.login("dm", PASSWORD)  # the address's limit: any account
        assert refused.status == 429 and "from this address" in refused.text
    with Session(engine) as session:  # refused before the database: no failure recorded
        failed = session.scalars(select(DbAudit).where(DbAudit.action == "login-failed")).all()
    assert len(failed) == 4


def test_behind_the_https_proxy_sign_ins_are_limited_per_forwarded_address(engine, tmp_path):
    limits = LoginLimits(per_address=2, per_account=100)
    with serving(
        engine, [results_folder(tmp_path, "by_tech")], https=True, login_limits=limits
    ) as url:
        token = field(Client(url).get("/login").text, "csrf")

        def attempt(address: str) -> int:
            form = {"csrf": token, "username": "lin", "password": "a wrong guess"}
            headers = {"Cookie": f"il6assay_login={token}",
                       "X-Forwarded-For": f"198.51.100.7, {address}"}  # fmt: skip
            return Client(url).post("/login", form, headers=headers).status

        assert [attempt("203.0.113.1") for _ in range(3)] == [401, 401, 429]
        assert attempt("203.0.113.2") == 401, "another person behind the same proxy"


def _pg_ctl(server: pg.PgServer, *args: str) -> None:
    server._run(str(server.bin_dir / "pg_ctl"), "-D", str(server.data), "-w", "-t", "60", *args)


@pytest.mark.pg  # starts its own throwaway server (tests/pg.py)
@pytest.mark.skipif(pg.find_bin() is None, reason="PostgreSQL binaries not installed")
def test_postgresql_stopped_while_serving_gives_a_page_naming_the_cause_then_recovers(tmp_path):
    server = pg.PgServer(pg.find_bin())
    server.start()
    try:
        engine = make_engine(server.new_database())
        upgrade(engine)
        add_people(engine)
        with serving(engine, [results_folder(tmp_path, "by_tech")]) as url:
            lin = Client(url)
            lin.login("lin")
            assert lin.get("/queue").status == 200
            _pg_ctl(server, "-m", "fast", "stop")
            down = lin.get("/queue")
            assert down.status == 503
            assert "the study database cannot be reached" in down.text
            assert "Traceback" not in down.text and "connection" in down.text.lower()
            assert Client(url).get("/login").status == 200  # sign-in page still there
            options = f"-F -p {server.port} -c listen_addresses=127.0.0.1 -k {server.root}"
            _pg_ctl(server, "-l", str(server.root / "server.log"), "-o", options, "start")
            back = lin.get("/queue")
            assert back.status == 200 and back.url.endswith("/queue")  # the session lived on
    finally:
        engine.dispose()
        server.stop()
    assert os.path.isdir(tmp_path)
