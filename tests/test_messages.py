"""The message catalogues (il6assay/messages): every flag and rule has its Chinese text.

Every flag code, every rule of both rule profiles (m10, kit) and of the method
profile (METHOD_QC) has Chinese words, every key of en.toml has a zh-CN entry
with the same fields, and a rule's Chinese detail comes from its keys, never
from its English text.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from il6assay.messages import catalogue, has_text
from il6assay.qc.results import FLAGS
from il6assay.record.i18n import Words
from il6assay.run import DERIVED_FLAGS, process_plate
from il6assay.settings import Settings
from tests.render_pages import plates

# Keys whose English is deliberately the words in every language (none yet).
DELIBERATELY_ENGLISH: set[str] = set()


def _fields(words: str) -> set[str]:
    return set(re.findall(r"\{(\w+)[^}]*\}", words))


def test_every_key_of_en_has_a_zh_cn_entry_with_the_same_fields():
    en, zh = catalogue("en"), catalogue("zh-CN")
    missing = [k for k in en if k not in zh and k not in DELIBERATELY_ENGLISH]
    assert missing == []
    assert [k for k in zh if k not in en] == []  # no key only Chinese has (a misspelt one)
    for key, words in zh.items():
        assert _fields(words) <= _fields(en[key]), key  # no field English does not fill


def test_every_flag_code_has_chinese_text():
    for code in [*FLAGS, *DERIVED_FLAGS]:
        assert has_text("zh-CN", f"flag.{code}"), code
        assert Words("zh-CN").flag(code) != FLAGS[code], code


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list:
    """The example and failing plates under both profiles and a method profile, processed."""
    work = tmp_path_factory.mktemp("plates")
    return [
        process_plate(export, layout, samples, replace(Settings(), **changes))
        for name, (export, layout, samples, changes) in plates(work).items()
        if name in ("example", "example_kit", "rejected_kit", "profile", "profile_no_mid")
    ]


@pytest.fixture(scope="module")
def judged(runs: list) -> list:
    """Every rule of those runs."""
    return [rule for run in runs for rule in run.rules]


def test_every_advice_a_sample_gets_has_its_key_and_chinese_text(runs):
    advised = [s for run in runs for s in run.samples if s.advice]
    assert {s.advice_msg[0] for s in advised if s.advice_msg} >= {
        "advice.reassay_hint",
        "advice.high_cv",
        "advice.validated_dilution",
    }
    zh = Words("zh-CN")
    for s in advised:
        assert s.advice_msg is not None, s.advice
        assert has_text("zh-CN", s.advice_msg[0]) and zh.advice(s) != s.advice


def test_every_rule_of_both_profiles_and_method_qc_has_chinese_text(judged):
    seen = {(r.profile, r.id) for r in judged}
    for profile in ("m10", "kit"):
        for rule_id in ("CURVE_FIT", "QUANTIFICATION_RANGE", "STANDARD_LEVELS", "STANDARD_SHARE",
                        "CONTROLS"):  # fmt: skip
            assert (profile, rule_id) in seen
    assert {("m10", "QC_DESIGN"), ("m10", "QC_RANGE"), ("", "METHOD_QC")} <= seen
    zh = Words("zh-CN")
    for rule in judged:
        assert rule.description_msg is not None, rule.id  # qc/ gives every rule its key
        assert has_text("zh-CN", rule.description_msg[0]), rule.id
        assert zh.description(rule) != rule.description, rule.id
        assert zh.source(rule.source) != rule.source, rule.id
        for key, _fields in rule.detail_msgs:
            assert has_text("zh-CN", key), (rule.id, key)
        detail = zh.detail(rule)
        assert sorted(re.findall(r"\d+(?:\.\d+)?", detail)) == sorted(
            re.findall(r"\d+(?:\.\d+)?", rule.detail)
        ), (rule.id, detail)


def test_a_rules_chinese_detail_comes_from_its_keys_not_its_english_words(judged):
    zh = Words("zh-CN")
    rule = next(r for r in judged if r.id == "STANDARD_LEVELS")
    before = zh.detail(rule)
    reworded = replace(rule, detail="reworded in English", description="reworded too")
    assert zh.detail(reworded) == before and "个" in before
    assert zh.description(reworded) == zh.description(rule)
    # A rule read back from curve.json (no keys) shows its stored words as they are.
    stored = replace(rule, description_msg=None, detail_msgs=())
    assert zh.detail(stored) == rule.detail and zh.description(stored) == rule.description


def test_the_study_rules_english_is_the_codes_own_and_has_chinese():
    from il6assay.qc.rules import RuleResult
    from il6assay.study import check, lots, westgard

    zh = Words("zh-CN")
    for rule_id, description, source in (
        ("WESTGARD", check.DESCRIPTION, westgard.SOURCE),
        ("LOT_BRIDGE", lots.DESCRIPTION, lots.SOURCE),
    ):
        assert catalogue("en")[f"rule.study.{rule_id}"] == description
        rule = RuleResult(rule_id, description, source, True, "detail as stored")
        assert zh.description(rule) == catalogue("zh-CN")[f"rule.study.{rule_id}"]
        assert zh.source(source) != source
