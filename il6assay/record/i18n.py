"""The report's words in English and Simplified Chinese (``--lang zh-CN``).

Only words change: numbers, study IDs, sample labels, well names, rule IDs
and flag codes are the same in every language (a flag code is what a
reviewer searches for, and what results.csv holds). Every label, rule text
and flag explanation of the report has a translation here; a rule detail
is translated by its pattern (``5 of 7 levels pass``), with its numbers
carried over unchanged. Text with no translation (a fit message from a
library, a reason a reviewer typed) is shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from il6assay.qc import m10
from il6assay.qc.method import SOURCE as METHOD_QC_SOURCE
from il6assay.qc.results import FLAGS
from il6assay.qc.rules import (
    ICH_M10_CAL,
    ICH_M10_FIT,
    ICH_M10_PRECISION,
    ICH_M10_QC,
    LOQ_SOURCE,
)
from il6assay.settings import Settings

LANGS = ("en", "zh-CN")
DEFAULT_LANG = "en"

# English text -> Simplified Chinese, for the report's fixed words.
ZH: dict[str, str] = {
    "il6assay report": "il6assay 报告",
    "il6assay run": "il6assay 运行",
    "Verdict": "判定",
    "accepted by the acceptance rules": "按验收规则接受",
    "rejected by": "不合格，未通过规则",
    "Why": "原因",
    "Plate": "板",
    "Input file": "输入文件",
    "Reader": "读板仪",
    "Date read": "读板日期",
    "not in the export": "导出文件中未记录",
    "Kit lot": "试剂盒批号",
    "not given": "未提供",
    "Model": "模型",
    "weighting": "加权",
    "zero standard": "零浓度标准品",
    "Noise (weights)": "噪声（权重）",
    "Curve warnings": "曲线警告",
    "AIC (4PL / 5PL / log-log)": "AIC（4PL / 5PL / 双对数）",
    "Signal": "信号",
    "chosen": "选用",
    "lower is better": "越低越好",
    "LoB / LoD (CLSI EP17)": "空白限 / 检出限（CLSI EP17）",
    "LLOQ / ULOQ": "定量下限 / 定量上限（LLOQ / ULOQ）",
    "Masked wells": "已屏蔽孔",
    "Review": "审核",
    "none": "无",
    "unreviewed": "未审核",
    "accepted": "已接受",
    "rejected": "已拒绝",
    "by": "审核人",
    "at": "时间",
    "OVERRIDE of the acceptance rules": "推翻验收规则（OVERRIDE）",
    "Acceptance rules": "验收规则",
    "pass": "通过",
    "FAIL": "不通过",
    "n/a": "不适用",
    "Wells at fault": "问题孔",
    "Source": "依据",
    "Standards": "标准品",
    "level": "水平",
    "well": "孔",
    "nominal (pg/mL)": "标示浓度（pg/mL）",
    "OD": "OD",
    "back-calculated": "回算浓度",
    "recovery %": "回收率 %",
    "tolerance": "允许偏差",
    "level CV %": "水平 CV %",
    "well verdict": "孔判定",
    "level verdict": "水平判定",
    "flags": "标记",
    "anchor: fitted, not judged": "锚定点：参与拟合，不作判定",
    "Plate map": "板图",
    "Corrected OD (x: fault: failed standard or control, high CV, saturated)": (
        "校正 OD（×：问题孔：标准品或质控不通过、CV 过高、饱和）"
    ),
    "Controls": "质控",
    "range": "范围",
    "measured": "测得值",
    "no value": "无数值",
    "The layout has no controls.": "布局中没有质控孔。",
    "Samples": "样本",
    "study ID": "研究编号",
    "visit": "访视",
    "sample": "样本",
    "dilution": "稀释倍数",
    "OD mean": "OD 均值",
    "CV %": "CV %",
    "result (pg/mL)": "结果（pg/mL）",
    "95 % CI": "95 % 置信区间",
    "advice": "建议",
    "re-assay at": "以更高稀释度重测，例如",
    "Results outside LLOQ..ULOQ are censored text, never extrapolated numbers.": (
        "超出 LLOQ..ULOQ 的结果以删失文字报告，绝不外推为数值。"
    ),
    "Flags on this plate": "本板出现的标记",
    "flag": "标记",
    "meaning": "含义",
    "No flags on this plate.": "本板没有标记。",
    "Review history": "审核记录",
    "time (UTC)": "时间（UTC）",
    "decision": "决定",
    "who": "审核人",
    "OS account": "系统账户",
    "reason": "理由",
    "override": "推翻规则",
    "No review yet.": "尚未审核。",
    "reason (audit log)": "理由（审计日志）",
    "masked by": "屏蔽人",
    "reason in the audit log (audit.jsonl)": "理由见审计日志（audit.jsonl）",
    "No wells are masked.": "没有屏蔽孔。",
    "Legend": "图例",
    "fault: failed standard or control, high CV, saturated": (
        "问题：标准品或质控不通过、CV 过高、饱和"
    ),
    "censored: below the LLOQ or above the ULOQ (reported as text, not a fault)": (
        "删失：低于 LLOQ 或高于 ULOQ（以文字报告，并非故障）"
    ),
    "masked by a reviewer (read kept, not used)": "审核人已屏蔽（保留读数，不参与计算）",
    "standard": "标准品",
    "blank": "空白",
    "control": "质控",
    "qc": "基质质控（QC）",
    "empty": "空孔",
    "Rules": "规则",
    "Refitted without": "重新拟合时剔除",
    "Standard curve": "标准曲线",
    "IL-6 (pg/mL, on the plate)": "IL-6（pg/mL，板上浓度）",
    "standards (hollow: masked; red x: failed)": "标准品（空心：已屏蔽；红叉：不通过）",
    "95 % band": "95 % 置信带",
    "fit": "拟合",
    "samples (in range, on the plate)": "样本（范围内，板上浓度）",
    "Residuals of the standards": "标准品残差",
    "nominal IL-6 (pg/mL)": "标示 IL-6（pg/mL）",
    "OD - fitted OD": "OD - 拟合 OD",
}

# A role in a plate-map cell, so that the map reads in black and white too
# (a blank well's label says "blank").
ROLE_SHORT = {
    "standard": "std",
    "blank": "",
    "control": "ctrl",
    "qc": "QC",
    "sample": "smp",
    "empty": "",
}
ZH_ROLE_SHORT = {  # a blank well's label already says 空白
    "standard": "标准",
    "blank": "",
    "control": "质控",
    "qc": "QC",
    "sample": "样本",
    "empty": "",
}

ZH_FLAGS: dict[str, str] = {
    "DILUTION_NOT_VALIDATED": "稀释倍数超出已采用方法档案的验证范围：不可报告；请以已验证的稀释倍数重测",  # noqa: E501 (CJK text counts double)
    "BELOW_LLOQ": "低于本次运行的 LLOQ：报告为“<LLOQ × 稀释倍数”",
    "ABOVE_ULOQ": "高于本次运行的 ULOQ：报告为“>ULOQ × 稀释倍数”；以更高稀释度重测",
    "NEAR_LLOQ": "数值的 95 % 置信区间低于 LLOQ：在 95 % 水平上无法与“<LLOQ”区分",
    "NEAR_ULOQ": "数值的 95 % 置信区间高于 ULOQ：在 95 % 水平上无法与“>ULOQ”区分",
    "BELOW_CURVE": "OD 不高于曲线的零剂量渐近线：无法反算",
    "ABOVE_CURVE": "OD 不低于曲线的顶部渐近线：无法反算",
    "HIGH_CV": "复孔 CV 超过限值（20 %，LLOQ 附近 25 %）；m10 规则下不可报告：无结果，需重测",
    "SATURATED": "读板仪对该孔给出饱和标记（OVRFLW、OVER 等）",
    "MISSING_REPLICATE": "有复孔无读数（MISSED、已屏蔽或缺失）",
    "STANDARD_FAILED": "标准品孔的回收率超出允许偏差",
    "CONTROL_FAILED": "质控超出其接受范围（m10 规则：按其各孔均值判断）",
    "STANDARD_EXCLUDED": "（m10 规则）该标准品水平未通过，已从重新拟合的曲线中剔除",
    "LLOQ_RAISED": "（m10 规则）低于因剔除标准品而提高的 LLOQ：不可报告，需重测",
    "FIT_FAILED": "无法拟合标准曲线：没有浓度",
    "PLATE_REJECTED": "本板未通过验收规则：结果不可报告",
    "HOOK_SUSPECTED": "标准品不单调（顶部回落）：可能存在钩状效应",
    "INCOMPLETE_CURVE": "最高标准品远低于上平台：顶部渐近线为外推",
    "NO_CALIBRATED_RANGE": "没有标准品水平通过：没有可报告的范围",
    "DILUTION_DISAGREE": "同一标本在范围内的各稀释度结果相差超过 ±20 %（或一个低于范围、一个高于范围）",  # noqa: E501 (CJK text counts double)
    "SUSPECT_OUTLIER": "稳健（类 ROUT）检验判为可能离群的标准品孔：由审核人决定，不会自动剔除",
    "MASKED": "审核人已排除该孔（il6assay mask）；读数保留",
    "NO_STUDY_ID": "该样本在样本表中没有对应行（--allow-unmatched）",
}

ZH_SOURCES: dict[str, str] = {
    ICH_M10_CAL: "ICH M10（2022）第 4.2.3 节 校准曲线与范围；按第 4.3.2 节 分析批的接受标准用于每次运行（配体结合分析）",  # noqa: E501 (CJK text counts double)
    ICH_M10_QC: "ICH M10（2022）第 4.3.2 节 分析批的接受标准（配体结合分析）：质控样本",
    ICH_M10_PRECISION: "ICH M10（2022）第 4.2.4 节 准确度与精密度：CV 不超过 20 %（LLOQ 与 ULOQ 处 25 %）",  # noqa: E501 (CJK text counts double)
    ICH_M10_FIT: "ICH M10（2022）第 4.2.3 节：先要有校准曲线（通常为四或五参数 logistic），其余规则才适用",  # noqa: E501 (CJK text counts double)
    m10.SOURCE_STANDARDS: (
        "ICH M10（2022）第 4.3.2 节 分析批的接受标准，及第 4.2.3 节 校准曲线与范围："
        "每个水平的可报告值（反算浓度均值）在标示值 ±20 % 内（LLOQ 与 ULOQ 处 ±25 %），"
        "CV 不超过 20 %（25 %）；不合格的标准品剔除后重新评估曲线"
    ),
    m10.SOURCE_QC_DESIGN: (
        "ICH M10（2022）第 4.3.1 节 分析批：质控至少 3 个水平（低、中、高），"
        "至少两组，置于研究样本之前与之后"
    ),
    m10.SOURCE_QC: (
        "ICH M10（2022）第 4.3.2 节 分析批的接受标准：至少 2/3 的质控、"
        "且每个水平至少 50 % 在标示值 ±20 % 内"
    ),
    m10.SOURCE_QC_RANGE: (
        "ICH M10（2022）第 4.3.2 节：剔除标准品后，修订的校准范围仍须覆盖低、中、高质控"
    ),
    LOQ_SOURCE: (
        "CLSI EP17-A2（2012）：定量限是满足偏倚与不精密度目标的最低水平；"
        "ICH M10（2022）第 4.2.4 节：LLOQ 与 ULOQ 处精密度不超过 25 %"
    ),
    METHOD_QC_SOURCE: (
        "ICH M10 第 4.3.2 节（分析批质控：至少 2/3 在目标值 ±20 % 内，每个水平至少 50 %）；"
        "目标值与必需水平来自已采用的方法档案"
    ),
}

# Rule details: (English pattern, Chinese template with the same groups).
ZH_DETAILS: list[tuple[str, str]] = [
    (
        r"(\d+)/(\d+) QC wells within the profile's targets \(profile (\d+)\)",
        r"\2 个质控孔中 \1 个在方法档案的目标范围内（档案 \3）",
    ),
    (
        r"required QC level\(s\) (.*) missing from the plate \(profile (\d+)\)",
        r"板上缺少必需的质控水平 \1（档案 \2）",
    ),
    (r"level\(s\) (.*) below half within", r"水平 \1 在范围内的孔不足一半"),
    (r"(\d+) of (\d+) levels pass", r"\2 个水平中 \1 个通过"),
    (r"failing: ", "不通过："),
    (r"(\d+%) of levels pass", r"\1 的水平通过"),
    (r"(\d+%) of control wells pass \(by level: (.*)\)", r"\1 的质控孔通过（按水平：\2）"),
    (r"LLOQ ([\d.e+-]+), ULOQ ([\d.e+-]+) pg/mL", r"LLOQ \1，ULOQ \2 pg/mL"),
    (
        r"no standard level passes on both recovery and precision: nothing can be quantified",
        "没有标准品水平同时通过回收率与精密度：无法定量",
    ),
    (r"not quantifiable \(predicted CV over the limit\): ", "无法定量（预测 CV 超限）："),
    (r"the layout has no controls: not evaluated", "布局中没有质控：未评估"),
    (r"levels pass on their reportable values", "个水平按可报告值通过"),
    (r"excluded and refitted without: ", "已剔除并重新拟合，不含："),
    (r"(\d+%) of (\d+) QCs pass \(by level: (.*)\)", r"\2 个质控中 \1 通过（按水平：\3）"),
    (r"no QCs: see QC_DESIGN", "没有质控：见 QC_DESIGN"),
    (
        r"(\d+) QC levels in (\d+) sets bracketing the samples",
        r"\1 个质控水平，\2 组，位于样本前后",
    ),
    (r"a QC lies outside the calibrated range", "有质控在校准范围之外"),
    (r"^no curve$", "没有曲线"),
    (r"^converged$", "已收敛"),
    (r"from this plate's (\d+) replicate pairs", r"来自本板 \1 对复孔"),
    (
        r"from R's DNase ELISA duplicates "
        r"\(the plate has (\d+) replicate pairs, fewer than (\d+)\)",
        r"来自 R 的 DNase ELISA 复孔（本板只有 \1 对复孔，少于 \2）",
    ),
    (r"converged, but the parameters' covariance is singular", "已收敛，但参数协方差矩阵奇异"),
]


def rule_description_zh(rule_id: str, s: Settings) -> str | None:
    """A rule's description in Chinese, with the run's settings (None: no translation)."""
    if s.rules == "m10" and rule_id in M10_DESCRIPTIONS:
        return M10_DESCRIPTIONS[rule_id](s)
    descriptions = {
        "CURVE_FIT": "能够拟合标准曲线",
        "QUANTIFICATION_RANGE": (
            "LLOQ 与 ULOQ 为通过的标准品中最低与最高的水平，且在该水平测得结果的预测 CV"
            f"（delta 法，按该水平的复孔数）不超过 {s.cv_limit_lloq_pct:g} %"
        ),
        "STANDARD_LEVELS": (
            f"至少 {s.min_standard_levels} 个非零标准品水平通过（±{s.standard_tolerance_pct:g} %，"
            f"最低与最高水平 ±{s.standard_tolerance_extreme_pct:g} %；"
            f"一个水平有 ≥ {s.min_replicate_share:.0%} 的复孔通过即为通过）"
        ),
        "STANDARD_SHARE": f"至少 {s.min_standard_level_share:.0%} 的非零标准品水平通过（不含锚定点）",  # noqa: E501 (CJK text counts double)
        "CONTROLS": (
            f"至少 {s.control_min_share:.0%} 的质控孔、且每个水平至少 "
            f"{s.control_min_level_share:.0%} 的质控孔在其接受范围内"
        ),
        "METHOD_QC": "方法档案要求的质控水平均在板上，且质控孔在档案的目标范围内",
    }
    return descriptions.get(rule_id)


M10_DESCRIPTIONS: dict[str, Callable[[Settings], str]] = {
    "STANDARD_LEVELS": lambda s: (
        f"至少 {s.min_standard_levels} 个非零标准品水平通过：每个水平的反算浓度均值在 "
        f"±{s.standard_tolerance_pct:g} % 内"
        f"（最低与最高水平 ±{s.standard_tolerance_extreme_pct:g} %），"
        f"CV 不超过 {s.cv_limit_pct:g} %（{s.cv_limit_lloq_pct:g} %）；"
        "不通过的水平剔除，曲线重新拟合一次"
    ),
    "STANDARD_SHARE": lambda s: (
        f"至少 {s.min_standard_level_share:.0%} 的非零标准品水平按可报告值通过（不含锚定点）"
    ),
    "QC_DESIGN": lambda s: (
        "至少 3 个质控水平（低、中、高），至少两组，样本前后各一组（按列自上而下、从左到右的顺序）"
    ),
    "CONTROLS": lambda s: (
        f"至少 {s.control_min_share:.0%} 的质控、且每个水平至少 {s.control_min_level_share:.0%} "
        "在其接受范围内，每个质控按其可报告值（各孔均值）判断"
    ),
    "QC_RANGE": lambda s: "校准范围（LLOQ..ULOQ）覆盖低、中、高质控",
}


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


class Words:
    """The report's words in one language: ``w("Plate")``, ``w.flag("HIGH_CV")``."""

    def __init__(self, lang: str = DEFAULT_LANG) -> None:
        self.lang = check_lang(lang)
        self.zh = self.lang == "zh-CN"

    def __call__(self, text: str) -> str:
        """A fixed label in this language (the English text when it has no translation)."""
        return ZH.get(text, text) if self.zh else text

    def role_short(self, role: str) -> str:
        """A well's role in a word short enough for a plate-map cell ('std', '标准')."""
        short = ZH_ROLE_SHORT if self.zh else ROLE_SHORT
        return short.get(role, "")

    def flag(self, code: str) -> str:
        """What a flag code means, in this language."""
        english = FLAGS.get(code, code)
        return ZH_FLAGS.get(code, english) if self.zh else english

    def source(self, text: str) -> str:
        """A rule's source, in this language (the citation's numbers unchanged)."""
        return ZH_SOURCES.get(text, text) if self.zh else text

    def description(self, rule_id: str, english: str, settings: Settings) -> str:
        """A rule's description, in this language."""
        if not self.zh:
            return english
        return rule_description_zh(rule_id, settings) or english

    def detail(self, text: str) -> str:
        """A rule's detail (numbers and labels kept), in this language."""
        if not self.zh:
            return text
        for pattern, template in ZH_DETAILS:
            text = re.sub(pattern, template, text)
        return text.replace("; ", "；")


def words(lang: str | None) -> Callable[[str], str]:
    """The :class:`Words` of ``lang`` (shorthand)."""
    return Words(lang or DEFAULT_LANG)
