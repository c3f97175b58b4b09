"""Masking citizens' ID and phone numbers before anything is stored or logged."""

from __future__ import annotations

import re

# Full-width digits (１３８…) are read as digits; nothing else is rewritten.
_WIDE_DIGITS = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")
_SEP = r"[-\s.]?"
# 18-digit resident ID (last may be X), also written in groups (110101 19900307 1234);
# the old 15-digit ID; then mainland mobile numbers with an optional +86 / 0086
# prefix and separators (138-1234-5678). Digits around them must not be digits,
# so longer numbers (amounts, ids) stay intact.
_ID_NUMBER = re.compile(rf"(?<!\d)(\d{{6}}){_SEP}\d{{8}}{_SEP}(\d{{3}}[\dXx])(?![\dXx])")
_OLD_ID = re.compile(r"(?<!\d)(\d{6})\d{6}(\d{3})(?!\d)")
_MOBILE = re.compile(rf"(?<![\d+])((?:\+?86|0086)?{_SEP}1[3-9]\d)({_SEP})\d{{4}}({_SEP})(\d{{4}})(?!\d)")


def _normalised(text: str) -> str:
    return text.translate(_WIDE_DIGITS) if any("０" <= ch <= "９" for ch in text) else text


def mask(text: str) -> str:
    """`110101199003071234` -> `110101********1234`; `13812345678` -> `138****5678`."""
    text = _normalised(text)
    text = _ID_NUMBER.sub(r"\1********\2", text)
    text = _OLD_ID.sub(r"\1******\2", text)
    return _MOBILE.sub(r"\1\2****\3\4", text)


def strip_personal(text: str) -> str:
    """The text without ID or phone numbers: they say nothing about policy and must not be searched with."""
    text = _normalised(text)
    return _MOBILE.sub(" ", _OLD_ID.sub(" ", _ID_NUMBER.sub(" ", text)))
