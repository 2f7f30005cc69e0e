"""What a reviewer decides on a run: masks (previewed, then kept), signatures, a push."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, redirect, request, url_for

from il6assay.db.run_index import refresh_run
from il6assay.web.decisions import (
    Refused,
    commit_mask,
    discard_preview,
    preview_mask,
    sign_decision,
)
from il6assay.web.site import folder_of, frame_url, language, need, number, page, site, words
from il6assay.web.views.queue import run_page

decisions = Blueprint("decisions", __name__)


@decisions.post("/runs/<run_id>/mask/preview")
def mask_preview(run_id: str) -> Any:
    """The run refitted with the well masked (or unmasked), nothing kept yet."""
    account = need("mask")
    here = site()
    here.forget_old_previews()
    preview = preview_mask(
        folder_of(run_id),
        account,
        request.form.getlist("well"),
        unmask=request.form.get("action") == "unmask",
        seen_version=number(request.form.get("version")),
        seen_content=request.form.get("content", ""),
        previews=here.previews,
    )
    preview.made = time.monotonic()
    here.pending[preview.id] = preview
    return page(
        "preview.html",
        preview=preview,
        reason=request.form.get("reason", ""),
        frame=frame_url(preview.folder),
    )


@decisions.post("/runs/<run_id>/mask/commit")
def mask_commit(run_id: str) -> Any:
    """Keep (or discard) a previewed refit."""
    account = need("mask")
    here = site()
    preview = here.pending.get(request.form.get("preview", ""))
    if preview is None or preview.run_id != run_id or preview.account_id != account.id:
        raise Refused("this preview is gone (kept, discarded or expired): start again")
    if request.form.get("confirm") != "keep":
        here.pending.pop(preview.id, None)
        discard_preview(preview)
        return redirect(url_for("queue.run_view", run_id=run_id))
    entry = commit_mask(here.engine, folder_of(run_id), account, preview, request.form["reason"])
    refresh_run(here.engine, here.roots, run_id)  # the queue's row of the run, at once
    here.pending.pop(preview.id, None)
    t = words(language())
    wells = ", ".join(entry["wells"])
    return run_page(run_id, notice=t("mask_kept", action=t(entry["action"]), wells=wells))


@decisions.post("/runs/<run_id>/sign")
def sign(run_id: str) -> Any:
    """An electronic signature: accept, reject or reviewed only, with the password again."""
    account = need("review")
    here = site()
    signed = sign_decision(
        here.engine,
        folder_of(run_id),
        account,
        request.form.get("password", ""),
        request.form.get("decision", ""),
        request.form.get("reason", ""),
        seen_version=number(request.form.get("version")),
        seen_content=request.form.get("content", ""),
        override=request.form.get("override") == "yes",
    )
    refresh_run(here.engine, here.roots, run_id)
    meaning = signed.entry["signature"]["meaning"]
    notice = words(language())("signed_notice", meaning=meaning, name=account.printed_name)
    return run_page(run_id, notice=notice)


@decisions.post("/runs/<run_id>/push")
def push(run_id: str) -> Any:
    """Push an accepted run to the study database (data managers)."""
    account = need("push")
    from il6assay.db.push import push_runs

    here = site()
    outcomes = push_runs(here.engine, [folder_of(run_id)], by=account.printed_name)
    refresh_run(here.engine, here.roots, run_id)
    return run_page(run_id, notice="; ".join(o.message() for o in outcomes))
