"""Dialogue sessions in Redis (``POLICYBOT_REDIS_URL``), shared by every worker.

``RedisSessions`` keeps each session's last turn under one key that Redis
expires after the session TTL, so nothing has to sweep idle sessions. It is a
``Sessions``: when Redis cannot be reached it logs a warning and reads and
writes the store's ``sessions`` table instead, as without Redis, so a
follow-up still works for every worker sharing that store.

The connection and the outage rule are ``knowledge.shared_redis.SharedRedis``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import partial
from typing import Any

from bot.dialogue import Sessions, Turn
from knowledge.shared_redis import DEFAULT_PREFIX, SharedRedis
from knowledge.store import Store


class RedisSessions(Sessions):
    def __init__(self, store: Store, ttl: int, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        super().__init__(store, ttl)
        self.redis = SharedRedis(url, prefix, "dialogue sessions")

    def _key(self, session_id: str) -> str:
        return f"{self.redis.prefix}session:{session_id}"

    def last(self, session_id: str | None) -> Turn | None:
        if not session_id or self.ttl <= 0:
            return None

        def read() -> Turn | None:
            raw = self.redis.client.get(self._key(session_id))
            if not raw:
                return None
            state = json.loads(raw)
            return Turn(state["question"], state.get("document_id"), state.get("chunk_id"))

        return self.redis.call(read, partial(super().last, session_id))

    def remember(self, session_id: str | None, turn: Turn) -> None:
        if not session_id or self.ttl <= 0:
            return
        state = json.dumps(asdict(turn), ensure_ascii=False)
        self.redis.call(lambda: self.redis.client.set(self._key(session_id), state, ex=self.ttl),
                        partial(super().remember, session_id, turn))


def sessions_for(store: Store, settings: Any) -> Sessions:
    """Sessions in Redis when ``redis_url`` is set, else in the store (the embedded default)."""
    ttl = int(getattr(settings, "session_ttl", 1800))
    url = getattr(settings, "redis_url", None)
    if not url:
        return Sessions(store, ttl)
    return RedisSessions(store, ttl, url, getattr(settings, "redis_prefix", DEFAULT_PREFIX))
