"""The markers of the test being set up (tests/conftest.py sets them), for the marker guards."""

from __future__ import annotations

import pytest

markers: set[str] = set()
test = ""


def require_marker(name: str, what: str) -> None:
    """Fail a test that starts ``what`` without the marker ``name`` (the quick run would too)."""
    if test and name not in markers:
        pytest.fail(
            f"{test} starts {what} but is not marked {name!r}: use the fixture that marks it "
            f"(tests/conftest.py) or @pytest.mark.{name}"
        )
