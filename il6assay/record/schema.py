"""What a run folder holds, as the tool (not the folder) defines it, and run.json's schema.

``load_record`` reads run.json and checks it against ``RUN_RECORD``: every
required key present with the right type, so no later code meets a list where
a map belongs. A malformed run.json is one line naming the key (InputError,
exit 2). ``content_files`` is the list of files a run must hold: every output,
``review.js`` when there is a report, every input copy; ``audit.jsonl`` is
always required too (``il6assay.record.audit``). The list comes from this
module and the record's kinds of input, never from a directory listing or
from run.json's hash maps, so deleting an entry from a map removes no check.

A small typed check rather than ``jsonschema``: the schema is a dozen keys,
the check is twenty lines, its message names the key path in one line, and
nothing is added to install.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from il6assay.errors import InputError

RECORD_FILE = "run.json"
# The format of run folders whose review is in a hash-chained audit log.
RUN_FOLDER_FORMAT = 2
# Every run holds these outputs (written by il6assay.record.outputs).
OUTPUT_FILES = ("results.csv", "dilutions.csv", "results.xlsx", "wells.csv", "curve.json")
# And, when it has a report (run.json "report" not null), these.
REPORT_FILES = ("report.html",)
REVIEW_JS = "review.js"
INPUT_KINDS = ("export", "layout", "samples")

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Opt:
    """A key that may be absent."""

    spec: Any


@dataclass(frozen=True)
class ListOf:
    """A JSON array whose items all match ``spec``; ``min_items`` at least."""

    spec: Any
    min_items: int = 0


@dataclass(frozen=True)
class MapOf:
    """A JSON object with free keys whose values all match ``spec``."""

    spec: Any


@dataclass(frozen=True)
class Nullable:
    """``spec`` or null."""

    spec: Any


SHA256 = "sha256"  # a lowercase hex SHA-256 digest
NUMBER = "number"  # an int or float, never a bool
ANY = "any"

INPUT_ENTRY = {"file": str, "copy": str, "sha256": SHA256}
REVIEW = {
    "status": str,
    "by": Opt(str),
    "reason": Opt(str),
    "time_utc": Opt(str),
    "os_account": Opt(str),
    "override": Opt(bool),
}
RUN_RECORD: dict[str, Any] = {
    "run_folder_format": int,
    "run_id": str,
    "tool": str,
    "version": str,
    "created_utc": str,
    "export": {
        "file": str,
        "format": str,
        "plate_id": Nullable(str),
        "metadata": MapOf(ANY),
        "reads": ListOf(str),
        "read": str,
        "reference": Nullable(str),
    },
    "kit_lot": Nullable(str),
    "inputs": {
        "export": ListOf(INPUT_ENTRY, 1),
        "layout": ListOf(INPUT_ENTRY, 1),
        "samples": Opt(ListOf(INPUT_ENTRY)),
    },
    "settings": MapOf(ANY),
    "allow_unmatched": bool,
    "libraries": MapOf(str),
    "accepted": bool,
    "verdict": str,
    "review": REVIEW,
    "warnings": ListOf(str),
    "outputs_sha256": MapOf(SHA256),
    "report": Opt(Nullable({"plotly_js": str})),
}

_TYPE_NAMES = {str: "text", int: "an integer", bool: "true or false", dict: "a map", list: "a list"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return "a number"


def _bad(where: str, expected: str, value: Any) -> InputError:
    return InputError(f"run.json is malformed: {where} should be {expected}, found {_kind(value)}")


def check(value: Any, spec: Any, where: str) -> None:
    """Raise InputError naming ``where`` when ``value`` does not match ``spec``."""
    if isinstance(spec, Nullable):
        if value is not None:
            check(value, spec.spec, where)
        return
    if spec is ANY:
        return
    if spec is SHA256:
        if not (isinstance(value, str) and _SHA256.fullmatch(value)):
            raise _bad(where, "a SHA-256 digest (64 hex digits)", value)
        return
    if spec is NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(where, "a number", value)
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _bad(where, "a map", value)
        for key, sub in spec.items():
            path = f"{where}.{key}" if where else key
            if key not in value:
                if isinstance(sub, Opt):
                    continue
                raise InputError(f"run.json is malformed: {path} is missing")
            check(value[key], sub.spec if isinstance(sub, Opt) else sub, path)
        return
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            raise _bad(where, "a list", value)
        if len(value) < spec.min_items:
            raise InputError(f"run.json is malformed: {where} is empty")
        for i, item in enumerate(value):
            check(item, spec.spec, f"{where}[{i}]")
        return
    if isinstance(spec, MapOf):
        if not isinstance(value, dict):
            raise _bad(where, "a map", value)
        for key, item in value.items():
            check(item, spec.spec, f"{where}.{key}")
        return
    if spec is bool:
        if not isinstance(value, bool):
            raise _bad(where, _TYPE_NAMES[bool], value)
        return
    if spec is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(where, _TYPE_NAMES[int], value)
        return
    if not isinstance(value, spec):
        raise _bad(where, _TYPE_NAMES.get(spec, spec.__name__), value)


class RunChanged(InputError):
    """A run folder that no longer is what il6assay wrote: a file, the record or the log."""


class LegacyRunFolder(RunChanged):
    """A run folder made before reviews were hash-chained: it cannot be checked."""


LEGACY_MESSAGE = (
    "this run folder was made before il6assay kept a hash-chained audit log "
    "(run.json has no run_folder_format), so its outputs and review cannot be checked; "
    "process its export again (the copy is in inputs/export/) into a new --out and review that run"
)


def parse_record(text: str, folder: Path) -> dict[str, Any]:
    """run.json's text as a checked record (InputError naming the key when malformed)."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise InputError(f"run.json is not valid JSON ({err})", path=folder) from None
    if not isinstance(doc, dict):
        raise InputError(
            f"run.json is malformed: it should be a map, found {_kind(doc)}", path=folder
        )
    if "run_folder_format" not in doc and "outputs_sha256" in doc:
        raise LegacyRunFolder(LEGACY_MESSAGE, path=folder)
    try:
        check(doc, RUN_RECORD, "")
        if doc["run_folder_format"] != RUN_FOLDER_FORMAT:
            raise InputError(
                f"run.json is in run-folder format {doc['run_folder_format']}; this il6assay "
                f"reads format {RUN_FOLDER_FORMAT}"
            )
        if doc["tool"] != "il6assay":
            raise InputError(f"run.json was written by '{doc['tool']}', not il6assay")
        for kind, entries in doc["inputs"].items():
            if kind not in INPUT_KINDS:
                raise InputError(f"run.json is malformed: inputs.{kind} is not a kind of input")
            for i, entry in enumerate(entries):
                _check_inside(entry["copy"], f"inputs.{kind}[{i}].copy")
        if len(doc["inputs"]["export"]) != 1:
            raise InputError("run.json is malformed: inputs.export should name one file")
        samples = doc["inputs"].get("samples", [])
        if len(samples) > 1 or (not samples and not doc["allow_unmatched"]):
            raise InputError(
                "run.json is malformed: inputs.samples should name the one sample sheet"
            )
        for name in doc["outputs_sha256"]:
            _check_inside(name, f"outputs_sha256.{name}")
    except InputError as err:
        raise err.at(folder) from None
    return doc


def _check_inside(name: str, where: str) -> None:
    """A file name in run.json must stay inside the run folder."""
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or "\\" in name:
        raise InputError(f"run.json is malformed: {where} names a file outside the run folder")


def load_record(folder: str | Path) -> dict[str, Any]:
    """The folder's run.json, read and checked against the schema."""
    folder = Path(folder)
    path = folder / RECORD_FILE
    if not path.is_file():
        raise InputError("not an il6assay run folder (no run.json)", path=folder)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("run.json is not UTF-8 text", path=folder) from None
    return parse_record(text, folder)


def output_files(record: dict[str, Any]) -> list[str]:
    """The outputs every run holds (the report when it has one); review.js is apart."""
    names = list(OUTPUT_FILES)
    if record.get("report") is not None:
        names += REPORT_FILES
    return names


def input_copies(record: dict[str, Any]) -> list[str]:
    """The input copies run.json names: an export, the layout with its includes, a sheet."""
    return [e["copy"] for kind in INPUT_KINDS for e in record["inputs"].get(kind, [])]


def content_files(record: dict[str, Any]) -> list[str]:
    """Every file whose bytes are the run's content: outputs and input copies."""
    return output_files(record) + input_copies(record)
