"""What workers share through Redis (POLICYBOT_REDIS_URL): dedup log, channel kv, dialogue sessions.

A real redis-server (the session's `redis_url`), each test under a key
prefix of its own. The worker tests give each worker its own copy of the
data directory, so Redis is the only thing they share: without it, a retry
on the other worker would be asked again and a follow-up would lose its
previous turn.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import redis

from api.wechat.db import ChannelDB
from api.wechat.dedup import DEFERRED, OWED, SENT
from api.wechat.redis_log import RedisChannelDB, RedisMessageLog
from api.wechat.replies import citizen_text, text
from bot.dialogue import Turn
from bot.redis_sessions import RedisSessions
from knowledge.store import Store, open_store
from tests.conftest import TEST_EMBEDDER
from tests.paths import REPO
from tests.wechat import test_wechat_dedup as sqlite_scenarios
from tests.wechat.conftest import copy_data_dir
from tests.wechat.test_wechat_window import deliver
from tests.wechat.test_wechat_workers import (DEADLINE, DELAY, PLATFORM_TIMEOUT, QUESTION, asked, free_port,
                                              post, retry_on_the_other_worker)
from tests.wechat.wx_sim import TOKEN, Platform, new_msg_id, new_openid, text_xml

T = TypeVar("T")
UNREACHABLE = "redis://127.0.0.1:1/0"
TOPIC, FOLLOW_UP = "公积金租房提取每月限额多少", "那需要什么材料？"


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "policybot.sqlite3")  # runs the migrations
    yield opened
    opened.close()


def make_log(store: Store, redis_url: str, prefix: str, **kwargs: Any) -> RedisMessageLog:
    return RedisMessageLog(ChannelDB(store), redis_url, prefix=prefix, **kwargs)


def in_sqlite(store: Store, key: str) -> bool:
    return bool(store.read("SELECT 1 FROM wechat_messages WHERE key = ?", (key,)))


@pytest.mark.parametrize("scenario", [sqlite_scenarios.test_first_try_then_retries_then_delivery,
                                      sqlite_scenarios.test_deferred_answers_become_owed_and_are_fetched])
def test_the_state_machine_behaves_as_on_sqlite(scenario: Callable[[Path], None], tmp_path: Path, store: Store,
                                                redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """MessageLog's own scenarios (test_wechat_dedup.py), run on a RedisMessageLog."""
    logs: list[RedisMessageLog] = []

    def redis_log(_: Path) -> RedisMessageLog:
        logs.append(make_log(store, redis_url, prefix))
        return logs[-1]

    monkeypatch.setattr(sqlite_scenarios, "make_log", redis_log)
    scenario(tmp_path)
    assert logs and not store.read("SELECT 1 FROM wechat_messages")  # all of it in Redis, none in the store
    assert redis.Redis.from_url(redis_url).keys(f"{prefix}wechat:msg:*")


def test_a_try_after_delivery_and_a_reply_nobody_waits_for(store: Store, redis_url: str, prefix: str) -> None:
    log = make_log(store, redis_url, prefix)
    log.claim("msg:1", "oA")
    log.settle("msg:1", text("答案"))
    assert log.take("msg:1") == text("答案")
    later, entry = log.claim("msg:1", "oA")
    assert not later and (entry.state, entry.reply) == (SENT, text("答案"))
    assert log.settle("msg:gone", text("无人等待")) == SENT and log.get("msg:gone") is None


def test_the_newest_owed_answer_is_fetched_first(store: Store, redis_url: str, prefix: str) -> None:
    log = make_log(store, redis_url, prefix)
    for key, answer, age in (("msg:2", "早先的答案", 10), ("msg:4", "更新的答案", 0)):
        log.claim(key, "oB", now=time.time() - age)
        assert log.defer(key) and not log.defer(key)
        assert log.settle(key, text(answer)) == DEFERRED
    owed = log.outstanding("oB")
    assert owed is not None and (owed.key, owed.state) == ("msg:4", OWED)
    assert log.take("msg:4") == text("更新的答案")
    assert log.outstanding("oB").key == "msg:2"  # type: ignore[union-attr]
    log.mark_sent("msg:2")  # e.g. pushed as a customer-service message
    assert log.outstanding("oB") is None and log.get("msg:2").state == SENT  # type: ignore[union-attr]
    assert log.outstanding("oSomeoneElse") is None


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Each call in a thread of its own, all released together; their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_one_first_try_among_concurrent_claims(store: Store, redis_url: str, prefix: str) -> None:
    logs = [make_log(store, redis_url, prefix) for _ in range(4)]  # a connection pool each, as workers have
    claims = at_once([partial(logs[i % 4].claim, "msg:race", "oC") for i in range(16)])
    assert sorted(first for first, _ in claims) == [False] * 15 + [True]
    assert sorted(entry.tries for _, entry in claims) == list(range(1, 17))  # each try counted once
    assert logs[0].get("msg:race").tries == 16  # type: ignore[union-attr]


def test_entries_expire_with_a_redis_ttl(store: Store, redis_url: str, prefix: str) -> None:
    log = make_log(store, redis_url, prefix, retention=1.0)
    log.claim("msg:old", "oD")
    log.defer("msg:old")
    client = redis.Redis.from_url(redis_url)
    assert 0 < client.ttl(f"{prefix}wechat:msg:msg:old") <= 1
    assert 0 < client.ttl(f"{prefix}wechat:outstanding:oD") <= 1
    # The retention counts from when the message arrived, not from when it was claimed.
    log = make_log(store, redis_url, prefix, retention=3600.0)
    log.claim("msg:late", "oD", now=time.time() - 3599.5)
    time.sleep(1.2)
    assert log.get("msg:old") is None and log.get("msg:late") is None and log.outstanding("oD") is None
    first, entry = log.claim("msg:old", "oD")  # after the retention a MsgId counts as new
    assert first and entry.tries == 1


def test_channel_kv_is_shared_and_expires(tmp_path: Path, store: Store, redis_url: str, prefix: str) -> None:
    other_store = Store(tmp_path / "other.sqlite3")
    one, two = RedisChannelDB(store, redis_url, prefix), RedisChannelDB(other_store, redis_url, prefix)
    one.put("wechat:access_token:wx1", "TOKEN-1", 7200)
    assert two.get("wechat:access_token:wx1") == "TOKEN-1"
    assert two.get("wechat:access_token:wx1", time.time() + 7300) is None  # wanted valid longer than it is
    assert ChannelDB(store).get("wechat:access_token:wx1") is None  # not in the store
    two.put("wechat:detail:oE", "第二页", 1)
    assert one.get("wechat:detail:oE") == "第二页"
    two.put("forever", "留存", None)
    assert redis.Redis.from_url(redis_url).ttl(f"{prefix}kv:forever") == -1
    time.sleep(1.2)
    assert one.get("wechat:detail:oE") is None and one.get("forever") == "留存"
    one.delete("wechat:access_token:wx1")
    assert two.get("wechat:access_token:wx1") is None
    other_store.close()


def test_sessions_are_shared_and_expire(tmp_path: Path, store: Store, redis_url: str, prefix: str) -> None:
    other_store = Store(tmp_path / "other.sqlite3")
    one, two = RedisSessions(store, 1, redis_url, prefix), RedisSessions(other_store, 1, redis_url, prefix)
    one.remember("wechat:oF", Turn("公积金租房提取", "doc-1", 7))
    assert two.last("wechat:oF") == Turn("公积金租房提取", "doc-1", 7)
    assert two.last("wechat:oG") is None and two.last(None) is None
    assert not store.read("SELECT 1 FROM sessions WHERE id = ?", ("wechat:oF",))
    time.sleep(1.2)
    assert two.last("wechat:oF") is None
    other_store.close()


def test_unreachable_redis_falls_back_to_the_store_and_warns(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    log = RedisMessageLog(ChannelDB(store), UNREACHABLE)
    kv = RedisChannelDB(store, UNREACHABLE)
    sessions = RedisSessions(store, 60, UNREACHABLE)
    with caplog.at_level(logging.WARNING, logger="knowledge.shared_redis"):
        assert log.claim("msg:5", "oH")[0] and not log.claim("msg:5", "oH")[0]  # still deduplicated
        log.settle("msg:5", text("照常回答"))
        assert log.take("msg:5") == text("照常回答")
        kv.put("k", "v", 60)
        assert kv.get("k") == "v"
        sessions.remember("s", Turn("低保", None, None))
        assert sessions.last("s") == Turn("低保", None, None)
    assert in_sqlite(store, "msg:5")
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    # One warning per outage interval and kind, not one per call.
    assert [r.levelno for r in warnings] == [logging.WARNING] * 3
    for what in ("WeChat message dedup", "WeChat channel values", "dialogue sessions"):
        assert sum(what in w.getMessage() for w in warnings) == 1, what


# -- two real worker processes, sharing nothing but Redis ------------------------------


Copy = tuple[Path, str | None]  # a worker's data directory and, on PostgreSQL, its own database


@contextmanager
def worker(copy: Copy, **settings: str) -> Iterator[str]:
    """A uvicorn worker process on its own copy, configured as test_wechat_workers' are; yields its URL."""
    data, database = copy
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "POLICYBOT_DATA_DIR": str(data), "POLICYBOT_EMBEDDER": TEST_EMBEDDER, "POLICYBOT_RATE_LIMIT": "0",
           "POLICYBOT_WECHAT_TOKEN": TOKEN, "POLICYBOT_WECHAT_REPLY_DEADLINE": str(DEADLINE),
           "WECHAT_TEST_BOT_DELAY": str(DELAY), "WECHAT_TEST_PLATFORM_TIMEOUT": str(PLATFORM_TIMEOUT),
           **{f"POLICYBOT_{name.upper()}": value for name, value in settings.items()}}
    for name in ("POLICYBOT_WECHAT_AES_KEY", "POLICYBOT_WECHAT_APPID", "POLICYBOT_WECHAT_SECRET",
                 "POLICYBOT_DATABASE_URL"):
        env.pop(name, None)
    if database:
        env["POLICYBOT_DATABASE_URL"] = database
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "uvicorn", "--factory", "tests.wechat.worker_app:make",
               "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1], "--log-level", "warning"]
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        try:
            deadline = time.monotonic() + 120
            while not healthy(url):
                if proc.poll() is not None:
                    raise RuntimeError(f"worker exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "worker did not start"
                time.sleep(0.2)
            # A first question loads what a long-running worker has loaded.
            httpx.post(f"{url}/api/v1/ask", json={"question": "创业补贴"}, timeout=60)
            yield url
        finally:
            proc.terminate()
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
            proc.kill()  # nothing to do when it has exited


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def redis_workers(wechat_kb, redis_url: str,  # type: ignore[no-untyped-def]
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Copy], list[str]]]:
    """Two worker processes, each on its own copy of the data directory, sharing one Redis."""
    root = tmp_path_factory.mktemp("redis-workers")
    data = [copy_data_dir(wechat_kb, root / name) for name in ("a", "b")]
    shared = {"redis_url": redis_url, "redis_prefix": f"test:{uuid.uuid4().hex}:"}
    with worker(data[0], **shared) as worker_a, worker(data[1], **shared) as worker_b:
        yield data, [worker_a, worker_b]


def asked_anywhere(data: list[Copy], openid: str) -> int:
    total = 0
    for directory, database in data:
        store = open_store(directory, database)
        total += asked(store, openid)
        store.close()
    return total


def test_a_retry_on_the_other_worker_gets_the_first_answer(redis_workers, open_app) -> None:  # type: ignore[no-untyped-def]
    data, (worker_a, worker_b) = redis_workers
    _, openid, _, reply, expected = retry_on_the_other_worker(worker_b, worker_a, open_app)
    assert reply["Content"] == expected
    assert asked_anywhere(data, openid) == 1  # worker A waited for B's answer instead of asking again


def test_simultaneous_tries_on_two_workers_ask_the_bot_once(redis_workers) -> None:  # type: ignore[no-untyped-def]
    data, urls = redis_workers
    platform, openid = Platform(), new_openid()
    xml = text_xml(openid, QUESTION, new_msg_id())
    replies = [platform.read(response)["Content"] for response in at_once([partial(post, url, platform, xml, 10)
                                                                             for url in urls])]
    assert replies[0] == replies[1] and "《" in replies[0]
    assert asked_anywhere(data, openid) == 1


def test_a_follow_up_on_the_other_worker_continues_the_first_workers_turn(redis_workers, open_app) -> None:  # type: ignore[no-untyped-def]
    _, (worker_a, worker_b) = redis_workers
    platform, openid = Platform(), new_openid()

    def ask(url: str, question: str) -> str:
        _, response = deliver(url, platform, text_xml(openid, question, new_msg_id()))
        assert response is not None, "no try was answered"
        return str(platform.read(response)["Content"])

    first = ask(worker_a, TOPIC)
    follow_up = ask(worker_b, FOLLOW_UP)
    with open_app() as client:
        bot, session = client.app.state.bot, f"x:{new_openid()}"
        assert first == citizen_text(bot.ask(TOPIC, session_id=session))
        expected = bot.ask(FOLLOW_UP, session_id=session)
        alone = bot.ask(FOLLOW_UP, session_id=f"x:{new_openid()}")
    assert expected.answered and not alone.answered  # the follow-up means something only after the topic
    assert follow_up == citizen_text(expected)
