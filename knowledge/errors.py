"""Every way a knowledge-base operation can fail, with the HTTP status it maps to.

    PolicybotError
    ├── Unauthorized   401  no key, or a key we do not know
    ├── Forbidden      403  another department's document
    ├── NotFound       404
    ├── Conflict       409  the same file, already held by another department
    ├── TooLarge       413
    ├── Unsupported    415  a file type we cannot read
    ├── Invalid        422  a value or a file we cannot use
    └── TooManyRequests 429 a client over its rate limit

Messages are Chinese: they reach department staff and citizens as they are.
"""

from __future__ import annotations


class PolicybotError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(PolicybotError):
    status = 401


class Forbidden(PolicybotError):
    status = 403


class NotFound(PolicybotError):
    status = 404


class Conflict(PolicybotError):
    status = 409


class TooLarge(PolicybotError):
    status = 413


class Unsupported(PolicybotError):
    status = 415


class Invalid(PolicybotError):
    status = 422


class TooManyRequests(PolicybotError):
    status = 429

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
