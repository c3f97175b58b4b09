"""The WeChat platform's side of the callback, for tests: wechatpy's own crypto.

It builds requests the way the platform does (signature, timestamp, nonce,
`encrypt_type=aes` with `msg_signature` in safe and compatible mode) and
reads replies the way the platform does (verifies `MsgSignature`, decrypts).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import xmltodict
from wechatpy.crypto import WeChatCrypto

TOKEN = "policybot-test-token"
APPID = "wx5f2d3c1b0a998877"
AES_KEY = base64.b64encode(hashlib.sha256(b"policybot wechat tests").digest()).decode().rstrip("=")
ACCOUNT = "gh_0123456789ab"  # the official account's original ID (ToUserName)

_msg_ids = itertools.count(int(time.time() * 1000) * 1000)


def new_msg_id() -> int:
    return next(_msg_ids)


def new_openid() -> str:
    return "o" + secrets.token_urlsafe(20)[:27]


def cdata(value: str) -> str:
    return f"<![CDATA[{value}]]>"


def text_xml(openid: str, content: str, msg_id: int | None = None) -> str:
    return (f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><FromUserName>{cdata(openid)}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType>{cdata('text')}</MsgType>"
            f"<Content>{cdata(content)}</Content><MsgId>{msg_id or new_msg_id()}</MsgId></xml>")


def message_xml(openid: str, msg_type: str, msg_id: int | None = None, **fields: str) -> str:
    body = "".join(f"<{k}>{cdata(v)}</{k}>" for k, v in fields.items())
    return (f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><FromUserName>{cdata(openid)}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType>{cdata(msg_type)}</MsgType>"
            f"{body}<MsgId>{msg_id or new_msg_id()}</MsgId></xml>")


def event_xml(openid: str, event: str, create_time: int | None = None, **fields: str) -> str:
    body = "".join(f"<{k}>{cdata(v)}</{k}>" for k, v in fields.items())
    return (f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><FromUserName>{cdata(openid)}</FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType>{cdata('event')}</MsgType>"
            f"<Event>{cdata(event)}</Event>{body}</xml>")


def _sender(xml: str) -> str:
    # A regex, not a parser: hostile test bodies must reach the server unexpanded.
    found = re.search(r"<FromUserName>(?:<!\[CDATA\[)?([^<\]]*)", xml)
    return found.group(1) if found else ""


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


@dataclass
class Platform:
    """mode: "plain", "compat" (plaintext fields plus Encrypt) or "aes" (safe mode)."""

    mode: str = "plain"
    token: str = TOKEN
    appid: str = APPID
    aes_key: str = AES_KEY
    sent: list[dict[str, str]] = field(default_factory=list)

    @property
    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.token, self.aes_key, self.appid)

    def request(self, xml: str, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = str(secrets.randbelow(10**10))
        params = {"signature": sign(self.token, ts, nonce), "timestamp": ts, "nonce": nonce,
                  "openid": _sender(xml)}
        if self.mode == "plain":
            return params, xml.encode()
        sealed = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, ts))["xml"]
        encrypt = sealed["Encrypt"]
        params.update(encrypt_type="aes", msg_signature=sign(self.token, ts, nonce, encrypt))
        if self.mode == "aes":
            body = f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt></xml>"
        else:
            body = xml.replace("</xml>", f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>")
        return params, body.encode()

    def post(self, client: Any, xml: str, **kwargs: Any) -> httpx.Response:
        params, body = self.request(xml)
        response: httpx.Response = client.post("/wechat", params=params, content=body, **kwargs)
        return response

    def read(self, response: httpx.Response) -> dict[str, Any]:
        """The reply as the platform reads it: {} for "success" or an empty body."""
        assert response.status_code == 200, (response.status_code, response.text)
        if response.text in ("", "success"):
            return {}
        if self.mode != "plain" and "<Encrypt>" in response.text:
            outer = xmltodict.parse(response.text)["xml"]
            plaintext = self.crypto.decrypt_message(response.text, outer["MsgSignature"], outer["TimeStamp"],
                                                    outer["Nonce"])
            return dict(xmltodict.parse(plaintext)["xml"])
        assert self.mode != "aes", "a safe-mode reply must be encrypted"
        return dict(xmltodict.parse(response.text)["xml"])
