"""The queue of runs awaiting review, a run's page and its history."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

from flask import Blueprint, redirect, request, url_for
from markupsafe import Markup

from il6assay.db.run_index import FULL_CHECK_S
from il6assay.record.folder import RunFolder
from il6assay.web.decisions import (
    MEANINGS,
    content_sha256,
    database_events,
    open_settled,
    run_version,
    signatures,
)
from il6assay.web.runs import kit_lots, plate_map
from il6assay.web.runs import queue_page as queue_rows
from il6assay.web.site import (
    action_words,
    flag_words,
    folder_of,
    frame_url,
    language,
    need,
    number,
    page,
    site,
    words,
)

queue = Blueprint("queue", __name__)
QUEUE_PAGE = 50  # runs per queue page


@queue.get("/")
def home() -> Any:
    """The app's address opens the queue."""
    return redirect(url_for("queue.queue_page"))


@queue.get("/queue")
def queue_page() -> Any:
    """One page of the queue (indexed rows), filtered, with previous/next links."""
    need("view")
    here = site()
    args = {k: (request.args.get(k) or None) for k in ("since", "until", "verdict", "kit_lot")}
    review = request.args.get("review", "unreviewed")
    at = max(1, number(request.args.get("page") or "1"))
    rows, total = queue_rows(
        here.engine,
        here.roots,
        {**args, "review": review},
        limit=QUEUE_PAGE,
        offset=(at - 1) * QUEUE_PAGE,
        check_every=FULL_CHECK_S,
    )
    pages = max(1, -(-total // QUEUE_PAGE))
    t = words(language())  # each word looked up once a page, not once a row
    said: dict[Any, str] = {s: t(f"state_{s}") for s in ("unreviewed", "accepted", "rejected")}
    said.update({True: t("yes"), False: t("no")})
    for r in rows:
        r["url"] = url_for("queue.run_view", run_id=r["run_id"])
    link = {k: v for k, v in {**args, "review": review}.items() if v}
    return page(
        "queue.html",
        rows=rows,
        said=said,
        args=args,
        review=review,
        lots=kit_lots(here.engine, here.roots),
        total=total,
        first=(at - 1) * QUEUE_PAGE + 1,
        number=at,
        pages=pages,
        previous=url_for("queue.queue_page", **link, page=at - 1) if at > 1 else None,
        following=url_for("queue.queue_page", **link, page=at + 1) if at < pages else None,
    )


def run_page(run_id: str, **extra: Any) -> Any:
    """A run's page: its facts, plate map, signature form and report (``extra``: a notice)."""
    here = site()
    folder = open_settled(folder_of(run_id))
    plotly_note = None
    report = folder.record.get("report")
    if report is not None and report.get("plotly_js") != "embedded":
        from il6assay.record.verify import shared_plotly_differences

        changed = here.plotly_check(folder.path.parent, shared_plotly_differences)
        if changed:
            plotly_note = changed[0]
    return page(
        "run.html",
        run_id=run_id,
        record=folder.record,
        review=folder.record.get("review") or {},
        content=content_sha256(folder),
        version=run_version(here.engine, run_id),
        plate_table=plate_table(folder, run_id, extra.get("chosen")),
        signatures=signatures(here.engine, run_id),
        meanings=MEANINGS,
        frame=frame_url(folder.path),
        plotly_note=plotly_note,
        **extra,
    )


PLATES_KEPT = 512  # rendered plate maps kept per process (a run, language and chosen well)
_PLATES: OrderedDict[tuple[Any, ...], Markup] = OrderedDict()
_PLATES_LOCK = threading.Lock()


def plate_table(folder: RunFolder, run_id: str, chosen: str | None) -> Markup:
    """The plate map's table, rendered once per run content, language and chosen well.

    Keyed by wells.csv's and dilutions.csv's recorded SHA-256, which ``open_run`` has just
    checked the files against on this request: the same key is the same table.
    """
    from flask import render_template

    hashes = folder.record.outputs_sha256
    key = (
        str(folder.path), run_id, hashes.get("wells.csv"), hashes.get("dilutions.csv"),
        language(), chosen,
    )  # fmt: skip
    with _PLATES_LOCK:
        found = _PLATES.get(key)
        if found is not None:
            _PLATES.move_to_end(key)
            return found
    lang = language()
    t = words(lang)
    grid = plate_map(folder.path)
    for line in grid:
        for cell in line:  # the well's tooltip, in the account's words
            cell["tip"] = "".join(
                (
                    f"{cell['well']} {t('role_' + cell['role'])}",
                    f" {cell['label']}" if cell["label"] else "",
                    f" · OD {cell['od']}" if cell["od"] else "",
                    f" · OD {t('od_' + cell['od_status'])}" if cell["od_status"] else "",
                    f" · {cell['result']}" if cell["result"] else "",
                    f" · {t('tip_recovery', pct=cell['recovery_pct'])}"
                    if cell["recovery_pct"]
                    else "",
                    f" · {flag_words(lang, cell['flags'])}" if cell["flags"] else "",
                )
            )
    table = Markup(render_template("plate_map.html", grid=grid, run_id=run_id, chosen=chosen))
    with _PLATES_LOCK:
        _PLATES[key] = table
        while len(_PLATES) > PLATES_KEPT:
            _PLATES.popitem(last=False)
    return table


@queue.get("/runs/<run_id>")
def run_view(run_id: str) -> Any:
    """A run's page (``?well=A5``: that well chosen for masking)."""
    need("view")
    well = (request.args.get("well") or "").strip().upper()
    return run_page(run_id, chosen=well if re.fullmatch(r"[A-P][0-9]{1,2}", well) else None)


@queue.get("/runs/<run_id>/history")
def history(run_id: str) -> Any:
    """A run's whole audit log, its signatures and the database's audit rows about it."""
    need("view")
    from il6assay.record.audit import read_entries

    here = site()
    folder = folder_of(run_id)
    return page(
        "history.html",
        run_id=run_id,
        action=action_words(language()),
        entries=read_entries(folder),
        signatures=signatures(here.engine, run_id),
        events=database_events(here.engine, run_id),
    )
