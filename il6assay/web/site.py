"""What every page of the review app shares: the served runs, keys, caches and page helpers.

``create_app`` (il6assay.web.app) makes one ``Site`` per app and keeps it in
``app.extensions``; the Blueprints of il6assay.web.views reach it through
``site()``. Nothing here holds a person's state between requests but what the
docs name: a mask's refit preview until it is kept or discarded, the report
frames' addresses, the sign-in limits and the shared plotly.js check.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from il6assay.web.accounts import Account
from il6assay.web.decisions import NotAllowed, discard_preview
from il6assay.web.limits import LoginLimits
from il6assay.web.runs import find_run

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
PREVIEW_LIFETIME_S = 30 * 60
MAX_FRAMES = 5000


@dataclass
class Frame:
    """A report frame's address: which session may load it and which run folder it shows."""

    token: str
    account_id: int
    folder: Path


@dataclass
class Site:
    """One app's shared state: its database, runs, settings, keys and per-process caches."""

    engine: Engine
    roots: list[Path]
    idle_timeout: timedelta
    https: bool
    previews: Path
    limits: LoginLimits
    lang: str  # the site's language: an account that chose none sees this one
    study_pages: bool
    frame_key: bytes
    login_key: bytes
    pending: dict[str, Any] = field(default_factory=dict)
    frames: dict[str, Frame] = field(default_factory=dict)
    plotly_checked: dict[str, tuple[tuple[int, ...] | None, list[str]]] = field(
        default_factory=dict
    )
    windows: dict[tuple[str, int], tuple[str | None, int]] = field(default_factory=dict)

    def forget_old_previews(self) -> None:
        """Previews not kept or discarded within PREVIEW_LIFETIME are deleted."""
        now = time.monotonic()
        for key, preview in list(self.pending.items()):
            if now - preview.made > PREVIEW_LIFETIME_S:
                self.pending.pop(key, None)
                discard_preview(preview)

    def login_mac(self, nonce: str) -> str:
        """The server's MAC of a sign-in form's nonce."""
        return hmac.new(self.login_key, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def login_token_ok(self, value: str | None) -> bool:
        """Whether the browser's login cookie is one this server made (a double-submit token)."""
        import secrets

        nonce, _, mac = (value or "").partition(".")
        return bool(nonce) and secrets.compare_digest(mac.encode(), self.login_mac(nonce).encode())

    def plotly_check(self, results: Path, check: Any) -> list[str]:
        """The shared plotly.js check, hashed again only when the file's size, time or inode
        moved (3.5 MB hashed on every run page would be most of the page's cost)."""
        from il6assay.record.report import plotly_js_name

        try:
            st = (results / plotly_js_name()).stat()
            stamp: tuple[int, ...] | None = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
        except OSError:
            stamp = None
        seen = self.plotly_checked.get(str(results))
        if seen is None or seen[0] != stamp or stamp is None:
            seen = (stamp, check(results, []))
            self.plotly_checked[str(results)] = seen
        return seen[1]


def site() -> Site:
    """The current app's Site."""
    from flask import current_app

    return current_app.extensions["il6assay"]


def number(text: str | None) -> int:
    """A form's integer field (-1, which matches no run version, when absent or not a number)."""
    try:
        return int(text or "")
    except ValueError:
        return -1


def need(permission: str) -> Account:
    """The signed-in account, when its role grants ``permission`` (401 / refused otherwise)."""
    from flask import abort, g

    account: Account | None = g.get("account")
    if account is None:
        abort(401)
    if not account.may(permission):
        raise NotAllowed(f"the {account.role} role cannot do this")
    return account


def folder_of(run_id: str) -> Path:
    """The folder of a served run (404 when the app serves no such run)."""
    from flask import abort

    here = site()
    folder = find_run(here.engine, here.roots, run_id)
    if folder is None:
        abort(404)
    return folder


def cookie(response: Any, name: str, value: str, max_age: int | None = None) -> None:
    """Set one of the app's cookies: HttpOnly, SameSite=Strict, Secure over https."""
    from flask import request

    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="Strict",
        secure=site().https or request.is_secure,
        path="/",
    )


def frame_url(folder: Path) -> str:
    """The report frame's address for this session and run folder (or preview)."""
    import contextlib

    from flask import g, request, url_for

    here = site()
    token = request.cookies.get(SESSION_COOKIE) or ""
    key = hmac.new(here.frame_key, f"{token}\0{folder}".encode(), hashlib.sha256).hexdigest()
    if key not in here.frames:
        if len(here.frames) >= MAX_FRAMES:
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):
                here.frames.pop(next(iter(here.frames)))  # the oldest
        here.frames[key] = Frame(token, g.account.id, folder)
    return url_for("files.frame_file", key=key, run_id=folder.name, name="report.html")


def language() -> str:
    """The language of this request's pages: the account's choice, else the site's (the
    sign-in page, before anyone signed in: ``?lang=`` when given, remembered nowhere)."""
    from flask import g, request

    from il6assay.messages import LANGS

    account: Account | None = g.get("account")
    if account is not None:  # a value the app did not write (the database edited): the site's
        return account.language if account.language in LANGS else site().lang
    asked = request.args.get("lang") if request.endpoint == "signin.login" else None
    return asked if asked in LANGS else site().lang


def words(lang: str) -> Any:
    """``t(key, **fields)``: the app's words (the catalogue's ``[web]`` table) in ``lang``."""
    from il6assay.messages import text

    def t(key: str, **fields: Any) -> str:
        return text(lang, f"web.{key}", **fields)

    return t


def action_words(lang: str) -> Any:
    """``action(code)``: an audit entry's action as a page shows it, in ``lang``'s words
    where the catalogue has them (``[web] action_<code>``), else its code as recorded."""
    from il6assay.messages import has_text, text

    def action(code: str) -> str:
        key = f"web.action_{code}"
        return text(lang, key) if has_text(lang, key) else code

    return action


def flag_words(lang: str, codes: str) -> str:
    """Flag codes (space-separated) with what each means in ``lang``: "HIGH_CV (...)".

    The catalogue's ``flag`` table when it has the code in ``lang``, else the report's words.
    """
    from il6assay.messages import has_text, text
    from il6assay.record.i18n import Words

    said = []
    for code in codes.split():
        if has_text(lang, f"flag.{code}"):
            meaning = text(lang, f"flag.{code}")
        else:
            meaning = Words(lang).flag(code)
        said.append(f"{code} ({meaning})" if meaning and meaning != code else code)
    return "; ".join(said)


def common() -> dict[str, Any]:
    """What every template is given: the account, its CSRF token, its language's words."""
    from flask import g, request

    from il6assay.messages import LANGS, text

    here = site()
    lang = language()
    return {
        "account": g.get("account"),
        "csrf": g.get("csrf"),
        "study_pages": here.study_pages,
        "idle_minutes": max(1, round(here.idle_timeout.total_seconds() / 60)),
        "lang": lang,
        "t": words(lang),
        "flag_words": lambda codes: flag_words(lang, codes),
        "languages": [(code, text(code, "web.language_name")) for code in LANGS],
        "here_path": request.full_path.rstrip("?") if request.method == "GET" else "",
    }


def page(template: str, status: int = 200, **values: Any) -> Any:
    """A template rendered as a response with ``status``."""
    from flask import render_template

    return render_template(template, **values), status
