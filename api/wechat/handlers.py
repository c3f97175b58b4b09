"""One small function per message or event type, found through a registry.

As in wechatpy's `register_message`: a type with no handler falls back to a
polite text (messages) or to silence (events such as VIEW, which the citizen
did not send as a question).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from wechatpy.events import BaseEvent

from api.wechat import texts
from api.wechat.channel import Channel
from api.wechat.menu import HOT
from api.wechat.replies import NOTHING, TRANSFER, Reply, text

logger = logging.getLogger(__name__)

Outcome = Reply | Future[Reply]  # a reply now, or one being computed


@dataclass(frozen=True)
class Context:
    channel: Channel
    key: str  # the dedup key of this message
    openid: str


Handler = Callable[[Context, Any], Outcome]
_MESSAGES: dict[str, Handler] = {}
_EVENTS: dict[str, Handler] = {}


def on_message(*types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _MESSAGES.update(dict.fromkeys(types, handler))
        return handler
    return register


def on_event(*types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _EVENTS.update(dict.fromkeys(types, handler))
        return handler
    return register


def handle(ctx: Context, message: Any) -> Outcome:
    if isinstance(message, BaseEvent):
        return _EVENTS.get(message.event, _silent)(ctx, message)
    return _MESSAGES.get(message.type, _unsupported)(ctx, message)


def _silent(ctx: Context, message: Any) -> Outcome:
    return NOTHING


def _unsupported(ctx: Context, message: Any) -> Outcome:
    logger.info("unsupported WeChat message type %r from %s", message.type, ctx.openid)
    return text(texts.UNSUPPORTED)


@on_message("text")
def _text(ctx: Context, message: Any) -> Outcome:
    return question(ctx, message.content or "")


@on_message("voice")
def _voice(ctx: Context, message: Any) -> Outcome:
    # Recognition is present only when the account has speech recognition on.
    recognised = (message.recognition or "").strip().rstrip("。！？!?")
    return question(ctx, recognised) if recognised else text(texts.VOICE_UNRECOGNISED)


def question(ctx: Context, content: str) -> Outcome:
    asked = content.strip()
    if not asked:
        return text(texts.EMPTY_QUESTION)
    if texts.wants_human(asked):
        logger.info("WeChat user %s asked for human customer service (message %s)", ctx.openid, ctx.key)
        return TRANSFER
    if asked in texts.DETAIL_COMMANDS:
        return ctx.channel.detail(ctx.openid)
    if asked in texts.FETCH_COMMANDS:
        fetched = ctx.channel.fetch(ctx.openid)
        # "1" with nothing owed is not a question for the bot (nor for the hot list).
        return fetched if fetched is not None else text(texts.NOTHING_TO_FETCH)
    return ctx.channel.ask(ctx.key, ctx.openid, asked)


@on_event("subscribe", "subscribe_scan")
def _subscribe(ctx: Context, message: Any) -> Outcome:
    return text(texts.WELCOME)


@on_event("unsubscribe")
def _unsubscribe(ctx: Context, message: Any) -> Outcome:
    logger.info("WeChat user %s unsubscribed", ctx.openid)
    return NOTHING


@on_event("click")
def _click(ctx: Context, message: Any) -> Outcome:
    menu = ctx.channel.menu
    answer = menu.answers.get(message.key or "") if menu else None
    if answer is None:
        logger.warning("menu key %r has no configured answer", message.key)
        return text(texts.UNKNOWN_BUTTON)
    if answer.strip().lower() != HOT:
        return text(answer)
    hot = ctx.channel.bot.questions.hot(limit=5)
    if not hot:
        return text(texts.HOT_EMPTY)
    lines = [f"{i}. {item['question']}" for i, item in enumerate(hot, 1)]
    return text("\n".join([texts.HOT_HEADER, *lines, texts.HOT_FOOTER]))
