"""POST/GET /wechat on the real app, driven as the platform drives it (wechatpy crypto on its side)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from api.wechat.replies import citizen_text, size
from tests.wechat.test_wechat_security import BILLION_LAUGHS, PASSWD_ENTITY
from tests.wechat.wx_sim import (
    APPID, Platform, TOKEN, event_xml, message_xml, new_msg_id, new_openid, sign, text_xml,
)

QUESTION = "个人创业担保贷款最多能贷多少钱？"


def expected_answer(client: Any, question: str) -> Any:
    """What the real bot says to a fresh session: the reply must carry exactly this."""
    return client.app.state.bot.ask(question, session_id=f"expect:{new_openid()}", channel="api")


def test_route_is_absent_without_a_token(open_app) -> None:  # type: ignore[no-untyped-def]
    with open_app(wechat_token=None) as client:
        assert client.get("/wechat").status_code == 404
        assert client.post("/wechat", content=b"<xml/>").status_code == 404


def test_url_verification_echoes_only_for_a_good_signature(plain_client) -> None:  # type: ignore[no-untyped-def]
    ts, nonce = str(int(time.time())), "424242"
    good = {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": "8675309"}
    ok = plain_client.get("/wechat", params=good)
    assert (ok.status_code, ok.text) == (200, "8675309")
    assert plain_client.get("/wechat", params={**good, "signature": "0" * 40}).status_code == 403
    assert plain_client.get("/wechat", params={**good, "nonce": "other"}).status_code == 403
    stale = str(int(time.time()) - 3600)
    old = {**good, "timestamp": stale, "signature": sign(TOKEN, stale, nonce)}
    assert plain_client.get("/wechat", params=old).status_code == 403


@pytest.mark.parametrize("mode", ["plain", "compat", "aes"])
def test_a_question_is_answered_in_every_mode(mode: str, open_app) -> None:  # type: ignore[no-untyped-def]
    platform = Platform(mode)
    keys = {} if mode == "plain" else {"wechat_appid": APPID, "wechat_aes_key": platform.aes_key}
    with open_app(**keys) as client:
        openid = new_openid()
        started = time.monotonic()
        response = platform.post(client, text_xml(openid, QUESTION))
        assert time.monotonic() - started < 5  # inside the platform's window
        if mode != "plain":
            assert "<Encrypt>" in response.text and QUESTION[:4] not in response.text
        reply = platform.read(response)
        expected = expected_answer(client, QUESTION)
    assert (reply["MsgType"], reply["ToUserName"], reply["FromUserName"]) == ("text", openid, "gh_0123456789ab")
    assert reply["Content"] == citizen_text(expected)
    assert expected.answered and expected.source_line in reply["Content"]


def test_safe_mode_refuses_forgeries(safe_client) -> None:  # type: ignore[no-untyped-def]
    platform = Platform("aes")
    params, body = platform.request(text_xml(new_openid(), QUESTION))
    for forged in ({**params, "msg_signature": params["signature"]},  # `signature` is not `msg_signature`
                   {**params, "msg_signature": "f" * 40},
                   {k: v for k, v in params.items() if k != "msg_signature"}):
        assert safe_client.post("/wechat", params=forged, content=body).status_code == 403
    # A plaintext body while safe mode is configured is a downgrade, even with a good `signature`.
    plain_params, plain_body = Platform("plain").request(text_xml(new_openid(), QUESTION))
    assert safe_client.post("/wechat", params=plain_params, content=plain_body).status_code == 403
    # Sealed for another official account.
    stranger = Platform("aes", appid="wx0000000000000000")
    params, body = stranger.request(text_xml(new_openid(), QUESTION))
    assert safe_client.post("/wechat", params=params, content=body).status_code == 403
    old = Platform("aes").request(text_xml(new_openid(), QUESTION), timestamp=int(time.time()) - 3600)
    assert safe_client.post("/wechat", params=old[0], content=old[1]).status_code == 403


HOSTILE = {
    "billion laughs": BILLION_LAUGHS.encode(),
    "external entity": PASSWD_ENTITY.encode(),
    "truncated": text_xml("oX", QUESTION).encode()[:-20],
    "not xml": b"GET / HTTP/1.1",
    "empty": b"",
    "binary": bytes(range(256)),
    "no type": b"<xml><FromUserName>oX</FromUserName></xml>",
    "deep nesting": b"<xml>" + b"<a>" * 1000 + b"</a>" * 1000 + b"</xml>",  # recursion, not entities
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_get_400_and_leak_nothing(name: str, plain_client) -> None:  # type: ignore[no-untyped-def]
    params, _ = Platform().request(text_xml("oX", "x"))
    response = plain_client.post("/wechat", params=params, content=HOSTILE[name])
    assert response.status_code == 400
    assert "root:" not in response.text and "lol" not in response.text


def test_hostile_bodies_inside_the_envelope_get_400(safe_client) -> None:  # type: ignore[no-untyped-def]
    platform = Platform("aes")
    for body in (BILLION_LAUGHS, PASSWD_ENTITY):
        params, sealed = platform.request(body)
        response = safe_client.post("/wechat", params=params, content=sealed)
        assert response.status_code == 400 and "root:" not in response.text


def test_huge_bodies_are_refused_without_reading_them_whole(plain_client) -> None:  # type: ignore[no-untyped-def]
    params, _ = Platform().request(text_xml("oX", "x"))
    huge = b"<xml><Content>" + b"A" * (2 * 1024 * 1024) + b"</Content></xml>"
    assert plain_client.post("/wechat", params=params, content=huge).status_code == 413

    def chunks() -> Any:  # no Content-Length: the limit is enforced while streaming
        for _ in range(64):
            yield b"B" * 65536

    assert plain_client.post("/wechat", params=params, content=chunks()).status_code == 413


def test_retries_of_one_message_get_one_answer(plain_client) -> None:  # type: ignore[no-untyped-def]
    platform, openid, msg_id = Platform(), new_openid(), new_msg_id()
    first = platform.read(platform.post(plain_client, text_xml(openid, QUESTION, msg_id)))
    retry = platform.read(platform.post(plain_client, text_xml(openid, QUESTION, msg_id)))
    assert first["Content"] == retry["Content"]
    asked = plain_client.app.state.kb.store.read("SELECT count(*) AS n FROM questions WHERE session_id = ?",
                                                 (f"wechat:{openid}",))
    assert asked[0]["n"] == 1


def test_events_and_other_message_types(open_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    menu = tmp_path / "menu.json"
    menu.write_text(json.dumps({"button": [], "answers": {"HOURS": "工作日 9:00-17:00。", "HOT": "hot"}},
                               ensure_ascii=False), encoding="utf-8")
    platform, openid = Platform(), new_openid()
    with open_app(wechat_menu_file=menu) as client:
        def say(xml: str) -> dict[str, Any]:
            return platform.read(platform.post(client, xml))

        welcome = say(event_xml(openid, "subscribe"))["Content"]
        assert "欢迎" in welcome and "直接发送" in welcome
        assert say(event_xml(openid, "unsubscribe")) == {}
        assert say(event_xml(openid, "CLICK", EventKey="HOURS"))["Content"] == "工作日 9:00-17:00。"
        assert "暂未开放" in say(event_xml(openid, "CLICK", EventKey="NOPE"))["Content"]
        for kind, fields in (("image", {"PicUrl": "http://x/y.jpg", "MediaId": "m"}),
                             ("video", {"MediaId": "m", "ThumbMediaId": "t"}),
                             ("location", {"Location_X": "26.6", "Location_Y": "106.7", "Scale": "15", "Label": "某地"}),
                             ("link", {"Title": "t", "Description": "d", "Url": "http://x"}),
                             ("hologram", {})):
            assert "文字" in say(message_xml(openid, kind, **fields))["Content"], kind
        assert say(event_xml(openid, "VIEW", EventKey="https://www.example.gov.cn/")) == {}
        # Hot questions: what citizens asked, counted by the bot's own question log.
        for _ in range(2):
            say(text_xml(new_openid(), QUESTION))
        hot = say(event_xml(openid, "CLICK", EventKey="HOT"))["Content"]
        top = client.app.state.bot.questions.hot(limit=5)
        assert hot.startswith("近期热点问题") and f"1. {top[0]['question']}" in hot


def test_events_are_deduplicated_by_sender_and_time(plain_client) -> None:  # type: ignore[no-untyped-def]
    platform, openid, at = Platform(), new_openid(), int(time.time())
    platform.read(platform.post(plain_client, event_xml(openid, "subscribe", create_time=at)))
    platform.read(platform.post(plain_client, event_xml(openid, "subscribe", create_time=at)))
    rows = plain_client.app.state.kb.store.read("SELECT key FROM wechat_messages WHERE openid = ?", (openid,))
    assert [r["key"] for r in rows] == [f"event:{openid}:{at}:subscribe:"]


def test_voice_with_recognition_is_answered_as_text(plain_client) -> None:  # type: ignore[no-untyped-def]
    platform, openid = Platform(), new_openid()
    heard = platform.read(platform.post(plain_client, message_xml(
        openid, "voice", MediaId="m", Format="amr", Recognition=QUESTION.rstrip("？") + "。")))
    assert heard["Content"] == citizen_text(expected_answer(plain_client, QUESTION.rstrip("？")))
    unheard = platform.read(platform.post(plain_client, message_xml(openid, "voice", MediaId="m", Format="amr")))
    assert "没能听清" in unheard["Content"]


def test_human_handoff_uses_the_transfer_reply_and_is_logged(  # type: ignore[no-untyped-def]
        safe_client, caplog: pytest.LogCaptureFixture) -> None:
    platform, openid = Platform("aes"), new_openid()
    with caplog.at_level(logging.INFO, logger="api.wechat"):
        reply = platform.read(platform.post(safe_client, text_xml(openid, "转人工")))
    assert reply["MsgType"] == "transfer_customer_service" and reply["ToUserName"] == openid
    assert any("human customer service" in r.getMessage() and openid in r.getMessage() for r in caplog.records)
    for said in ("我要转人工", "转人工客服！", "找客服"):
        assert platform.read(platform.post(safe_client, text_xml(openid, said)))["MsgType"] == \
            "transfer_customer_service", said


def test_fetching_with_nothing_owed_says_so_and_asks_nothing(plain_client) -> None:  # type: ignore[no-untyped-def]
    platform, openid = Platform(), new_openid()
    reply = platform.read(platform.post(plain_client, text_xml(openid, "1")))
    assert reply["Content"] == "目前没有待获取的答案。请直接发送您的问题。"
    asked = plain_client.app.state.kb.store.read("SELECT count(*) AS n FROM questions WHERE question = '1'")
    assert asked[0]["n"] == 0


def test_identity_and_phone_numbers_are_masked_in_logs(  # type: ignore[no-untyped-def]
        plain_client, caplog: pytest.LogCaptureFixture) -> None:
    platform = Platform()
    with caplog.at_level(logging.INFO):
        platform.post(plain_client, text_xml(new_openid(), "我的身份证110101199003071234，电话13812345678，能领补贴吗"))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "110101********1234" in logged or "138****5678" in logged
    assert "110101199003071234" not in logged and "13812345678" not in logged


def test_detail_gives_the_governing_passage_and_multi_turn_follows_the_citizen(plain_client) -> None:  # type: ignore[no-untyped-def]
    platform, openid = Platform(), new_openid()
    platform.read(platform.post(plain_client, text_xml(openid, QUESTION)))
    detail = platform.read(platform.post(plain_client, text_xml(openid, "详情")))["Content"]
    answer = expected_answer(plain_client, QUESTION)
    assert answer.citations[0].text.strip()[:40] in detail and answer.source_line in detail
    assert size(detail) <= 2048
    sessions = plain_client.app.state.kb.store.read("SELECT id FROM sessions WHERE id = ?", (f"wechat:{openid}",))
    assert len(sessions) == 1  # the bot keeps this citizen's dialogue under its OpenID
