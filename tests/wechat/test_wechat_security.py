"""Signatures, timestamps, the AES envelope and hostile XML, below the HTTP layer."""

from __future__ import annotations

import time

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto

from api.wechat.security import Envelope, Malformed, Refused, check_signature, check_timestamp
from api.wechat.xmlsafe import MAX_BODY_BYTES, UnknownEvent, parse_xml, to_message
from tests.wechat.wx_sim import AES_KEY, APPID, TOKEN, event_xml, message_xml, new_openid, sign, text_xml

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType><Content>&lol4;</Content></xml>"""
PASSWD_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"""


def test_signature_accepts_the_platforms_and_nothing_else() -> None:
    ts, nonce = str(int(time.time())), "12345"
    check_signature(TOKEN, sign(TOKEN, ts, nonce), ts, nonce)
    good = sign(TOKEN, ts, nonce)
    altered = good[:-1] + ("1" if good.endswith("0") else "0")  # one character off, never the same
    for bad in (sign("other-token", ts, nonce), altered, "", None, "签名"):
        with pytest.raises(Refused):
            check_signature(TOKEN, bad, ts, nonce)
    with pytest.raises(Refused):
        check_signature(TOKEN, sign(TOKEN, ts, nonce), ts, None)


def test_timestamps_too_far_off_are_refused() -> None:
    now = time.time()
    check_timestamp(str(int(now) - 60), now)
    for far in (int(now) - 3600, int(now) + 3600):
        with pytest.raises(Refused):
            check_timestamp(str(far), now)
    with pytest.raises(Refused):
        check_timestamp("yesterday", now)


def test_envelope_opens_what_wechatpy_seals_and_seals_what_it_opens() -> None:
    platform = WeChatCrypto(TOKEN, AES_KEY, APPID)
    ours = Envelope(TOKEN, AES_KEY, APPID)
    xml = text_xml(new_openid(), "城乡低保标准是多少？")
    ts, nonce = str(int(time.time())), "778899"
    encrypt = xmltodict.parse(platform.encrypt_message(xml, nonce, ts))["xml"]["Encrypt"]
    assert ours.open(encrypt, sign(TOKEN, ts, nonce, encrypt), ts, nonce) == xml
    with pytest.raises(Refused):  # `signature` (without the ciphertext) is not the message signature
        ours.open(encrypt, sign(TOKEN, ts, nonce), ts, nonce)
    sealed = ours.seal("<xml><Content>好</Content></xml>", nonce, ts)
    outer = xmltodict.parse(sealed)["xml"]
    assert platform.decrypt_message(sealed, outer["MsgSignature"], ts, nonce) == "<xml><Content>好</Content></xml>"


def test_envelope_refuses_another_appid_and_garbage() -> None:
    stranger = WeChatCrypto(TOKEN, AES_KEY, "wx0000000000000000")
    ts, nonce = str(int(time.time())), "1"
    encrypt = xmltodict.parse(stranger.encrypt_message("<xml/>", nonce, ts))["xml"]["Encrypt"]
    ours = Envelope(TOKEN, AES_KEY, APPID)
    with pytest.raises(Refused):
        ours.open(encrypt, sign(TOKEN, ts, nonce, encrypt), ts, nonce)
    for garbage in ("not base64 at all!", "QUJD", encrypt[:-8]):
        with pytest.raises(Malformed):
            ours.open(garbage, sign(TOKEN, ts, nonce, garbage), ts, nonce)


@pytest.mark.parametrize("body", [BILLION_LAUGHS, PASSWD_ENTITY, "<xml><MsgType>text</MsgType><Content>半截",
                                  "", "not xml", "<html><body/></html>", "\x00\x01\x02"])
def test_hostile_or_broken_xml_is_refused_without_expanding_anything(body: str) -> None:
    with pytest.raises(Malformed):
        parse_xml(body.encode())


def test_bodies_over_the_limit_are_refused_before_parsing() -> None:
    huge = b"<xml><Content>" + b"a" * MAX_BODY_BYTES + b"</Content></xml>"
    with pytest.raises(Malformed):
        parse_xml(huge)


def test_messages_and_events_map_to_wechatpys_classes() -> None:
    openid = new_openid()
    text = to_message(parse_xml(text_xml(openid, "你好", 42).encode()))
    assert (text.type, text.content, text.source, text.id) == ("text", "你好", openid, 42)
    voice = to_message(parse_xml(message_xml(openid, "voice", Recognition="失业金怎么领", MediaId="m").encode()))
    assert (voice.type, voice.recognition) == ("voice", "失业金怎么领")
    scan = to_message(parse_xml(event_xml(openid, "subscribe", EventKey="qrscene_7").encode()))
    assert (scan.event, scan.scene_id) == ("subscribe_scan", "7")
    click = to_message(parse_xml(event_xml(openid, "CLICK", EventKey="HOT").encode()))
    assert (click.event, click.key) == ("click", "HOT")
    view = to_message(parse_xml(event_xml(openid, "weird_new_event").encode()))
    assert isinstance(view, UnknownEvent)
    with pytest.raises(Malformed):
        to_message(parse_xml(b"<xml><Content>no type</Content></xml>"))
