"""The WeChat server API: access token, customer-service messages, menu.

httpx with an injectable transport, so tests put `httpx.MockTransport` (or a
local server) where the platform would be. The access token lives in the
store's `kv` table: every worker process uses the same one, and the
`stable_token` endpoint returns that same token to whichever worker asks
first, so workers refreshing at once do not invalidate each other's token.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import httpx

from api.wechat.db import ChannelDB

logger = logging.getLogger(__name__)

API_BASE = "https://api.weixin.qq.com"
# Refresh a little early: a token that expires in flight fails the call.
TOKEN_MARGIN = 300.0
_TOKEN_INVALID = {40001, 40014, 42001}


class WeChatAPIError(Exception):
    """The platform answered with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class OutsideWindow(WeChatAPIError):
    """45015: the citizen's last message is over 48 hours old; no customer-service message."""


class QuotaExceeded(WeChatAPIError):
    """45047 (customer-service messages per user message), 45009/45011 (API quotas)."""


_ERRORS: dict[int, type[WeChatAPIError]] = {45015: OutsideWindow, 45047: QuotaExceeded,
                                            45009: QuotaExceeded, 45011: QuotaExceeded}


class WeChatAPI:
    def __init__(self, appid: str, secret: str, db: ChannelDB, *,
                 transport: httpx.BaseTransport | None = None, base_url: str = API_BASE,
                 timeout: float = 5.0) -> None:
        self.appid = appid
        self._secret = secret
        self._db = db
        self._http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout)
        self._lock = threading.Lock()  # one refresh per process at a time

    @property
    def _token_key(self) -> str:
        return f"wechat:access_token:{self.appid}"

    def close(self) -> None:
        self._http.close()

    def access_token(self, force_refresh: bool = False) -> str:
        if not force_refresh:
            cached = self._db.get(self._token_key, time.time() + TOKEN_MARGIN)
            if cached:
                return cached
        with self._lock:
            cached = None if force_refresh else self._db.get(self._token_key, time.time() + TOKEN_MARGIN)
            if cached:  # another thread refreshed while we waited
                return cached
            data = self._check(self._http.post("/cgi-bin/stable_token", json={
                "grant_type": "client_credential", "appid": self.appid, "secret": self._secret,
                "force_refresh": force_refresh,
            }))
            token = str(data["access_token"])
            self._db.put(self._token_key, token, float(data.get("expires_in", 7200)))
            logger.info("fetched a WeChat access token (expires in %s s)", data.get("expires_in"))
            return token

    def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST JSON with the access token; one retry with a fresh token if it was revoked."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")  # WeChat wants unescaped Chinese
        for attempt in (1, 2):
            token = self.access_token(force_refresh=attempt == 2)
            response = self._http.post(path, params={"access_token": token}, content=body,
                                       headers={"Content-Type": "application/json; charset=utf-8"})
            try:
                return self._check(response)
            except WeChatAPIError as exc:
                if exc.errcode in _TOKEN_INVALID and attempt == 1:
                    logger.warning("WeChat rejected the cached access token (%s); refreshing", exc.errcode)
                    self._db.delete(self._token_key)
                    continue
                raise
        raise AssertionError("unreachable")

    def send_text(self, openid: str, content: str) -> None:
        """A customer-service (客服) text message, allowed within 48 h of the citizen's last message."""
        self.call("/cgi-bin/message/custom/send",
                  {"touser": openid, "msgtype": "text", "text": {"content": content}})

    def create_menu(self, menu: dict[str, Any]) -> None:
        self.call("/cgi-bin/menu/create", menu)

    @staticmethod
    def _check(response: httpx.Response) -> dict[str, Any]:
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        code = int(data.get("errcode", 0) or 0)
        if code:
            raise _ERRORS.get(code, WeChatAPIError)(code, str(data.get("errmsg", "")))
        return data
