"""A policybot worker process for the multi-worker tests: `uvicorn --factory tests.wechat.worker_app:make`.

The real app from the environment's settings, with the real bot answering
WECHAT_TEST_BOT_DELAY seconds late and the platform's timeout shortened to
WECHAT_TEST_PLATFORM_TIMEOUT, so the 5-second window plays out in a second.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI


class SlowBot:
    """The real bot, answering `delay` seconds late: the 5-second window without a slow machine."""

    def __init__(self, bot: Any, delay: float) -> None:
        self.bot = bot
        self.delay = delay
        self.calls = 0

    def ask(self, question: str, session_id: str | None = None, channel: str = "api") -> Any:
        self.calls += 1
        time.sleep(self.delay)
        return self.bot.ask(question, session_id=session_id, channel=channel)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bot, name)


def make() -> FastAPI:
    from api.app import create_app
    from api.config import Settings

    app = create_app(Settings())

    @asynccontextmanager
    async def slow_down(app: FastAPI) -> AsyncIterator[None]:
        app.state.bot = SlowBot(app.state.bot, float(os.environ.get("WECHAT_TEST_BOT_DELAY", "0")))
        app.state.wechat.platform_timeout = float(os.environ.get("WECHAT_TEST_PLATFORM_TIMEOUT", "5"))
        yield

    app.include_router(APIRouter(lifespan=slow_down))
    return app
