"""Voice texts for calls: number read digit by digit, window as a numeral, no lane ever.

Only the number and the window go into a template (PIPL, and priority tickets must sound like
every other ticket), so a configured template cannot leak anything else.
"""

from __future__ import annotations

from typing import Literal

AnnounceKind = Literal["call", "recall", "transfer"]

ZH_DIGITS = "零一二三四五六七八九"
EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_EN_TEENS = (
    "ten", "eleven", "twelve", "thirteen", "fourteen",
    "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")

# Placeholders: {number} (spoken ticket number) and {window} (spoken window, e.g. 三号 / three).
ZH_TEMPLATES: dict[str, str] = {
    "call": "请{number}号，到{window}窗口办理。",
    "recall": "{number}号，请到{window}窗口办理。",
    "transfer": "请{number}号，到{window}窗口继续办理。",
}
EN_TEMPLATES: dict[str, str] = {
    "call": "Number {number}, please go to window {window}.",
    "recall": "Number {number}, once again, please go to window {window}.",
    "transfer": "Number {number}, please go to window {window} to continue.",
}


def spoken_number(number: str) -> str:
    """A ticket number as Chinese speech reads it: letters kept, digits one by one.

    ``"A001"`` → ``"A零零一"``; ``"Y120"`` → ``"Y一二零"`` (never 一百二十: digit by digit is
    what people match against their ticket).
    """
    return "".join(ZH_DIGITS[int(ch)] if ch in "0123456789" else ch.upper() for ch in number)


def english_number(number: str) -> str:
    """A ticket number as English speech reads it: ``"A001"`` → ``"A zero zero one"``."""
    return " ".join(EN_DIGITS[int(ch)] if ch in "0123456789" else ch.upper() for ch in number)


def spoken_window(n: int) -> str:
    """A window number as a Chinese numeral with 号: 3 → 三号, 12 → 十二号, 21 → 二十一号.

    Raises:
        ValueError: outside 0–9999.
    """
    return f"{_zh_numeral(n)}号"


def english_window(n: int) -> str:
    """A window number in English words: 3 → three, 21 → twenty-one (digits past 999).

    Raises:
        ValueError: if ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"window numbers are >= 0, got {n}")
    if n > 999:
        return " ".join(EN_DIGITS[int(ch)] for ch in str(n))
    return _en_words(n)


def announce(
    kind: AnnounceKind,
    number: str,
    window_number: int,
    *,
    zh_template: str | None = None,
    en_template: str | None = None,
) -> dict[str, str]:
    """The Chinese and English texts to speak for a call, recall or transfer.

    Args:
        kind: ``call``, ``recall`` or ``transfer``.
        number: the ticket number, e.g. ``"A001"``.
        window_number: the window's number as shown above it.
        zh_template: overrides the Chinese template (``{number}``, ``{window}``).
        en_template: overrides the English template (same placeholders).

    Returns:
        ``{"zh": "请A零零一号，到三号窗口办理。", "en": "Number A zero zero one, please go to
        window three."}`` for ``("call", "A001", 3)``.

    Raises:
        ValueError: on an unknown ``kind``.
        KeyError: if a template names a placeholder other than ``{number}``/``{window}``.
    """
    if kind not in ZH_TEMPLATES:
        raise ValueError(f"unknown announcement kind {kind!r}; expected {sorted(ZH_TEMPLATES)}")
    zh = (zh_template or ZH_TEMPLATES[kind]).format(
        number=spoken_number(number), window=spoken_window(window_number)
    )
    en = (en_template or EN_TEMPLATES[kind]).format(
        number=english_number(number), window=english_window(window_number)
    )
    return {"zh": zh, "en": en}


def _zh_numeral(n: int) -> str:
    if not 0 <= n <= 9999:
        raise ValueError(f"window numbers are read for 0–9999, got {n}")
    if n < 10:
        return ZH_DIGITS[n]
    if n < 20:  # 十二, not 一十二: how a number on its own is said
        return "十" + (ZH_DIGITS[n % 10] if n % 10 else "")
    return _zh_big(n)


def _zh_big(n: int) -> str:
    out: list[str] = []
    zero_pending = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out.append("零")  # 一百零一: a skipped place is read once as 零
            zero_pending = False
        out.append(ZH_DIGITS[digit] + unit)
    return "".join(out)


def _en_words(n: int) -> str:
    if n < 10:
        return EN_DIGITS[n]
    if n < 20:
        return _EN_TEENS[n - 10]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{EN_DIGITS[ones]}" if ones else "")
    hundreds, rest = divmod(n, 100)
    head = f"{EN_DIGITS[hundreds]} hundred"
    return f"{head} and {_en_words(rest)}" if rest else head
