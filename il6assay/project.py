"""The project's settings, read once: ./il6assay.toml, ``$IL6ASSAY_DB`` and the defaults.

No other module opens il6assay.toml. The CLI (or the server) calls ``load_project``
once and passes the typed ``Project`` down. One path rule holds for every path the
file names (``layout``, ``out``, ``db``): ``~`` is expanded, then a relative path is
relative to the folder of il6assay.toml (the working folder). ``$IL6ASSAY_DB``
names the study database before the file's ``db`` (a relative path there is
relative to the working folder); ``--db`` names it before both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from il6assay.errors import InputError
from il6assay.settings import CONFIG_KEYS, Settings, config_settings

PROJECT_FILE = "il6assay.toml"
DB_ENV = "IL6ASSAY_DB"  # names the study database, before il6assay.toml's db
PROJECT_KEYS = (
    "layout",
    "out",
    "db",
    "lang",
    "control_targets",
    "matrix",
    "studyid",
    *CONFIG_KEYS,
)
TEXT_KEYS = ("layout", "out", "db", "lang", "matrix", "studyid")  # paths and names: text
DEFAULT_OUT = "il6assay-results"


@dataclass(frozen=True)
class Project:
    """The project's settings: ./il6assay.toml, $IL6ASSAY_DB and the defaults, read once.

    Every path il6assay.toml names is relative to that file, with ``~`` expanded
    (``project_path``); the CLI or the server loads this once and passes it down.
    """

    path: Path | None = None  # the il6assay.toml read (None: there is none)
    layout: Path | None = None  # the lab's default layout
    out: Path = Path(DEFAULT_OUT)  # where run folders are written
    db: str | None = None  # the study database: a URL or an absolute file path
    db_source: str = ""  # what named it: $IL6ASSAY_DB or the toml's path
    lang: str | None = None  # the report's language (None: English)
    matrix: str = ""  # the specimen matrix of the SDTM LB export
    studyid: str = ""  # the STUDYID of the SDTM LB export
    control_targets: Mapping[str, Any] = field(default_factory=dict)  # checked by study.qc
    processing: Mapping[str, Any] = field(default_factory=dict)  # CONFIG_KEYS given

    def settings(self, **given: Any) -> Settings:
        """A plate's Settings: the toml's processing keys, each overridden by an option given."""
        return config_settings(self.processing, **given)

    def database(self, given: str | None = None) -> tuple[str | None, str]:
        """The study database named by ``--db`` (``given``), else $IL6ASSAY_DB, else the toml."""
        if given is not None and given.strip():
            return given.strip(), "--db"
        return self.db, self.db_source


def project_path(value: Any, base: Path | None) -> Path:
    """A path as il6assay.toml names it: ``~`` expanded, then relative to the toml's folder."""
    path = Path(str(value).strip()).expanduser()
    return path if base is None else base / path


def _db_value(value: str, base: Path | None) -> str:
    """A database named in settings: a URL as given, a file path made absolute by the one rule."""
    if "://" in value:
        return value
    return str(project_path(value, base).absolute())


# A layout or il6assay.toml nests a few levels ([block.2x1.A1], an include list); TOML's
# parser recurses once per level of arrays and inline tables, and its time grows with the
# square of a dotted key's length, so text nested deeper than this is refused before parsing.
MAX_TOML_DEPTH = 16
BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def toml_depths(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """The deepest nesting of arrays and inline tables in TOML text and the longest dotted
    key (its number of parts), each with the line it is on.

    One linear scan outside strings and comments, no recursion, so any depth is measured in
    milliseconds. A dotted run is bare or quoted parts joined by dots (``a."b".c``); a value
    has at most one dot (``1.5``), so only a key can be a long run.
    """
    depth = deepest = 0
    line = deepest_line = 1
    parts = longest = 0  # the parts of the dotted run being read, and the most seen
    longest_line = 1
    after = ""  # what the run last took: "part", "." or nothing
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in BARE_KEY_CHARS:
            j = i + 1
            while j < n and text[j] in BARE_KEY_CHARS:
                j += 1
            parts = parts + 1 if after == "." else 1
            if parts > longest:
                longest, longest_line = parts, line
            after = "part"
            i = j
            continue
        if ch == ".":
            after = "." if after == "part" else ""
        elif ch in " \t":
            pass  # TOML allows blanks around a key's dots
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end == -1 else end
            after = ""
            continue
        elif ch in "\"'":
            quote = text[i : i + 3] if text.startswith(ch * 3, i) else ch
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if ch == '"' and text[j] == "\\":
                    j += 1
                elif len(quote) == 1 and text[j] == "\n":
                    break  # an unclosed one-line string: tomllib says so
                j += 1
            line += text.count("\n", i, j)
            parts = parts + 1 if after == "." else 1
            if parts > longest:
                longest, longest_line = parts, line
            after = "part"
            i = j + len(quote)
            continue
        else:
            after = ""
            if ch == "\n":
                line += 1
            elif ch in "[{":
                depth += 1
                if depth > deepest:
                    deepest, deepest_line = depth, line
            elif ch in "]}":
                depth = max(depth - 1, 0)
        i += 1
    return (deepest, deepest_line), (longest, longest_line)


def refuse_deep_toml(text: str, path: Path, needs: str) -> None:
    """Refuse TOML text nested deeper than MAX_TOML_DEPTH (``needs``: who needs less, for
    the message), before tomllib spends seconds or a RecursionError on it."""
    (nesting, line), (parts, key_line) = toml_depths(text)
    if nesting > MAX_TOML_DEPTH:
        raise InputError(
            f"arrays or inline tables nested {nesting} deep; {needs} needs at most "
            f"{MAX_TOML_DEPTH}",
            path=path,
            where=f"line {line}",
        )
    if parts > MAX_TOML_DEPTH:
        raise InputError(
            f"keys nested {parts} deep (a.b.c...); {needs} needs at most {MAX_TOML_DEPTH}",
            path=path,
            where=f"line {key_line}",
        )


def _read(path: Path) -> dict[str, Any]:
    """il6assay.toml's keys, checked: known ones only, text where a text is meant."""
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
        refuse_deep_toml(text, path, PROJECT_FILE)
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not valid TOML ({err})", path=path) from None
    except OSError as err:
        raise InputError(f"cannot read it: {err.strerror}", path=path) from None
    unknown = sorted(set(data) - set(PROJECT_KEYS))
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(unknown)}; known: {', '.join(PROJECT_KEYS)}", path=path
        )
    for key in TEXT_KEYS:
        if key in data and not isinstance(data[key], str):
            raise InputError(f"{key} = {data[key]!r}: expected a text in quotes", path=path)
    return data


def project_stamp(cwd: Path | None = None) -> list[int] | None:
    """The size and modification time of ``cwd``'s il6assay.toml (None without one): a change
    mark for what is built from it (the review app's cached study pages)."""
    try:
        st = ((cwd or Path.cwd()) / PROJECT_FILE).stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def load_project(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Project:
    """The project's settings from ``cwd``'s il6assay.toml (if any), $IL6ASSAY_DB and defaults."""
    env = os.environ if environ is None else environ
    candidate = (cwd / PROJECT_FILE) if cwd is not None else Path(PROJECT_FILE)
    path = candidate if candidate.is_file() else None
    data = _read(path) if path is not None else {}
    base = path.parent if path is not None else None
    db, db_source = None, ""
    if env.get(DB_ENV, "").strip():  # relative to the folder one stands in, ~ expanded
        db, db_source = _db_value(env[DB_ENV].strip(), None), f"${DB_ENV}"
    elif path is not None and str(data.get("db", "")).strip():
        db, db_source = _db_value(str(data["db"]).strip(), base), str(path.absolute())
    return Project(
        path=path,
        layout=project_path(data["layout"], base).resolve() if data.get("layout") else None,
        out=project_path(data["out"], base) if data.get("out") else Path(DEFAULT_OUT),
        db=db,
        db_source=db_source,
        lang=str(data["lang"]) if data.get("lang") else None,
        matrix=str(data.get("matrix", "")),
        studyid=str(data.get("studyid", "")),
        control_targets=data.get("control_targets", {}),
        processing={key: data[key] for key in CONFIG_KEYS if key in data},
    )
