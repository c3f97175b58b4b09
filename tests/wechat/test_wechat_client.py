"""The WeChat API client against a mocked WeChat API (httpx.MockTransport): the network edge only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.wechat.client import OutsideWindow, QuotaExceeded, WeChatAPI, WeChatAPIError
from api.wechat.db import ChannelDB
from tests.postgres import store_at


class FakeWeChat:
    """What api.weixin.qq.com answers; `errors` queues errcodes for the next sends."""

    def __init__(self) -> None:
        self.tokens_issued = 0
        self.valid: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.menus: list[dict[str, Any]] = []
        self.errors: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/stable_token":
            body = json.loads(request.content)
            if body["secret"] != "the-secret":
                return httpx.Response(200, json={"errcode": 40125, "errmsg": "invalid appsecret"})
            self.tokens_issued += 1
            token = f"TOKEN-{self.tokens_issued}"
            self.valid.add(token)
            return httpx.Response(200, json={"access_token": token, "expires_in": 7200})
        if request.url.params.get("access_token") not in self.valid:
            return httpx.Response(200, json={"errcode": 40001, "errmsg": "invalid credential"})
        if self.errors:
            return httpx.Response(200, json={"errcode": self.errors.pop(0), "errmsg": "refused"})
        payload = json.loads(request.content.decode("utf-8"))
        if request.url.path == "/cgi-bin/message/custom/send":
            self.sent.append(payload)
        elif request.url.path == "/cgi-bin/menu/create":
            self.menus.append(payload)
        else:
            return httpx.Response(404)
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})


@pytest.fixture
def db(tmp_path: Path) -> ChannelDB:
    return ChannelDB(store_at(tmp_path).path)


def api(db: ChannelDB, fake: FakeWeChat, secret: str = "the-secret") -> WeChatAPI:
    return WeChatAPI("wxappid", secret, db, transport=httpx.MockTransport(fake))


def test_the_access_token_is_fetched_once_and_shared_through_the_store(db: ChannelDB) -> None:
    fake = FakeWeChat()
    worker_a, worker_b = api(db, fake), api(ChannelDB(db.path), fake)  # two workers, one database
    worker_a.send_text("oUser", "第一条")
    worker_b.send_text("oUser", "第二条")
    assert fake.tokens_issued == 1
    assert [m["text"]["content"] for m in fake.sent] == ["第一条", "第二条"]
    assert fake.sent[0] == {"touser": "oUser", "msgtype": "text", "text": {"content": "第一条"}}


def test_a_revoked_token_is_refreshed_once(db: ChannelDB) -> None:
    fake = FakeWeChat()
    client = api(db, fake)
    client.send_text("oUser", "a")
    fake.valid.clear()  # e.g. the secret was reset in the console
    client.send_text("oUser", "b")
    assert fake.tokens_issued == 2 and len(fake.sent) == 2


def test_window_and_quota_errors_are_typed(db: ChannelDB) -> None:
    fake = FakeWeChat()
    client = api(db, fake)
    fake.errors = [45015]
    with pytest.raises(OutsideWindow) as outside:
        client.send_text("oUser", "a")
    assert outside.value.errcode == 45015
    fake.errors = [45047]
    with pytest.raises(QuotaExceeded):
        client.send_text("oUser", "a")
    with pytest.raises(WeChatAPIError) as bad_secret:
        api(ChannelDB(db.path), fake, secret="wrong").access_token(force_refresh=True)
    assert bad_secret.value.errcode == 40125


def test_menu_goes_out_with_chinese_unescaped(db: ChannelDB) -> None:
    fake = FakeWeChat()
    captured: list[bytes] = []

    def spy(request: httpx.Request) -> httpx.Response:
        if "menu" in request.url.path:
            captured.append(request.content)
        return fake(request)

    client = WeChatAPI("wxappid", "the-secret", db, transport=httpx.MockTransport(spy))
    menu = {"button": [{"type": "click", "name": "热点问题", "key": "HOT"}]}
    client.create_menu(menu)
    assert fake.menus == [menu]
    assert "热点问题".encode() in captured[0]
