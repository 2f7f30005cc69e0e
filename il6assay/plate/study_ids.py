"""One subject, one look: study IDs compared by their Unicode TR39 skeleton.

Two study IDs that print alike are one subject written two ways (``AML-0O4``
with a letter O beside ``AML-004``; ``АML-001`` with a Cyrillic А beside
``AML-001``). ``skeleton`` folds an ID the way Unicode Technical Standard #39
("Unicode Security Mechanisms", section 4, *Confusable Detection*) folds a
string for comparison: NFD, each character replaced by its prototype, NFD
again; then, as il6assay's spelling key does, case, whitespace and dash style
are ignored. The prototypes are a small table of the look-alikes that occur in
typed study IDs, taken from TR39's ``confusables.txt``: the digits 0 and 1
against the letters O, I and l, and the Cyrillic and Greek capitals and small
letters that look like Latin ones. A short table read by a reviewer was chosen
over the full 6,000-line data file (or a package shipping it): study IDs are
short codes of Latin letters, digits and dashes, and each folding here is one
a person could mistake on a printed worklist.

``scripts`` names the scripts of an ID's letters (TR39 section 5, *Mixed-Script
Detection*, with Common and Inherited characters counting for none): an ID whose
letters come from more than one script is refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from il6assay.errors import InputError

# TR39 confusables.txt prototypes, lower-cased (the skeleton then ignores case).
_LATIN_O = "o"
_LATIN_L = "l"
_CONFUSABLES: dict[str, str] = {
    # digits and letters (confusables.txt: 0 -> O, 1 -> l, I -> l, | -> l)
    "0": _LATIN_O,
    "O": _LATIN_O,
    "o": _LATIN_O,
    "1": _LATIN_L,
    "I": _LATIN_L,
    "l": _LATIN_L,
    "|": _LATIN_L,
}
# Cyrillic capitals and small letters with a Latin prototype (confusables.txt).
_CYRILLIC = {
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": _LATIN_O,
    "Р": "p", "С": "c", "Т": "t", "Х": "x", "У": "y", "Ѕ": "s", "І": _LATIN_L,
    "Ј": "j", "Ԛ": "q", "Ԝ": "w", "Ү": "y", "Ӏ": _LATIN_L,
    "а": "a", "е": "e", "о": _LATIN_O, "р": "p", "с": "c", "у": "y", "х": "x",
    "ѕ": "s", "і": "i", "ј": "j", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": _LATIN_L,
}  # fmt: skip
# Greek capitals and small letters with a Latin prototype (confusables.txt).
_GREEK = {
    "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": _LATIN_L, "Κ": "k",
    "Μ": "m", "Ν": "n", "Ο": _LATIN_O, "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    "ο": _LATIN_O, "ν": "v", "ι": "i", "α": "a", "κ": "k", "ρ": "p", "τ": "t",
}  # fmt: skip
_CONFUSABLES.update(_CYRILLIC)
_CONFUSABLES.update(_GREEK)
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212_"


def spelling_key(study_id: str) -> str:
    """A study ID's key for comparing spellings: NFKC, case, whitespace and dash style ignored."""
    text = unicodedata.normalize("NFKC", study_id).casefold()
    text = "".join("-" if unicodedata.category(ch) == "Pd" else ch for ch in text)
    return re.sub(r"\s+", "", text)


def skeleton(study_id: str) -> str:
    """A study ID's TR39-style skeleton: look-alikes folded, case, spaces and dash style ignored."""
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", study_id))
    folded = "".join(_CONFUSABLES.get(ch, ch) for ch in text)
    folded = unicodedata.normalize("NFD", folded).casefold()
    out = []
    for ch in folded:
        if ch.isspace() or unicodedata.category(ch) == "Mn":
            continue
        out.append("-" if ch in _DASHES or unicodedata.category(ch) == "Pd" else ch)
    return "".join(out)


def _script(ch: str) -> str | None:
    """The script of a letter (first word of its Unicode name); None for digits, marks, signs."""
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def scripts(study_id: str) -> list[str]:
    """The scripts of a study ID's letters, sorted (``["CYRILLIC", "LATIN"]`` for ``АML-001``)."""
    return sorted({s for s in map(_script, study_id) if s is not None})


def latin_look_alike(study_id: str) -> str:
    """The ID with each Cyrillic or Greek look-alike written as the Latin letter it resembles."""
    out = []
    for ch in study_id:
        proto = _CYRILLIC.get(ch) or _GREEK.get(ch)
        if proto and ch.isupper():
            proto = "I" if proto == _LATIN_L else proto.upper()
        out.append(proto or ch)
    return "".join(out)


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (a short study ID against a roster of hundreds: cheap enough)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i]
        for j, cb in enumerate(b, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def nearest(study_id: str, candidates: Iterable[str], most: int = 3) -> list[str]:
    """The candidates closest to ``study_id`` once both are folded to skeletons (closest first)."""
    key = skeleton(study_id)
    ranked = sorted(set(candidates), key=lambda c: (_distance(key, skeleton(c)), c))
    return ranked[:most]


def check_script(study_id: str, where: str | None = None) -> None:
    """Refuse a study ID whose letters mix scripts, naming the Latin ID it resembles."""
    found = scripts(study_id)
    if len(found) > 1:
        looks = latin_look_alike(study_id)
        hint = f" (it looks like '{looks}')" if looks != study_id else ""
        raise InputError(
            f"study ID {study_id!a} mixes {' and '.join(s.title() for s in found)} letters"
            f"{hint}; one subject, one look: retype it in one script",
            where=where,
        )


def check_distinct(study_ids: Iterable[str], known: Iterable[str] = ()) -> None:
    """Refuse a study ID confusable with another (in ``study_ids`` or ``known``) once folded."""
    seen: dict[str, str] = {}
    for sid in known:
        seen.setdefault(skeleton(sid), sid)
    for sid in study_ids:
        key = skeleton(sid)
        other = seen.get(key)
        # Spellings of one ID (case, width, dashes) are push's to refuse (check_spellings).
        if other is not None and spelling_key(other) != spelling_key(sid):
            raise InputError(
                f"study ID {sid!a} is confusable with {other!a} (they differ only by "
                "look-alike characters such as O/0, I/l/1 or Latin/Cyrillic letters); "
                "one subject, one look: correct the sample sheet"
            )
        seen.setdefault(key, sid)


def check_enrolled(study_ids: Iterable[str], enrolled: Iterable[str]) -> None:
    """Refuse a study ID not on the roster, naming the nearest enrolled IDs."""
    roster = set(enrolled)
    for sid in dict.fromkeys(study_ids):
        if sid in roster:
            continue
        close = nearest(sid, roster)
        same = [c for c in close if skeleton(c) == skeleton(sid)]
        if same:
            text = f"it looks like enrolled '{same[0]}'"
        else:
            text = "nearest enrolled: " + ", ".join(f"'{c}'" for c in close)
        raise InputError(
            f"study ID {sid!a} is not on the study roster ({text}); correct the sample sheet, "
            "or enrol the subject (il6assay subjects import ROSTER.csv)"
        )
