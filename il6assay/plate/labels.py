"""Telling a mistyped label from another one: the nearest sample label or study ID.

A sample sheet row ``p05`` for the plate's ``P05``, ``P 05``, ``P-05``, a
full-width ``Ｐ０５``, or a digit off (``P50``, ``P06``): ``nearest_label``
names the label meant, so the error can say "did you mean P05?".

The order of the tests is the order of how likely a slip is:

1. the same label once case, spaces, ``-``/``_`` and full-width forms are
   ignored (``p 05`` is ``P05``);
2. one character changed, added, dropped or two neighbours swapped
   (Damerau-Levenshtein distance 1), the nearest number first: ``P36``
   for ``P37``, ``P05`` for ``P5``;
3. otherwise difflib's closest match (ratio >= 0.75) among the labels.

It suggests, never decides: a label is matched only when it is equal.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from typing import Any


def fold(label: str) -> str:
    """A label with case, spaces, '-', '_' and full-width forms ignored: ' P-05 ' -> 'p05'."""
    text = unicodedata.normalize("NFKC", str(label)).casefold()
    return re.sub(r"[\s_\-]+", "", text)


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by one substitution, insertion, deletion or swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and (a[diff[1]] == b[diff[0]])
        )
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _number_gap(a: str, b: str) -> float:
    """How far apart the numbers in two labels are (0 when either has none)."""
    na, nb = re.findall(r"\d+", a), re.findall(r"\d+", b)
    if not na or not nb:
        return 0.0
    return abs(int("".join(na)) - int("".join(nb)))


def nearest_label(label: str, choices: Iterable[str]) -> str | None:
    """The choice ``label`` most likely meant (see the module's order), or None."""
    options = [c for c in dict.fromkeys(choices) if c != label]
    if not options:
        return None
    folded = fold(label)
    same = [c for c in options if fold(c) == folded]
    if same:
        return same[0]
    near = [c for c in options if _one_edit(fold(c), folded)]
    if near:
        # Among equally near labels: the nearest number (P36 for P37), then a digit
        # changed rather than added or dropped, then the first.
        def digit_off(c: str) -> bool:
            f = fold(c)
            return len(f) == len(folded) and all(
                x == y or (x.isdigit() and y.isdigit()) for x, y in zip(f, folded, strict=True)
            )

        near.sort(key=lambda c: (_number_gap(c, label), not digit_off(c), options.index(c)))
        return near[0]
    folded_options = {fold(c): c for c in options}
    close = difflib.get_close_matches(folded, list(folded_options), n=1, cutoff=0.75)
    return folded_options[close[0]] if close else None


def did_you_mean(label: str, choices: Iterable[str]) -> str:
    """' (did you mean 'P05'?)' for the nearest choice, or '' when none is near."""
    near = nearest_label(label, choices)
    return f" (did you mean '{near}'?)" if near is not None else ""


def natural_sorted(labels: Iterable[str]) -> list[str]:
    """Labels once each, digits compared as numbers: P2 before P10."""

    def key(label: str) -> list[tuple[int, Any]]:
        return [(0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", label)]

    return sorted(dict.fromkeys(labels), key=key)
