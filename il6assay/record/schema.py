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
from collections.abc import Mapping
from dataclasses import FrozenInstanceError, dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

from il6assay.errors import InputError

if TYPE_CHECKING:
    from il6assay.settings import Settings

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
    "report": Opt(Nullable({"plotly_js": str, "lang": Opt(str)})),
    "processed_by": Opt(Nullable(str)),
}

# curve.json: the keys every reader of a run's curve relies on (il6assay.record.outputs
# writes more; verification compares the whole document).
CURVE_FILE = "curve.json"
CURVE_RECORD: dict[str, Any] = {
    "fit": MapOf(ANY),
    "lloq_pg_ml": Nullable(NUMBER),
    "uloq_pg_ml": Nullable(NUMBER),
    "accepted": bool,
    "verdict": str,
    "rules": ListOf(MapOf(ANY)),
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


def _bad(where: str, expected: str, value: Any, file: str = RECORD_FILE) -> InputError:
    return InputError(f"{file} is malformed: {where} should be {expected}, found {_kind(value)}")


def check(value: Any, spec: Any, where: str, file: str = RECORD_FILE) -> None:
    """Raise InputError naming ``where`` (in ``file``) when ``value`` does not match ``spec``."""
    if isinstance(spec, Nullable):
        if value is not None:
            check(value, spec.spec, where, file)
        return
    if spec is ANY:
        return
    if spec is SHA256:
        if not (isinstance(value, str) and _SHA256.fullmatch(value)):
            raise _bad(where, "a SHA-256 digest (64 hex digits)", value, file)
        return
    if spec is NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(where, "a number", value, file)
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _bad(where, "a map", value, file)
        for key, sub in spec.items():
            path = f"{where}.{key}" if where else key
            if key not in value:
                if isinstance(sub, Opt):
                    continue
                raise InputError(f"{file} is malformed: {path} is missing")
            check(value[key], sub.spec if isinstance(sub, Opt) else sub, path, file)
        return
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            raise _bad(where, "a list", value, file)
        if len(value) < spec.min_items:
            raise InputError(f"{file} is malformed: {where} is empty")
        for i, item in enumerate(value):
            check(item, spec.spec, f"{where}[{i}]", file)
        return
    if isinstance(spec, MapOf):
        if not isinstance(value, dict):
            raise _bad(where, "a map", value, file)
        for key, item in value.items():
            check(item, spec.spec, f"{where}.{key}", file)
        return
    if spec is bool:
        if not isinstance(value, bool):
            raise _bad(where, _TYPE_NAMES[bool], value, file)
        return
    if spec is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(where, _TYPE_NAMES[int], value, file)
        return
    if not isinstance(value, spec):
        raise _bad(where, _TYPE_NAMES.get(spec, spec.__name__), value, file)


# A CSV cell il6assay guarded against being run as a spreadsheet formula ('=..., '+..., ...):
# the prefixes of il6assay.record.outputs.FORMULA_PREFIXES.
_GUARDED = ("=", "+", "-", "@", "\t", "\r")


def unguarded(text: str | None) -> str:
    """A CSV cell as il6assay meant it: without the apostrophe that guards formula-like text."""
    value = text or ""
    if value.startswith("'") and value[1:2] in _GUARDED and value[1:2] != "":
        return value[1:]
    return value


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


# --- run.json as a typed, read-only value (built from a checked record) ---


@dataclass(frozen=True)
class InputCopy:
    """One input as the run copied it: the file named, its copy in the folder, the SHA-256."""

    file: str
    copy: str
    sha256: str


@dataclass(frozen=True)
class ExportRecord:
    """run.json's ``export``: the export's file, format, plate, reader metadata and reads."""

    file: str
    format: str
    plate_id: str | None
    metadata: Mapping[str, Any]
    reads: tuple[str, ...]
    read: str
    reference: str | None


@dataclass(frozen=True)
class ReviewRecord:
    """run.json's ``review``: the state the audit log's last review entry leaves."""

    status: str
    by: str | None = None
    reason: str | None = None
    time_utc: str | None = None
    os_account: str | None = None
    override: bool = False


@dataclass(frozen=True)
class ReportRecord:
    """run.json's ``report``: where report.html's plotly.js is, and its language."""

    plotly_js: str
    lang: str = "en"

    @property
    def embedded(self) -> bool:
        """Whether plotly.js is inside report.html (no shared copy beside the run)."""
        return self.plotly_js == "embedded"


def json_copy(value: Any) -> Any:
    """A fresh copy of a JSON value (maps and lists copied all the way down)."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def read_only(value: Any) -> Any:
    """A read-only copy of a JSON value: maps as mapping proxies, lists as tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: read_only(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(read_only(v) for v in value)
    return value


_FIELDS = (
    "run_id",
    "version",
    "created_utc",
    "export",
    "kit_lot",
    "inputs",
    "settings",
    "allow_unmatched",
    "libraries",
    "accepted",
    "verdict",
    "review",
    "warnings",
    "outputs_sha256",
    "report",
    "processed_by",
)


class RunRecord(dict[str, Any]):
    """run.json, checked, as typed read-only fields; ``raw`` is a fresh dict for writing.

    The fields (``record.verdict``, ``record.review.status``, ``record.export.plate_id``,
    ...) are typed and frozen. It is also run.json's dict, read-only: ``record["verdict"]``,
    ``record.get(...)``, ``dict(record, review=...)`` and ``json.dumps(record)`` work,
    each value read is a copy, and any change is refused (change ``raw`` and write it;
    ``dict(record)`` and ``{**record}`` are shallow, for reading or dumping only).
    """

    __slots__ = _FIELDS
    run_id: str
    version: str
    created_utc: str
    export: ExportRecord
    kit_lot: str | None
    inputs: Mapping[str, tuple[InputCopy, ...]]
    settings: Mapping[str, Any]
    allow_unmatched: bool
    libraries: Mapping[str, str]
    accepted: bool
    verdict: str
    review: ReviewRecord
    warnings: tuple[str, ...]
    outputs_sha256: Mapping[str, str]
    report: ReportRecord | None
    processed_by: str | None

    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__(doc)
        export, review, report = doc["export"], doc["review"], doc.get("report")
        fields = {
            "run_id": doc["run_id"],
            "version": doc["version"],
            "created_utc": doc["created_utc"],
            "export": ExportRecord(
                file=export["file"],
                format=export["format"],
                plate_id=export["plate_id"],
                metadata=read_only(export["metadata"]),
                reads=tuple(export["reads"]),
                read=export["read"],
                reference=export["reference"],
            ),
            "kit_lot": doc["kit_lot"],
            "inputs": MappingProxyType(
                {
                    kind: tuple(InputCopy(e["file"], e["copy"], e["sha256"]) for e in entries)
                    for kind, entries in doc["inputs"].items()
                }
            ),
            "settings": read_only(doc["settings"]),
            "allow_unmatched": doc["allow_unmatched"],
            "libraries": MappingProxyType(dict(doc["libraries"])),
            "accepted": doc["accepted"],
            "verdict": doc["verdict"],
            "review": ReviewRecord(**{k: review[k] for k in REVIEW if k in review}),
            "warnings": tuple(doc["warnings"]),
            "outputs_sha256": MappingProxyType(dict(doc["outputs_sha256"])),
            "report": None if report is None else ReportRecord(**report),
            "processed_by": doc.get("processed_by"),
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    @classmethod
    def of(cls, doc: dict[str, Any]) -> RunRecord:
        """The typed view of a record ``parse_record`` has checked (a copy of ``doc``)."""
        return cls(json_copy(doc))

    @property
    def raw(self) -> dict[str, Any]:
        """run.json as a plain dict, a fresh copy (to change and write)."""
        return {k: json_copy(v) for k, v in dict.items(self)}

    @property
    def export_sha256(self) -> str:
        """The SHA-256 of the run's raw export (its input copy)."""
        return self.inputs["export"][0].sha256

    def run_settings(self) -> Settings:
        """The settings the run was processed (and masked) with, as ``Settings``."""
        from il6assay.settings import Settings

        return Settings.from_dict(self.raw["settings"])

    def input_copy(self, kind: str) -> InputCopy | None:
        """The first input copy of ``kind`` ("export", "layout", "samples"), if any."""
        entries = self.inputs.get(kind) or ()
        return entries[0] if entries else None

    # Read: copies, so that no caller changes the record every other reader sees.
    def __getitem__(self, key: str) -> Any:
        return json_copy(dict.__getitem__(self, key))

    def get(self, key: str, default: Any = None) -> Any:
        """run.json's value at ``key`` (a copy), or ``default``."""
        return json_copy(dict.get(self, key, default))

    def values(self) -> Any:
        """Copies of run.json's values."""
        return self.raw.values()

    def items(self) -> Any:
        """run.json's keys with copies of their values."""
        return self.raw.items()

    def copy(self) -> dict[str, Any]:  # type: ignore[override]
        """run.json as a plain dict, a fresh copy (as ``raw``)."""
        return self.raw

    def __or__(self, other: Any) -> dict[str, Any]:
        return self.raw | other

    def __copy__(self) -> RunRecord:
        return RunRecord(self.raw)

    def __deepcopy__(self, memo: dict[int, Any]) -> RunRecord:
        return RunRecord(self.raw)

    def __reduce__(self) -> tuple[Any, ...]:
        return (RunRecord, (self.raw,))

    # Write: refused.
    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field '{name}' of a run's record")

    def _refused(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a run's record is read-only: change record.raw and write that")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refused
    __ior__ = _refused
    __delattr__ = _refused
