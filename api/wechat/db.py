"""The channel's own rows (wechat_messages, kv) in the knowledge store's SQLite file.

Not through `Store.write()`: that bumps the knowledge generation, and every
worker would then reload its indexes once per WeChat message. These rows are
not knowledge, like the embedding cache, so they get their own transactions
(still `BEGIN IMMEDIATE`, so workers serialise on them).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class ChannelDB:
    """Thread-local connections to one SQLite file; safe across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, params).fetchall()

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
            conn.execute("INSERT OR REPLACE INTO kv(key, value, expires_at) VALUES (?, ?, ?)",
                         (key, value, expires))

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
