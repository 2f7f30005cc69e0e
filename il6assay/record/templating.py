"""The Jinja2 environment il6assay's pages are rendered with: report.html, index, study pages.

Every value a template shows is HTML-escaped (``html.escape``, so quotes as
``&quot;`` and ``&#x27;``, as the pages always had them), None as nothing; only what the code
marks safe (``markupsafe.Markup``: a figure's own HTML, an embedded script)
goes in as it is. Jinja2 is imported here, when a page is rendered, never by
``il6assay --help``.

A templates folder may ship its templates compiled (``compiled/NAME.py``: the
Python source Jinja2 generates for ``NAME``, written by ``python -m
il6assay.record.templating``), so a fresh process loads a template's code
(Python's own bytecode cache) instead of compiling it (18 ms of CPU for
report.html). A compiled file is used only when its last line is the stamp of
the template's text, Jinja2's version and the environment's options as they are
now; otherwise the template is compiled from its text, as always, so a changed
template is never shown as it was. ``tests/test_lean_process.py`` checks that
the shipped files are current.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import sys
from pathlib import Path
from types import CodeType
from typing import Any

_SPECIAL = re.compile(r"[&<>\"']")  # what html.escape changes
COMPILED = "compiled"  # the folder, beside the templates, of their compiled Python source
PRECOMPILED = (Path(__file__).with_name("templates"),)  # report.html's: process renders it


def render(folder: Path, name: str, /, **context: Any) -> str:
    """The template ``name`` of ``folder`` rendered with ``context``."""
    return _environment(folder).get_template(name).render(**context)


def load(folder: Path, *names: str) -> None:
    """Load the templates ``names`` of ``folder`` now (processes forked after share them)."""
    for name in names:
        _environment(folder).get_template(name)


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

    class Compiled(jinja2.BytecodeCache):
        """Jinja2's bytecode cache, answered from the folder's current compiled templates."""

        def get_bucket(self, environment: Any, name: str, filename: Any, source: str) -> Any:
            bucket = jinja2.bccache.Bucket(environment, name, "")
            bucket.code = compiled_code(environment, folder, name, source)
            return bucket

        def set_bucket(self, bucket: Any) -> None:
            """Nothing is written: a template compiled here lives as long as the process."""

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
        bytecode_cache=Compiled() if (folder / COMPILED).is_dir() else None,
    )


def stamp(environment: Any, source: str) -> str:
    """The last line of a compiled template: what its code was compiled from and by."""
    import jinja2

    autoescape = environment.autoescape
    options = (
        environment.block_start_string,
        environment.block_end_string,
        environment.variable_start_string,
        environment.variable_end_string,
        environment.comment_start_string,
        environment.comment_end_string,
        environment.line_statement_prefix,
        environment.line_comment_prefix,
        environment.trim_blocks,
        environment.lstrip_blocks,
        environment.newline_sequence,
        environment.keep_trailing_newline,
        getattr(autoescape, "__qualname__", autoescape),
        _passes(environment.finalize),
        environment.optimized,
        environment.is_async,
        sorted(environment.extensions),
        # the code calls a filter or test with the context or environment it asks for
        sorted((name, _passes(f)) for name, f in environment.filters.items()),
        sorted((name, _passes(f)) for name, f in environment.tests.items()),
    )
    digest = hashlib.sha256(f"{options!r}\0{source}".encode()).hexdigest()
    return f"# compiled by jinja2 {jinja2.__version__}; template and options: sha256 {digest}\n"


def _passes(function: Any) -> str | None:
    """What Jinja2 passes ``function`` first (its ``pass_context`` marks), or None if absent."""
    if function is None:
        return None
    return str(getattr(function, "jinja_pass_arg", ""))


def compiled_code(environment: Any, folder: Path, name: str, source: str) -> CodeType | None:
    """The code of ``folder/compiled/NAME.py`` if it was compiled from ``source`` as it is now."""
    from importlib.machinery import SourceFileLoader

    path = folder / COMPILED / f"{name}.py"
    try:
        current = path.read_text(encoding="utf-8").endswith(stamp(environment, source))
    except (OSError, UnicodeDecodeError):
        return None
    if not current:
        return None
    code = SourceFileLoader(path.stem, str(path)).get_code(path.stem)  # Python's bytecode cache
    return _located(code, str(folder / name)) if code is not None else None


def _located(code: CodeType, filename: str) -> CodeType:
    """``code`` as compiled from ``filename`` (tracebacks name the template, as Jinja2's do)."""
    consts = tuple(_located(c, filename) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def compile_templates(folder: Path) -> list[Path]:
    """Write ``folder/compiled/NAME.py`` for every template of ``folder``; the files written."""
    environment = _environment(folder)
    target = folder / COMPILED
    target.mkdir(exist_ok=True)
    written = []
    for template in sorted(folder.glob("*.html")):
        source = template.read_bytes().decode("utf-8")  # as the loader reads it
        code = environment.compile(source, template.name, str(template), raw=True)
        path = target / f"{template.name}.py"
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(f"{code}\n{stamp(environment, source)}", encoding="utf-8")
        partial.replace(path)  # whole or not at all
        written.append(path)
    return written


if __name__ == "__main__":  # python -m il6assay.record.templating: after changing a template
    for folder in PRECOMPILED:
        for path in compile_templates(folder):
            print(f"compiled {path.relative_to(folder.parent)}", file=sys.stderr)
