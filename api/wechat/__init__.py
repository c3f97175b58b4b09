"""The WeChat official-account channel (issue 4): the bot on 公众号.

`install` mounts GET/POST /wechat when a token is configured; without one
the route does not exist (404), as API.md says.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.config import Settings

__all__ = ["install"]


def install(app: FastAPI, settings: Settings) -> None:
    """Mount /wechat when a token is configured (API.md: 404 otherwise)."""
    if not settings.wechat_token:
        return
    if settings.wechat_aes_key and not settings.wechat_appid:
        raise ValueError("POLICYBOT_WECHAT_AES_KEY needs POLICYBOT_WECHAT_APPID (safe mode checks the AppID)")
    from api.wechat.routes import make_router

    app.include_router(make_router(settings))
