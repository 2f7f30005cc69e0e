"""The review app (Flask): queue, report, plate-map masking, signed decisions, history.

Every page is a Jinja2 template with autoescaping, under a Content-Security-
Policy allowing no inline script, so text users wrote (sample labels, study
IDs, reasons, names) is shown as text. Every state-changing request is a
POST carrying the session's CSRF token (login: a double-submit cookie), and
a cross-site Origin is refused. The session cookie is HttpOnly,
SameSite=Strict, and Secure when the app is served over https. Nothing
secret travels in a URL: passwords, tokens and reasons are POST bodies.
"""

from __future__ import annotations

import atexit
import importlib.util
import re
import secrets
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from il6assay.errors import InputError
from il6assay.web.accounts import Account, authenticate
from il6assay.web.decisions import (
    MEANINGS,
    NotAllowed,
    Refused,
    commit_mask,
    content_sha256,
    database_events,
    discard_preview,
    open_settled,
    preview_mask,
    run_version,
    sign_decision,
    signatures,
)
from il6assay.web.runs import kit_lots, plate_map, queue, run_index
from il6assay.web.sessions import (
    IDLE_TIMEOUT,
    csrf_matches,
    end_session,
    resume_session,
    start_session,
)

SESSION_COOKIE = "il6assay_session"
LOGIN_COOKIE = "il6assay_login"
REPORT_FILES = ("report.html", "review.js")
PLOTLY = re.compile(r"^plotly-[0-9A-Za-z.+-]+\.min\.js$")
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)
# The report is the file `process` wrote: its inline scripts are its own (escaped data).
REPORT_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; frame-ancestors 'self'; "
    "form-action 'none'; base-uri 'none'"
)
STUDY_PAGES = "il6assay.study.pages"
PREVIEW_LIFETIME_S = 30 * 60


def _number(text: str | None) -> int:
    """A form's integer field (-1, which matches no run version, when absent or not a number)."""
    try:
        return int(text or "")
    except ValueError:
        return -1


def create_app(
    engine: Engine,
    roots: list[Path],
    *,
    idle_timeout: timedelta = IDLE_TIMEOUT,
    https: bool = False,
    previews: Path | None = None,
) -> Any:
    """The WSGI app serving the runs under ``roots`` with accounts in ``engine``'s database."""
    from flask import Flask, abort, g, redirect, render_template, request, send_file, url_for

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),  # unused by our sessions; Flask wants one
        MAX_CONTENT_LENGTH=64 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    if previews is None:
        previews = Path(tempfile.mkdtemp(prefix="il6assay-previews-"))
        atexit.register(shutil.rmtree, previews, True)
    preview_root = previews
    pending: dict[str, Any] = {}

    def forget_old_previews() -> None:
        """Previews not kept or discarded within PREVIEW_LIFETIME are deleted."""
        now = time.monotonic()
        for key, preview in list(pending.items()):
            if now - preview.made > PREVIEW_LIFETIME_S:
                pending.pop(key, None)
                discard_preview(preview)

    study_pages = importlib.util.find_spec(STUDY_PAGES) is not None

    def secure() -> bool:
        return https or request.is_secure

    def cookie(response: Any, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=True,
            samesite="Strict",
            secure=secure(),
            path="/",
        )

    def folder_of(run_id: str) -> Path:
        folder = run_index(roots).get(run_id)
        if folder is None:
            abort(404)
        return folder

    def need(permission: str) -> Account:
        account: Account | None = g.get("account")
        if account is None:
            abort(401)
        if not account.may(permission):
            raise NotAllowed(f"the {account.role} role cannot do this")
        return account

    @app.before_request
    def load_session() -> Any:
        g.account, g.csrf = None, None
        if request.endpoint == "static":
            return None
        live = resume_session(engine, request.cookies.get(SESSION_COOKIE), idle_timeout)
        if live is not None:
            g.account, g.csrf = live
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("Origin")
            if origin and origin != request.host_url.rstrip("/"):
                abort(403, "cross-site request refused")
            if request.endpoint == "login":
                if not csrf_matches(
                    request.cookies.get(LOGIN_COOKIE) or "", request.form.get("csrf")
                ):
                    abort(403, "the form's security token is missing or wrong: reload the page")
                return None
            if g.account is None:
                abort(401)
            if not csrf_matches(g.csrf, request.form.get("csrf")):
                abort(403, "the form's security token is missing or wrong: reload the page")
            return None
        if g.account is None and request.endpoint not in ("login",):
            return redirect(url_for("login"))
        return None

    @app.after_request
    def headers(response: Any) -> Any:
        is_report = request.endpoint in ("report_file", "preview_file", "controls", "summary")
        response.headers["Content-Security-Policy"] = REPORT_CSP if is_report else PAGE_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Referrer-Policy"] = "same-origin"  # our POSTs keep their Origin
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.context_processor
    def common() -> dict[str, Any]:
        return {
            "account": g.get("account"),
            "csrf": g.get("csrf"),
            "study_pages": study_pages,
            "idle_minutes": max(1, round(idle_timeout.total_seconds() / 60)),
        }

    def page(template: str, status: int = 200, **values: Any) -> Any:
        return render_template(template, **values), status

    @app.errorhandler(Refused)
    def refused(err: Refused) -> Any:
        return page("message.html", 403 if isinstance(err, NotAllowed) else 409, message=str(err))

    @app.errorhandler(InputError)
    def bad_input(err: InputError) -> Any:
        return page("message.html", 400, message=str(err))

    @app.errorhandler(401)
    def unauthorised(_err: Any) -> Any:
        return page("message.html", 401, message="signed out (or the session expired): sign in")

    @app.errorhandler(403)
    def forbidden(err: Any) -> Any:
        return page("message.html", 403, message=getattr(err, "description", "refused"))

    @app.errorhandler(404)
    def missing(_err: Any) -> Any:
        return page("message.html", 404, message="no such page or run")

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error = None
        if request.method == "POST":
            try:
                account = authenticate(
                    engine, request.form.get("username", ""), request.form.get("password", "")
                )
            except InputError as err:
                error = err.message
            else:
                end_session(engine, request.cookies.get(SESSION_COOKIE))  # no session fixation
                token, _ = start_session(engine, account)
                response = redirect(url_for("queue_page"))
                cookie(response, SESSION_COOKIE, token)
                response.delete_cookie(LOGIN_COOKIE, path="/")
                return response
        nonce = secrets.token_urlsafe(32)
        body, status = page("login.html", 401 if error else 200, error=error, login_csrf=nonce)
        response = app.make_response((body, status))
        cookie(response, LOGIN_COOKIE, nonce, max_age=3600)
        return response

    @app.post("/logout")
    def logout() -> Any:
        end_session(engine, request.cookies.get(SESSION_COOKIE))
        response = redirect(url_for("login"))
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/")
    def home() -> Any:
        return redirect(url_for("queue_page"))

    @app.get("/queue")
    def queue_page() -> Any:
        need("view")
        args = {k: (request.args.get(k) or None) for k in ("since", "until", "verdict", "kit_lot")}
        review = request.args.get("review", "unreviewed")
        rows = queue(engine, roots, review=review, **args)
        return page("queue.html", rows=rows, args=args, review=review, lots=kit_lots(roots))

    def run_page(run_id: str, **extra: Any) -> Any:
        folder = open_settled(folder_of(run_id))
        return page(
            "run.html",
            run_id=run_id,
            record=folder.record,
            review=folder.record.get("review") or {},
            content=content_sha256(folder),
            version=run_version(engine, run_id),
            grid=plate_map(folder.path),
            signatures=signatures(engine, run_id),
            meanings=MEANINGS,
            **extra,
        )

    @app.get("/runs/<run_id>")
    def run_view(run_id: str) -> Any:
        need("view")
        well = (request.args.get("well") or "").strip().upper()
        return run_page(run_id, chosen=well if re.fullmatch(r"[A-P][0-9]{1,2}", well) else None)

    @app.get("/runs/<run_id>/r/<name>")
    def report_file(run_id: str, name: str) -> Any:
        need("view")
        if name not in REPORT_FILES:
            abort(404)
        return send_file(folder_of(run_id) / name, max_age=0)

    @app.get("/runs/<run_id>/<name>")
    def run_plotly(run_id: str, name: str) -> Any:
        need("view")
        target = folder_of(run_id).parent / name
        if not PLOTLY.match(name) or not target.is_file():
            abort(404)
        return send_file(target, max_age=3600)

    @app.post("/runs/<run_id>/mask/preview")
    def mask_preview(run_id: str) -> Any:
        account = need("mask")
        forget_old_previews()
        preview = preview_mask(
            folder_of(run_id),
            account,
            request.form.getlist("well"),
            unmask=request.form.get("action") == "unmask",
            seen_version=_number(request.form.get("version")),
            seen_content=request.form.get("content", ""),
            previews=preview_root,
        )
        preview.made = time.monotonic()
        pending[preview.id] = preview
        return page("preview.html", preview=preview, reason=request.form.get("reason", ""))

    @app.get("/preview/<preview_id>/r/<name>")
    def preview_file(preview_id: str, name: str) -> Any:
        account = need("mask")
        preview = pending.get(preview_id)
        if preview is None or preview.account_id != account.id or name not in REPORT_FILES:
            abort(404)
        return send_file(preview.folder / name, max_age=0)

    @app.get("/preview/<preview_id>/<name>")
    def preview_plotly(preview_id: str, name: str) -> Any:
        account = need("mask")
        preview = pending.get(preview_id)
        if preview is None or preview.account_id != account.id or not PLOTLY.match(name):
            abort(404)
        return send_file(preview.root / name, max_age=3600)

    @app.post("/runs/<run_id>/mask/commit")
    def mask_commit(run_id: str) -> Any:
        account = need("mask")
        preview = pending.get(request.form.get("preview", ""))
        if preview is None or preview.run_id != run_id or preview.account_id != account.id:
            raise Refused("this preview is gone (kept, discarded or expired): start again")
        if request.form.get("confirm") != "keep":
            pending.pop(preview.id, None)
            discard_preview(preview)
            return redirect(url_for("run_view", run_id=run_id))
        entry = commit_mask(engine, folder_of(run_id), account, preview, request.form["reason"])
        pending.pop(preview.id, None)
        return run_page(run_id, notice=f"{entry['action']} of {', '.join(entry['wells'])} kept")

    @app.post("/runs/<run_id>/sign")
    def sign(run_id: str) -> Any:
        account = need("review")
        signed = sign_decision(
            engine,
            folder_of(run_id),
            account,
            request.form.get("password", ""),
            request.form.get("decision", ""),
            request.form.get("reason", ""),
            seen_version=_number(request.form.get("version")),
            seen_content=request.form.get("content", ""),
            override=request.form.get("override") == "yes",
        )
        meaning = signed.entry["signature"]["meaning"]
        return run_page(run_id, notice=f"signed: {meaning} by {account.printed_name}")

    @app.post("/runs/<run_id>/push")
    def push(run_id: str) -> Any:
        account = need("push")
        from il6assay.db.push import push_runs

        outcomes = push_runs(engine, [folder_of(run_id)], by=account.printed_name)
        return run_page(run_id, notice="; ".join(o.message() for o in outcomes))

    @app.get("/runs/<run_id>/history")
    def history(run_id: str) -> Any:
        need("view")
        from il6assay.record.audit import read_entries

        folder = folder_of(run_id)
        return page(
            "history.html",
            run_id=run_id,
            entries=read_entries(folder),
            signatures=signatures(engine, run_id),
            events=database_events(engine, run_id),
        )

    if study_pages:

        @app.get("/controls")
        def controls() -> Any:
            need("view")
            from il6assay.study.pages import controls_html

            level = request.args.get("level") or None
            since = request.args.get("since") or None
            return _study(controls_html(engine, level=level, since=since))

        @app.get("/summary")
        def summary() -> Any:
            need("view")
            from il6assay.study.pages import summary_html

            return _study(summary_html(engine))

    def _study(html_text: str) -> Any:
        response = app.make_response(html_text)
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        return response

    return app
