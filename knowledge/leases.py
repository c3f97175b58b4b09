"""Who embeds which passage, when several workers share one store.

Every worker follows the store: when a document arrives through worker A,
worker B's next sync finds its passages without vectors and embeds them too.
The vectors meet in the store's embedding cache, but without coordination
both workers pay for every passage of every upload (N workers, N times the
CPU). With Redis, a worker first takes a lease on each text it is missing
(``SET NX`` with a TTL): it embeds only the texts it holds and waits for the
others' vectors to appear in the cache. A worker that dies mid-batch leaves
leases that expire after ``ttl`` seconds; whoever is still waiting then takes
them and embeds the texts itself, so nothing is lost.

Without Redis (one worker) there are no leases. When Redis cannot be reached
every text counts as ours: the work is done twice rather than not at all.
"""

from __future__ import annotations

import os
import uuid
from typing import Protocol

from knowledge.shared_redis import DEFAULT_PREFIX, SharedRedis

LEASE_TTL = 120  # seconds; a batch of 32 long passages takes ~10 s on 2 cores

# Deletes a lease only while it is still ours (it may have expired and been taken).
_RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""


class EmbeddingLeases(Protocol):
    def claim(self, keys: list[str]) -> set[str]:
        """The keys this worker now holds (the others are being embedded elsewhere)."""
        ...

    def release(self, keys: set[str]) -> None: ...


class RedisEmbeddingLeases:
    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX, ttl: int = LEASE_TTL) -> None:
        self.redis = SharedRedis(url, prefix, "embedding leases")
        self.ttl = ttl
        self.holder = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._release = self.redis.client.register_script(_RELEASE)

    def _key(self, key: str) -> str:
        return f"{self.redis.prefix}embedding:{key}"

    def claim(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()

        def take() -> set[str]:
            pipe = self.redis.client.pipeline(transaction=False)
            for key in keys:
                pipe.set(self._key(key), self.holder, nx=True, ex=self.ttl)
            return {key for key, taken in zip(keys, pipe.execute()) if taken}

        return self.redis.call(take, lambda: set(keys))

    def release(self, keys: set[str]) -> None:
        if keys:
            self.redis.call(lambda: self._release(keys=[self._key(k) for k in sorted(keys)], args=[self.holder]),
                            lambda: 0)
