"""The WeChat channel against the real app: sample corpus, real bot, SQLite, FAISS, MiniLM.

`wechat_kb` is a copy of the session's sample knowledge base, so the
questions and dedup rows these tests write never reach other tests.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_EMBEDDER
from tests.wechat.wx_sim import APPID, AES_KEY, TOKEN


def copy_data_dir(kb: Any, target: Path) -> tuple[Path, str | None]:
    """A consistent copy of a knowledge base: its data directory (SQLite via its backup API)
    and, on PostgreSQL, its database; returns the copy's data directory and database URL."""
    source = kb.data_dir
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name.startswith("policybot.sqlite3"):
            continue
        if item.is_dir():
            shutil.copytree(item, target / item.name)
        else:
            shutil.copy2(item, target / item.name)
    if kb.store.postgres:
        from tests.postgres import copy_database

        return target, copy_database(kb.store)
    with sqlite3.connect(source / "policybot.sqlite3") as src, sqlite3.connect(target / "policybot.sqlite3") as dst:
        src.backup(dst)
    return target, None


@pytest.fixture(scope="session")
def wechat_kb(samples_kb, embedder, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from knowledge.base import KnowledgeBase

    data, url = copy_data_dir(samples_kb, tmp_path_factory.mktemp("wechat") / "data")
    base = KnowledgeBase(data, embedder, url)
    yield base
    base.store.close()


Opener = Callable[..., Any]


@pytest.fixture
def build_app(wechat_kb) -> Opener:  # type: ignore[no-untyped-def]
    """build_app(**settings) -> the real app on the sample corpus, /wechat on."""
    from api.app import create_app
    from api.config import Settings

    def build(**overrides: Any) -> Any:
        values: dict[str, Any] = {"data_dir": wechat_kb.data_dir, "embedder": TEST_EMBEDDER, "rate_limit": 0,
                                  "wechat_token": TOKEN, **overrides}
        return create_app(Settings(**values), kb=wechat_kb)

    return build


@pytest.fixture
def open_app(build_app) -> Opener:  # type: ignore[no-untyped-def]
    """open_app(**settings) -> a context manager yielding a TestClient on the real app."""
    from fastapi.testclient import TestClient

    @contextmanager
    def opener(**overrides: Any) -> Iterator[TestClient]:
        with TestClient(build_app(**overrides)) as client:
            yield client

    return opener


@pytest.fixture
def plain_client(open_app) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    with open_app() as client:
        yield client


@pytest.fixture
def safe_client(open_app) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    with open_app(wechat_appid=APPID, wechat_aes_key=AES_KEY) as client:
        yield client


@contextmanager
def live(app: Any) -> Iterator[str]:
    """A real uvicorn serving `app` on a free localhost port, in this process."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()  # also when it failed to start: no socket left for the warnings filter
