"""The one number parser and text cleaner: numbers, JSON, names and file names."""

from __future__ import annotations

import json

import pytest
from django import forms

from projects.cleaning import (
    MAX_DIGITS,
    BadNumber,
    NumberError,
    NumberField,
    clean_name,
    json_default,
    loads,
    parse_number,
    parse_whole,
    printable,
    shorten_file_name,
    text_problem,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.5", 0.5), (" 1e-3 ", 0.001), ("0,5", 0.5), ("1", 1.0), ("-0", 0.0), ("1e-400", 0.0)],
)
def test_parse_number_reads_what_people_type(text, value):
    assert parse_number(text) == value


def test_parse_number_turns_minus_zero_into_zero():
    assert str(parse_number("-0")) == "0.0"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("9" * 400, "digits"),
        ("0." + "0" * 40 + "1", "digits"),
        ("1e400", "finite"),
        ("nan", "finite"),
        ("-inf", "finite"),
        ("0,5,5", "invalid"),
        ("1,0.5", "invalid"),
        ("1_0", "invalid"),
        ("0x10", "invalid"),
        ("", "invalid"),
    ],
)
def test_parse_number_refuses_with_a_reason(text, code):
    with pytest.raises(NumberError) as refused:
        parse_number(text)
    assert refused.value.code == code


def test_a_file_number_takes_no_decimal_comma():
    with pytest.raises(NumberError):
        parse_number("0,5", decimal_comma=False)


def test_parse_number_refuses_a_5000_digit_number_without_converting_it():
    with pytest.raises(NumberError) as refused:
        parse_number("1" * 5000)
    assert f"more than {MAX_DIGITS} digits" in refused.value.message
    assert len(refused.value.message) < 80


def test_parse_whole_bounds_digits():
    assert parse_whole(" 42 ") == 42
    with pytest.raises(NumberError):
        parse_whole("9" * 5000)


def test_loads_skips_a_leading_bom():
    assert loads('\ufeff{"a": 0.5}') == {"a": 0.5}


def test_loads_keeps_a_too_long_number_as_a_bad_number_in_its_place():
    data = loads('{"a": ' + "9" * 5000 + ', "b": ' + "1" * 400 + ".5, " + '"c": 7}')
    assert isinstance(data["a"], BadNumber) and isinstance(data["b"], BadNumber)
    assert data["c"] == 7
    assert "digits" in data["a"].reason
    assert len(str(data["a"])) <= 20


def test_loads_reads_an_overflowing_float_as_python_does():
    assert loads("[1e400, NaN]")[0] == float("inf")


@pytest.mark.parametrize("text", ["a\x00b", "a\nb", "tab\there", "\ud800", "x\u2028y", "\x7f"])
def test_text_problem_refuses_controls_and_lone_surrogates(text):
    assert text_problem(text)


@pytest.mark.parametrize("text", ["划痕", "scratch (deep)", "é", "👍🏽", "a b"])
def test_text_problem_accepts_ordinary_names(text):
    assert text_problem(text) is None


def test_printable_escapes_what_cannot_be_shown_or_encoded():
    assert printable("a\nb\ud800") == "a\\x0ab\\ud800"
    printable("\ud800").encode("utf-8")


def test_clean_name_strips_and_checks():
    assert clean_name("  划痕 ", 100) == "划痕"
    for bad in ("", "  ", None, 7, "a" * 101, "a\x00"):
        with pytest.raises(ValueError):
            clean_name(bad, 100)


def test_shorten_file_name_cuts_by_bytes_and_keeps_the_extension():
    name = shorten_file_name("划" * 120 + ".zip")
    assert name.endswith(".zip") and name.startswith("划")
    assert len(name.encode()) <= 255 - 16
    name.encode("utf-8").decode("utf-8")  # cut on a character boundary


def test_shorten_file_name_leaves_short_names_and_replaces_unsafe_characters():
    assert shorten_file_name("数据集.zip") == "数据集.zip"
    assert shorten_file_name("a\nb\ud800.zip") == "a_b_.zip"
    assert shorten_file_name("..", default="dataset.zip") == "dataset.zip"


def test_number_field_uses_the_parser_and_its_messages():
    class Form(forms.Form):
        value = NumberField(error_messages={"invalid": "Enter a number."})

    assert Form({"value": "0,5"}).is_valid()
    assert Form({"value": "-0"}).is_valid()
    huge = Form({"value": "9" * 400})
    assert not huge.is_valid() and "digits" in huge.errors["value"][0]
    assert Form({"value": "1e400"}).errors["value"] == ["Enter a number."]


def test_json_default_writes_a_bad_number_as_its_text():
    assert json.dumps([loads("9" * 40)], default=json_default) == json.dumps(["9" * 19 + "…"])
