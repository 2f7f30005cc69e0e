"""The review app in English and Simplified Chinese: each account's choice, remembered.

The words come from the message catalogue's ``[web]`` table (il6assay/messages);
an account's language is kept in the study database (``web_accounts.language``,
migration 0014), so it outlives its session; an account that chose none sees
the site's language (``lang`` in il6assay.toml), else English. The switch is a
form on every page, posted with the session's CSRF token like every other.
"""

from __future__ import annotations

import html
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from il6assay.db.engine import make_engine, upgrade
from il6assay.db.models import DbAccount
from il6assay.messages import catalogue, has_text, text
from il6assay.plate.layout_wells import ROLES as WELL_ROLES
from il6assay.record.i18n import Words
from il6assay.web.accounts import ROLES as ACCOUNT_ROLES
from il6assay.web.accounts import add_account
from tests.browser import needs_browser, watched  # noqa: F401 (a fixture)
from tests.web_support import (
    PASSWORD,
    Client,
    accounts_engine,
    field,
    lab_server,
    results_folder,
    serving,
)

ZH = "zh-CN"


def web_keys() -> list[str]:
    return [k for k in catalogue("en") if k.startswith("web.")]


def fields_of(words: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(words) if name}


def test_every_web_message_has_chinese_text_with_the_same_fields():
    keys = web_keys()
    assert len(keys) > 100  # the app's pages, not an empty table
    missing = [k for k in keys if not has_text(ZH, k)]
    assert missing == [], f"no Chinese text for {missing}"
    for key in keys:
        assert fields_of(catalogue(ZH)[key]) == fields_of(catalogue("en")[key]), key
    untranslated = [k for k in keys if catalogue(ZH)[k] == catalogue("en")[k]]
    assert untranslated == [], f"Chinese text equal to the English: {untranslated}"
    extra = [k for k in catalogue(ZH) if k.startswith("web.") and k not in catalogue("en")]
    assert extra == [], f"Chinese keys English lacks: {extra}"


def test_every_well_role_and_account_role_has_words_in_both_languages():
    for role in [*WELL_ROLES, *ACCOUNT_ROLES]:
        key = f"web.role_{role.replace('-', '_')}"
        assert has_text("en", key) and has_text(ZH, key), key


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    """A study database (either backend) with the lab's accounts."""
    return accounts_engine(request, tmp_path)


def switch(client: Client, page: str, lang: str, next_path: str | None = None) -> object:
    """Press the language button on ``page`` (the form's own hidden fields)."""
    return client.post(
        "/language",
        {
            "csrf": field(page, "csrf", "language-form"),
            "next": next_path if next_path is not None else field(page, "next", "language-form"),
            "lang": lang,
        },
    )


@contextmanager
def lin_signed_in(engine, tmp_path: Path) -> Iterator[tuple[str, Client, Path]]:
    """A server with one run, and reviewer lin signed in: (its URL, lin's client, the runs)."""
    results = results_folder(tmp_path, "by_tech")
    with serving(engine, [results]) as url:
        lin = Client(url)
        lin.login("lin")
        yield url, lin, results


def test_an_accounts_language_is_remembered_in_the_database_and_is_its_own(engine, tmp_path: Path):
    with lin_signed_in(engine, tmp_path) as (url, lin, results):
        queue = lin.get("/queue?review=all")
        assert '<html lang="en">' in queue.text and "Runs (all)" in queue.text
        moved = switch(lin, queue.text, ZH)
        assert moved.status == 200 and moved.url.endswith("/queue?review=all")  # back where it was
        assert f'<html lang="{ZH}">' in moved.text
        assert text(ZH, "web.queue_runs", state=text(ZH, "web.state_all")) in moved.text
        with Session(engine) as s:
            chosen = dict(s.execute(select(DbAccount.username, DbAccount.language)).all())
        assert chosen["lin"] == ZH and chosen["chen"] is None
        # A new session of the same account: still Chinese; another account: English.
        again = Client(url)
        again.login("lin")
        assert text(ZH, "web.queue_awaiting") in again.get("/queue").text
        chen = Client(url)
        chen.login("chen")
        assert "Runs awaiting review" in chen.get("/queue").text
        # The run's page: its words, and a flag on the plate map explained, in Chinese.
        run_id = next(p for p in results.iterdir() if p.is_dir()).name
        run_page = again.get(f"/runs/{run_id}")
        assert text(ZH, "web.plate_map") in run_page.text
        below = (
            text(ZH, "flag.BELOW_LLOQ")
            if has_text(ZH, "flag.BELOW_LLOQ")
            else Words(ZH).flag("BELOW_LLOQ")  # until the catalogue has the flags
        )
        assert f"BELOW_LLOQ ({html.escape(below)})" in run_page.text
        # Back to English, from the run's page.
        back = switch(again, run_page.text, "en")
        assert back.status == 200 and "Plate map" in back.text


def test_a_chinese_reviewer_reads_the_plate_maps_tooltips_and_the_history_in_chinese(
    engine, tmp_path: Path
):
    with lin_signed_in(engine, tmp_path) as (_, lin, results):
        run_id = next(p for p in results.iterdir() if p.is_dir()).name
        english = lin.get(f"/runs/{run_id}").text
        assert "S1 · OD 1.809 · recovery 96.4 %" in english  # a standard's tooltip
        assert "· OD saturated ·" in english  # B12: the reader gave no OD
        switch(lin, english, ZH)
        chinese = lin.get(f"/runs/{run_id}").text
        recovery = html.escape(text(ZH, "web.tip_recovery", pct="96.4"))
        assert f"S1 · OD 1.809 · {recovery}" in chinese and "recovery" not in chinese
        assert f"· OD {text(ZH, 'web.od_saturated')} ·" in chinese
        history = lin.get(f"/runs/{run_id}/history").text
        assert f"<td>{html.escape(text(ZH, 'web.action_process'))}</td>" in history
        assert "(process)" in text(ZH, "web.action_process").replace("（", "(").replace("）", ")")


def test_the_language_switch_refuses_what_a_form_cannot_send(engine, tmp_path: Path):
    with lin_signed_in(engine, tmp_path) as (url, lin, _):
        queue = lin.get("/queue")
        csrf = field(queue.text, "csrf", "language-form")
        assert lin.post("/language", {"csrf": csrf, "lang": "fr", "next": "/"}).status == 400
        assert lin.post("/language", {"lang": ZH, "next": "/"}).status == 403  # no CSRF token
        assert Client(url).post("/language", {"lang": ZH}).status == 401  # signed out
        # A "next" leading off the app goes to the queue instead (no open redirect).
        for away in ("//evil.example/", "https://x.example/", "/\\x.example", "/\t/x.example"):
            moved = switch(lin, queue.text, ZH, next_path=away)
            assert moved.status == 200 and moved.url == f"{url}/queue", away
        with Session(engine) as s:
            assert s.scalar(select(DbAccount.language).where(DbAccount.username == "lin")) == ZH
        # A language the app never wrote (the database edited by hand): the site's, no error.
        accounts = DbAccount.__table__
        with engine.begin() as connection:  # as someone with write access to the database would
            connection.execute(
                update(accounts).where(accounts.c.username == "lin").values(language="xx")
            )
        assert "Runs awaiting review" in lin.get("/queue").text


def test_the_sites_lang_in_il6assay_toml_is_the_default_language(tmp_path: Path):
    work = tmp_path / "lab"
    (work / "runs").mkdir(parents=True)
    (work / "il6assay.toml").write_text('lang = "zh-CN"\n', encoding="utf-8")
    engine = make_engine(str(work / "study.db"))
    upgrade(engine)
    add_account(engine, "lin", "Lin Wei", "reviewer", PASSWORD, by="test set-up")
    add_account(engine, "chen", "Chen Yu", "reviewer", PASSWORD, by="test set-up")
    with lab_server(work, "study.db", "--runs", "runs") as url:
        visitor = Client(url)
        login = visitor.get("/login")
        assert f'<html lang="{ZH}">' in login.text and text(ZH, "web.sign_in") in login.text
        # Before signing in, the sign-in page's own switch (a link, remembered nowhere).
        english = visitor.get("/login?lang=en")
        assert '<html lang="en">' in english.text and "User name" in english.text
        assert 'action="/login?lang=en"' in english.text
        assert text(ZH, "web.user_name") in visitor.get("/login").text
        lin = Client(url)
        lin.login("lin")
        queue = lin.get("/queue")
        assert text(ZH, "web.queue_awaiting") in queue.text
        switch(lin, queue.text, "en")  # lin chooses English; chen keeps the site's
        assert "Runs awaiting review" in lin.get("/queue").text
        chen = Client(url)
        chen.login("chen")
        assert text(ZH, "web.queue_awaiting") in chen.get("/queue").text


@needs_browser
def test_a_reviewer_switches_to_chinese_in_the_browser_and_keeps_it(
    engine,
    tmp_path: Path,
    watched,  # noqa: F811
):
    results = results_folder(tmp_path, "by_tech")
    run_id = next(p for p in results.iterdir() if p.is_dir()).name
    with serving(engine, [results]) as url:
        w = watched()
        page = w.page

        def sign_in(username: str) -> None:
            page.goto(f"{url}/login")
            page.fill("#username", username)
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            page.wait_for_url(f"{url}/queue")

        sign_in("lin")
        assert page.get_attribute("html", "lang") == "en"
        page.click(f"#lang-{ZH}")
        page.wait_for_load_state()
        assert page.get_attribute("html", "lang") == ZH
        assert page.inner_text("h1") == text(ZH, "web.queue_awaiting")
        assert page.inner_text("#nav-queue") == text(ZH, "web.nav_queue")
        assert text(ZH, "web.col_processed_by") in page.inner_text("#queue")
        page.goto(f"{url}/queue?review=all")
        page.click(f"#queue a[href='/runs/{run_id}']")
        page.wait_for_url(f"{url}/runs/{run_id}")
        body = page.inner_text("main")
        assert text(ZH, "web.plate_map") in body and text(ZH, "web.decision") in body
        assert text(ZH, "web.legend_masked") in page.inner_text("#plate-legend")
        assert page.inner_text("#sign-button") == text(ZH, "web.sign")
        w.shot("web_run_zh-CN.png")
        page.click("#nav-controls")
        page.wait_for_url(f"{url}/controls")
        assert page.get_attribute("header", "lang") == ZH
        assert page.inner_text("#nav-controls") == text(ZH, "web.nav_controls")
        assert text(ZH, "web.sign_out") in page.inner_text("header")
        # Signed out and in again: still Chinese (the choice is the account's, not the session's).
        page.click(f"header button:has-text('{text(ZH, 'web.sign_out')}')")
        page.wait_for_url(f"{url}/login")
        sign_in("lin")
        assert page.inner_text("h1") == text(ZH, "web.queue_awaiting")
        # Another account is still in English.
        other = watched()
        other.page.goto(f"{url}/login")
        other.page.fill("#username", "chen")
        other.page.fill("#password", PASSWORD)
        other.page.click("#sign-in")
        other.page.wait_for_url(f"{url}/queue")
        assert other.page.get_attribute("html", "lang") == "en"
        assert other.page.inner_text("h1") == "Runs awaiting review"
        w.check()
        other.check()
