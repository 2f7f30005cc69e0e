"""The installed numerical libraries' versions, as run.json records them and verify compares them.

Read from the names of their ``NAME-VERSION.dist-info`` folders on ``sys.path``
(what pip writes; a listing of each folder, well under a millisecond), and only
for a library not found that way from ``importlib.metadata`` (13 ms a lookup,
and its import another 15).
"""

from __future__ import annotations

import functools
import os
import platform

LIBRARIES = ("numpy", "scipy", "openpyxl", "plotly", "click")


@functools.cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    """The libraries' installed versions, looked up once per process.

    Read from the names of their ``NAME-VERSION.dist-info`` folders on ``sys.path``
    (what pip writes; a listing of each folder, well under a millisecond), and only
    for a library not found that way from ``importlib.metadata`` (13 ms a lookup,
    and its import another 15).
    """
    import sys

    wanted = {name: None for name in LIBRARIES}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if not folder.endswith(".dist-info"):
                continue
            name, _, version = folder[: -len(".dist-info")].partition("-")
            if name.lower() in wanted and wanted[name.lower()] is None and version:
                wanted[name.lower()] = version
        if all(wanted.values()):
            break
    found = []
    for name, version in wanted.items():
        found.append((name, version or _metadata_version(name)))
    return tuple(found)


def _metadata_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def library_versions() -> dict[str, str]:
    """Python's and the numerical libraries' versions, as run.json records them."""
    return {"python": platform.python_version(), **dict(_installed_versions())}
