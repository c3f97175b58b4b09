"""Masking citizens' ID and phone numbers before anything is stored or logged."""

from __future__ import annotations

import re

# The shortest number masked is a landline: a 3-digit area code and 7 digits. (\d is any
# Unicode digit, full-width ones included.)
_DIGIT = re.compile(r"\d")
FEWEST_DIGITS = 10
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
# The 18 characters of an ID written in any grouping ("1101 0119 9003 0712 35").
_GROUPED_ID = re.compile(r"(?<![\dXx])\d(?:[-\s.]?\d){16}[-\s.]?[\dXx](?![\dXx])")
# An ID's digits 7-14 are a birth date: a run of amounts ("500 800 1000 1500 2000") is not one.
_BIRTH = re.compile(r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
# Landlines: area code, then 7 or 8 digits (0571-88886666, (0571)88886666, 0571 8888 6666).
_LANDLINE = re.compile(r"(?<![\dA-Za-z])(?<!\d[-\s])([（(]?(?:010|02\d|0[3-9]\d{2})[)）]?)([-\s]?)"
                       r"(\d{3,4}[-\s]?\d{4})(?![-\s]?\d)(?![A-Za-z])")
# The words that introduce a number: searched with, they pull in "咨询电话" passages.
# Only a label that clearly introduces the number: a bare 身份证 or 手机 may be the topic
# ("用身份证…能在网上缴医保吗", "换手机…后怎么改绑定").
_LABEL = re.compile(r"(?:(?:我的|本人|我)(?:联系电话|电话|手机|座机|身份证)(?:号码|号)?(?:是|为|[:：])?"
                    r"|(?:联系电话|联系方式|电话号码|电话号|手机号码|手机号|身份证号码|身份证号|证件号码|证件号)"
                    r"(?:是|为|[:：])?|(?:电话|手机|座机|身份证)(?:是|为|[:：]))\s*$")


def _normalised(text: str) -> str:
    return text.translate(_WIDE_DIGITS) if any("０" <= ch <= "９" for ch in text) else text


def _masked_id(match: re.Match[str]) -> str:
    digits = "".join(ch for ch in match.group(0) if ch.isalnum())
    if not _BIRTH.fullmatch(digits[6:14]):
        return match.group(0)
    return f"{digits[:6]}********{digits[-4:]}"


def _masked_landline(match: re.Match[str]) -> str:
    number = match.group(3)
    return f"{match.group(1)}{match.group(2)}{'*' * (len(number) - 4)}{number[-4:]}"


def mask(text: str) -> str:
    """`110101199003071234` -> `110101********1234`; `13812345678` -> `138****5678`;
    `0571-88886666` -> `0571-****6666`."""
    if len(_DIGIT.findall(text)) < FEWEST_DIGITS:
        return text  # most log lines and questions: nothing any pattern could match
    text = _normalised(text)
    text = _ID_NUMBER.sub(r"\1********\2", text)
    text = _GROUPED_ID.sub(_masked_id, text)
    text = _OLD_ID.sub(r"\1******\2", text)
    text = _MOBILE.sub(r"\1\2****\3\4", text)
    return _LANDLINE.sub(_masked_landline, text)


def strip_personal(text: str) -> str:
    """The text without ID or phone numbers, nor the words that introduce them ("我电话…"):
    they say nothing about policy and must not be searched with."""
    text = _normalised(text)
    for pattern in (_ID_NUMBER, _GROUPED_ID, _OLD_ID, _MOBILE, _LANDLINE):
        # Only what mask() would hide: a run of amounts that looks like a grouped ID stays.
        text = pattern.sub(lambda m: "\x00" if mask(m.group(0)) != m.group(0) else m.group(0), text)
    parts = text.split("\x00")
    return " ".join([_LABEL.sub("", part) for part in parts[:-1]] + parts[-1:])
