"""Query vectors shared between the workers of one deployment.

Embedding a question is most of what a new /ask costs (~40 ms of a core for a
long one with the bundled e5). Each worker's retriever remembers the vectors
of its recent questions, but behind a load balancer a repeated question lands
on any worker: with N workers, a hotline's common questions would be embedded
up to N times, and most repeats would find a worker that has not seen them.
With Redis, a vector computed by one worker is kept there for ``ttl`` seconds
and read by the others (1.5 KB a question).

When Redis cannot be reached, the worker embeds the question itself.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from knowledge.embedders import cache_key
from knowledge.shared_redis import DEFAULT_PREFIX, SharedRedis

QUERY_TTL = 24 * 3600  # seconds: a day's repeated questions; Redis forgets the rest


class QueryVectorCache(Protocol):
    def get(self, embedder: str, text: str) -> np.ndarray | None: ...

    def put(self, embedder: str, text: str, vector: np.ndarray) -> None: ...


class RedisQueryVectors:
    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX, ttl: int = QUERY_TTL) -> None:
        self.redis = SharedRedis(url, prefix, "query vectors", decode=False)
        self.ttl = ttl

    def _key(self, embedder: str, text: str) -> str:
        return f"{self.redis.prefix}query-vector:{cache_key(embedder, text)}"

    def get(self, embedder: str, text: str) -> np.ndarray | None:
        raw = self.redis.call(lambda: self.redis.client.get(self._key(embedder, text)), lambda: None)
        if not raw:
            return None
        return np.frombuffer(raw, dtype=np.float32).copy()

    def put(self, embedder: str, text: str, vector: np.ndarray) -> None:
        data = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        self.redis.call(lambda: self.redis.client.set(self._key(embedder, text), data, ex=self.ttl), lambda: None)
