"""The review app (Flask): queue, report, plate-map masking, signed decisions, history.

Every page is a Jinja2 template with autoescaping, under a Content-Security-
Policy allowing no inline script, so text users wrote (sample labels, study
IDs, reasons, names) is shown as text. Every state-changing request is a
POST carrying the session's CSRF token (login: a double-submit cookie set
only by GET /login, and only when the browser has no valid one, so a request
the person did not make, such as the browser's own /favicon.ico, never
invalidates the form on screen), and a cross-site Origin is refused. The
session cookie is HttpOnly, SameSite=Strict, and Secure when the app is
served over https. Nothing secret travels in a URL: passwords, tokens and
reasons are POST bodies.

A run's report is shown in a sandboxed frame (``sandbox="allow-scripts"``,
and the CSP ``sandbox`` directive on the report itself): it runs in an
opaque origin and cannot read the app's pages, cookies or forms. The frame's
files come from a per-session, per-run address (``/frame/<key>/...``) and
only as il6assay wrote them (il6assay.web.files); plotly.js is the app's own
copy. The study database unreachable gives a page naming the cause (503),
and the next request tries again.
"""

from __future__ import annotations

import atexit
import contextlib
import html
import importlib.util
import secrets
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from il6assay.db.run_index import refresh as index_runs
from il6assay.errors import InputError
from il6assay.web.accounts import prepare_checks
from il6assay.web.decisions import NotAllowed, Refused
from il6assay.web.limits import LoginLimits, pause
from il6assay.web.sessions import IDLE_TIMEOUT, csrf_matches, resume_session
from il6assay.web.site import (
    FRAME_CSP,
    LOGIN_COOKIE,
    PAGE_CSP,
    SESSION_COOKIE,
    Site,
    common,
    language,
    page,
    site,
    words,
)

STUDY_PAGES = "il6assay.study.pages"


def create_app(
    engine: Engine,
    roots: list[Path],
    *,
    idle_timeout: timedelta = IDLE_TIMEOUT,
    https: bool = False,
    previews: Path | None = None,
    login_limits: LoginLimits | None = None,
    lang: str | None = None,
) -> Any:
    """The WSGI app serving the runs under ``roots`` with accounts in ``engine``'s database
    (``lang``: the site's language, il6assay.toml's ``lang``; English when None)."""
    from flask import Flask

    from il6assay.messages import DEFAULT_LANG, LANGS
    from il6assay.web.views.decisions import decisions
    from il6assay.web.views.files import files
    from il6assay.web.views.queue import queue
    from il6assay.web.views.signin import signin
    from il6assay.web.views.study import study

    if lang is not None and lang not in LANGS:
        raise InputError(f"lang {lang!r} is not one of {', '.join(LANGS)}")
    roots = [Path(r).resolve() for r in roots]  # a relative --runs means the starting folder
    prepare_checks()
    with contextlib.suppress(DBAPIError):  # indexed at start; a database away: on the first page
        index_runs(engine, roots)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),  # unused by our sessions; Flask wants one
        MAX_CONTENT_LENGTH=64 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    if previews is None:
        previews = Path(tempfile.mkdtemp(prefix="il6assay-previews-"))
        atexit.register(shutil.rmtree, previews, True)
    here = Site(
        engine=engine,
        roots=roots,
        idle_timeout=idle_timeout,
        https=https,
        previews=previews,
        limits=login_limits or LoginLimits(),
        lang=lang or DEFAULT_LANG,
        study_pages=importlib.util.find_spec(STUDY_PAGES) is not None,
        frame_key=secrets.token_bytes(32),
        login_key=secrets.token_bytes(32),
    )
    app.extensions["il6assay"] = here
    for blueprint in (signin, queue, decisions, files):
        app.register_blueprint(blueprint)
    if here.study_pages:
        app.register_blueprint(study)
    app.before_request(load_session)
    app.after_request(headers)
    app.context_processor(common)
    app.register_error_handler(Refused, refused)
    app.register_error_handler(InputError, bad_input)
    app.register_error_handler(401, unauthorised)
    app.register_error_handler(403, forbidden)
    app.register_error_handler(404, missing)
    app.register_error_handler(429, too_many)
    app.register_error_handler(OperationalError, database_down)
    app.register_error_handler(DBAPIError, database_down)
    return app


# Served to anyone (nothing of the study in them), without a session and never redirected.
PUBLIC = ("static", "files.favicon", "files.plotly_file", "files.frame_plotly", "files.frame_file")


def load_session() -> Any:
    """Before every request: the Origin and CSRF checks, the session, sign-in limits."""
    from flask import abort, g, redirect, request, url_for

    here = site()
    g.account, g.csrf = None, None
    if request.endpoint in PUBLIC:
        return None
    if request.endpoint is None:
        abort(404)  # no such page: a 404, never a redirect that sets a cookie
    if request.method not in ("GET", "HEAD"):
        origin = request.headers.get("Origin")
        if origin and origin != request.host_url.rstrip("/"):
            abort(403, words(language())("cross_site"))
    if request.endpoint == "signin.login":
        if request.method == "POST":
            cookie_token = request.cookies.get(LOGIN_COOKIE) or ""
            if not here.login_token_ok(cookie_token) or not csrf_matches(
                cookie_token, request.form.get("csrf")
            ):
                abort(403, words(language())("token_wrong"))
            refusal = here.limits.refusal(
                request.remote_addr or "", request.form.get("username", "")
            )
            if refusal:
                pause()
                abort(429, refusal)  # before any password check or database work
        return None
    live = resume_session(here.engine, request.cookies.get(SESSION_COOKIE), here.idle_timeout)
    if live is not None:
        g.account, g.csrf = live
    if request.method not in ("GET", "HEAD"):
        if g.account is None:
            abort(401)
        if not csrf_matches(g.csrf, request.form.get("csrf")):
            abort(403, words(language())("token_wrong"))
        return None
    if g.account is None:
        return redirect(url_for("signin.login"))
    return None


def headers(response: Any) -> Any:
    """After every request: the Content-Security-Policy and the other safety headers."""
    from flask import g, request

    if request.endpoint == "files.frame_file":
        policy = FRAME_CSP.format(origin=request.host_url.rstrip("/"))
    else:
        policy = g.get("csp") or PAGE_CSP
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "same-origin"  # our POSTs keep their Origin
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def refused(err: Refused) -> Any:
    """A decision refused (403 not allowed, 409 a conflict), in words."""
    return page("message.html", 403 if isinstance(err, NotAllowed) else 409, message=str(err))


def bad_input(err: InputError) -> Any:
    """Bad input from a form: 400, in words."""
    return page("message.html", 400, message=str(err))


def unauthorised(_err: Any) -> Any:
    """No live session."""
    return page("message.html", 401, message=words(language())("signed_out"))


def forbidden(err: Any) -> Any:
    """A refused request (cross-site, a wrong CSRF token)."""
    return page("message.html", 403, message=getattr(err, "description", "refused"))


def missing(_err: Any) -> Any:
    """No such page or run."""
    return page("message.html", 404, message=words(language())("no_such_page"))


def too_many(err: Any) -> Any:
    """A refused sign-in flood: a short page, no template, no database (it must stay cheap)."""
    text = html.escape(getattr(err, "description", "too many sign-in attempts"))
    body = (
        '<!DOCTYPE html><html lang="en"><meta charset="utf-8"><title>Sign in</title>'
        f'<p id="message">{text}</p><p><a href="/login">Sign in</a></p></html>'
    )
    return body, 429, {"Content-Type": "text/html; charset=utf-8"}


def database_down(err: DBAPIError) -> Any:
    """The study database unreachable: 503 naming the cause; the next request tries again."""
    site().engine.dispose()  # connections to a server that went away: the next request reconnects
    cause = " ".join(str(getattr(err, "orig", None) or err).split())[:300]
    return page(
        "message.html",
        503,
        message=words(site().lang)("database_down", cause=cause),
    )
