"""Two uvicorn worker processes sharing one data directory, as a scaled-out deployment runs.

One worker is a separate uvicorn process; the other is uvicorn inside the
test process (it reuses the loaded model, which halves the start-up cost).
The platform's first try reaches one worker and its retry the other; the
dedup rows in SQLite are all they share. A restarted worker (a fresh app on
the same directory) still knows the message.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.wechat.replies import citizen_text
from knowledge.store import open_store
from tests.conftest import TEST_EMBEDDER
from tests.paths import REPO
from tests.wechat.conftest import copy_data_dir, live
from tests.wechat.worker_app import SlowBot
from tests.wechat.wx_sim import TOKEN, Platform, new_msg_id, new_openid, text_xml

DEADLINE, DELAY, PLATFORM_TIMEOUT = 0.45, 0.8, 0.5
QUESTION = "单位接收见习的高校毕业生，见习补贴每人每月多少？"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def workers(wechat_kb, embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[tuple[Path, str | None], list[str]]]:  # type: ignore[no-untyped-def]
    from api.app import create_app
    from api.config import Settings
    from knowledge.base import KnowledgeBase

    data, database = copy_data_dir(wechat_kb, tmp_path_factory.mktemp("workers") / "data")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "POLICYBOT_DATA_DIR": str(data), "POLICYBOT_EMBEDDER": TEST_EMBEDDER, "POLICYBOT_RATE_LIMIT": "0",
           "POLICYBOT_WECHAT_TOKEN": TOKEN, "POLICYBOT_WECHAT_REPLY_DEADLINE": str(DEADLINE),
           **({"POLICYBOT_DATABASE_URL": database} if database else {}),
           "WECHAT_TEST_BOT_DELAY": str(DELAY), "WECHAT_TEST_PLATFORM_TIMEOUT": str(PLATFORM_TIMEOUT)}
    for name in ("POLICYBOT_WECHAT_AES_KEY", "POLICYBOT_WECHAT_APPID", "POLICYBOT_WECHAT_SECRET"):
        env.pop(name, None)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "tests.wechat.worker_app:make",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    other = f"http://127.0.0.1:{port}"
    kb = KnowledgeBase(data, embedder, database)
    app = create_app(Settings(data_dir=data, database_url=database, embedder=TEST_EMBEDDER, rate_limit=0, wechat_token=TOKEN,
                              wechat_reply_deadline=DEADLINE), kb=kb)
    try:
        with live(app) as here:
            app.state.bot = SlowBot(app.state.bot, DELAY)
            app.state.wechat.platform_timeout = PLATFORM_TIMEOUT
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"worker exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
                try:
                    if httpx.get(f"{other}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("worker did not start")
                time.sleep(0.2)
            for url in (here, other):  # a first question loads what a long-running worker has loaded
                httpx.post(f"{url}/api/v1/ask", json={"question": "创业补贴"}, timeout=60)
            yield (data, database), [here, other]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()
        kb.store.close()


def post(url: str, platform: Platform, xml: str, timeout: float) -> httpx.Response:
    params, body = platform.request(xml)
    return httpx.post(f"{url}/wechat", params=params, content=body, timeout=timeout)


def asked(store: Any, openid: str) -> int:
    rows = store.read("SELECT count(*) AS n FROM questions WHERE session_id = ?", (f"wechat:{openid}",))
    return int(rows[0]["n"])


def retry_on_the_other_worker(first: str, second: str, open_app: Any) -> tuple[Platform, str, str, dict, str]:
    """A try times out on ``first``, the platform's retry reaches ``second``.

    Returns the platform, the citizen's OpenID, the message, the retry's reply
    and what the bot answers that question on its own.
    """
    platform, openid = Platform(), new_openid()
    xml = text_xml(openid, QUESTION, new_msg_id())
    with pytest.raises(httpx.TimeoutException):  # the bot is slower than the platform's patience
        post(first, platform, xml, PLATFORM_TIMEOUT)
    reply = platform.read(post(second, platform, xml, PLATFORM_TIMEOUT))
    with open_app() as client:
        expected = citizen_text(client.app.state.bot.ask(QUESTION, session_id=f"x:{new_openid()}"))
    return platform, openid, xml, reply, expected


def test_a_retry_on_the_other_worker_gets_the_first_workers_answer(workers, embedder, open_app) -> None:  # type: ignore[no-untyped-def]
    (data, url), (worker_a, worker_b) = workers
    platform, openid, xml, reply, expected = retry_on_the_other_worker(worker_b, worker_a, open_app)
    assert reply["Content"] == expected
    store = open_store(data, url)
    assert asked(store, openid) == 1  # worker B waited for A's answer instead of asking again

    # A restart: a new app on the same directory still knows the message and asks nobody.
    from api.app import create_app
    from api.config import Settings
    from fastapi.testclient import TestClient
    from knowledge.base import KnowledgeBase

    restarted = KnowledgeBase(data, embedder, url)
    app = create_app(Settings(data_dir=data, database_url=url, embedder=TEST_EMBEDDER, rate_limit=0, wechat_token=TOKEN),
                     kb=restarted)
    with TestClient(app) as client:
        again = platform.read(platform.post(client, xml))
    restarted.store.close()
    assert again["Content"] == expected and asked(store, openid) == 1
    store.close()


def test_simultaneous_tries_on_two_workers_ask_the_bot_once(workers) -> None:  # type: ignore[no-untyped-def]
    (data, url), urls = workers
    platform, openid, msg_id = Platform(), new_openid(), new_msg_id()
    xml = text_xml(openid, QUESTION, msg_id)
    replies: list[str] = []

    def send(url: str) -> None:
        replies.append(platform.read(post(url, platform, xml, 10))["Content"])

    threads = [threading.Thread(target=send, args=(url,)) for url in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(replies) == 2 and replies[0] == replies[1] and "《" in replies[0]
    store = open_store(data, url)
    assert asked(store, openid) == 1
    store.close()
