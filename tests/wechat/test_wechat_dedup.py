"""The dedup log over real SQLite: one first try per key, across threads and connections."""

from __future__ import annotations

import threading
from pathlib import Path

from api.wechat.db import ChannelDB
from api.wechat.dedup import DEFERRED, OWED, PENDING, READY, SENT, MessageLog
from api.wechat.replies import text
from tests.postgres import store_at


def make_log(tmp_path: Path) -> MessageLog:
    store = store_at(tmp_path)  # runs the migrations
    return MessageLog(ChannelDB(store.path))


def test_first_try_then_retries_then_delivery(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    first, entry = log.claim("msg:1", "oA")
    assert first and (entry.state, entry.tries) == (PENDING, 1)
    again, entry = log.claim("msg:1", "oA")
    assert not again and (entry.state, entry.tries) == (PENDING, 2)
    assert log.take("msg:1") is None
    assert log.settle("msg:1", text("答案")) == PENDING
    assert log.get("msg:1").state == READY  # type: ignore[union-attr]
    assert log.take("msg:1") == text("答案")
    assert log.get("msg:1").state == SENT  # type: ignore[union-attr]
    assert log.take("msg:1") == text("答案")  # a lost reply is sent again on the next try


def test_deferred_answers_become_owed_and_are_fetched(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    log.claim("msg:2", "oB")
    assert log.defer("msg:2")
    assert log.outstanding("oB").state == DEFERRED  # type: ignore[union-attr]
    assert log.settle("msg:2", text("迟到的答案")) == DEFERRED
    owed = log.outstanding("oB")
    assert owed is not None and owed.state == OWED
    assert log.take(owed.key) == text("迟到的答案")
    assert log.outstanding("oB") is None
    log.claim("msg:3", "oB")
    log.settle("msg:3", text("已好"))
    assert not log.defer("msg:3")  # ready before the last try gave up: it is sent, not deferred


def test_one_first_try_among_concurrent_claims(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    logs = [MessageLog(ChannelDB(store.path)) for _ in range(4)]  # separate connections, as workers have
    firsts: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(log: MessageLog) -> None:
        barrier.wait()
        firsts.append(log.claim("msg:race", "oC")[0])

    threads = [threading.Thread(target=claim, args=(logs[i % 4],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(firsts) == [False] * 7 + [True]
    assert logs[0].get("msg:race").tries == 8  # type: ignore[union-attr]


def test_old_rows_expire(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    log.claim("msg:old", "oD", now=1000.0)
    log.claim("msg:older", "oD", now=900.0)
    assert log.purge(now=1000.0 + log.retention - 50) == 1  # only the one past retention
    assert log.get("msg:older") is None and log.get("msg:old") is not None
    # Claims purge on their own now and then: no cron job needed.
    log.claim("msg:new", "oD", now=1000.0 + log.retention + 10_000)
    assert log.get("msg:old") is None and log.get("msg:new") is not None
