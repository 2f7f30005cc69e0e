"""The study pages in the app: Levey-Jennings controls and the study overview, cached.

The controls page charts the last ``CHARTED_RUNS`` runs by default (every run is
still judged against the whole history), with a link to chart them all: a
study of 2,000 runs would otherwise send every reviewer megabytes of chart
data on every visit. Which runs are the last is read from the database once
per change of the study (its change mark, ``study_version``), so every server
process agrees.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, current_app, g, render_template, request, url_for

from il6assay.web.files import plotly_js
from il6assay.web.site import STUDY_CSP, common, language, need, site

study = Blueprint("study", __name__)
NONCE_MARK = secrets.token_hex(16)  # where a cached study page takes each response's nonce
CHARTED_RUNS = 200  # the controls page's default: the last this many runs
ALL = "all"  # ?since=all: every run


def charted_from(engine: Any, runs: int) -> tuple[str | None, int]:
    """The time from which the last ``runs`` runs are charted (None: the study has no more
    than that) and how many runs the study has; kept until the study changes."""
    from sqlalchemy import select

    from il6assay.db.models import DbQcRun
    from il6assay.study.pages import study_version
    from il6assay.study.qc import parse_time

    here = site()
    key = (study_version(engine), runs)
    found = here.windows.get(key)
    if found is None:
        with engine.connect() as connection:
            times = connection.execute(select(DbQcRun.run_time)).scalars().all()
        start = None
        if len(times) > runs:
            start = sorted(parse_time(t) for t in times)[-runs].isoformat()
        found = (start, len(times))
        here.windows.clear()  # only the current change of the study is asked for
        here.windows[key] = found
    return found


@study.get("/controls")
def controls() -> Any:
    """The Levey-Jennings page (``?level=...&since=YYYY-MM-DD``, ``since=all``: every run;
    by default the last CHARTED_RUNS runs)."""
    need("view")
    from il6assay.study.pages import controls_html

    level = request.args.get("level") or None
    since = request.args.get("since") or None
    note = None
    if since is None:
        since, total = charted_from(site().engine, CHARTED_RUNS)
        if since is not None:
            link = url_for("study.controls", **({"level": level} if level else {}), since=ALL)
            note = ("controls_window", {"shown": CHARTED_RUNS, "total": total}, link)
    elif since == ALL:
        since = None
        _, total = charted_from(site().engine, CHARTED_RUNS)
        if total > CHARTED_RUNS:
            link = url_for("study.controls", **({"level": level} if level else {}))
            note = ("controls_all_shown", {"shown": CHARTED_RUNS, "total": total}, link)
    return study_page(controls_html, window=note, level=level, since=since)


@study.get("/summary")
def summary() -> Any:
    """The study overview."""
    need("view")
    from il6assay.study.pages import summary_html

    return study_page(summary_html)


def study_page(make: Any, window: Any = None, **args: Any) -> Any:
    """A study page with the app's header, plotly.js from the app, its scripts by nonce
    (``window``: which runs the controls page charts, said under the header)."""
    from il6assay.study.pages import cached_page

    args["lang"] = language()  # the study pages speak the account's language (cached per one)
    nonce = secrets.token_urlsafe(16)
    # Every <script> in the page is the page's own (what users wrote is HTML-escaped).
    header = render_template("header.html", **common(), window=window).replace(
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

    src = url_for("files.plotly_file", name=plotly_js()[0])
    head, body = cached_page(site().engine, make, finish=prepared, plotly_src=src, **args)
    g.csp = STUDY_CSP.format(nonce=nonce)
    data = b"".join((head, header.encode(), body.replace(NONCE_MARK.encode(), nonce.encode())))
    response = current_app.make_response(data)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response
