"""The files the app serves: its favicon, plotly.js and a run's report frame (vouched for)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, send_file

from il6assay.errors import InputError
from il6assay.web.files import SERVED, plotly_js, vouched_file
from il6assay.web.sessions import resume_session
from il6assay.web.site import page, site, words

files = Blueprint("files", __name__)
# Served to anyone (nothing of the study in them), without a session and never redirected.
PUBLIC = ("favicon", "plotly_file", "frame_plotly", "frame_file")


@files.get("/favicon.ico")
def favicon() -> Any:
    """The app's icon (a browser asks for it by itself)."""
    response = send_file(current_app.static_folder + "/favicon.ico", max_age=86400)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def plotly_response() -> Any:
    """The installed plotly package's plotly.js (never the runs folder's copy)."""
    response = current_app.make_response(plotly_js()[1])
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@files.get("/plotly/<name>")
def plotly_file(name: str) -> Any:
    """plotly.js for the study pages."""
    if name != plotly_js()[0]:
        abort(404)
    return plotly_response()


@files.get("/frame/<key>/<name>")
def frame_plotly(key: str, name: str) -> Any:
    """plotly.js where a report in a frame looks for it (``../plotly-<version>.min.js``)."""
    if name != plotly_js()[0]:
        abort(404)
    return plotly_response()


@files.get("/frame/<key>/<run_id>/<name>")
def frame_file(key: str, run_id: str, name: str) -> Any:
    """report.html or review.js of a run (or preview) for the session the frame was made for."""
    here = site()
    frame = here.frames.get(key)
    if frame is None or frame.folder.name != run_id or name not in SERVED:
        abort(404)
    live = resume_session(here.engine, frame.token, here.idle_timeout)
    if live is None or live[0].id != frame.account_id:
        here.frames.pop(key, None)
        abort(404)
    try:
        data = vouched_file(frame.folder, name)
    except InputError as err:
        return page(
            "message.html", 409, message=words(here.lang)("not_served", problem=err.message)
        )
    response = current_app.make_response(data)
    kind = "text/html" if name.endswith(".html") else "text/javascript"
    response.headers["Content-Type"] = f"{kind}; charset=utf-8"
    return response
