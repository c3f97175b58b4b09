"""Dense vector index keyed by chunk id, with metadata that names its embedder.

``VectorIndex`` is the seam for a served engine at scale-out; ``FaissVectorIndex``
is the embedded default: inner-product search (vectors are normalised, so this
is cosine) keyed by chunk id, so deleting a document removes its vectors at
once instead of leaving them to be cited. Small indexes are exact
(``IndexIDMap2(IndexFlatIP)``); once an index reaches ``ivf_threshold``
vectors it is retrained as an ``IndexIVFFlat``, whose query cost grows with
``nprobe`` lists instead of with the whole corpus. HNSW is not used because
FAISS cannot remove vectors from it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "FaissVectorIndex",
    "IndexMismatchError",
    "VectorIndex",
    "check_meta",
    "configure_threads",
    "meta_path",
]

FORMAT_VERSION = 1
IVF_THRESHOLD = 50_000  # vectors; below it exact search is cheap enough (~8 ms at 50k)
IVF_NPROBE = 24


class IndexMismatchError(RuntimeError):
    """The saved index cannot serve this configuration (other embedder, dim, or damaged)."""


def configure_threads(n: int = 1) -> None:
    """Limit FAISS's OpenMP threads; one thread is faster for single queries."""
    faiss.omp_set_num_threads(n)


def meta_path(index_path: Path) -> Path:
    """Where the metadata JSON of an index file lives."""
    return index_path.with_name(index_path.name + ".meta.json")


def read_meta(index_path: Path) -> dict[str, Any] | None:
    """The metadata beside an index, or None when missing or unreadable."""
    try:
        meta = json.loads(meta_path(index_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def check_meta(meta: dict[str, Any], embedder_name: str, dim: int) -> None:
    """Refuse an index built by another embedder: its vectors mean nothing to ours."""
    built_name, built_dim = meta.get("embedder"), meta.get("dim")
    if built_name != embedder_name or built_dim != dim:
        raise IndexMismatchError(
            f"the vector index was built with embedder {built_name!r} (dim {built_dim}), "
            f"but the service is configured with {embedder_name!r} (dim {dim}); "
            "run `policybot rebuild` (or delete the index directory) to rebuild it"
        )


class VectorIndex(ABC):
    """Vector search over chunk ids; implementations must be safe for one
    writer and concurrent readers."""

    dim: int

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert vectors; ids already present are replaced."""

    @abstractmethod
    def remove(self, ids: np.ndarray) -> int:
        """Delete ids; returns how many were present."""

    @abstractmethod
    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Best ``k`` (chunk id, similarity), best first."""

    @abstractmethod
    def ids(self) -> np.ndarray:
        """All indexed chunk ids (int64)."""

    @abstractmethod
    def __len__(self) -> int: ...

    def count(self) -> int:
        return len(self)

    @abstractmethod
    def save(self, path: Path, meta: dict[str, Any]) -> dict[str, Any]:
        """Persist atomically; returns the metadata written."""


def _fsync_dir(directory: Path) -> None:
    # The rename itself is only durable once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)``, fsync the file, then rename it over ``path``."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _nlist_for(count: int) -> int:
    """Inverted lists for ``count`` vectors: ~4*sqrt(n), with >= 39 points each to train."""
    return max(1, min(int(4 * count**0.5), count // 39))


class FaissVectorIndex(VectorIndex):
    """Exact search in ``IndexIDMap2(IndexFlatIP)``, IVF once it holds
    ``ivf_threshold`` vectors.

    Flat search costs ~7 ms per query at 100k x 384 on one thread, IVF ~0.2 ms
    (bench/bench_vector.py); the IVF
    index probes ``nprobe`` of its ~4*sqrt(n) lists (more when a filter keeps
    only a small share of the vectors, so filtered results are not starved).
    """

    def __init__(
        self,
        dim: int,
        index: faiss.Index | None = None,
        *,
        ivf_threshold: int = IVF_THRESHOLD,
        nprobe: int = IVF_NPROBE,
    ) -> None:
        self.dim = dim
        self.ivf_threshold = ivf_threshold
        self.nprobe = nprobe
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if self._index.d != dim:
            raise ValueError(f"faiss index has dim {self._index.d}, expected {dim}")
        # faiss is not safe to search while another thread adds or removes.
        self._lock = threading.RLock()

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        with self._lock:
            if not isinstance(self._index, faiss.IndexIVF):
                return faiss.vector_to_array(self._index.id_map).astype(np.int64)
            invlists = self._index.invlists
            parts = []
            for list_no in range(self._index.nlist):
                size = invlists.list_size(list_no)
                if size:
                    ptr = invlists.get_ids(list_no)
                    parts.append(faiss.rev_swig_ptr(ptr, size).astype(np.int64))
                    invlists.release_ids(list_no, ptr)
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("duplicate ids in one add")
        if len(ids) == 0:
            return
        with self._lock:
            if self._index.ntotal:
                self._index.remove_ids(faiss.IDSelectorBatch(ids))
            self._index.add_with_ids(vectors, ids)
            if self.kind == "flat" and self._index.ntotal >= self.ivf_threshold:
                self._to_ivf()

    def _to_ivf(self) -> None:
        """Retrain the flat index as IVF over the vectors it holds (caller holds the lock)."""
        started = time.perf_counter()
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        vectors = self._index.index.reconstruct_n(0, self._index.ntotal)
        nlist = _nlist_for(len(ids))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.seed = 1234  # the same vectors give the same lists on every worker
        ivf.train(vectors)
        ivf.add_with_ids(vectors, ids)
        ivf.nprobe = min(self.nprobe, nlist)
        self._index = ivf
        logger.info(
            "vector index reached %d vectors: retrained as IVF with %d lists in %.1fs",
            len(ids), nlist, time.perf_counter() - started,
        )

    def remove(self, ids: np.ndarray) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) == 0:
            return 0
        with self._lock:
            return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        with self._lock:
            total = int(self._index.ntotal)
            k = min(k, total)
            if k <= 0:
                return []
            ivf = isinstance(self._index, faiss.IndexIVF)
            if allowed_ids is None:
                params = faiss.SearchParametersIVF(nprobe=min(self.nprobe, self._index.nlist)) if ivf else None
            else:
                allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64).reshape(-1)
                if len(allowed) == 0:
                    return []
                # IndexIDMap2 translates the selector to its internal ids; IVF stores ours.
                selector = faiss.IDSelectorBatch(allowed)
                if ivf:
                    # A filter keeping 1/x of the vectors probes x times the lists.
                    share = max(len(allowed) / total, 1e-9)
                    nprobe = min(self._index.nlist, int(np.ceil(self.nprobe / min(share, 1.0))))
                    params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
                else:
                    params = faiss.SearchParameters(sel=selector)
            scores, found = self._index.search(query, k, params=params)
        return [(i, s) for i, s in zip(found[0].tolist(), scores[0].tolist()) if i >= 0]

    def save(self, path: Path, meta: dict[str, Any]) -> dict[str, Any]:
        """Write the index, then its metadata, each atomically.

        The index goes first: after a crash between the two, the old metadata
        (older generation, other count) makes the loader catch up or rebuild,
        never trust vectors it did not describe.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with self._lock:
            full_meta: dict[str, Any] = {
                **meta,
                "dim": self.dim,
                "count": len(self),
                "kind": self.kind,
                "faiss_version": faiss.__version__,
                "format_version": FORMAT_VERSION,
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            _atomic_write(path, lambda tmp: faiss.write_index(self._index, str(tmp)))
        full_meta["file_size"] = path.stat().st_size
        text = json.dumps(full_meta, ensure_ascii=False, indent=2, sort_keys=True)
        _atomic_write(meta_path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))
        logger.info(
            "saved %d vectors to %s in %.2fs", full_meta["count"], path, time.perf_counter() - started
        )
        return full_meta

    @classmethod
    def load(
        cls, path: Path, *, ivf_threshold: int = IVF_THRESHOLD, nprobe: int = IVF_NPROBE
    ) -> tuple[FaissVectorIndex, dict[str, Any]]:
        """Read an index and its metadata; raises IndexMismatchError if they disagree."""
        path = Path(path)
        mpath = meta_path(path)
        if not mpath.is_file():
            raise IndexMismatchError(
                f"no metadata beside {path}; run `policybot rebuild` (or delete the index directory)"
            )
        meta: dict[str, Any] = json.loads(mpath.read_text(encoding="utf-8"))
        index = faiss.read_index(str(path))
        if not isinstance(index, (faiss.IndexIDMap2, faiss.IndexIVFFlat)):
            raise IndexMismatchError(
                f"{path} holds a {type(index).__name__}, not an IndexIDMap2 or IndexIVFFlat; "
                "run `policybot rebuild` (or delete the index directory)"
            )
        if index.ntotal != meta.get("count") or index.d != meta.get("dim"):
            raise IndexMismatchError(
                f"{path} holds {index.ntotal} vectors of dim {index.d} but its metadata says "
                f"{meta.get('count')} of dim {meta.get('dim')}; run `policybot rebuild` "
                "(or delete the index directory)"
            )
        return cls(int(index.d), index, ivf_threshold=ivf_threshold, nprobe=nprobe), meta
