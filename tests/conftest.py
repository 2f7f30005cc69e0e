"""Shared paths for the tests: the repo's fixtures and ../shared (read in place, never copied)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cpu_report import pytest_addoption, pytest_configure  # noqa: F401  (--cpu-report)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
EXAMPLE = FIXTURES / "example"
LAYOUTS = ROOT / "plate_layouts"
STANDARD_LAYOUT = LAYOUTS / "il6_96_standard.toml"
# The 0.2 standard layout (two kit controls before the samples), for the "kit" rules' tests.
KIT_LAYOUT = FIXTURES / "layouts" / "il6_96_kit_controls.toml"
SHARED = ROOT.parent / "shared"

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared (reference exports and data) is not beside the repo"
)


# The quick run, `pytest -m "not browser and not pg"`: the markers are put on each test by
# the fixtures it uses (the chromium fixture; a backend parameter "postgresql"), and a test
# that starts chromium or PostgreSQL without its marker fails (tests/pg.py, tests/browser.py).
BROWSER_FIXTURES = ("browser",)
PG_PARAM = "postgresql"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test ``browser`` or ``pg`` by the fixtures and backend parameters it uses;
    leave the ``slow`` ones (long simulations, sweeps, old code re-run) out of any ``-m``
    selection that does not name them: the whole suite (no ``-m``, as CI runs it) has them."""
    markexpr = config.getoption("markexpr") or ""
    run_slow = not markexpr or "slow" in markexpr
    for item in items:
        if not run_slow and item.get_closest_marker("slow") is not None:
            item.add_marker(
                pytest.mark.skip(reason="slow: run in the whole suite, or with -m slow")
            )
        if any(name in BROWSER_FIXTURES for name in getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and PG_PARAM in callspec.params.values():
            item.add_marker(pytest.mark.pg)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tell tests/pg.py and tests/browser.py which markers the running test carries."""
    from tests import running

    running.markers = {m.name for m in item.iter_markers()}
    running.test = item.nodeid


@pytest.fixture(autouse=True, scope="session")
def _chain_keys_in_a_temporary_config(tmp_path_factory: pytest.TempPathFactory) -> None:
    """PostgreSQL test databases keep their chain keys in a temporary config folder, not ~."""
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))


@pytest.fixture(autouse=True, scope="session")
def _one_argon2_hash_per_password() -> Iterator[None]:
    """Hash each test password with argon2id once per session, not once per account.

    The review app's tests make the lab's five accounts again and again with one password;
    each argon2id hash costs ~0.2 s of CPU (most of those tests' time). The hash handed out
    is a real one of the same password and parameters, and every sign-in still verifies it
    in full; only each account's salt is no longer its own (no test is about salts).
    """
    from argon2 import PasswordHasher

    real = PasswordHasher.hash
    made: dict[tuple[object, ...], str] = {}

    def hash_once(self: PasswordHasher, password: str | bytes, *, salt: bytes | None = None):
        if salt is not None:
            return real(self, password, salt=salt)
        p = self._parameters
        key = (p.type, p.version, p.time_cost, p.memory_cost, p.parallelism, p.hash_len, password)
        if key not in made:
            made[key] = real(self, password)
        return made[key]

    PasswordHasher.hash = hash_once  # type: ignore[method-assign]
    yield
    PasswordHasher.hash = real  # type: ignore[method-assign]


# argon2id at the product's parameters (64 MiB, 3 passes) costs ~0.2 s of CPU a hash or a
# check, and the review app's tests sign in and sign ~170 times in the quick run alone: half a
# minute of hashing in tests whose subject is a page, a role or a signature, not the hash. As
# Django's test settings swap in a fast hasher, those tests hash with argon2id at the
# cheapest parameters (still a real hash, verified in full); tests about the hash itself (its
# parameters, equal work for every refusal, a sign-in flood) carry ``real_argon2`` and hash as
# the product does. A server started as a subprocess always has the product's hasher: it
# checks a cheap hash at its own (cheap) cost and remakes it at the product's parameters at the
# next sign-in, as it would any weaker hash (tests/test_web_security.py shows both).
TEST_ARGON2 = {"time_cost": 1, "memory_cost": 256, "parallelism": 1}


@pytest.fixture(autouse=True)
def _cheap_argon2_unless_the_hash_is_the_subject(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review app hashes with TEST_ARGON2 in-process, except in ``real_argon2`` tests."""
    from argon2 import PasswordHasher

    from il6assay.web import accounts

    monkeypatch.setattr(accounts, "_dummy", [])  # the unknown-account hash, made anew
    if request.node.get_closest_marker("real_argon2") is None:
        monkeypatch.setattr(accounts, "_hasher", lambda: PasswordHasher(**TEST_ARGON2))


_processed: dict[Path, Path] = {}


def processed_copy(export: Path, out: Path) -> Path:
    """A private copy, in the new folder ``out``, of ``il6assay process EXPORT``'s output folder
    (the run and the shared plotly.js beside it); processed once per session, from a folder
    of its own (no il6assay.toml of the calling test's applies). Returns the run."""
    import atexit
    import contextlib
    import shutil
    import tempfile

    from click.testing import CliRunner

    from il6assay.cli import main

    if export not in _processed:
        made = Path(tempfile.mkdtemp(prefix="il6assay-processed-"))
        atexit.register(shutil.rmtree, made, True)
        with contextlib.chdir(made):
            result = CliRunner().invoke(main, ["process", str(export), "--out", str(made)])
        assert result.exit_code in (0, 3), result.output
        (_processed[export],) = (d for d in run_dirs(made) if d.name.startswith(export.stem))
    shutil.copytree(_processed[export].parent, out)
    return out / _processed[export].name


def run_dirs(out: Path) -> list[Path]:
    """The run folders in an output folder (beside them: the shared plotly.js)."""
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


@pytest.fixture(scope="module")
def browser():
    """One headless chromium per test module (tests/browser.py)."""
    from tests.browser import launched

    with launched() as b:
        yield b
