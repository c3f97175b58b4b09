"""The Redis connection every Redis-backed part shares, and its outage rule.

Dialogue sessions (``bot/redis_sessions.py``), the WeChat channel's dedup and
values (``api/wechat/redis_log.py``), the embedding leases
(``knowledge/leases.py``) and the query vectors (``knowledge/query_vectors.py``)
each hold a ``SharedRedis``: a client under the deployment's key prefix that,
when Redis cannot be reached, logs one warning and runs the caller's local
fallback for a few seconds instead of failing the request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis

logger = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_PREFIX = "policybot:"
# After a failure, Redis is left alone this long: a dead server costs one
# timeout and one warning per interval, not one per call (the WeChat channel
# polls every 50 ms), and the state of that interval stays in one place.
RETRY_REDIS_AFTER = 5.0


class SharedRedis:
    """A Redis client under a key prefix that falls back to the local store while Redis is down."""

    def __init__(self, url: str, prefix: str, what: str, decode: bool = True) -> None:
        """``decode=False`` for values that are bytes (vectors), not text."""
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                           decode_responses=decode)
        self.prefix = prefix
        self._what = what
        self._down_until = 0.0

    def call(self, action: Callable[[], T], fallback: Callable[[], T]) -> T:
        if time.monotonic() < self._down_until:
            return fallback()
        try:
            return action()
        except (redis.RedisError, OSError) as exc:
            self._down_until = time.monotonic() + RETRY_REDIS_AFTER
            logger.warning("Redis unavailable (%s): %s kept in the local store for the next %.0f s",
                           exc, self._what, RETRY_REDIS_AFTER)
            return fallback()
