"""Signing in and out (a double-submit token guards the sign-in form)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, current_app, redirect, request, url_for

from il6assay.errors import InputError
from il6assay.web.accounts import authenticate
from il6assay.web.limits import pause
from il6assay.web.sessions import end_session, start_session
from il6assay.web.site import LOGIN_COOKIE, SESSION_COOKIE, cookie, page, site

signin = Blueprint("signin", __name__)


@signin.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in form; a right password starts a session and opens the queue."""
    here = site()
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            account = authenticate(here.engine, username, request.form.get("password", ""))
        except InputError as err:
            error = err.message
            here.limits.failed(request.remote_addr or "", username)
            pause()
        else:
            end_session(here.engine, request.cookies.get(SESSION_COOKIE))  # no session fixation
            token, _ = start_session(here.engine, account)
            response = redirect(url_for("queue.queue_page"))
            cookie(response, SESSION_COOKIE, token)
            response.delete_cookie(LOGIN_COOKIE, path="/")
            return response
    token = request.cookies.get(LOGIN_COOKIE)
    fresh = not here.login_token_ok(token)
    if fresh:
        nonce = secrets.token_urlsafe(24)
        token = f"{nonce}.{here.login_mac(nonce)}"
    body, status = page("login.html", 401 if error else 200, error=error, login_csrf=token)
    response = current_app.make_response((body, status))
    if fresh:  # only when the browser has none: the form on screen stays valid
        cookie(response, LOGIN_COOKIE, str(token), max_age=12 * 3600)
    return response


@signin.post("/logout")
def logout() -> Any:
    """End the session for good."""
    end_session(site().engine, request.cookies.get(SESSION_COOKIE))
    response = redirect(url_for("signin.login"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@signin.post("/language")
def language() -> Any:
    """Switch the app's language for this account (remembered in the database)."""
    from flask import abort, g

    from il6assay.messages import LANGS
    from il6assay.web.accounts import set_language

    chosen = request.form.get("lang", "")
    if chosen not in LANGS:
        abort(400)
    set_language(site().engine, g.account.id, chosen)
    back = request.form.get("next", "")
    # Only a path of this app: never another site ("//host", "/\host", or "/<tab>/host",
    # which a browser reads as "//host" once it drops the tab).
    unsafe = "\\" in back or any(ord(c) < 33 or ord(c) == 127 for c in back)
    if not back.startswith("/") or back.startswith("//") or unsafe:
        back = url_for("queue.queue_page")
    return redirect(back)
