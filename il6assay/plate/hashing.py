"""SHA-256 fingerprints of files and bytes: the one home for hashing in il6assay.

The export's hash is taken where files come in, so every later stage (the run's
id, the run folder's record, the review, the push) names the same digest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes | str) -> str:
    """Hex SHA-256 of bytes (text is hashed as UTF-8)."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()
