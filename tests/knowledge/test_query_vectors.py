"""Workers share the vectors of the questions they embedded, through Redis.

Real Redis (the session's redis-server), real stores, the real bundled model;
``Counting`` (tests/counting.py) counts the questions that reach the model.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from knowledge.base import KnowledgeBase
from knowledge.embedders import BundledE5Embedder, CachedEmbedder, InMemoryEmbeddingCache
from knowledge.query_vectors import RedisQueryVectors
from knowledge.retriever import Retriever
from knowledge.service import KnowledgeService
from tests.counting import Counting
from tests.texts import DIBAO

UNREACHABLE = "redis://127.0.0.1:1/0"
QUESTION = "低保标准每月多少钱"


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


def test_a_question_one_worker_embedded_is_not_embedded_by_another(
        e5: BundledE5Embedder, redis_url: str, prefix: str) -> None:
    a, b = Counting(e5), Counting(e5)
    worker_a = CachedEmbedder(a, InMemoryEmbeddingCache(), queries=RedisQueryVectors(redis_url, prefix))
    worker_b = CachedEmbedder(b, InMemoryEmbeddingCache(), queries=RedisQueryVectors(redis_url, prefix))
    first = worker_a.embed_query(QUESTION)
    second = worker_b.embed_query(QUESTION)
    assert (a.queries, b.queries) == (1, 0)
    np.testing.assert_array_equal(second, first)
    np.testing.assert_allclose(first, e5.embed_query(QUESTION), atol=1e-6)
    worker_b.embed_query("临时救助怎么申请")  # a new question is embedded where it arrives
    assert b.queries == 1


def test_another_embedders_vector_is_not_taken(e5: BundledE5Embedder, redis_url: str, prefix: str) -> None:
    shared = RedisQueryVectors(redis_url, prefix)
    CachedEmbedder(Counting(e5), InMemoryEmbeddingCache(), queries=shared).embed_query(QUESTION)
    other = Counting(e5, name="another-model")
    CachedEmbedder(other, InMemoryEmbeddingCache(), queries=shared).embed_query(QUESTION)
    assert other.queries == 1


def test_a_vector_of_the_wrong_size_is_embedded_again(e5: BundledE5Embedder, redis_url: str, prefix: str) -> None:
    shared = RedisQueryVectors(redis_url, prefix)
    shared.put(e5.name, QUESTION, np.ones(7, dtype=np.float32))  # e.g. written by an older build
    counting = Counting(e5)
    vector = CachedEmbedder(counting, InMemoryEmbeddingCache(), queries=shared).embed_query(QUESTION)
    assert counting.queries == 1 and vector.shape == (e5.dim,)
    np.testing.assert_array_equal(shared.get(e5.name, QUESTION), vector)  # and the entry is replaced


def test_without_redis_the_worker_embeds_the_question_itself(
        e5: BundledE5Embedder, caplog: pytest.LogCaptureFixture) -> None:
    counting = Counting(e5)
    embedder = CachedEmbedder(counting, InMemoryEmbeddingCache(), queries=RedisQueryVectors(UNREACHABLE, "x:"))
    np.testing.assert_allclose(embedder.embed_query(QUESTION), e5.embed_query(QUESTION), atol=1e-6)
    assert counting.queries == 1
    assert "Redis unavailable" in caplog.text


def test_two_workers_on_one_store_search_with_one_embedding_of_a_question(
        tmp_path: Path, database_url: str | None, e5: BundledE5Embedder, redis_url: str, prefix: str) -> None:
    a, b = Counting(e5), Counting(e5)
    worker_a = KnowledgeBase(tmp_path, a, database_url, queries=RedisQueryVectors(redis_url, prefix))
    worker_b = KnowledgeBase(tmp_path, b, database_url, queries=RedisQueryVectors(redis_url, prefix))
    KnowledgeService(worker_a).ingest_bytes(DIBAO.encode(), "dibao.txt")
    for kb in (worker_a, worker_b):  # both follow the store; B's passage vectors come from its cache
        kb.sync()
        kb.embed_pending()
    assert len(worker_a.vectors) == len(worker_b.vectors) > 0
    hits_a = Retriever(worker_a).search(QUESTION, k=3)
    hits_b = Retriever(worker_b).search(QUESTION, k=3)
    assert (a.queries, b.queries) == (1, 0)
    assert hits_a and [h.chunk_id for h in hits_b] == [h.chunk_id for h in hits_a]
    assert "820" in hits_b[0].text
    worker_a.store.close()
    worker_b.store.close()
