"""Masking citizens' ID and phone numbers before anything is stored or logged."""

from __future__ import annotations

import re

# 18-digit resident ID (last may be X), then mainland mobile numbers, also
# written with spaces or dashes (138-1234-5678); digits around them must not
# be digits, so longer numbers (amounts, ids) stay intact.
_ID_NUMBER = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)([- ]?)\d{4}([- ]?)(\d{4})(?!\d)")


def mask(text: str) -> str:
    """`110101199003071234` -> `110101********1234`; `13812345678` -> `138****5678`."""
    text = _ID_NUMBER.sub(r"\1********\2", text)
    return _MOBILE.sub(r"\1\2****\3\4", text)


def strip_personal(text: str) -> str:
    """The text without ID or phone numbers: they say nothing about policy and must not be searched with."""
    return _MOBILE.sub(" ", _ID_NUMBER.sub(" ", text))
