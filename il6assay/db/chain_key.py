"""The row chain's secret key and its anchored head: two small files kept outside the database.

Where (docs/database.md, "The database's own chain"):

- ``$IL6ASSAY_CHAIN_KEY``, when set, is the key file's path (any backend);
- else, for a SQLite study database ``study.db``: ``study.db.chain-key`` beside it;
- else, for PostgreSQL: ``$XDG_CONFIG_HOME/il6assay/chains/<host>-<port>-<database>.chain-key``
  (``~/.config`` when ``XDG_CONFIG_HOME`` is not set), one per user and database.

The anchor (the chain's head entry number and hash as this machine last wrote or
verified them) sits beside the key: ``study.db.chain-head``, or ``<key file>.head``
for a key named by the environment variable. ``il6assay db upgrade`` creates the
key (32 random bytes, hex, mode 0600) when it starts a database's chain.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from il6assay.errors import InputError

KEY_ENV = "IL6ASSAY_CHAIN_KEY"
KEY_SUFFIX = ".chain-key"
HEAD_SUFFIX = ".chain-head"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def key_path(url: str) -> Path:
    """Where the chain key of the database at ``url`` is kept (see the module docstring)."""
    named = os.environ.get(KEY_ENV, "").strip()
    if named:
        return Path(named).expanduser().absolute()
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Path(f"{parsed.database}{KEY_SUFFIX}")
    config = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    name = f"{parsed.host or 'localhost'}-{parsed.port or 5432}-{parsed.database or ''}"
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return Path(config) / "il6assay" / "chains" / f"{name}{KEY_SUFFIX}"


def anchor_path(key: Path) -> Path:
    """The anchor file beside the key file ``key``."""
    if key.name.endswith(KEY_SUFFIX):
        return key.with_name(key.name[: -len(KEY_SUFFIX)] + HEAD_SUFFIX)
    return key.with_name(key.name + ".head")


def read_key(path: Path) -> bytes:
    """The key in ``path``; a missing or malformed key file is a one-line error."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise InputError(
            f"the study database's chain key is missing ({path}): restore it from the lab's "
            f"backup, or name it with ${KEY_ENV} (docs/database.md)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the chain key {path}: {err}") from None
    if not _HEX64.match(text):
        raise InputError(f"the chain key {path} is malformed (expected 64 hex digits)")
    return bytes.fromhex(text)


def create_key(path: Path) -> bool:
    """Create a new random key at ``path`` (mode 0600); False when one is already there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as err:
        raise InputError(f"cannot create the chain key {path}: {err.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return True


def read_anchor(key: Path) -> dict[str, Any] | None:
    """The anchored head ``{"seq", "chain_hash", "time_utc"}`` beside ``key`` (None if none)."""
    path = anchor_path(key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read the chain anchor {path}: {err}") from None
    if not (isinstance(data, dict) and isinstance(data.get("seq"), int)):
        raise InputError(f"the chain anchor {path} is malformed")
    return data


def write_anchor(key: Path, seq: int, chain_hash: str, time_utc: str) -> bool:
    """Anchor the head (seq, hash) beside ``key`` unless a later head is anchored already.

    Concurrent writers take turns on a lock of the key file; the file is replaced
    whole. Returns False (and changes nothing) when the folder cannot be written:
    anchoring is best effort after a commit, and ``db verify`` says when there is none.
    """
    import fcntl

    path = anchor_path(key)
    try:
        with open(key, "rb") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            old = None
            with contextlib.suppress(InputError):
                old = read_anchor(key)
            if old is not None and old["seq"] >= seq:
                return True
            tmp = path.with_name(path.name + f".tmp{os.getpid()}")
            tmp.write_text(
                json.dumps({"seq": seq, "chain_hash": chain_hash, "time_utc": time_utc}) + "\n",
                encoding="utf-8",
            )
            os.replace(tmp, path)
    except OSError:
        return False
    return True
