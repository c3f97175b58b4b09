"""Citizens' ID and phone numbers never reach a log in clear.

Questions travel in URLs (GET /api/v1/search?q=…), so the access log would
record them as typed; the filter masks both kinds of number in every record's
message and traceback. It sits on the handlers, which every record passes
through (a filter on a logger misses what its child loggers propagate).
A request line arrives percent-encoded (证 is %E8%AF%81, a space may be +),
where a number follows hex digits and would slip past the digit boundaries:
such text is decoded first whenever the decoded form holds a number to mask.
"""

from __future__ import annotations

import logging
import re
import traceback
from urllib.parse import unquote_plus

from knowledge.privacy import mask

__all__ = ["MaskingFilter", "install", "mask"]

class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Mask the parts, not the formatted line: formatters such as uvicorn's
        # access log read record.args themselves.
        if isinstance(record.msg, str):
            record.msg = _masked(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _masked(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = mask("".join(traceback.format_exception(*record.exc_info)).rstrip())
        return True


_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}|\+")


def _masked(value: object) -> object:
    if not isinstance(value, str):
        return value
    if _ENCODED.search(value):
        decoded = unquote_plus(value, errors="replace")
        masked = mask(decoded)
        if masked != decoded:
            return masked
    return mask(value)


def install(*logger_names: str) -> None:
    """Mask on every handler of these loggers (and of the root logger), and on the loggers."""
    masking = MaskingFilter()
    for name in ("", *logger_names):
        target = logging.getLogger(name)
        for owner in (target, *target.handlers):
            if not any(isinstance(f, MaskingFilter) for f in owner.filters):
                owner.addFilter(masking)
