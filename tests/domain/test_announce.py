"""Voice texts: numbers digit by digit, windows as numerals, the samples of domain.md."""

from __future__ import annotations

import pytest

from server.domain.announce import (
    announce,
    english_number,
    english_window,
    spoken_number,
    spoken_window,
)


@pytest.mark.parametrize(
    ("number", "zh", "en"),
    [
        ("A001", "A零零一", "A zero zero one"),
        ("B120", "B一二零", "B one two zero"),
        ("Y007", "Y零零七", "Y zero zero seven"),
        ("A1000", "A一零零零", "A one zero zero zero"),
        ("c039", "C零三九", "C zero three nine"),
    ],
)
def test_numbers_digit_by_digit(number: str, zh: str, en: str) -> None:
    """Ticket numbers are read one digit at a time, letters kept, in both languages."""
    assert spoken_number(number) == zh
    assert english_number(number) == en


@pytest.mark.parametrize(
    ("n", "zh", "en"),
    [
        (1, "一号", "one"),
        (3, "三号", "three"),
        (10, "十号", "ten"),
        (12, "十二号", "twelve"),
        (20, "二十号", "twenty"),
        (21, "二十一号", "twenty-one"),
        (99, "九十九号", "ninety-nine"),
        (100, "一百号", "one hundred"),
        (101, "一百零一号", "one hundred and one"),
        (110, "一百一十号", "one hundred and ten"),
        (1001, "一千零一号", "one zero zero one"),
        (1010, "一千零一十号", "one zero one zero"),
    ],
)
def test_window_numbers(n: int, zh: str, en: str) -> None:
    """Window numbers are read as numerals (十二号, twenty-one)."""
    assert spoken_window(n) == zh
    assert english_window(n) == en


@pytest.mark.parametrize("n", [-1, 10000])
def test_window_number_out_of_range(n: int) -> None:
    """Window numbers outside 0–9999 are refused."""
    with pytest.raises(ValueError, match="window numbers"):
        spoken_window(n)


@pytest.mark.parametrize(
    ("kind", "number", "window", "zh", "en"),
    [
        ("call", "A001", 3, "请A零零一号，到三号窗口办理。",
         "Number A zero zero one, please go to window three."),
        ("recall", "A001", 3, "A零零一号，请到三号窗口办理。",
         "Number A zero zero one, once again, please go to window three."),
        ("transfer", "A001", 7, "请A零零一号，到七号窗口继续办理。",
         "Number A zero zero one, please go to window seven to continue."),
        ("call", "Y012", 12, "请Y零一二号，到十二号窗口办理。",
         "Number Y zero one two, please go to window twelve."),
    ],
)  # fmt: skip
def test_announce_samples(kind: str, number: str, window: int, zh: str, en: str) -> None:
    """Calls, recalls and transfers read as the samples of domain.md."""
    assert announce(kind, number, window) == {"zh": zh, "en": en}  # type: ignore[arg-type]


def test_announce_templates_override() -> None:
    """Configured templates replace the defaults, with the same placeholders."""
    text = announce(
        "call",
        "A001",
        3,
        zh_template="{number}号请到{window}窗口",
        en_template="{number} → {window}",
    )
    assert text == {"zh": "A零零一号请到三号窗口", "en": "A zero zero one → three"}


def test_announce_unknown_kind() -> None:
    """An unknown announcement kind is refused."""
    with pytest.raises(ValueError, match="kind"):
        announce("shout", "A001", 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["call", "recall", "transfer"])
def test_no_priority_words(kind: str) -> None:
    """No announcement ever speaks a priority word."""
    text = announce(kind, "Y001", 5)  # type: ignore[arg-type]
    spoken = text["zh"] + text["en"].lower()
    for word in ("优先", "军人", "老年", "残疾", "孕", "priority", "military", "elderly"):
        assert word not in spoken
