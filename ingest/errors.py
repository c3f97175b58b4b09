"""Every way ingestion can fail, as one exception the user can act on.

``IngestError`` is a ``ValueError`` so callers that only care about "bad input"
need not import it; the API turns it into a 400/422 with ``str(error)`` as the
message shown to the department staff who uploaded the file.
"""

from __future__ import annotations


class IngestError(ValueError):
    """A file could not be turned into text or structure.

    ``reason`` says what is wrong and ``advice`` what to do, both in Chinese
    because they are shown to the uploader as they are.
    """

    def __init__(self, filename: str | None, reason: str, advice: str = "") -> None:
        self.filename = filename or "（未命名）"
        self.reason = reason
        self.advice = advice
        message = f"文件 {self.filename} 无法读取：{reason}"
        if advice:
            message += f"，{advice}"
        super().__init__(message)
