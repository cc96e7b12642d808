"""Masking personal numbers in free text (R13): ID numbers and mobile numbers never stored.

Citizens' evaluation comments and staff's pause reasons are free text; people type their
ID-card or phone number into them. Any run of 11 or more digits (every ID number
``\\d{17}[\\dXx]`` and every mobile ``1[3-9]\\d{9}`` is one) and any spaced or dashed mobile
is replaced by a label, so the R13 patterns can never match what is kept.
"""

from __future__ import annotations

import re

MOBILE_MASK = "[手机号已隐藏]"
NUMBER_MASK = "[证件号已隐藏]"

_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_LONG_NUMBER = re.compile(r"\d{11,}[Xx]?")


def redact(text: str) -> str:
    """``text`` with mobile numbers and other long digit runs (ID, card numbers) masked.

    Args:
        text: free text as typed.

    Returns:
        The text with each mobile number replaced by ``MOBILE_MASK`` and each other run of
        11 or more digits (an ID number may end in X) by ``NUMBER_MASK``.
    """
    text = _MOBILE.sub(MOBILE_MASK, text)
    return _LONG_NUMBER.sub(NUMBER_MASK, text)
