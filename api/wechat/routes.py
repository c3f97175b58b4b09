"""GET/POST /wechat: the official-account callback, as the platform drives it.

Thin: authenticate, parse, deduplicate, hand to a handler, wait for the
reply within the platform's window, seal it in safe mode. Nothing a caller
sends can make it answer 500: unknown senders get 403, unreadable bodies
400, oversized ones 413.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from api.config import Settings
from api.wechat import texts
from api.wechat.channel import Channel
from api.wechat.client import WeChatAPI
from api.wechat.handlers import Context, handle
from api.wechat.menu import load_menu
from api.wechat.redis_log import channel_db
from api.wechat.replies import Reply, text
from api.wechat.security import Envelope, Malformed, Refused, check_signature, check_timestamp
from api.wechat.xmlsafe import MAX_BODY_BYTES, parse_xml, to_message

logger = logging.getLogger(__name__)

MAX_ECHOSTR = 512
MAX_OPENID = 128


class TooLarge(Exception):
    """The body is larger than any platform callback (413)."""


def make_router(settings: Settings) -> APIRouter:
    token = settings.wechat_token
    assert token, "the /wechat route needs POLICYBOT_WECHAT_TOKEN"
    envelope = (Envelope(token, settings.wechat_aes_key, settings.wechat_appid)
                if settings.wechat_aes_key and settings.wechat_appid else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Inside the app's own lifespan: the knowledge base and the bot exist by now.
        db = channel_db(settings, app.state.kb.store)
        api = None
        if settings.wechat_secret and settings.wechat_appid:
            api = WeChatAPI(settings.wechat_appid, settings.wechat_secret, db, base_url=settings.wechat_api_base)
        menu = load_menu(settings.wechat_menu_file) if settings.wechat_menu_file else None
        channel = Channel(settings, lambda: app.state.bot, db, api=api, menu=menu)
        app.state.wechat = channel
        logger.info("WeChat callback on /wechat (%s mode, customer-service push %s)",
                    "AES safe" if envelope else "plaintext", "on" if api else "off")
        try:
            yield
        finally:
            channel.close()

    router = APIRouter(lifespan=lifespan, include_in_schema=False)

    @router.get("/wechat")
    async def verify(signature: str | None = None, timestamp: str | None = None,
                     nonce: str | None = None, echostr: str | None = None) -> Response:
        """The platform's URL check: echo `echostr` when the signature is ours."""
        try:
            check_signature(token, signature, timestamp, nonce)
            check_timestamp(timestamp or "")
        except Refused as exc:
            logger.warning("refused a WeChat URL check: %s", exc)
            return PlainTextResponse("forbidden", status_code=403)
        if not echostr or len(echostr) > MAX_ECHOSTR:
            return PlainTextResponse("bad request", status_code=400)
        return PlainTextResponse(echostr)

    @router.post("/wechat")
    async def callback(request: Request) -> Response:
        started = time.time()
        query = request.query_params
        timestamp, nonce = query.get("timestamp") or "", query.get("nonce") or ""
        sealed = query.get("encrypt_type", "").lower() == "aes"
        try:
            body = await _read_limited(request)
            check_timestamp(timestamp)
            fields = _authenticated_fields(body, sealed, query.get("signature"), query.get("msg_signature"),
                                           timestamp, nonce)
            message = to_message(fields)
            openid = str(message.source)
            if not openid or len(openid) > MAX_OPENID:
                raise Malformed("bad FromUserName")
        except Refused as exc:
            logger.warning("refused a WeChat callback: %s", exc)
            return PlainTextResponse("forbidden", status_code=403)
        except TooLarge:
            logger.warning("refused an oversized WeChat callback body")
            return PlainTextResponse("payload too large", status_code=413)
        except Malformed as exc:
            logger.warning("unreadable WeChat callback: %s", exc)
            return PlainTextResponse("bad request", status_code=400)

        channel: Channel = request.app.state.wechat
        reply = await _reply(channel, message, openid, started)
        xml = reply.render(openid, str(message.target or ""))
        if not xml:
            return PlainTextResponse("success")  # stops the platform's retries, says nothing
        if sealed and envelope is not None:
            xml = envelope.seal(xml, nonce, timestamp)
        return Response(xml, media_type="application/xml")

    def _authenticated_fields(body: bytes, sealed: bool, signature: str | None, msg_signature: str | None,
                              timestamp: str, nonce: str) -> dict[str, Any]:
        if not sealed and envelope is None:
            # Plaintext: the query's signature is all there is to check, so check it
            # before the body is parsed at all.
            check_signature(token, signature, timestamp, nonce)
        outer = parse_xml(body)
        if sealed and envelope is not None:
            encrypted = outer.get("Encrypt")
            if not isinstance(encrypted, str) or not encrypted:
                raise Malformed("safe mode without <Encrypt>")
            # The message signature covers the ciphertext; `signature` alone does not.
            return parse_xml(envelope.open(encrypted, msg_signature, timestamp, nonce))
        if envelope is not None:
            # A key is configured: a plaintext body would be a downgrade.
            raise Refused("plaintext message while AES safe mode is configured")
        # Plaintext, or compatible mode read without a key (its plaintext fields).
        check_signature(token, signature, timestamp, nonce)
        return outer

    return router


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge
    return bytes(body)


def _message_key(message: Any, openid: str) -> str:
    # Events carry no MsgId: the platform names them by sender and second; the
    # event and its key keep two different events in one second apart.
    if message.id:
        return f"msg:{message.id}"
    event = getattr(message, "event", "") or getattr(message, "type", "")
    return f"event:{openid}:{message.time}:{event}:{getattr(message, 'key', '') or ''}"


async def _reply(channel: Channel, message: Any, openid: str, started: float) -> Reply:
    key = _message_key(message, openid)
    try:
        first, entry = await to_thread.run_sync(channel.log.claim, key, openid)
        if first:
            try:
                outcome = await to_thread.run_sync(handle, Context(channel, key, openid), message)
            except Exception:  # noqa: BLE001 - one broken handler must not cost the citizen a reply
                logger.exception("WeChat handler failed for %s", key)
                outcome = text(texts.FAILED.format(hotline=channel.settings.hotline))
            if isinstance(outcome, Reply):
                await to_thread.run_sync(channel.log.settle, key, outcome)
            return await channel.wait(key, started, 1)
        logger.info("retry %d of WeChat message %s", entry.tries, key)
        return await channel.wait(key, started, entry.tries)
    except Exception:  # noqa: BLE001 - e.g. the database is locked for too long
        logger.exception("WeChat callback failed for %s", key)
        return text(texts.FAILED.format(hotline=channel.settings.hotline))
