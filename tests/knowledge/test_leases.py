"""Workers on one store share the embedding of new passages through Redis leases.

Real Redis (the session's redis-server), real stores (SQLite, or PostgreSQL on
the second run), the real bundled model; ``Counting`` (tests/counting.py) only
counts what reaches the model.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from knowledge.base import KnowledgeBase
from knowledge.embedders import BundledE5Embedder, CachedEmbedder, cache_key
from knowledge.leases import RedisEmbeddingLeases
from knowledge.service import KnowledgeService
from knowledge.store import Store, open_store
from tests.counting import Counting
from tests.texts import DIBAO

UNREACHABLE = "redis://127.0.0.1:1/0"
TEXTS = ["城乡低保标准每人每月820元。", "申请低保向户籍所在地乡镇人民政府提出。", "临时救助一般不超过6个月低保标准。"]


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
def stores(tmp_path: Path, database_url: str | None) -> Iterator[tuple[Store, Store]]:
    """Two workers' connections to one store."""
    first, second = open_store(tmp_path, database_url), open_store(tmp_path, database_url)
    yield first, second
    first.close()
    second.close()


def test_a_passage_another_worker_is_embedding_is_waited_for_not_embedded_again(
        e5: BundledE5Embedder, stores: tuple[Store, Store], redis_url: str, prefix: str) -> None:
    a, b = Counting(e5), Counting(e5)
    worker_a = CachedEmbedder(a, stores[0], RedisEmbeddingLeases(redis_url, prefix), poll=0.05)
    worker_b = CachedEmbedder(b, stores[1], RedisEmbeddingLeases(redis_url, prefix), poll=0.05)
    a.proceed.clear()  # A holds its leases until B is waiting
    results: dict[str, np.ndarray] = {}
    thread = threading.Thread(target=lambda: results.update(a=worker_a.embed_documents(TEXTS)))
    thread.start()
    assert a.started.wait(10)
    threading.Timer(0.3, a.proceed.set).start()
    results["b"] = worker_b.embed_documents(TEXTS)
    thread.join(10)
    assert (a.embedded, b.embedded) == (len(TEXTS), 0)
    np.testing.assert_allclose(results["b"], results["a"], atol=1e-6)
    np.testing.assert_allclose(results["a"], e5.embed_documents(TEXTS), atol=1e-5)


def test_the_leases_of_a_worker_that_died_expire_and_are_taken_over(
        e5: BundledE5Embedder, stores: tuple[Store, Store], redis_url: str, prefix: str) -> None:
    dead = RedisEmbeddingLeases(redis_url, prefix, ttl=1)
    assert dead.claim([cache_key(e5.name, t) for t in TEXTS]) == {cache_key(e5.name, t) for t in TEXTS}
    survivor = Counting(e5)
    embedder = CachedEmbedder(survivor, stores[1], RedisEmbeddingLeases(redis_url, prefix), poll=0.05)
    started = time.monotonic()
    vectors = embedder.embed_documents(TEXTS)
    assert time.monotonic() - started >= 0.5  # it waited for the dead worker first
    assert survivor.embedded == len(TEXTS)
    assert vectors.shape == (len(TEXTS), e5.dim)
    assert set(stores[0].get_many([cache_key(e5.name, t) for t in TEXTS])) == {cache_key(e5.name, t) for t in TEXTS}


def test_a_failed_embedding_releases_its_leases(stores: tuple[Store, Store], e5: BundledE5Embedder,
                                                redis_url: str, prefix: str) -> None:
    class Broken(Counting):
        def embed_documents(self, texts: list[str]) -> np.ndarray:
            raise RuntimeError("engine failed")

    leases = RedisEmbeddingLeases(redis_url, prefix)
    with pytest.raises(RuntimeError):
        CachedEmbedder(Broken(e5), stores[0], leases).embed_documents(TEXTS)
    other = RedisEmbeddingLeases(redis_url, prefix)
    keys = [cache_key(e5.name, t) for t in TEXTS]
    assert other.claim(keys) == set(keys)  # free at once, not after the TTL


def test_without_redis_each_worker_embeds_for_itself(e5: BundledE5Embedder, stores: tuple[Store, Store],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    counting = Counting(e5)
    embedder = CachedEmbedder(counting, stores[0], RedisEmbeddingLeases(UNREACHABLE, "x:"))
    started = time.monotonic()
    assert embedder.embed_documents(TEXTS).shape == (len(TEXTS), e5.dim)
    assert time.monotonic() - started < 5
    assert counting.embedded == len(TEXTS)
    assert "Redis unavailable" in caplog.text


def test_two_workers_following_one_store_embed_an_upload_once(
        tmp_path: Path, database_url: str | None, e5: BundledE5Embedder, redis_url: str, prefix: str) -> None:
    a, b = Counting(e5), Counting(e5)
    worker_a = KnowledgeBase(tmp_path, a, database_url, RedisEmbeddingLeases(redis_url, prefix))
    worker_b = KnowledgeBase(tmp_path, b, database_url, RedisEmbeddingLeases(redis_url, prefix))
    KnowledgeService(worker_a).ingest_bytes(DIBAO.encode(), "dibao.txt")
    worker_b.sync()  # B sees A's passages waiting for vectors, as its next request would
    chunks = len(worker_a.pending)
    assert chunks > 0 and worker_b.pending == worker_a.pending
    threads = [threading.Thread(target=kb.embed_pending) for kb in (worker_a, worker_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert a.embedded + b.embedded == chunks  # each passage embedded by one of them
    assert len(worker_a.vectors) == len(worker_b.vectors) == chunks
    hits_a = worker_a.vectors.search(e5.embed_query("低保标准是多少"), 3, None)
    hits_b = worker_b.vectors.search(e5.embed_query("低保标准是多少"), 3, None)
    assert [i for i, _ in hits_a] == [i for i, _ in hits_b]
    worker_a.store.close()
    worker_b.store.close()
