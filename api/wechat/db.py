"""The channel's own rows (wechat_messages, kv) in the knowledge store's database.

Written with `Store.write(bump=False)`: these rows are not knowledge, so they
must not bump the knowledge generation (every worker would then reload its
indexes once per WeChat message); the transactions are still `BEGIN
IMMEDIATE`, so workers serialise on them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from knowledge.db import Connection
from knowledge.store import Store


class ChannelDB:
    """The channel's tables, through the knowledge store; safe across threads and processes."""

    def __init__(self, store: Store | Path | str) -> None:
        self.store = store if isinstance(store, Store) else Store(store)
        self.path = self.store.path

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.store.write(bump=False) as conn:
            yield conn

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self.store.read(sql, params)

    # -- kv: small shared values with an expiry (access token, "详情" text) --

    def get(self, key: str, now: float | None = None) -> str | None:
        rows = self.query("SELECT value, expires_at FROM kv WHERE key = ?", (key,))
        if not rows:
            return None
        expires = rows[0]["expires_at"]
        if expires is not None and expires <= (time.time() if now is None else now):
            return None
        return str(rows[0]["value"])

    def put(self, key: str, value: str, ttl: float | None, now: float | None = None) -> None:
        expires = None if ttl is None else (time.time() if now is None else now) + ttl
        with self.transaction() as conn:
            conn.execute("INSERT INTO kv(key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE "
                         "SET value = excluded.value, expires_at = excluded.expires_at", (key, value, expires))

    def delete(self, key: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM kv WHERE key = ?", (key,))

    def purge_kv(self, prefix: str, now: float | None = None) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM kv WHERE substr(key, 1, ?) = ? AND expires_at IS NOT NULL AND expires_at <= ?",
                (len(prefix), prefix, time.time() if now is None else now),
            )
            return cursor.rowcount
