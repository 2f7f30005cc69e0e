"""run.json's and curve.json's text: what ``json.dumps(doc, indent=2, ensure_ascii=False)``
writes, character for character, in about three quarters of its time.

With an indent, Python's json module encodes through its pure-Python generators (its C
encoder writes compact JSON only): a chunk yielded through every level of nesting for each
of a run's thousands of values, about 1 ms of a plate's CPU for its two documents. This
writes the same text by one recursive walk, plain values written in place, with json's
rules: keys in their order, the same key conversions (float, True/False/None, int keys),
strings by json's own ``encode_basestring``, floats by ``float.__repr__`` (NaN, Infinity),
``default`` for any other object, "[]" and "{}" for empty containers, ``","`` after an item
and ``": "`` after a key (``tests/test_plate_cpu.py`` compares the two on random documents).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring  # the C one when there is one, as json uses
from typing import Any

_INDENT = "  "


def dumps_indented(doc: Any, default: Callable[[Any], Any]) -> str:
    """``json.dumps(doc, indent=2, ensure_ascii=False, default=default)``, the same text."""
    out: list[str] = []
    try:
        _write(doc, 0, out, default)
    except RecursionError:  # a document json itself refuses (circular): its own error
        return json.dumps(doc, indent=2, ensure_ascii=False, default=default)
    return "".join(out)


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == -float("inf"):
        return "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def _scalar(value: Any) -> str | None:
    """The text of a value of an exact plain type (str, float, int, bool, None), else None."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is float:
        return float.__repr__(value) if value - value == 0.0 else _float(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return None


def _write(value: Any, level: int, out: list[str], default: Callable[[Any], Any]) -> None:
    text = _scalar(value)
    if text is not None:
        out.append(text)
    elif isinstance(value, str):
        out.append(encode_basestring(value))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = "\n" + _INDENT * (level + 1)
        between = "," + inner
        out.append("[" + inner)
        for i, item in enumerate(value):
            text = _scalar(item)
            if text is None:
                if i:
                    out.append(between)
                _write(item, level + 1, out, default)
            else:
                out.append(between + text if i else text)
        out.append("\n" + _INDENT * level + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = "\n" + _INDENT * (level + 1)
        between = "," + inner
        out.append("{" + inner)
        for i, (key, item) in enumerate(value.items()):
            head = (between if i else "") + encode_basestring(
                key if type(key) is str else _key(key)
            )
            text = _scalar(item)
            if text is None:
                out.append(head + ": ")
                _write(item, level + 1, out, default)
            else:
                out.append(head + ": " + text)
        out.append("\n" + _INDENT * level + "}")
    else:
        _write(default(value), level, out, default)
