"""The Jinja2 environment il6assay's pages are rendered with: report.html, index, study pages.

Every value a template shows is HTML-escaped (``html.escape``, so quotes as
``&quot;`` and ``&#x27;``, as the pages always had them), None as nothing; only what the code
marks safe (``markupsafe.Markup``: a figure's own HTML, an embedded script)
goes in as it is. Jinja2 is imported here, when a page is rendered, never by
``il6assay --help``.
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path
from typing import Any

_SPECIAL = re.compile(r"[&<>\"']")  # what html.escape changes


def render(folder: Path, name: str, /, **context: Any) -> str:
    """The template ``name`` of ``folder`` rendered with ``context``."""
    return _environment(folder).get_template(name).render(**context)


@functools.cache
def _environment(folder: Path) -> Any:
    """One environment per templates folder (templates are compiled once per process)."""
    import jinja2
    from markupsafe import Markup

    special, escape = _SPECIAL.search, html.escape

    def escaped(value: Any) -> str:
        if type(value) is not str:  # a number, None, or Markup (what the code marked safe)
            if isinstance(value, Markup):
                return value
            value = "" if value is None else str(value)  # None shows as nothing
        return escape(value) if special(value) else value  # most values need no escaping

    # Every {{ value }} goes through ``escaped``: escaping is the default, as with Jinja2's
    # autoescape, at a sixth of its cost (no Markup made per value); a macro's output, built
    # of escaped values, is passed on with |safe.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=False,
        finalize=escaped,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )
