"""The il6assay package as an earlier commit had it, from git, for the before/after tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_at(commit: str, tmp_path: Path) -> Path | None:
    """A folder holding ``il6assay/`` as it was at ``commit`` (to put on PYTHONPATH), or None
    when git or that commit is not there (a checkout without its history)."""
    if shutil.which("git") is None:
        return None
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "il6assay"], capture_output=True
    )
    if archive.returncode != 0:
        return None
    old = tmp_path / "before"
    old.mkdir()
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    return old
