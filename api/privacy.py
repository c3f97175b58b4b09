"""Citizens' ID and phone numbers never reach a log in clear.

Questions travel in URLs (GET /api/v1/search?q=…), so the access log would
record them as typed; this filter masks both kinds of number in every record.
"""

from __future__ import annotations

import logging
import re

# 18-digit resident ID (last may be X), then mainland mobile numbers; digits
# around them must not be digits, so longer numbers (amounts, ids) stay intact.
_ID_NUMBER = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask(text: str) -> str:
    """`110101199003071234` -> `110101********1234`; `13812345678` -> `138****5678`."""
    text = _ID_NUMBER.sub(r"\1********\2", text)
    return _MOBILE.sub(r"\1****\2", text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(mask(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        return True


def install(*logger_names: str) -> None:
    """Mask on these loggers (the root logger when none is named)."""
    for name in logger_names or ("",):
        target = logging.getLogger(name)
        if not any(isinstance(f, MaskingFilter) for f in target.filters):
            target.addFilter(MaskingFilter())
