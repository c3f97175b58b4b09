"""Per-client request limits on the anonymous endpoints.

In memory, per process: right for one worker. Several workers need a shared
counter (Redis) behind the same `allow` method.
"""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
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
