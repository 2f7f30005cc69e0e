"""The shared token table: which word means saturated, missing or masked, and what is refused."""

from __future__ import annotations

import math

import pytest

from il6assay.errors import InputError
from il6assay.plate.export import MASKED, MISSING, SATURATED, Token
from il6assay.plate.tokens import TOKENS, guess_decimal, parse_reading


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("OVRFLW", SATURATED),  # Gen5
        ("MISSED", MISSING),  # Gen5
        ("?????", MISSING),  # Gen5, cannot compute
        ("Sat", SATURATED),
        ("OVER", SATURATED),  # Tecan
        ("overflow", SATURATED),  # BMG MARS
        ("*****", SATURATED),
        (">4.000", SATURATED),
        ("> 3.5", SATURATED),
        ("<0.001", MISSING),
        ("Range?", SATURATED),  # SoftMax Pro
        ("Path?", MISSING),  # SoftMax Pro
        ("Masked", MASKED),  # SoftMax Pro
        ("OOR >", SATURATED),  # Bio-Plex
        ("OOR <", MISSING),  # Bio-Plex
        ("OOR>", SATURATED),  # Bio-Plex, unspaced
        ("OOR<", MISSING),  # Bio-Plex, unspaced
        ("OOR", MISSING),  # Bio-Plex, out of range without a side: no number
        ("Range", SATURATED),  # Bio-Plex / older SoftMax: outside the range, upwards
        ("*12.3", MISSING),  # Bio-Plex *n: a value extrapolated beyond the standards
        ("* 12.3", MISSING),
        ("*0.356*", MISSING),  # Gen5: a value between asterisks, outside its validated range
        ("***", MISSING),
        ("---", MISSING),
        ("Inf", SATURATED),
        ("-Inf", MISSING),
        ("NaN", MISSING),
        ("n/a", MISSING),
    ],
)
def test_known_token_has_its_status_and_keeps_the_printed_text(text: str, status: str) -> None:
    assert parse_reading(text) == Token(status, text)


def test_ovrflw_well_is_saturated_not_missing() -> None:
    assert parse_reading("OVRFLW").status == SATURATED
    assert parse_reading("MISSED").status == MISSING


def test_tokens_match_case_insensitively_and_trimmed() -> None:
    assert parse_reading("  ovrflw\t") == Token(SATURATED, "ovrflw")
    assert parse_reading("range?") == Token(SATURATED, "range?")
    assert parse_reading("OOR  >") == Token(SATURATED, "OOR  >")


def test_every_table_entry_is_a_known_status() -> None:
    assert set(TOKENS.values()) <= {SATURATED, MISSING, MASKED}
    assert all(k == k.strip().lower() for k in TOKENS)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.123", 0.123),
        ("  2.5 ", 2.5),
        ("+1.5", 1.5),
        ("-0.000", 0.0),
        ("-.5", -0.5),
        ("3.", 3.0),
        ("12", 12.0),
        ("1.2e-1", 0.12),
        ("4E+2", 400.0),
    ],
)
def test_numbers_become_floats(text: str, value: float) -> None:
    result = parse_reading(text)
    assert isinstance(result, float)
    assert result == value


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_empty_cell_is_none(text: str) -> None:
    assert parse_reading(text) is None


@pytest.mark.parametrize("text", ["nan", "inf", "Infinity"])
def test_nan_and_inf_are_tokens_never_float_nan(text: str) -> None:
    result = parse_reading(text)
    assert isinstance(result, Token)
    assert not (isinstance(result, float) and math.isnan(result))


@pytest.mark.parametrize("text", ["xyz", "1_000", "0x10", "1.2.3", "OD", "12 pg"])
def test_unknown_word_is_refused_naming_it(text: str) -> None:
    with pytest.raises(InputError, match=f"unknown reading '{text}': not a number or a known"):
        parse_reading(text)


def test_decimal_comma_only_when_asked() -> None:
    assert parse_reading("0,123", decimal=",") == 0.123
    assert parse_reading("-1,5e-2", decimal=",") == -0.015
    with pytest.raises(InputError, match="decimal comma"):
        parse_reading("0,123")
    with pytest.raises(InputError, match="decimal point"):
        parse_reading("0.123", decimal=",")


def test_bound_with_decimal_comma_is_saturated() -> None:
    assert parse_reading(">4,000", decimal=",") == Token(SATURATED, ">4,000")


def test_guess_decimal_needs_commas_and_no_points() -> None:
    assert guess_decimal(["0,1", "2,5", "OVRFLW", ""]) == ","
    assert guess_decimal(["0.1", "2,5"]) == "."
    assert guess_decimal(["1", "2"]) == "."


def test_softmax_sat_token_is_saturated_and_kept() -> None:
    assert parse_reading("#SAT") == Token(SATURATED, "#SAT")
    assert parse_reading(" #sat ") == Token(SATURATED, "#sat")


@pytest.mark.parametrize("text", ["*12.3", "*0.356*", "OOR>", "Range"])
def test_starred_and_range_tokens_are_never_numbers(text: str) -> None:
    value = parse_reading(text)
    assert isinstance(value, Token) and value.token == text


@pytest.mark.parametrize("text", ["1e999", "-1e999", "1E400"])
def test_a_number_beyond_a_float_is_refused_not_infinite(text: str) -> None:
    with pytest.raises(InputError, match="not a finite number"):
        parse_reading(text)


@pytest.mark.parametrize("text", ["１２３", "０.５", "٠٫٥", "١٢٣", "१२"])
def test_non_ascii_digits_are_refused_not_read_as_numbers(text: str) -> None:
    # Python's float() reads fullwidth and Arabic-Indic digits; no reader writes them.
    with pytest.raises(InputError, match="non-ASCII digits"):
        parse_reading(text)


def test_a_cell_over_128_kb_is_refused_with_its_size() -> None:
    with pytest.raises(InputError, match=r"a cell of 200 KB: longer than any reading"):
        parse_reading("1" * 200 * 1024)
