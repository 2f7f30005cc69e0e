"""The review app's defences, over real HTTP against a real server (waitress on 127.0.0.1).

Each is refused or escaped: a POST without (or with a wrong) CSRF token, a
cross-site Origin, a wrong password (at login and at signing), repeated
failures (lockout), a role without the right, an expired or signed-out
session, a disabled account; sample labels and study IDs carrying
``<script>`` or ``<img onerror>``. Cookies are HttpOnly, SameSite=Strict and
Secure over https; no password or session token reaches a URL, a log or the
database. Every test runs on SQLite and a real PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from il6assay.db.models import DbAudit, DbSignature
from tests.db_support import snapshot
from tests.web_support import (
    HOSTILE_LABEL,
    HOSTILE_STUDY_ID,
    PASSWORD,
    Client,
    accounts_engine,
    field,
    processed,
    results_folder,
    run_folder,
    serving,
    sign_form,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    """A study database with the lab's accounts, on either backend."""
    return accounts_engine(request, tmp_path)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return results_folder(tmp_path, "by_tech", "hostile")


def run_id() -> str:
    return processed("by_tech").name


def n_signatures(engine) -> int:
    with Session(engine) as session:
        return len(session.scalars(select(DbSignature)).all())


def review_status(results: Path) -> str:
    record = json.loads((run_folder(results, "by_tech") / "run.json").read_text())
    return record["review"]["status"]


def accept(client: Client, page: str, **override: str) -> dict[str, str]:
    form = sign_form(page)
    form.update(decision="accept", reason="curve and controls checked", password=PASSWORD)
    form.update(override)
    return form


def test_post_without_csrf_token_or_with_a_wrong_one_is_refused(engine, results):
    with serving(engine, [results]) as url:
        lin = Client(url)
        lin.login("lin")
        page = lin.get(f"/runs/{run_id()}").text
        missing = accept(lin, page)
        del missing["csrf"]
        assert lin.post(f"/runs/{run_id()}/sign", missing).status == 403
        wrong = accept(lin, page, csrf="x" * 43)
        reply = lin.post(f"/runs/{run_id()}/sign", wrong)
        assert reply.status == 403 and "security token" in reply.text
        # The mask preview and sign-out are state changes too.
        assert lin.post(f"/runs/{run_id()}/mask/preview", {"well": "A4"}).status == 403
        assert lin.post("/logout", {}).status == 403
    assert review_status(results) == "unreviewed" and n_signatures(engine) == 0


def test_login_without_its_form_token_and_a_cross_site_origin_are_refused(engine, results):
    with serving(engine, [results]) as url:
        stranger = Client(url)
        reply = stranger.post("/login", {"username": "lin", "password": PASSWORD})
        assert reply.status == 403
        lin = Client(url)
        lin.login("lin")
        page = lin.get(f"/runs/{run_id()}").text
        reply = lin.post(
            f"/runs/{run_id()}/sign", accept(lin, page), headers={"Origin": "http://evil.example"}
        )
        assert reply.status == 403 and "cross-site" in reply.text
    assert n_signatures(engine) == 0


def test_wrong_password_at_login_and_at_signing_is_refused_and_recorded(engine, results):
    with serving(engine, [results]) as url:
        lin = Client(url)
        reply = lin.login("lin", "not the password")
        assert reply.status == 401 and "not accepted" in reply.text
        assert lin.get("/queue").url.endswith("/login")
        lin.login("lin")
        page = lin.get(f"/runs/{run_id()}").text
        reply = lin.post(f"/runs/{run_id()}/sign", accept(lin, page, password="wrong password"))
        assert reply.status == 409 and "signature refused" in reply.text
    assert review_status(results) == "unreviewed" and n_signatures(engine) == 0
    with Session(engine) as session:
        actions = [a.action for a in session.scalars(select(DbAudit)).all()]
    assert "login-failed" in actions and "signature-failed" in actions


def test_repeated_wrong_passwords_lock_the_account_until_an_admin_resets_it(engine, results):
    from il6assay.web.accounts import list_accounts, set_password

    with serving(engine, [results]) as url:
        for _ in range(5):
            assert Client(url).login("chen", "guessing again").status == 401
        locked = Client(url).login("chen")  # the right password, too late
        assert locked.status == 401 and "locked" in locked.text
        assert {r["username"]: r["locked"] for r in list_accounts(engine)}["chen"] is True
        set_password(engine, "chen", "a new long password", by="admin")
        assert Client(url).login("chen", "a new long password").url.endswith("/queue")


def test_a_role_without_the_right_is_refused(engine, results):
    with serving(engine, [results]) as url:
        tech = Client(url)
        tech.login("tech")
        page = tech.get(f"/runs/{run_id()}").text
        assert 'id="sign"' not in page  # no signature form for a technician
        form = {k: field(page, k) for k in ("csrf",)}
        form.update(version="0", content="", decision="accept", reason="r", password=PASSWORD)
        reply = tech.post(f"/runs/{run_id()}/sign", form)
        assert reply.status == 403 and "technician" in reply.text
        dm = Client(url)
        dm.login("dm")
        page = dm.get(f"/runs/{run_id()}?well=A4").text
        assert 'id="mask"' not in page
        form = {"csrf": field(page, "csrf"), "well": "A4", "version": "0", "content": ""}
        reply = dm.post(f"/runs/{run_id()}/mask/preview", form)
        assert reply.status == 403 and "data-manager" in reply.text
    assert review_status(results) == "unreviewed" and n_signatures(engine) == 0


def test_an_idle_session_expires_and_a_signed_out_one_is_dead(engine, results):
    with serving(engine, [results], idle=timedelta(seconds=1)) as url:
        lin = Client(url)
        lin.login("lin")
        page = lin.get(f"/runs/{run_id()}").text
        time.sleep(1.6)
        assert lin.get("/queue").url.endswith("/login")
        reply = lin.post(f"/runs/{run_id()}/sign", accept(lin, page))
        assert reply.status == 401
    with serving(engine, [results]) as url:
        chen = Client(url)
        chen.login("chen")
        page = chen.get(f"/runs/{run_id()}").text
        stolen = next(c.value for c in chen.jar if c.name == "il6assay_session")
        chen.post("/logout", {"csrf": field(page, "csrf")})
        replay = Client(url)
        replay.request("/queue", headers={"Cookie": f"il6assay_session={stolen}"})
        reply = replay.request(
            f"/runs/{run_id()}/sign",
            accept(chen, page),
            headers={"Cookie": f"il6assay_session={stolen}"},
        )
        assert reply.status == 401
    assert n_signatures(engine) == 0


def test_a_disabled_account_is_signed_out_and_cannot_sign_in(engine, results):
    from il6assay.web.accounts import set_active

    with serving(engine, [results]) as url:
        lin = Client(url)
        lin.login("lin")
        assert lin.get("/queue").status == 200
        set_active(engine, "lin", False, by="admin", reason="left the lab")
        assert lin.get("/queue").url.endswith("/login")
        assert Client(url).login("lin").status == 401


def test_script_and_img_onerror_in_labels_study_ids_and_reasons_are_escaped(engine, results):
    hostile_run = processed("hostile").name
    reason = "<img src=x onerror=alert('reason')>"
    with serving(engine, [results]) as url:
        lin = Client(url)
        lin.login("lin")
        page = lin.get(f"/runs/{hostile_run}?well=A4").text
        assert HOSTILE_LABEL not in page and "&lt;script&gt;alert(" in page
        form = {k: field(page, k, "mask") for k in ("csrf", "version", "content", "well", "action")}
        preview = lin.post(f"/runs/{hostile_run}/mask/preview", dict(form, reason=reason)).text
        assert reason not in preview and "&lt;img src=x onerror" in preview
        assert HOSTILE_LABEL not in preview
        kept = lin.post(
            f"/runs/{hostile_run}/mask/commit",
            {
                "csrf": field(preview, "csrf"),
                "preview": field(preview, "preview"),
                "reason": reason,
                "confirm": "keep",
            },
        )
        assert kept.status == 200
        history = lin.get(f"/runs/{hostile_run}/history")
        assert reason not in history.text and "&lt;img src=x onerror" in history.text
        report = lin.get(f"/runs/{hostile_run}/r/report.html").text
        assert HOSTILE_LABEL not in report and HOSTILE_STUDY_ID not in report
        # The app's pages allow no inline script at all, whatever slipped through.
        assert "script-src 'self';" in history.headers["Content-Security-Policy"]


def test_session_cookie_is_httponly_samesite_strict_and_secure_over_https(engine, results):
    for https in (False, True):
        with serving(engine, [results], https=https) as url:
            client = Client(url, follow=False)
            page = client.get("/login")
            login_cookie = page.headers.get_all("Set-Cookie")[0]
            assert ("Secure" in login_cookie) is https
            reply = client.post(
                "/login",
                {"csrf": field(page.text, "csrf"), "username": "lin", "password": PASSWORD},
                # A Secure cookie is not sent back over the test's plain http: send it by hand.
                headers={"Cookie": login_cookie.split(";")[0]},
            )
            assert reply.status == 302
            cookies = [c for c in reply.headers.get_all("Set-Cookie") if "il6assay_session" in c]
            assert cookies and "HttpOnly" in cookies[0] and "SameSite=Strict" in cookies[0]
            assert ("Secure" in cookies[0]) is https


def test_no_password_or_session_token_reaches_a_url_a_log_or_the_database(engine, results, caplog):
    caplog.set_level(logging.DEBUG)
    with serving(engine, [results]) as url:
        lin = Client(url)
        reply = lin.login("lin")
        page = lin.get(f"/runs/{run_id()}").text
        signed = lin.post(f"/runs/{run_id()}/sign", accept(lin, page))
        assert signed.status == 200 and "signed: approved by Lin Wei" in signed.text
        token = next(c.value for c in lin.jar if c.name == "il6assay_session")
    assert PASSWORD not in reply.url and token not in reply.url
    assert PASSWORD not in caplog.text and token not in caplog.text
    stored = json.dumps(snapshot(engine), default=str)
    assert PASSWORD not in stored and token not in stored
    audit = (run_folder(results, "by_tech") / "audit.jsonl").read_text()
    assert PASSWORD not in audit and token not in audit


def test_serve_listens_on_localhost_unless_told_otherwise():
    from il6assay.cli.web import serve

    host = next(p for p in serve.params if p.name == "host")
    assert host.default == "127.0.0.1"


@pytest.mark.real_argon2
def test_passwords_are_hashed_with_argon2id_at_64_mib_three_passes_on_one_lane():
    from argon2 import Type, extract_parameters

    from il6assay.web.accounts import hash_password

    stored = hash_password("a long enough password")
    made = extract_parameters(stored)
    assert stored.startswith("$argon2id$") and "a long enough password" not in stored
    assert (made.type, made.memory_cost, made.time_cost, made.parallelism) == (
        Type.ID, 64 * 1024, 3, 1,
    )  # fmt: skip


@pytest.mark.real_argon2
def test_a_weaker_stored_hash_is_remade_at_the_products_parameters_at_the_next_sign_in(engine):
    from argon2 import PasswordHasher, extract_parameters

    from il6assay.db.models import DbAccount
    from il6assay.web.accounts import authenticate

    weak = PasswordHasher(time_cost=1, memory_cost=256, parallelism=2).hash(PASSWORD)
    with Session(engine) as session, session.begin():
        row = session.scalars(select(DbAccount).where(DbAccount.username == "lin")).one()
        row.password_hash = weak
    assert authenticate(engine, "lin", PASSWORD).username == "lin"  # the weak hash still opens
    with Session(engine) as session:
        stored = session.scalars(select(DbAccount).where(DbAccount.username == "lin")).one()
    made = extract_parameters(stored.password_hash)
    assert stored.password_hash != weak
    assert (made.memory_cost, made.time_cost, made.parallelism) == (64 * 1024, 3, 1)
