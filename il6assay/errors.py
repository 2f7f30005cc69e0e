"""The project's one error for bad input.

Deep code raises ``InputError("what is wrong")``; the entry point that knows
the file adds it once (``err.path = err.path or path``), as wellmap's
``load()`` does. ``str(err)`` is the one line the CLI prints:
``plate.txt, line 14: expected rows A-H, found A-G``. Anything that is not an
InputError is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input: a file, location and message, printed as one line."""

    def __init__(
        self, message: str, *, path: str | Path | None = None, where: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.where = where

    def __str__(self) -> str:
        head = ", ".join(p for p in (self.path, self.where) if p)
        text = f"{head}: {self.message}" if head else self.message
        # One line, whatever a file name or a quoted cell carried.
        return " ".join(text.splitlines())

    def at(self, path: str | Path | None = None, where: str | None = None) -> InputError:
        """Fill in the file and location if an inner raise left them empty."""
        if self.path is None and path is not None:
            self.path = str(path)
        if self.where is None and where is not None:
            self.where = where
        return self
