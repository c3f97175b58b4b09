"""Dialogue state per session (web session_id, WeChat OpenID), in the store.

Kept in SQLite, not in process memory, so a follow-up reaching another worker
still finds the previous turn. State is small: the last question (masked) and
the document and passage it was answered from.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass

from knowledge.store import Store

# A follow-up leans on the previous turn: it points back (那/这个/它), or is a
# short question that starts without a topic ("需要多久？", "谁来写？"). A short
# question that names one ("公积金提取") is a new question.
_POINTS_BACK = re.compile(r"^(那|那么|这|这个|那个|它|其|该|上述|还有|另外|还要|还需|同时|以及|然后|再问)")
_ELLIPTIC = re.compile(r"^(需要|要|得|可以|能|谁|多久|多少|什么时候|怎么|如何|哪些|哪里|在哪|是否)")
SHORT = 10


@dataclass
class Turn:
    question: str  # masked; for a follow-up, the questions it continues as well
    document_id: str | None
    chunk_id: int | None


def is_follow_up(question: str) -> bool:
    q = question.strip()
    return bool(_POINTS_BACK.search(q)) or len(q) <= SHORT and bool(_ELLIPTIC.search(q))


class Sessions:
    def __init__(self, store: Store, ttl: int = 1800) -> None:
        self.store = store
        self.ttl = ttl

    def last(self, session_id: str | None) -> Turn | None:
        if not session_id or self.ttl <= 0:
            return None
        rows = self.store.read("SELECT updated_at, state FROM sessions WHERE id = ?", (session_id,))
        if not rows or time.time() - rows[0]["updated_at"] > self.ttl:
            return None
        state = json.loads(rows[0]["state"])
        return Turn(state["question"], state.get("document_id"), state.get("chunk_id"))

    def remember(self, session_id: str | None, turn: Turn) -> None:
        if not session_id or self.ttl <= 0:
            return
        stamp = time.time()
        with self.store.write(bump=False) as conn:
            conn.execute(
                "INSERT INTO sessions(id, updated_at, state) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at, state = excluded.state",
                (session_id, stamp, json.dumps(asdict(turn), ensure_ascii=False)),
            )
            # Forget idle sessions now and then rather than let the table grow.
            if int(stamp) % 50 == 0:
                conn.execute("DELETE FROM sessions WHERE updated_at < ?", (stamp - self.ttl,))
