import pytest
from hypothesis import given
from hypothesis import strategies as st

from waiaas_core.amounts import (
    MAX_DURATION,
    format_duration,
    format_units,
    parse_duration,
    to_base_units,
)
from waiaas_core.limits import MAX_AMOUNT


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("0.25", 9, 250_000_000),
        ("12.5", 6, 12_500_000),
        ("1", 9, 1_000_000_000),
        ("0.000000001", 9, 1),
        ("5.", 9, 5_000_000_000),
        (".5", 6, 500_000),
        ("1.50", 1, 15),
        (" 2 ", 0, 2),
        ("007", 0, 7),
        ("18446744073.709551615", 9, MAX_AMOUNT),
    ],
)
def test_a_typed_amount_becomes_exact_base_units(text, decimals, units):
    assert to_base_units(text, decimals) == units


@pytest.mark.parametrize(
    ("text", "decimals", "message"),
    [
        ("0.0000000001", 9, "has 10 decimals; this asset has only 9"),
        ("1.5", 0, "has 1 decimals; this asset has only 0"),
        ("-1", 9, "cannot be negative"),
        ("1e3", 9, "is not an amount"),
        ("1E-3", 9, "is not an amount"),
        ("", 9, "empty"),
        ("   ", 9, "empty"),
        (".", 9, "is not an amount"),
        ("1.2.3", 9, "is not an amount"),
        ("1,5", 9, "is not an amount"),
        ("+1", 9, "is not an amount"),
        ("inf", 9, "is not an amount"),
        ("nan", 9, "is not an amount"),
        ("0x10", 9, "is not an amount"),
        ("1_000", 9, "is not an amount"),
        ("\u0661", 0, "is not an amount"),  # an Arabic-Indic digit: int() would take it
        ("18446744073.709551616", 9, "too large"),
        ("18446744073709551616", 0, "too large"),
        ("9" * 400, 0, "is not an amount"),
        ("0", 9, "more than zero"),
        ("0.000", 9, "more than zero"),
    ],
)
def test_a_bad_amount_is_refused_with_a_clear_message(text, decimals, message):
    with pytest.raises(ValueError, match=message):
        to_base_units(text, decimals)


def test_zero_is_accepted_where_the_caller_allows_it():
    assert to_base_units("0", 9, allow_zero=True) == 0


@pytest.mark.parametrize("decimals", [-1, 256, True, 1.0])
def test_an_impossible_number_of_decimals_is_refused(decimals):
    with pytest.raises(ValueError, match="number of decimals"):
        to_base_units("1", decimals)


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [
        (250_000_000, 9, "0.25"),
        (12_500_000, 6, "12.5"),
        (1, 9, "0.000000001"),
        (0, 9, "0"),
        (10**9, 9, "1"),
        (7, 0, "7"),
        (MAX_AMOUNT, 9, "18446744073.709551615"),
    ],
)
def test_base_units_are_shown_as_the_shortest_exact_decimal(units, decimals, text):
    assert format_units(units, decimals) == text


@pytest.mark.parametrize("units", [-1, 1.5, "10", True])
def test_formatting_refuses_what_is_not_a_whole_count_of_base_units(units):
    with pytest.raises(ValueError):
        format_units(units, 9)


@given(st.integers(min_value=1, max_value=MAX_AMOUNT), st.integers(min_value=0, max_value=18))
def test_formatting_then_parsing_gives_the_same_base_units(units, decimals):
    assert to_base_units(format_units(units, decimals), decimals) == units


@given(
    st.integers(min_value=0, max_value=10**6),
    st.text(alphabet="0123456789", max_size=9),
    st.integers(min_value=9, max_value=12),
)
def test_parsing_then_formatting_keeps_the_value(whole, fraction, decimals):
    text = f"{whole}.{fraction}" if fraction else str(whole)
    units = to_base_units(text, decimals, allow_zero=True)
    shown = format_units(units, decimals)
    assert to_base_units(shown, decimals, allow_zero=True) == units
    # the same number: compare as exact fractions of base units, never as floats
    assert units == whole * 10**decimals + int((fraction or "0").ljust(decimals, "0"))


@given(st.text(max_size=30))
def test_any_text_is_an_amount_or_a_value_error(text):
    try:
        units = to_base_units(text, 9)
    except ValueError:
        return
    assert 0 < units <= MAX_AMOUNT


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172_800), ("900", 900), (" 1H ", 3600)],
)
def test_a_duration_becomes_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "1.5h", "-1m", "1w", "1h30m", "9" * 30, "1e3"])
def test_a_bad_duration_is_refused_with_a_clear_message(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_a_duration_over_a_year_is_refused():
    with pytest.raises(ValueError, match="longer than a year"):
        parse_duration("400d")


@given(st.integers(min_value=0, max_value=MAX_DURATION))
def test_formatting_then_parsing_a_duration_gives_the_same_seconds(seconds):
    assert parse_duration(format_duration(seconds)) == seconds
