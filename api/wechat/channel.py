"""The channel at run time: answers computed off the event loop, delivered in time or later.

The platform waits 5 s per try and tries three times. A question is answered
in a worker thread; each try waits for the answer until the reply deadline
(4.5 s). A try that is not the last and has nothing to say stays silent past
the platform's timeout, so the platform tries again; the last try says how
to fetch the answer ("回复1"), and the answer, once computed, is pushed as a
customer-service message when an AppSecret is configured, or waits for "1" or
the citizen's next question, whose reply carries it when both fit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
from anyio import to_thread

from api.config import Settings
from api.privacy import mask
from api.wechat import texts
from api.wechat.client import WeChatAPI, WeChatAPIError
from api.wechat.db import ChannelDB
from api.wechat.dedup import DEFERRED, OWED
from api.wechat.menu import Menu
from api.wechat.redis_log import message_log
from api.wechat.replies import MAX_REPLY_BYTES, Reply, citizen_text, fit, size, text
from bot.answer import Answer
from knowledge.errors import PolicybotError

logger = logging.getLogger(__name__)

PLATFORM_TIMEOUT = 5.0  # the platform drops a try it got no reply to after this
PLATFORM_TRIES = 3  # the first try and two retries
POLL_INTERVAL = 0.05  # how often a try looks for an answer computed by another worker
STALE_AFTER = 120.0  # an answer still "computing" this long was lost with its worker
DETAIL_PREFIX = "wechat:detail:"


class Channel:
    def __init__(self, settings: Settings, bot: Callable[[], Any], db: ChannelDB, *,
                 api: WeChatAPI | None = None, menu: Menu | None = None, workers: int = 4) -> None:
        self.settings = settings
        self.deadline = settings.wechat_reply_deadline
        self.platform_timeout = PLATFORM_TIMEOUT
        self.tries = PLATFORM_TRIES
        self._bot = bot
        self.db = db
        self.log = message_log(settings, db)
        self.api = api
        self.menu = menu
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wechat-answer")
        self._local: dict[str, Future[Reply]] = {}

    @property
    def bot(self) -> Any:
        return self._bot()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self.api:
            self.api.close()

    # -- computing an answer -------------------------------------------------

    def ask(self, key: str, openid: str, question: str) -> Future[Reply]:
        logger.info("wechat question %s from %s: %s", key, openid, mask(question))
        future = self._executor.submit(self._answer, key, openid, question)
        self._local[key] = future
        future.add_done_callback(lambda _: self._local.pop(key, None))
        return future

    def _answer(self, key: str, openid: str, question: str) -> Reply:
        try:
            answer: Answer = self.bot.ask(question, session_id=f"wechat:{openid}", channel="wechat")
            reply = self.answer_reply(openid, question, answer)
        except PolicybotError as exc:  # e.g. a question over the length limit: say why
            reply = text(exc.message)
        except Exception:  # noqa: BLE001 - the citizen gets a polite reply, the log the traceback
            logger.exception("answering WeChat message %s failed", key)
            reply = text(texts.FAILED.format(hotline=self.settings.hotline))
        if self.log.settle(key, reply) == DEFERRED:
            self._deliver_late(key, openid, reply)
        return reply

    def answer_reply(self, openid: str, question: str, answer: Answer) -> Reply:
        """The passive reply for an answer; what did not fit is kept for "详情"."""
        base = self.settings.public_base_url
        hint = texts.more_by_link(f"{base.rstrip('/')}/chat?q={quote(question)}") if base else texts.MORE_BY_REPLY
        fitted = fit(citizen_text(answer), answer.source_line, hint)
        detail = fitted.rest
        if not detail and answer.citations:  # nothing cut: "详情" shows the governing passage in full
            top = answer.citations[0]
            label = (top.article or {}).get("label") or ""
            detail = f"{label}\n{top.text}".strip()
        self.db.put(DETAIL_PREFIX + openid, json.dumps({"text": detail, "source": answer.source_line},
                                                       ensure_ascii=False), self._detail_ttl)
        content = fitted.reply
        outstanding = self.log.outstanding(openid)
        if outstanding and outstanding.state == OWED:
            # The answer owed from before comes with this message's, when both fit one reply.
            owed = outstanding.reply
            if owed is not None and owed.kind == "text":
                both = f"{texts.OWED_HEADER}\n{owed.content}\n\n{texts.NOW_HEADER}\n{content}"
                if size(both) <= MAX_REPLY_BYTES and self.log.take(outstanding.key) is not None:
                    return text(both)
            if size(content) + size(texts.OWED_NOTE) + 1 <= MAX_REPLY_BYTES:
                content = f"{content}\n{texts.OWED_NOTE}"
        return text(content)

    @property
    def _detail_ttl(self) -> float:
        return float(self.settings.session_ttl or 86400)

    def detail(self, openid: str) -> Reply:
        raw = self.db.get(DETAIL_PREFIX + openid)
        data = json.loads(raw) if raw else {}
        if not data.get("text"):
            return text(texts.NO_DETAIL)
        fitted = fit(f"{data['text']}\n{data['source']}".strip(), data["source"], "回复“详情”继续")
        data["text"] = fitted.rest
        self.db.put(DETAIL_PREFIX + openid, json.dumps(data, ensure_ascii=False), self._detail_ttl)
        return text(fitted.reply)

    def _deliver_late(self, key: str, openid: str, reply: Reply) -> None:
        """An answer computed after the last try: push it, or leave it owed for "1"."""
        if self.api is None or reply.kind != "text":
            return
        try:
            self.api.send_text(openid, reply.content)
        except WeChatAPIError as exc:  # 45015 outside 48 h, 45047 quota: the citizen can still send "1"
            logger.warning("customer-service push of %s failed (%s); the answer waits for \"1\"", key, exc)
            return
        except httpx.HTTPError as exc:
            logger.warning("customer-service push of %s failed (%s); the answer waits for \"1\"", key, exc)
            return
        self.log.mark_sent(key)
        logger.info("pushed the late answer to %s as a customer-service message", key)

    def fetch(self, openid: str) -> Reply | None:
        """The reply to "1": an owed answer, or word that it is coming; None when nothing is owed."""
        entry = self.log.outstanding(openid)
        if entry is None:
            return None
        if entry.state == OWED:
            return self.log.take(entry.key)
        if time.time() - entry.received_at > STALE_AFTER:
            self.log.mark_sent(entry.key)  # its worker died; stop promising
            return text(texts.LOST)
        return text(texts.STILL_WORKING)

    # -- one try of the platform --------------------------------------------

    async def wait(self, key: str, started: float, tries: int) -> Reply:
        """What this try replies: the answer when it is ready in time, else per try number."""
        reply = await self._wait_until(key, started + self.deadline)
        if reply is not None:
            return reply
        if tries >= self.tries:
            if await to_thread.run_sync(self.log.defer, key):
                logger.info("message %s not answered within %d tries; deferred", key, tries)
                return text(texts.HOLD_ON_PUSH if self.api else texts.HOLD_ON)
            entry = await to_thread.run_sync(self.log.get, key)
            if entry and entry.state in (DEFERRED, OWED):  # a try beyond the last one
                return text(texts.HOLD_ON_PUSH if self.api else texts.HOLD_ON)
            return await to_thread.run_sync(self.log.take, key) or text(texts.HOLD_ON)
        # Silent past the platform's timeout: only then does it try again.
        reply = await self._wait_until(key, started + self.platform_timeout + POLL_INTERVAL * 10)
        return reply or Reply("none")

    async def _wait_until(self, key: str, until: float) -> Reply | None:
        local = self._local.get(key)
        waiter = asyncio.wrap_future(local) if local is not None else None
        while True:
            reply = await to_thread.run_sync(self.log.take, key)
            if reply is not None:
                return reply
            remaining = until - time.time()
            if remaining <= 0:
                return None
            if waiter is not None and not waiter.done():
                await asyncio.wait([waiter], timeout=remaining)
            else:
                await asyncio.sleep(min(POLL_INTERVAL, remaining))
