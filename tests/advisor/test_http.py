from __future__ import annotations

import pytest

from advisor.http import MAX_DIGITS, all_digits, whole_number


@pytest.mark.parametrize(
    ("text", "number"), [("0", 0), ("7", 7), ("007", 7), ("9" * 9, 999999999)]
)
def test_whole_number_takes_ascii_digits(text, number):
    assert whole_number(text) == number


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        " 1",
        "1 ",
        "-1",
        "+1",
        "1_0",
        "1.0",
        "1e3",
        "²",
        "٣",
        "１",
        "1" * (MAX_DIGITS + 1),
    ],
)
def test_whole_number_refuses_anything_else(text):
    assert whole_number(text) is None


def test_whole_number_never_raises_past_the_int_digit_limit():
    assert whole_number("1" * 5000) is None


def test_whole_number_takes_more_digits_when_asked():
    assert whole_number("1" * 18, max_digits=18) == int("1" * 18)


@pytest.mark.parametrize(("text", "digits"), [("1" * 5000, True), ("", False), ("²", False)])
def test_all_digits(text, digits):
    assert all_digits(text) is digits
