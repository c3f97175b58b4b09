"""Rate limits shared by several workers through a real Redis."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import Settings
from api.ratelimit import RedisRateLimiter
from tests.conftest import TEST_EMBEDDER


def _limiter(redis_url: str, per_minute: int, prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(per_minute, redis_url, prefix=prefix)


def test_two_workers_share_one_budget_per_client(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    first, second = _limiter(redis_url, 3, prefix), _limiter(redis_url, 3, prefix)
    assert [first.allow("10.0.0.1"), second.allow("10.0.0.1"), first.allow("10.0.0.1")] == [True] * 3
    assert second.allow("10.0.0.1") is False
    assert first.allow("10.0.0.1") is False
    # Another citizen has a budget of their own.
    assert second.allow("10.0.0.2") is True


def test_bucket_refills_over_time(redis_url: str) -> None:
    limiter = _limiter(redis_url, 60, f"test:{uuid.uuid4().hex}:")  # one request a second
    assert all(limiter.allow("c") for _ in range(60))
    assert limiter.allow("c") is False
    time.sleep(1.1)
    assert limiter.allow("c") is True
    assert limiter.allow("c") is False


def test_unreachable_redis_lets_requests_through_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisRateLimiter(1, "redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING, logger="api.ratelimit"):
        assert limiter.allow("c") and limiter.allow("c")
    assert "Redis unavailable" in caplog.text


def test_limit_holds_across_two_app_instances(kb, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    settings = Settings(data_dir=kb.data_dir, embedder=TEST_EMBEDDER, rate_limit=2, redis_url=redis_url)
    with TestClient(create_app(settings, kb=kb)) as one, TestClient(create_app(settings, kb=kb)) as two:
        assert isinstance(one.app.state.limiter, RedisRateLimiter)
        codes = [one.get("/api/v1/search", params={"q": "低保"}).status_code,
                 two.get("/api/v1/search", params={"q": "低保"}).status_code]
        third = one.get("/api/v1/search", params={"q": "低保"})
    assert codes == [200, 200]
    assert third.status_code == 429 and third.headers["Retry-After"] == "30"
    assert "请求过于频繁" in third.text
