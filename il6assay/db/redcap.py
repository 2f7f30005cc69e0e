"""REDCap: current results as a CSV the Data Import Tool accepts, or pushed by the API.

The mapping file (TOML, ``fixtures/redcap/il6_mapping.toml``) says which
REDCap field receives each il6assay value, which field is the record ID
(its value is the study ID) and, for a longitudinal project, which REDCap
event each visit is. The API push uses import-records with
``overwriteBehavior=overwrite``: the CSV holds only il6assay's mapped fields,
each with its current value, so a field il6assay cleared (a number superseded
by a censored result) is cleared in REDCap too, never left holding the old
number beside the new ``<9.38`` (with ``normal`` a blank keeps what is stored).
The push is failed unless REDCap's reported count is an integer equal to the
number of records sent (REDCap answers ``{"count": 0}`` without an error to a
malformed import: PyCap#103).

API hygiene: the URL must be https (http only to localhost, for tests), with
no user name or password in it; the token comes only from an environment
variable, must look like a REDCap token (32 or 64 hex digits), and is masked
in every message in every form it could take (as is, URL-encoded,
JSON-escaped, base64).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from il6assay.db.read import RESULT_COLUMNS
from il6assay.errors import InputError

# il6assay values a mapping may send: the columns of ``il6assay results``
# (the study ID is the record id, mapped on its own).
EXPORTABLE = tuple(c for c in RESULT_COLUMNS if c != "study_id")
EVENT_FIELD = "redcap_event_name"
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
TIMEOUT_S = 60
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_TOKEN = re.compile(r"[0-9A-Fa-f]{32}|[0-9A-Fa-f]{64}")
OVERWRITE_BEHAVIOR = "overwrite"


@dataclass
class Mapping:
    """How il6assay results become REDCap records."""

    path: Path
    record_id: str
    longitudinal: bool
    fields: dict[str, str]  # il6assay column -> REDCap field
    events: dict[str, str] = field(default_factory=dict)  # visit -> unique event name
    visits: list[str] | None = None  # only these visits (None: all)


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping TOML file ([project], [fields], [events])."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not valid TOML ({err})", path=path) from None
    project = doc.get("project") or {}
    record_id = str(project.get("record_id", "record_id"))
    fields = {str(k): str(v) for k, v in (doc.get("fields") or {}).items()}
    events = {str(k): str(v) for k, v in (doc.get("events") or {}).items()}
    longitudinal = bool(project.get("longitudinal", False))
    visits = project.get("visits")
    if not fields:
        raise InputError("[fields] maps no il6assay value to a REDCap field", path=path)
    unknown = [k for k in fields if k not in EXPORTABLE]
    if unknown:
        raise InputError(
            f"[fields] names unknown il6assay value(s) {', '.join(unknown)}; "
            f"known: {', '.join(EXPORTABLE)}",
            path=path,
        )
    for name in [record_id, *fields.values()]:
        if not _FIELD_NAME.fullmatch(name):
            raise InputError(
                f"'{name}' is not a REDCap field name (lower-case letters, digits, _)", path=path
            )
    if longitudinal and not events:
        raise InputError("a longitudinal project needs [events] (visit = event name)", path=path)
    if not longitudinal and events:
        raise InputError("[events] given but [project] longitudinal is not true", path=path)
    return Mapping(
        path=path,
        record_id=record_id,
        longitudinal=longitudinal,
        fields=fields,
        events=events,
        visits=[str(v) for v in visits] if visits is not None else None,
    )


def records(rows: list[dict[str, Any]], mapping: Mapping) -> tuple[list[str], list[dict[str, str]]]:
    """REDCap flat records (columns, rows) from current results; one record per study ID."""
    columns = [mapping.record_id]
    if mapping.longitudinal:
        columns.append(EVENT_FIELD)
    columns += list(mapping.fields.values())
    out: list[dict[str, str]] = []
    seen: dict[tuple[str, str], str] = {}
    for row in rows:
        visit = str(row["visit"])
        if mapping.visits is not None and visit not in mapping.visits:
            continue
        record = {mapping.record_id: str(row["study_id"])}
        if mapping.longitudinal:
            if visit not in mapping.events:
                raise InputError(
                    f"visit '{visit}' ({row['study_id']}) has no REDCap event in [events]",
                    path=mapping.path,
                )
            record[EVENT_FIELD] = mapping.events[visit]
        key = (record[mapping.record_id], record.get(EVENT_FIELD, ""))
        if key in seen:
            raise InputError(
                f"{row['study_id']} has visits '{seen[key]}' and '{visit}' but the project is "
                "not longitudinal: choose one with [project] visits = [...]",
                path=mapping.path,
            )
        seen[key] = visit
        for column, redcap_field in mapping.fields.items():
            record[redcap_field] = _text(row.get(column))
        out.append(record)
    return columns, out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if value == value else ""
    return str(value)


def to_csv(columns: list[str], rows: list[dict[str, str]]) -> str:
    """The Data Import Tool's CSV: a header of field names, one row per record (and event)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return buffer.getvalue()


def record_count(rows: list[dict[str, str]], mapping: Mapping) -> int:
    """How many records REDCap should report imported: distinct record IDs."""
    return len({r[mapping.record_id] for r in rows})


def check_api_url(url: str) -> str:
    """The REDCap API URL, if a token may be sent there: https (http to localhost), no credentials.

    Returns the URL as it may be printed (scheme, host, port and path only).
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InputError("--api is not a URL (expected https://redcap.example.org/api/)") from None
    if "@" in parts.netloc:
        raise InputError(
            "--api URL holds a user name or password (user:password@host): REDCap's API "
            "authenticates by the token alone; give the URL without them"
        )
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    shown = f"{scheme}://{host}{f':{port}' if port else ''}{parts.path}"
    if scheme == "http" and host in LOCAL_HOSTS:
        return shown
    if scheme == "http":
        raise InputError(
            f"--api {shown} is http: the token would cross the network unencrypted; "
            "use https (http is allowed only to localhost)"
        )
    if scheme != "https" or not host:
        raise InputError(
            f"--api must be an https:// URL of a REDCap server (got scheme '{scheme or 'none'}')"
        )
    return shown


def check_token(token: str, variable: str) -> str:
    """The token from ``variable`` if it looks like a REDCap API token (never printed)."""
    if not _TOKEN.fullmatch(token):
        raise InputError(
            f"environment variable {variable} does not hold a REDCap API token "
            f"(32 or 64 hexadecimal digits; it has {len(token)} characters, not shown)"
        )
    return token


def import_records(api_url: str, token: str, data_csv: str, expected: int) -> int:
    """POST the CSV to REDCap's import-records API; fail unless it reports ``expected`` records."""
    shown = check_api_url(api_url)
    form = {
        "token": token,
        "content": "record",
        "action": "import",
        "format": "csv",
        "type": "flat",
        "overwriteBehavior": OVERWRITE_BEHAVIOR,
        "forceAutoNumber": "false",
        "data": data_csv,
        "returnContent": "count",
        "returnFormat": "json",
    }
    request = urllib.request.Request(
        api_url.strip(),
        data=urllib.parse.urlencode(form).encode("utf-8"),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            body = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        detail = _error_text(err.read().decode("utf-8", "replace"))
        raise InputError(
            hide_token(f"REDCap refused the import (HTTP {err.code}): {detail}", token)
        ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise InputError(hide_token(f"cannot reach REDCap at {shown}: {reason}", token)) from None
    count = _count(body)
    if count is None:
        raise InputError(
            hide_token(f"REDCap's answer is not a record count: {body[:200]!r}", token)
        ) from None
    if count != expected:
        raise InputError(
            f"REDCap reported {count} record(s) imported but {expected} were sent: the push "
            "failed (check the record ID field and event names against the project)"
        )
    return count


def _count(body: str) -> int | None:
    """REDCap's ``{"count": N}`` as an integer; None for anything else (36.9, "36", true)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    value = answer.get("count") if isinstance(answer, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _error_text(body: str) -> str:
    try:
        return str(json.loads(body).get("error", body))[:300]
    except (ValueError, AttributeError):
        return body.strip()[:300] or "no detail"


def hide_token(text: str, token: str) -> str:
    """``text`` with the token masked in every form it could take."""
    if not token:
        return text
    forms = {
        token,
        urllib.parse.quote(token, safe=""),
        urllib.parse.quote_plus(token),
        json.dumps(token)[1:-1],
        repr(token)[1:-1],
        base64.b64encode(token.encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(token.encode()).decode().rstrip("="),
        token.encode().hex(),
    }
    for form in sorted(forms, key=len, reverse=True):
        if form:
            text = re.sub(re.escape(form), "***", text, flags=re.IGNORECASE)
    return text


_hide = hide_token  # the 0.1 name
