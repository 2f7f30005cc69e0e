"""Verification by recomputation: a run folder is what processing its own inputs gives.

``verify_run`` opens the run (schema, every file against its hash, the audit
chain, the review; ``il6assay.record.folder.open_run``), then processes the
plate again from ``inputs/`` with the recorded settings and writes every
output again into a scratch folder, and requires the same. Nothing in the
folder sets how strictly:

- the folder's name is the run id its input copies, first settings and
  run.json's ``version`` give, whatever that version is (the id hashes it);
- with the same il6assay, Python and library versions (run.json's
  ``version`` and ``libraries``): results.csv, dilutions.csv, wells.csv and
  curve.json byte for byte, results.xlsx's parts (but its creation time),
  report.html (but plotly's random element ids), and run.json's verdict,
  plate, reads, kit lot and warnings exactly;
- when any of those versions differs (said in a note): the same files and
  fields under one tolerance, every number within ``REL_TOLERANCE``
  (relative) and every other character equal; results.xlsx cell by cell,
  report.html word by word (plotly.js itself set aside).

Files are named by their name in compared text, never their path.

A verification can be remembered outside the folder (``Memory``: the study
database's ``verified_runs``, ``il6assay.db.verified``), keyed by what
processing depends on (``verification_key``) and the run.json it found true
(``record_sha256``, which carries every output's hash). A folder with the same
key and the same run.json, whose files match those hashes, is the folder that
was verified, byte for byte: it is not processed again. The checks that do
not depend on processing (schema, hashes, audit chain, review, the shared
plotly.js) are made every time.
Only masking changes settings, so the settings must be those of the first
(processing) entry of the audit log with the masked wells its mask entries
leave. An edited result, verdict or review thus fails whatever was done to
the hashes: the hashes only say which file differs first.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from il6assay import __version__
from il6assay.errors import InputError
from il6assay.plate.hashing import sha256_bytes, sha256_file
from il6assay.record.audit import AUDIT_FILE
from il6assay.record.folder import RunFolder, open_run, reprocess
from il6assay.record.schema import RunChanged, RunRecord
from il6assay.settings import Settings

# Numbers recomputed by another il6assay version must agree to 0.1 % (results are
# reported to 3 significant figures; a smaller change is not a different result).
REL_TOLERANCE = 1e-3
CSV_FILES = ("results.csv", "dilutions.csv", "wells.csv")
# run.json fields that processing determines.
RECORD_FIELDS = ("run_id", "accepted", "verdict", "kit_lot", "warnings", "allow_unmatched")
EXPORT_FIELDS = ("format", "plate_id", "metadata", "reads", "read", "reference")
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_cache: dict[tuple[str, str, str], tuple[list[str], list[str]]] = {}


@dataclass
class Verification:
    """One run's verification: what differs (nothing when verified) and notes."""

    run_dir: Path
    run_id: str
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    folder: RunFolder | None = None
    recalled: str | None = None  # when the study database says it was verified before

    @property
    def ok(self) -> bool:
        """True when the run folder is what its inputs give."""
        return not self.differences

    def message(self) -> str:
        """One line for the terminal."""
        if self.ok and self.recalled:
            text = f"{self.run_dir}: verified ({self.recalled})"
        elif self.ok:
            text = (
                f"{self.run_dir}: verified (recomputed from inputs/: same results, flags, verdict)"
            )
        else:
            text = f"{self.run_dir}: DIFFERS: {self.differences[0]}"
            if len(self.differences) > 1:
                text += f" (and {len(self.differences) - 1} more)"
        return text + "".join(f"; note: {n}" for n in self.notes)


class Memory(Protocol):
    """Where verifications are remembered (the study database), outside every run folder."""

    def recall(self, key: str, record_sha256: str) -> str | None:
        """A note saying when this run was verified, or None when it never was."""

    def remember(self, folder: RunFolder, key: str, record_sha256: str) -> None:
        """Record that this run folder was verified by recomputation."""


def verification_key(folder: RunFolder) -> str:
    """The SHA-256 of what processing the run depends on, and of the tools verifying it now.

    The input copies' hashes, the settings (run.json's and the audit log's first and
    masked wells), run.json's il6assay and library versions, the report's options, the
    reader, the folder's name, and this il6assay's and its libraries' versions.
    """
    # run.json's values as recorded (plain JSON): the key must hash the same for a same run.
    record, entries = folder.record.raw, folder.entries
    parts = {
        "folder": folder.path.name,
        "inputs": {k: [e["sha256"] for e in v] for k, v in sorted(record["inputs"].items())},
        "settings": record["settings"],
        "processed_with": entries[0].get("settings") if entries else None,
        "masked_by_log": list(_masked_by_the_log(entries)),
        "version": record["version"],
        "libraries": record["libraries"],
        "report": record.get("report"),
        "allow_unmatched": record.get("allow_unmatched"),
        "reader": record["export"].get("format"),
        "verified_with": [__version__, _tools()],
    }
    return sha256_bytes(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str))


def record_sha256(record: Mapping[str, Any]) -> str:
    """The SHA-256 of run.json but its review: every processing field and every output's hash."""
    body = {k: v for k, v in record.items() if k != "review"}
    return sha256_bytes(json.dumps(body, sort_keys=True, ensure_ascii=False))


def verify_run(path: str | Path, memory: Memory | None = None) -> Verification:
    """Check a run folder and recompute it from its inputs; differences are listed, not raised.

    With ``memory``, a run folder verified before (the same inputs, settings, tools
    and run.json, every file matching its hash) is not processed again, and a run
    verified now is remembered. A run.json that is not a run record at all
    (malformed, not a run folder) is an InputError, as for every command.
    """
    path = Path(path)
    try:
        folder = open_run(path)
    except RunChanged as err:
        return Verification(path, path.name, [err.message])
    result = Verification(path, folder.record.run_id, folder=folder)
    known = None
    if memory is not None:
        key, digest = verification_key(folder), record_sha256(folder.record.raw)
        known = memory.recall(key, digest)
    if known is not None:
        result.recalled = known
    else:
        cache_key = (
            str(path.resolve()),
            folder.entries[-1]["content_sha256"],
            sha256_file(path / AUDIT_FILE),
        )
        if cache_key not in _cache:
            _cache[cache_key] = _recompute(folder)
        differences, notes = _cache[cache_key]
        result.differences, result.notes = list(differences), list(notes)
        if memory is not None and result.ok:
            memory.remember(folder, key, digest)
    report = folder.record.report
    if report is not None and not report.embedded:  # outside the run: not cached
        result.differences += shared_plotly_differences(path.parent, result.notes)
    return result


def verified_run(path: str | Path, memory: Memory | None = None) -> RunFolder:
    """The run folder, verified; a RunChanged naming the first difference otherwise (for push)."""
    result = verify_run(path, memory)
    if not result.ok or result.folder is None:
        raise RunChanged(
            f"{result.differences[0]} (found by il6assay verify; the run cannot be pushed)",
            path=path,
        )
    return result.folder


def _recompute(folder: RunFolder) -> tuple[list[str], list[str]]:
    record, entries = folder.record, folder.entries
    differences: list[str] = []
    notes: list[str] = []
    changed = _changed_versions(record)
    same_version = not changed
    if changed:
        notes.append(
            f"made with {', '.join(changed)}: numbers compared within {REL_TOLERANCE:.1%}, "
            "results.xlsx cell by cell, report.html word by word"
        )
    if record.run_id != folder.path.name:
        differences.append(
            f"run.json's run_id {record.run_id} is not the folder's name {folder.path.name}"
        )
    try:
        settings = record.run_settings()
        first = Settings.from_dict(entries[0].get("settings") or {})
    except (TypeError, ValueError) as err:
        return [f"run.json's settings are not settings il6assay writes ({err})"], notes
    masked = _masked_by_the_log(entries)
    if replace(settings, masked=()) != replace(first, masked=()):
        differences.append(
            "run.json's settings are not those the run was processed with "
            "(only masking changes settings, and the audit log records it)"
        )
    if tuple(sorted(settings.masked)) != masked:
        differences.append(
            f"run.json's masked wells ({', '.join(settings.masked) or 'none'}) are not those "
            f"the audit log records ({', '.join(masked) or 'none'})"
        )
    try:
        run = reprocess(folder, settings)
    except InputError as err:
        return [*differences, f"the inputs no longer process: {err.message}"], notes
    from il6assay.run import make_run_id

    # Whatever run.json's version says: the run id hashes it too, so an edited version
    # gives another id, and a replaced input copy is found under any version.
    original = make_run_id(replace(run, settings=first), version=record.version)
    if original != folder.path.name:
        differences.append(
            f"the folder's name {folder.path.name} is not the run id its input copies, "
            f"settings and version ({record.version}) give ({original}): an input copy, "
            "the settings or run.json's version were replaced"
        )
    from il6assay.record.outputs import render_outputs

    scratch = Path(tempfile.mkdtemp(prefix="il6assay-verify-"))
    try:
        report = record.report
        render_outputs(
            run,
            scratch,
            report=report is not None,
            lang=report.lang if report is not None else "en",
            standalone=report is not None and report.embedded,
        )
        differences += _compare_record(record.raw, scratch, same_version)
        for name in CSV_FILES:
            differences += _compare_csv(folder.path, scratch, name, same_version)
        differences += _compare_curve(folder, scratch, same_version)
        if same_version:
            differences += _compare_xlsx(folder.path, scratch)
        else:
            differences += _compare_xlsx_cells(folder.path, scratch)
        if report is not None:
            differences += _compare_report(folder.path, scratch, same_version)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return differences, notes


_versions: dict[Any, dict[str, str]] = {}


def _tools() -> dict[str, str]:
    """This process's Python and library versions (read once: they do not change while it runs)."""
    from il6assay.record import outputs

    read = outputs.library_versions
    if read not in _versions:
        _versions[read] = read()
    return _versions[read]


def _changed_versions(record: RunRecord) -> list[str]:
    """What differs between the tools that made the run and these: il6assay, Python, libraries."""
    out = []
    if record.version != __version__:
        out.append(f"il6assay {record.version}, recomputed by {__version__}")
    now = _tools()
    for name, version in sorted(now.items()):
        was = record.libraries.get(name)
        if was != version:
            out.append(f"{name} {was or 'unknown'}, recomputed with {version}")
    return out


def _masked_by_the_log(entries: list[dict[str, Any]]) -> tuple[str, ...]:
    masked: tuple[str, ...] = ()
    for entry in entries:
        if entry.get("action") in ("mask", "unmask"):
            masked = tuple(sorted(entry.get("masked_after") or ()))
    return masked


def _compare_record(record: dict[str, Any], scratch: Path, same_version: bool) -> list[str]:
    fresh = json.loads((scratch / "run.json").read_text(encoding="utf-8"))
    out = []
    for label, old, new in [
        *((name, record.get(name), fresh.get(name)) for name in RECORD_FIELDS),
        *(
            (f"export {name}", record["export"].get(name), fresh["export"].get(name))
            for name in EXPORT_FIELDS
        ),
    ]:  # every field, under any version: only numbers get the tolerance
        if _first_json_difference(old, new, "", same_version) is not None:
            out.append(f"run.json's {label}: recorded {old!r}, recomputed {new!r}")
    return out


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _same(a: str, b: str, exact: bool) -> bool:
    if a == b:
        return True
    if exact:
        return False
    x, y = _number(a), _number(b)
    if x is None or y is None:
        return False
    return abs(x - y) <= REL_TOLERANCE * max(abs(x), abs(y)) + 1e-12


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _compare_csv(folder: Path, scratch: Path, name: str, exact: bool) -> list[str]:
    if exact and (folder / name).read_bytes() == (scratch / name).read_bytes():
        return []
    recorded, fresh = _rows(folder / name), _rows(scratch / name)
    if not recorded or not fresh or recorded[0] != fresh[0]:
        return [f"{name}: its columns are not those processing writes"]
    header = fresh[0]
    if len(recorded) != len(fresh):
        return [f"{name}: {len(recorded) - 1} rows recorded, {len(fresh) - 1} recomputed"]
    for old, new in zip(recorded[1:], fresh[1:], strict=True):
        row = dict(zip(header, new, strict=False))
        label = row.get("sample") or row.get("well") or row.get("study_id") or "?"
        for col, a, b in zip(header, old, new, strict=False):
            if not _same(a, b, exact):
                return [f"{name}, {label}, {col}: recorded {a!r}, recomputed {b!r}"]
        if len(old) != len(new):
            return [f"{name}, {label}: {len(old)} cells recorded, {len(new)} recomputed"]
    return [f"{name} differs from what processing writes (its bytes)"] if exact else []


def _compare_curve(folder: RunFolder, scratch: Path, exact: bool) -> list[str]:
    name = "curve.json"
    if exact and (folder.path / name).read_bytes() == (scratch / name).read_bytes():
        return []
    try:
        old = folder.curve.raw
    except InputError as err:
        return [err.message]
    new = json.loads((scratch / name).read_text(encoding="utf-8"))
    where = _first_json_difference(old, new, "", exact)
    if where is None:
        return [f"{name} differs from what processing writes (its bytes)"] if exact else []
    return [f"{name}, {where}"]


def _first_json_difference(old: Any, new: Any, where: str, exact: bool) -> str | None:
    if isinstance(new, dict) and isinstance(old, dict):
        for key in sorted(set(old) | set(new)):
            if key not in old or key not in new:
                return f"{where}{key}: present in only one of recorded and recomputed"
            found = _first_json_difference(old[key], new[key], f"{where}{key}.", exact)
            if found:
                return found
        return None
    if isinstance(new, list) and isinstance(old, list):
        if len(old) != len(new):
            return f"{where.rstrip('.')}: {len(old)} items recorded, {len(new)} recomputed"
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found = _first_json_difference(a, b, f"{where.rstrip('.')}[{i}].", exact)
            if found:
                return found
        return None
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (old, new))
    if old == new or (
        numbers and not exact and _same(repr(float(old)), repr(float(new)), exact=False)
    ):
        return None
    return f"{where.rstrip('.')}: recorded {old!r}, recomputed {new!r}"


def _compare_xlsx(folder: Path, scratch: Path) -> list[str]:
    name = "results.xlsx"
    try:
        with zipfile.ZipFile(folder / name) as old, zipfile.ZipFile(scratch / name) as new:
            old_parts = {i.filename for i in old.infolist()}
            new_parts = {i.filename for i in new.infolist()}
            if old_parts != new_parts:
                if "docProps/app.xml" in old_parts:  # openpyxl's, as il6assay wrote before 27
                    return _compare_xlsx_cells(folder, scratch)
                return [f"{name}: its parts are not those processing writes"]
            for part in sorted(new_parts - {"docProps/core.xml"}):
                if old.read(part) != new.read(part):
                    return [f"{name}: {part} differs from what processing writes"]
    except (zipfile.BadZipFile, OSError):
        return [f"{name} is not the workbook processing writes"]
    return []


def _compare_xlsx_cells(folder: Path, scratch: Path) -> list[str]:
    """The workbook's sheets and cells (numbers within the tolerance): across versions."""
    from openpyxl import load_workbook

    name = "results.xlsx"
    try:
        old = load_workbook(folder / name, read_only=True, data_only=True)
    except Exception:
        return [f"{name} is not the workbook processing writes"]
    new = load_workbook(scratch / name, read_only=True, data_only=True)
    if old.sheetnames != new.sheetnames:
        return [f"{name}: its sheets are not those processing writes"]
    for sheet in new.sheetnames:
        old_rows = list(old[sheet].iter_rows(values_only=True))
        new_rows = list(new[sheet].iter_rows(values_only=True))
        if len(old_rows) != len(new_rows):
            return [f"{name}, sheet {sheet}: {len(old_rows)} rows recorded, {len(new_rows)} now"]
        for r, (a_row, b_row) in enumerate(zip(old_rows, new_rows, strict=True), start=1):
            for c, (a, b) in enumerate(zip(a_row, b_row, strict=False), start=1):
                x = "" if a is None else str(a)
                y = "" if b is None else str(b)
                if not _same(x, y, exact=False):
                    return [f"{name}, sheet {sheet}, row {r} column {c}: recorded {a!r}, now {b!r}"]
    return []


_plotly_digest: dict[str, str] = {}
_plotly_name: list[str] = []


def shared_plotly_differences(results_folder: Path, notes: list[str]) -> list[str]:
    """The plotly.js every report beside this run loads must be plotly's own copy."""
    from il6assay.plate.hashing import sha256_bytes
    from il6assay.record.report import plotly_js_name, plotly_js_source

    if not _plotly_name:  # read once per process (a package metadata lookup each time)
        _plotly_name.append(plotly_js_name())
    name = _plotly_name[0]
    path = results_folder / name
    if not path.is_file():
        notes.append(f"{name} is not beside the run (the report says so in words)")
        return []
    if name not in _plotly_digest:
        _plotly_digest[name] = sha256_bytes(plotly_js_source())
    if _shared_copy_digest(path) != _plotly_digest[name]:
        return [
            f"../{name}, the script every report beside this run runs, is not plotly's own copy"
        ]
    return []


def _shared_copy_digest(path: Path) -> str:
    """The shared copy's SHA-256, hashed again only when the file changed: one results
    folder's index or status checks every run against the same 3.5 MB file (a write,
    rename or chmod changes its ctime, which no user tool sets back). A file changed in
    the last 2 s is not remembered: a second write within one clock tick keeps its ctime."""
    import time

    st = path.stat()
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    known = _shared_digests.get(key[0])
    if known is not None and known[0] == key:
        return known[1]
    digest = sha256_file(path)
    if time.time_ns() - st.st_ctime_ns > 2_000_000_000:
        _shared_digests[key[0]] = (key, digest)
    return digest


_shared_digests: dict[str, tuple[Any, str]] = {}
_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)
_PLOTLY_FILE = re.compile(rb"plotly-[0-9][0-9A-Za-z.+-]*\.min\.js")
_WORD = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[^\d-]+|-")
_LIBRARY_SIZE = 100_000  # a <script> this long is plotly.js embedded, not the run's data


def _report_text(data: bytes) -> str:
    """A report's text with what is not the run's taken out: element ids, plotly.js itself."""
    data = _UUID.sub(b"ID", data)
    data = _SCRIPT.sub(
        lambda m: b"<script>PLOTLY</script>" if len(m.group(1)) > _LIBRARY_SIZE else m.group(0),
        data,
    )
    return _PLOTLY_FILE.sub(b"plotly.min.js", data).decode("utf-8", errors="replace")


_TYPED_ARRAY = re.compile(r'"dtype":"(\w+)","bdata":"([^"]*)"')


def _typed_arrays_as_numbers(text: str) -> str:
    """A figure's typed arrays (plotly's base64 ``bdata``) written out as their numbers,
    so another version's report is compared number by number there too."""
    import base64

    import numpy as np

    def numbers(m: re.Match[str]) -> str:
        try:
            raw = base64.b64decode(json.loads(f'"{m.group(2)}"'), validate=True)
            values = np.frombuffer(raw, dtype=np.dtype(m.group(1)))
        except (ValueError, TypeError):
            return m.group(0)
        return '"values":[' + ",".join(repr(v) for v in values.tolist()) + "]"

    return _TYPED_ARRAY.sub(numbers, text)


def _compare_report(folder: Path, scratch: Path, exact: bool) -> list[str]:
    """report.html: byte for byte (but element ids) by the same versions, else word by word
    (the figures' typed arrays number by number)."""
    name = "report.html"
    old = _report_text((folder / name).read_bytes())
    new = _report_text((scratch / name).read_bytes())
    if old == new:
        return []
    if not exact:
        old, new = _typed_arrays_as_numbers(old), _typed_arrays_as_numbers(new)
    if exact:
        pairs = zip(old.splitlines(), new.splitlines(), strict=False)
        where = next((n for n, (a, b) in enumerate(pairs, 1) if a != b), None)
        return [f"{name} differs from what processing writes (line {where or 'count'})"]
    old_words, new_words = list(_WORD.finditer(old)), _WORD.findall(new)
    for match, b in zip(old_words, new_words, strict=False):
        a = match.group(0)
        if not _same(a, b, exact=False):
            line = old.count("\n", 0, match.start()) + 1
            start = max(old.rfind("\n", 0, match.start()) + 1, match.start() - 30)
            shown = " ".join(old[start : match.end() + 10].split())
            return [
                f"{name} differs from what processing writes (line {line}, at {shown!r}: "
                f"recorded {a.strip()[:40]!r}, recomputed {b.strip()[:40]!r})"
            ]
    if len(old_words) != len(new_words):
        return [f"{name} differs from what processing writes (its length)"]
    return []
