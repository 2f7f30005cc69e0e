"""The report's words in a language (``--lang zh-CN``), read from the message catalogue.

Every word is in ``il6assay/messages/<lang>.toml`` (il6assay.messages), keyed
by what it belongs to: a label of the report (``[report]``), a flag code
(``[flag]``), a rule id (``[rule]``), a part of a rule's detail (``[detail]``),
the guidance a rule cites (``[source]``), a well's role (``[role]``). A rule
carries the keys and fields of its description and detail (``RuleResult``'s
``description_msg`` and ``detail_msgs``), so its words are looked up by key,
never recognised in the English text. Only words change: numbers, study IDs,
sample labels, well names, rule IDs and flag codes are the same in every
language (a flag code is what a reviewer searches for, and what results.csv
holds). Text with no key (a reason a reviewer typed, a rule read back from
curve.json) is shown as it is; the curve's own messages (il6assay.curve gives
no keys) are found whole in the ``[fit]`` table by their English template.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from il6assay.messages import DEFAULT_LANG, LANGS, catalogue, text
from il6assay.qc.results import SampleResult
from il6assay.qc.rules import RuleResult, in_words

__all__ = ["DEFAULT_LANG", "LANGS", "Words", "check_lang"]


def check_lang(lang: str | None) -> str:
    """The language code, checked: 'en' or 'zh-CN' (case-insensitive; 'zh' means zh-CN)."""
    from il6assay.errors import InputError

    if lang is None:
        return DEFAULT_LANG
    code = lang.strip().replace("_", "-").lower()
    aliases = {"en": "en", "zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN"}
    if code not in aliases:
        raise InputError(f"unknown report language '{lang}'; expected one of {', '.join(LANGS)}")
    return aliases[code]


@functools.cache
def _all_words(lang: str) -> dict[str, str]:
    """Every key's words in ``lang``, English where ``lang`` has none (text()'s fallback)."""
    return {**catalogue(DEFAULT_LANG), **catalogue(lang)}


class Labels(dict[str, str]):
    """The report's labels by key, read as attributes too (``t.verdict`` in a template)."""

    __getattr__ = dict.__getitem__


@functools.cache
def _labels(lang: str, table: str) -> Labels:
    prefix = f"{table}."
    words = _all_words(lang)
    return Labels({k[len(prefix) :]: v for k, v in words.items() if k.startswith(prefix)})


@functools.cache
def _source_keys() -> dict[str, str]:
    """A rule source's English words -> its catalogue key (curve.json stores the English)."""
    return {words: key for key, words in catalogue("en").items() if key.startswith("source.")}


@functools.cache
def _fit_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Each ``[fit]`` message's key with its English template as a whole-text pattern."""
    patterns = []
    for key, words in catalogue("en").items():
        if key.startswith("fit."):
            pieces = re.split(r"\{(\w+)\}", words)  # text, field, text, field, ..., text
            body = "".join(
                re.escape(piece) if i % 2 == 0 else f"(?P<{piece}>.*?)"
                for i, piece in enumerate(pieces)
            )
            patterns.append((key, re.compile(body, re.DOTALL)))
    return patterns


def fit_message(english: str) -> tuple[str, dict[str, Any]] | None:
    """The ``[fit]`` key and fields of one of the curve's messages (None: not a known one)."""
    for key, pattern in _fit_patterns():
        found = pattern.fullmatch(english)
        if found:
            return key, found.groupdict()
    return None


class Words:
    """The report's words in one language: ``w("plate")``, ``w.flag("HIGH_CV")``."""

    def __init__(self, lang: str = DEFAULT_LANG, table: str = "report") -> None:
        self.lang = check_lang(lang)
        self.table = table  # whose labels: the report's, or the study pages' ("study")
        self.zh = self.lang == "zh-CN"
        self.english = self.lang == DEFAULT_LANG  # a rule's stored words are already these
        self._words = _all_words(self.lang)  # a report asks hundreds of times: one dict

    def __call__(self, key: str, /, **fields: Any) -> str:
        """A label of the report (``[report]`` ``key``, or the table given), its fields filled."""
        words = self._words[f"{self.table}.{key}"]
        return words.format(**fields) if fields else words

    @property
    def labels(self) -> Labels:
        """Every label of the table, for a template: ``t.verdict``."""
        return _labels(self.lang, self.table)

    def _known(self, key: str, otherwise: str) -> str:
        return self._words.get(key, otherwise)

    def role(self, role: str) -> str:
        """A well's role in words ('standard', '标准品'); an unknown role as it is."""
        return self._known(f"role.{role}", role)

    def role_short(self, role: str) -> str:
        """A well's role in a word short enough for a plate-map cell ('std', '标准')."""
        return self._known(f"role_short.{role}", "")

    def flag(self, code: str) -> str:
        """What a flag code means, in this language (an unknown code as it is)."""
        return self._known(f"flag.{code}", code)

    def source(self, english: str) -> str:
        """A rule's source, in this language (the citation's numbers unchanged)."""
        key = _source_keys().get(english)
        return english if key is None else text(self.lang, key)

    def description(self, rule: RuleResult) -> str:
        """A rule's description, in this language."""
        if self.english:  # the stored English is what the keys make in English
            return rule.description
        if rule.description_msg is None:  # a study rule, or one read back from curve.json
            key = f"rule.study.{rule.id}"
            known = catalogue(DEFAULT_LANG).get(key) == rule.description
            return text(self.lang, key) if known else rule.description
        key, fields = rule.description_msg
        return text(self.lang, key, **fields)

    def detail(self, rule: RuleResult) -> str:
        """A rule's detail (numbers and labels kept), in this language."""
        if self.english:  # the stored English is what the keys make in English
            return rule.detail
        if rule.detail_msgs:
            return in_words(self.lang, *rule.detail_msgs)
        return self.fit(rule.detail)

    def advice(self, sample: SampleResult) -> str:
        """A sample's advice, in this language (as stored when it carries no key)."""
        if sample.advice_msg is None or self.english:
            return sample.advice
        key, fields = sample.advice_msg
        return text(self.lang, key, **fields)

    def fit(self, english: str) -> str:
        """One of the curve's messages, in this language (as it is when not in ``[fit]``)."""
        found = None if self.english else fit_message(english)
        return english if found is None else text(self.lang, found[0], **found[1])

    def noise(self, noise: dict[str, Any]) -> str:
        """The weighting's k and where it came from, with the measured noise when there is one."""
        found = None if self.english else fit_message(str(noise["source"]))
        lang = self.lang if found is not None else DEFAULT_LANG  # an unknown source: English
        source = noise["source"] if found is None else text(lang, found[0], **found[1])
        line = text(lang, "report.noise", k=noise["k_od"], source=source)
        if "cv" in noise:
            line += text(lang, "report.noise_measured", cv_pct=100 * noise["cv"],
                         sd_od=noise["sd_od"])  # fmt: skip
        return line
