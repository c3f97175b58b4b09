"""Each platform message answered once, across retries, workers and restarts.

The platform retries a message it got no reply to within 5 s, up to three
tries in all, possibly to another worker process. One row per message key
(MsgId; for events FromUserName + CreateTime) in SQLite records how far its
answer has got:

    pending:N  being computed; N tries have arrived so far
    deferred   being computed; the last try told the citizen how to fetch it
    ready      computed; the next try (or a waiting one) sends it
    owed       computed after the tries were over; fetched with "1"
    sent       delivered (passively or as a customer-service message)

The try count lives in the status because the 0003 table has no column for
it; a later migration may split it out without changing this interface.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from api.wechat.db import ChannelDB
from api.wechat.replies import Reply

logger = logging.getLogger(__name__)

PENDING, DEFERRED, READY, OWED, SENT = "pending", "deferred", "ready", "owed", "sent"
# Long enough for a citizen to come back for an owed answer; the platform's
# retries themselves are over within 15 seconds.
RETENTION = 2 * 24 * 3600.0
PURGE_EVERY = 600.0


@dataclass(frozen=True)
class Entry:
    key: str
    openid: str
    received_at: float
    state: str
    tries: int
    reply: Reply | None

    @property
    def has_answer(self) -> bool:
        return self.reply is not None and self.state in (READY, OWED, SENT)


def _entry(row: object) -> Entry:
    status = str(row["status"])  # type: ignore[index]
    state, _, tries = status.partition(":")
    raw = row["reply"]  # type: ignore[index]
    return Entry(str(row["key"]), str(row["openid"]), float(row["received_at"]),  # type: ignore[index]
                 state, int(tries or 0), Reply.from_json(raw) if raw else None)


class MessageLog:
    def __init__(self, db: ChannelDB, retention: float = RETENTION) -> None:
        self.db = db
        self.retention = retention
        self._last_purge = 0.0

    def claim(self, key: str, openid: str, now: float | None = None) -> tuple[bool, Entry]:
        """Record one try of `key`: (True, entry) for its first try, else (False, entry so far)."""
        now = time.time() if now is None else now
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM wechat_messages WHERE key = ?", (key,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO wechat_messages(key, openid, received_at, status) VALUES (?, ?, ?, ?)",
                    (key, openid, now, f"{PENDING}:1"),
                )
                first = True
            else:
                entry = _entry(row)
                if entry.state == PENDING:
                    conn.execute("UPDATE wechat_messages SET status = ? WHERE key = ?",
                                 (f"{PENDING}:{entry.tries + 1}", key))
                first = False
            row = conn.execute("SELECT * FROM wechat_messages WHERE key = ?", (key,)).fetchone()
        if now - self._last_purge > PURGE_EVERY:
            self.purge(now)
        return first, _entry(row)

    def get(self, key: str) -> Entry | None:
        rows = self.db.query("SELECT * FROM wechat_messages WHERE key = ?", (key,))
        return _entry(rows[0]) if rows else None

    def settle(self, key: str, reply: Reply) -> str:
        """Store a computed reply; returns the state it left (pending or deferred)."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT status FROM wechat_messages WHERE key = ?", (key,)).fetchone()
            if row is None:  # purged meanwhile: nobody is waiting any more
                return SENT
            state = str(row["status"]).partition(":")[0]
            after = OWED if state == DEFERRED else READY if state == PENDING else state
            conn.execute("UPDATE wechat_messages SET status = ?, reply = ? WHERE key = ?",
                         (after, reply.to_json(), key))
        return state

    def take(self, key: str) -> Reply | None:
        """The reply for a try, if there is one; marks it delivered."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM wechat_messages WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            entry = _entry(row)
            if not entry.has_answer:
                return None
            if entry.state != SENT:
                conn.execute("UPDATE wechat_messages SET status = ? WHERE key = ?", (SENT, key))
        return entry.reply

    def defer(self, key: str) -> bool:
        """The last try gives up waiting: True if the answer is still being computed."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE wechat_messages SET status = ? WHERE key = ? AND status LIKE 'pending:%'",
                (DEFERRED, key),
            )
            return cursor.rowcount == 1

    def mark_sent(self, key: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE wechat_messages SET status = ? WHERE key = ?", (SENT, key))

    def outstanding(self, openid: str) -> Entry | None:
        """This citizen's newest answer still to be fetched (owed) or still computing (deferred)."""
        rows = self.db.query(
            "SELECT * FROM wechat_messages WHERE openid = ? AND status IN (?, ?) "
            "ORDER BY received_at DESC LIMIT 1",
            (openid, OWED, DEFERRED),
        )
        return _entry(rows[0]) if rows else None

    def purge(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        self._last_purge = now
        with self.db.transaction() as conn:
            removed = conn.execute("DELETE FROM wechat_messages WHERE received_at < ?",
                                   (now - self.retention,)).rowcount
        if removed:
            logger.info("expired %d old WeChat message records", removed)
        return removed
