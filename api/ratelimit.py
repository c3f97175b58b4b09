"""Per-client request limits on the anonymous endpoints.

``RateLimiter`` keeps its token buckets in memory, per process: right for one
worker. ``RedisRateLimiter`` keeps the same buckets in Redis
(``POLICYBOT_REDIS_URL``), so several workers share one budget per client.
"""

from __future__ import annotations

import logging
import math
import threading
import time

import redis

logger = logging.getLogger(__name__)


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests, refilled evenly."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill)
        self._lock = threading.Lock()

    def retry_after(self) -> int:
        """Seconds until a client over its limit has one request again."""
        return max(1, math.ceil(60 / self.per_minute)) if self.per_minute > 0 else 0

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic()
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                return False
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget idle clients rather than grow without bound
                self._buckets = {c: v for c, v in self._buckets.items() if now - v[1] < 120}
            return True


# A token bucket in one hash per client, refilled and spent atomically on the
# server; Redis's own clock, so the workers' clocks need not agree.
_BUCKET_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = capacity / 60.0
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens = tonumber(state[1]) or capacity
local last = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - last) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
redis.call('EXPIRE', KEYS[1], 120)
return allowed
"""


class RedisRateLimiter(RateLimiter):
    """The same token bucket, kept in Redis and shared by every worker.

    When Redis cannot be reached the request is let through (and logged):
    a citizen's question matters more than the limit.
    """

    def __init__(self, per_minute: int, url: str, *, prefix: str = "policybot:rate:") -> None:
        super().__init__(per_minute)
        self._prefix = prefix
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = client.register_script(_BUCKET_SCRIPT)

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0:
            return True
        try:
            return bool(self._script(keys=[self._prefix + client], args=[self.per_minute]))
        except (redis.RedisError, OSError) as exc:
            logger.warning("rate limit not checked, Redis unavailable: %s", exc)
            return True
