"""A run's audit log: append-only JSON Lines, one entry per change or decision.

Each entry records when (UTC, with zone), who said they did it (``by``), the
operating-system account that ran the command, the action, the reason, and
what changed (before/after of every affected value). Entries are only ever
appended, each flushed to disk before the command reports success.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUDIT_FILE = "audit.jsonl"


def os_account() -> str:
    """The operating-system account running this process (never a name the user typed)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def now_utc() -> str:
    """The current time, ISO 8601 in UTC with its zone."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def append_entry(folder: Path, entry: dict[str, Any], *, stamp: bool = True) -> dict[str, Any]:
    """Append one entry (time and OS account added unless ``stamp=False``) to the audit log."""
    full = {"time_utc": now_utc(), "os_account": os_account(), **entry} if stamp else entry
    with (folder / AUDIT_FILE).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(full, ensure_ascii=False, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return full


def read_entries(folder: Path) -> list[dict[str, Any]]:
    """Every entry of the folder's audit log, oldest first ([] when there is none)."""
    path = folder / AUDIT_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
