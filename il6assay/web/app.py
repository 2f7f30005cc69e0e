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
import hashlib
import hmac
import html
import importlib.util
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from il6assay.db.run_index import FULL_CHECK_S
from il6assay.db.run_index import refresh as index_runs
from il6assay.errors import InputError
from il6assay.web.accounts import Account, authenticate, prepare_checks
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
from il6assay.web.files import SERVED, plotly_js, vouched_file
from il6assay.web.limits import LoginLimits, pause
from il6assay.web.runs import find_run, kit_lots, plate_map
from il6assay.web.runs import queue_page as queue_rows
from il6assay.web.sessions import (
    IDLE_TIMEOUT,
    csrf_matches,
    end_session,
    resume_session,
    start_session,
)

SESSION_COOKIE = "il6assay_session"
LOGIN_COOKIE = "il6assay_login"
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
# The report is the file `process` wrote (its inline scripts draw its escaped data); it runs
# sandboxed, in an opaque origin, loading scripts only from the app ({origin}), sending nothing.
FRAME_CSP = (
    "sandbox allow-scripts; default-src 'none'; "
    "script-src {origin} 'unsafe-inline' 'unsafe-eval'; style-src {origin} 'unsafe-inline'; "
    "img-src {origin} data: blob:; font-src data:; connect-src 'none'; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'; object-src 'none'"
)
# The study pages (/controls, /summary): the app's header, plotly's inline chart calls by nonce.
STUDY_CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'none'; "
    "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
STUDY_PAGES = "il6assay.study.pages"
PREVIEW_LIFETIME_S = 30 * 60
# Served to anyone (nothing of the study in them), without a session and never redirected.
PUBLIC = ("static", "favicon", "plotly_file", "frame_plotly", "frame_file")
MAX_FRAMES = 5000
QUEUE_PAGE = 50  # runs per queue page
NONCE_MARK = secrets.token_hex(16)  # where a cached study page takes each response's nonce


@dataclass
class Frame:
    """A report frame's address: which session may load it and which run folder it shows."""

    token: str
    account_id: int
    folder: Path


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
    login_limits: LoginLimits | None = None,
) -> Any:
    """The WSGI app serving the runs under ``roots`` with accounts in ``engine``'s database."""
    from flask import Flask, abort, g, redirect, render_template, request, send_file, url_for

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
    limits = login_limits or LoginLimits()
    frames: dict[str, Frame] = {}
    frame_key = secrets.token_bytes(32)
    login_key = secrets.token_bytes(32)

    def login_mac(nonce: str) -> str:
        return hmac.new(login_key, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def login_token_ok(value: str | None) -> bool:
        """Whether the browser's login cookie is one this server made (a double-submit token)."""
        nonce, _, mac = (value or "").partition(".")
        return bool(nonce) and secrets.compare_digest(mac.encode(), login_mac(nonce).encode())

    def frame_url(folder: Path) -> str:
        """The report frame's address for this session and run folder (or preview)."""
        token = request.cookies.get(SESSION_COOKIE) or ""
        key = hmac.new(frame_key, f"{token}\0{folder}".encode(), hashlib.sha256).hexdigest()
        if key not in frames:
            if len(frames) >= MAX_FRAMES:
                with contextlib.suppress(StopIteration, KeyError, RuntimeError):
                    frames.pop(next(iter(frames)))  # the oldest
            frames[key] = Frame(token, g.account.id, folder)
        return url_for("frame_file", key=key, run_id=folder.name, name="report.html")

    plotly_checked: dict[str, tuple[tuple[int, ...] | None, list[str]]] = {}

    def plotly_check(results: Path, check: Any) -> list[str]:
        """The shared plotly.js check, hashed again only when the file's size, time or inode
        moved (3.5 MB hashed on every run page would be most of the page's cost)."""
        from il6assay.record.report import plotly_js_name

        try:
            st = (results / plotly_js_name()).stat()
            stamp: tuple[int, ...] | None = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
        except OSError:
            stamp = None
        seen = plotly_checked.get(str(results))
        if seen is None or seen[0] != stamp or stamp is None:
            seen = (stamp, check(results, []))
            plotly_checked[str(results)] = seen
        return seen[1]

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
        folder = find_run(engine, roots, run_id)
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
        if request.endpoint in PUBLIC:
            return None
        if request.endpoint is None:
            abort(404)  # no such page: a 404, never a redirect that sets a cookie
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("Origin")
            if origin and origin != request.host_url.rstrip("/"):
                abort(403, "cross-site request refused")
        if request.endpoint == "login":
            if request.method == "POST":
                cookie_token = request.cookies.get(LOGIN_COOKIE) or ""
                if not login_token_ok(cookie_token) or not csrf_matches(
                    cookie_token, request.form.get("csrf")
                ):
                    abort(403, "the form's security token is missing or wrong: reload the page")
                refusal = limits.refusal(
                    request.remote_addr or "", request.form.get("username", "")
                )
                if refusal:
                    pause()
                    abort(429, refusal)  # before any password check or database work
            return None
        live = resume_session(engine, request.cookies.get(SESSION_COOKIE), idle_timeout)
        if live is not None:
            g.account, g.csrf = live
        if request.method not in ("GET", "HEAD"):
            if g.account is None:
                abort(401)
            if not csrf_matches(g.csrf, request.form.get("csrf")):
                abort(403, "the form's security token is missing or wrong: reload the page")
            return None
        if g.account is None:
            return redirect(url_for("login"))
        return None

    @app.after_request
    def headers(response: Any) -> Any:
        if request.endpoint == "frame_file":
            policy = FRAME_CSP.format(origin=request.host_url.rstrip("/"))
        else:
            policy = g.get("csp") or PAGE_CSP
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Referrer-Policy"] = "same-origin"  # our POSTs keep their Origin
        response.headers.setdefault("Cache-Control", "no-store")
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

    @app.errorhandler(429)
    def too_many(err: Any) -> Any:
        """A refused sign-in flood: a short page, no template, no database (it must stay cheap)."""
        text = html.escape(getattr(err, "description", "too many sign-in attempts"))
        body = (
            '<!DOCTYPE html><html lang="en"><meta charset="utf-8"><title>Sign in</title>'
            f'<p id="message">{text}</p><p><a href="/login">Sign in</a></p></html>'
        )
        return body, 429, {"Content-Type": "text/html; charset=utf-8"}

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(err: DBAPIError) -> Any:
        engine.dispose()  # connections to a server that went away: the next request reconnects
        cause = " ".join(str(getattr(err, "orig", None) or err).split())[:300]
        return page(
            "message.html",
            503,
            message=f"the study database cannot be reached ({cause}); nothing was changed. "
            "Pages come back when it does: try again in a moment.",
        )

    @app.get("/favicon.ico")
    def favicon() -> Any:
        response = send_file(app.static_folder + "/favicon.ico", max_age=86400)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    def plotly_response() -> Any:
        response = app.make_response(plotly_js()[1])
        response.headers["Content-Type"] = "text/javascript; charset=utf-8"
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    @app.get("/plotly/<name>")
    def plotly_file(name: str) -> Any:
        if name != plotly_js()[0]:
            abort(404)
        return plotly_response()

    @app.get("/frame/<key>/<name>")
    def frame_plotly(key: str, name: str) -> Any:
        """plotly.js where a report in a frame looks for it (``../plotly-<version>.min.js``)."""
        if name != plotly_js()[0]:
            abort(404)
        return plotly_response()

    @app.get("/frame/<key>/<run_id>/<name>")
    def frame_file(key: str, run_id: str, name: str) -> Any:
        """report.html or review.js of a run (or preview) for the session the frame was made for."""
        frame = frames.get(key)
        if frame is None or frame.folder.name != run_id or name not in SERVED:
            abort(404)
        live = resume_session(engine, frame.token, idle_timeout)
        if live is None or live[0].id != frame.account_id:
            frames.pop(key, None)
            abort(404)
        try:
            data = vouched_file(frame.folder, name)
        except InputError as err:
            return page("message.html", 409, message=f"not served: {err.message}")
        response = app.make_response(data)
        kind = "text/html" if name.endswith(".html") else "text/javascript"
        response.headers["Content-Type"] = f"{kind}; charset=utf-8"
        return response

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error = None
        if request.method == "POST":
            username = request.form.get("username", "")
            try:
                account = authenticate(engine, username, request.form.get("password", ""))
            except InputError as err:
                error = err.message
                limits.failed(request.remote_addr or "", username)
                pause()
            else:
                end_session(engine, request.cookies.get(SESSION_COOKIE))  # no session fixation
                token, _ = start_session(engine, account)
                response = redirect(url_for("queue_page"))
                cookie(response, SESSION_COOKIE, token)
                response.delete_cookie(LOGIN_COOKIE, path="/")
                return response
        token = request.cookies.get(LOGIN_COOKIE)
        fresh = not login_token_ok(token)
        if fresh:
            nonce = secrets.token_urlsafe(24)
            token = f"{nonce}.{login_mac(nonce)}"
        body, status = page("login.html", 401 if error else 200, error=error, login_csrf=token)
        response = app.make_response((body, status))
        if fresh:  # only when the browser has none: the form on screen stays valid
            cookie(response, LOGIN_COOKIE, str(token), max_age=12 * 3600)
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
        number = max(1, _number(request.args.get("page") or "1"))
        rows, total = queue_rows(
            engine,
            roots,
            {**args, "review": review},
            limit=QUEUE_PAGE,
            offset=(number - 1) * QUEUE_PAGE,
            check_every=FULL_CHECK_S,
        )
        pages = max(1, -(-total // QUEUE_PAGE))
        link = {k: v for k, v in {**args, "review": review}.items() if v}
        return page(
            "queue.html",
            rows=rows,
            args=args,
            review=review,
            lots=kit_lots(engine, roots),
            total=total,
            first=(number - 1) * QUEUE_PAGE + 1,
            number=number,
            pages=pages,
            previous=url_for("queue_page", **link, page=number - 1) if number > 1 else None,
            following=url_for("queue_page", **link, page=number + 1) if number < pages else None,
        )

    def run_page(run_id: str, **extra: Any) -> Any:
        folder = open_settled(folder_of(run_id))
        plotly_note = None
        report = folder.record.get("report")
        if report is not None and report.get("plotly_js") != "embedded":
            from il6assay.record.verify import shared_plotly_differences

            changed = plotly_check(folder.path.parent, shared_plotly_differences)
            if changed:
                plotly_note = f"{changed[0]} (il6assay status reports it); the app uses its own"
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
            frame=frame_url(folder.path),
            plotly_note=plotly_note,
            **extra,
        )

    @app.get("/runs/<run_id>")
    def run_view(run_id: str) -> Any:
        need("view")
        well = (request.args.get("well") or "").strip().upper()
        return run_page(run_id, chosen=well if re.fullmatch(r"[A-P][0-9]{1,2}", well) else None)

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
        return page(
            "preview.html",
            preview=preview,
            reason=request.form.get("reason", ""),
            frame=frame_url(preview.folder),
        )

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
        index_runs(engine, roots)  # the queue's row of the run, rewritten at once
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
        index_runs(engine, roots)
        meaning = signed.entry["signature"]["meaning"]
        return run_page(run_id, notice=f"signed: {meaning} by {account.printed_name}")

    @app.post("/runs/<run_id>/push")
    def push(run_id: str) -> Any:
        account = need("push")
        from il6assay.db.push import push_runs

        outcomes = push_runs(engine, [folder_of(run_id)], by=account.printed_name)
        index_runs(engine, roots)
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
            return _study(controls_html, level=level, since=since)

        @app.get("/summary")
        def summary() -> Any:
            need("view")
            from il6assay.study.pages import summary_html

            return _study(summary_html)

    def _study(make: Any, **args: Any) -> Any:
        """A study page with the app's header, plotly.js from the app, its scripts by nonce."""
        from il6assay.study.pages import cached_page

        nonce = secrets.token_urlsafe(16)
        # Every <script> in the page is the page's own (what users wrote is HTML-escaped).
        header = render_template("header.html", **common()).replace(
            "<script", f'<script nonce="{nonce}"'
        )
        style = url_for("static", filename="style.css")

        def prepared(text: str) -> tuple[bytes, bytes]:
            """The page as bytes, split where the header goes, scripts marked for the nonce
            (done once per change of the study; a request only fills in its nonce)."""
            text = text.replace("</head>", f'<link rel="stylesheet" href="{style}">\n</head>', 1)
            text = text.replace("<script", f'<script nonce="{NONCE_MARK}"')
            head, _, body = text.partition("<body>")
            return (head + "<body>\n").encode(), body.encode()

        src = url_for("plotly_file", name=plotly_js()[0])
        head, body = cached_page(engine, make, finish=prepared, plotly_src=src, **args)
        g.csp = STUDY_CSP.format(nonce=nonce)
        data = b"".join((head, header.encode(), body.replace(NONCE_MARK.encode(), nonce.encode())))
        response = app.make_response(data)
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        return response

    return app
