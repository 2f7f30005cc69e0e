"""The message catalogues: every word il6assay shows a person, one catalogue per language.

A catalogue is one TOML file per language beside this module (``en.toml``,
``zh-CN.toml``). Its tables name what the words belong to, and a key inside
is the identifier the code already has: a flag code (``[flag] HIGH_CV``), a
rule id (``[rule] STANDARD_LEVELS``), a label of the report (``[report]``),
of the review app (``[web]``). ``text(lang, "flag.HIGH_CV")`` gives the words;
``{name}`` fields are filled from keyword arguments, so a number is carried
into every language unchanged. English is complete by definition (a key
missing there is a programming error and raises ``KeyError``); a key
missing from another language falls back to English, and a test lists
every flag code and rule id that has no Chinese text.

Only words change between languages: numbers, study IDs, well names, rule
ids and flag codes are the same in every language.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

LANGS = ("en", "zh-CN")
DEFAULT_LANG = "en"
HERE = Path(__file__).parent


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every message of ``lang`` as ``{"table.key": text}`` (read once per process)."""
    if lang not in LANGS:
        raise KeyError(f"no message catalogue for language {lang!r}")
    doc = tomllib.loads((HERE / f"{lang}.toml").read_text(encoding="utf-8"))
    flat: dict[str, str] = {}

    def walk(prefix: str, table: dict) -> None:
        for key, value in table.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict):
                walk(name, value)
            else:
                flat[name] = str(value)

    walk("", doc)
    return flat


def has_text(lang: str, key: str) -> bool:
    """Whether ``lang``'s own catalogue has ``key`` (no English fallback)."""
    return key in catalogue(lang)


def text(lang: str, key: str, /, **fields: object) -> str:
    """The words for ``key`` in ``lang`` (English when ``lang`` lacks them), fields filled."""
    words = catalogue(lang).get(key)
    if words is None:
        words = catalogue(DEFAULT_LANG)[key]
    return words.format(**fields) if fields else words
