"""The study pages in the app: Levey-Jennings controls and the study overview, cached."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, current_app, g, render_template, request, url_for

from il6assay.web.files import plotly_js
from il6assay.web.site import STUDY_CSP, common, language, need, site

study = Blueprint("study", __name__)
NONCE_MARK = secrets.token_hex(16)  # where a cached study page takes each response's nonce


@study.get("/controls")
def controls() -> Any:
    """The Levey-Jennings page (``?level=...&since=YYYY-MM-DD``)."""
    need("view")
    from il6assay.study.pages import controls_html

    level = request.args.get("level") or None
    since = request.args.get("since") or None
    return study_page(controls_html, level=level, since=since)


@study.get("/summary")
def summary() -> Any:
    """The study overview."""
    need("view")
    from il6assay.study.pages import summary_html

    return study_page(summary_html)


def study_page(make: Any, **args: Any) -> Any:
    """A study page with the app's header, plotly.js from the app, its scripts by nonce."""
    import inspect

    from il6assay.study.pages import cached_page

    if "lang" in inspect.signature(make).parameters:  # a study page that speaks the language
        args["lang"] = language()
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

    src = url_for("files.plotly_file", name=plotly_js()[0])
    head, body = cached_page(site().engine, make, finish=prepared, plotly_src=src, **args)
    g.csp = STUDY_CSP.format(nonce=nonce)
    data = b"".join((head, header.encode(), body.replace(NONCE_MARK.encode(), nonce.encode())))
    response = current_app.make_response(data)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response
