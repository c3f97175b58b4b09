"""The 5-second window against a live uvicorn: the platform's timeouts are real HTTP timeouts.

The reply deadline and the platform's timeout are scaled down (0.45 s of
0.5 s instead of 4.5 s of 5 s) and the real bot answers late by a set delay,
so each scenario of the window plays out in about a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from api.wechat.client import WeChatAPI
from api.wechat.replies import citizen_text
from tests.wechat.conftest import live
from tests.wechat.test_wechat_client import FakeWeChat
from tests.wechat.worker_app import SlowBot
from tests.wechat.wx_sim import APPID, Platform, new_msg_id, new_openid, text_xml

DEADLINE, PLATFORM_TIMEOUT = 0.45, 0.5
QUESTION = "失业保险稳岗返还需要企业自己去申请吗？"


def deliver(url: str, platform: Platform, xml: str, tries: int = 3) -> tuple[int, httpx.Response | None]:
    """Send as the platform does: wait PLATFORM_TIMEOUT per try, then try again; (try, reply)."""
    for attempt in range(1, tries + 1):
        params, body = platform.request(xml)
        try:
            return attempt, httpx.post(f"{url}/wechat", params=params, content=body, timeout=PLATFORM_TIMEOUT)
        except httpx.TimeoutException:
            continue
    return tries, None


def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    end = time.monotonic() + within
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@contextmanager
def slow_server(build_app: Callable[..., Any], delay: float, **settings: Any) -> Iterator[tuple[str, Any]]:
    app = build_app(wechat_reply_deadline=DEADLINE, **settings)
    with live(app) as url:
        app.state.wechat.platform_timeout = PLATFORM_TIMEOUT
        real = app.state.bot
        app.state.bot = SlowBot(real, delay)
        try:
            yield url, app
        finally:
            app.state.bot = real


def expected(app: Any, question: str = QUESTION) -> str:
    bot = app.state.bot.bot
    return citizen_text(bot.ask(question, session_id=f"expect:{new_openid()}", channel="api"))


def status(app: Any, openid: str) -> list[str]:
    rows = app.state.kb.store.read("SELECT status FROM wechat_messages WHERE openid = ? ORDER BY received_at",
                                   (openid,))
    return [r["status"] for r in rows]


def test_an_answer_ready_during_a_retry_is_sent_on_that_retry(build_app) -> None:  # type: ignore[no-untyped-def]
    with slow_server(build_app, delay=0.7) as (url, app):
        # Asked once first, so the late answer costs the set delay and little more: ready in
        # the second try's window (0.5–0.95 s) even on a loaded machine.
        answer = expected(app)
        platform, openid = Platform(), new_openid()
        attempt, response = deliver(url, platform, text_xml(openid, QUESTION))
        assert attempt == 2 and response is not None
        assert platform.read(response)["Content"] == answer
        assert app.state.bot.calls == 1  # the retry did not ask again


def test_at_the_last_try_the_citizen_learns_how_to_fetch_the_answer(build_app) -> None:  # type: ignore[no-untyped-def]
    with slow_server(build_app, delay=2.0) as (url, app):
        platform, openid = Platform(), new_openid()
        attempt, response = deliver(url, platform, text_xml(openid, QUESTION))
        assert attempt == 3 and response is not None
        assert "回复“1”" in platform.read(response)["Content"]
        params, body = platform.request(text_xml(openid, "1"))
        early = platform.read(httpx.post(f"{url}/wechat", params=params, content=body, timeout=5))
        assert "还在准备" in early["Content"]
        eventually(lambda: "owed" in status(app, openid))
        params, body = platform.request(text_xml(openid, "1"))
        fetched = platform.read(httpx.post(f"{url}/wechat", params=params, content=body, timeout=5))
        assert fetched["Content"] == expected(app)
        assert app.state.bot.calls == 1


def test_with_an_appsecret_late_answers_are_pushed(build_app) -> None:  # type: ignore[no-untyped-def]
    fake = FakeWeChat()
    with slow_server(build_app, delay=1.6, wechat_appid=APPID, wechat_secret="the-secret") as (url, app):
        channel = app.state.wechat
        channel.api = WeChatAPI(APPID, "the-secret", channel.db, transport=httpx.MockTransport(fake))
        platform, openid = Platform(), new_openid()
        attempt, response = deliver(url, platform, text_xml(openid, QUESTION))
        assert attempt == 3 and response is not None
        assert "稍后发送给您" in platform.read(response)["Content"]
        pushed = eventually(lambda: fake.sent)
        assert pushed == [{"touser": openid, "msgtype": "text", "text": {"content": expected(app)}}]
        assert eventually(lambda: status(app, openid) == ["sent"])


def test_a_push_refused_outside_the_48_hour_window_waits_for_1(  # type: ignore[no-untyped-def]
        build_app, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeWeChat()
    fake.errors = [45015]
    with caplog.at_level(logging.WARNING, logger="api.wechat"), \
            slow_server(build_app, delay=1.6, wechat_appid=APPID, wechat_secret="the-secret") as (url, app):
        channel = app.state.wechat
        channel.api = WeChatAPI(APPID, "the-secret", channel.db, transport=httpx.MockTransport(fake))
        platform, openid = Platform(), new_openid()
        deliver(url, platform, text_xml(openid, QUESTION))
        eventually(lambda: any("45015" in r.getMessage() for r in caplog.records))
        assert status(app, openid) == ["owed"] and fake.sent == []
        params, body = platform.request(text_xml(openid, "1"))
        fetched = platform.read(httpx.post(f"{url}/wechat", params=params, content=body, timeout=5))
        assert fetched["Content"] == expected(app)


def test_an_owed_answer_comes_with_the_next_question(build_app) -> None:  # type: ignore[no-untyped-def]
    with slow_server(build_app, delay=2.0) as (url, app):
        platform, openid = Platform(), new_openid()
        attempt, response = deliver(url, platform, text_xml(openid, QUESTION))
        assert attempt == 3 and "回复“1”" in platform.read(response)["Content"]
        eventually(lambda: "owed" in status(app, openid))
        app.state.bot.delay = 0.0  # the next question is answered in time
        attempt, response = deliver(url, platform, text_xml(openid, "公益性岗位托底安置是哪些单位负责的？"))
        content = platform.read(response)["Content"]
        assert content.startswith("【您上一个问题的答案】\n" + expected(app))
        assert "【本次问题的答案】" in content and "市人力资源社会保障局" in content
        assert len(content.encode("utf-8")) <= 2048
        assert "owed" not in status(app, openid)


def test_1_without_anything_owed_is_answered_without_the_bot(build_app) -> None:  # type: ignore[no-untyped-def]
    with slow_server(build_app, delay=0.0) as (url, app):
        platform, openid = Platform(), new_openid()
        attempt, response = deliver(url, platform, text_xml(openid, "1", new_msg_id()))
        assert attempt == 1 and response is not None
        # Not a question: it would be logged, queued and counted as one.
        reply = platform.read(response)
        assert app.state.bot.calls == 0 and reply["MsgType"] == "text" and "没有待获取的答案" in reply["Content"]
