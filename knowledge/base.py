"""The knowledge base: the SQLite store plus the indexes derived from it.

Writes go to SQLite first; the lexical index follows at once, the vector index
as soon as the embeddings are computed (``embed_pending``). Every index change
is keyed by chunk id, so deleting or repealing a document leaves search at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embedders import CachedEmbedder, Embedder
from knowledge.leases import EmbeddingLeases
from knowledge.lexical import LexicalIndex
from knowledge.query_vectors import QueryVectorCache
from knowledge.records import DocumentRecord, InterpretationRecord, effective_status, passage_text
from knowledge.store import open_store
from knowledge.tokenize import TOKENIZER_VERSION, tokenize
from knowledge.writer import CHUNKER_VERSION, WINDOW_CHARS, rechunk_document
from knowledge.vector import FaissVectorIndex, IndexMismatchError, check_meta, read_meta

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ChunkFilter:
    """Per chunk: what search filters look at."""

    document_id: str
    status: str
    departments: frozenset[str]
    doc_number: str | None


class KnowledgeBase:
    def __init__(self, data_dir: Path, embedder: Embedder, database_url: str | None = None,
                 leases: EmbeddingLeases | None = None, queries: QueryVectorCache | None = None) -> None:
        """Knowledge in ``database_url`` (PostgreSQL), else in SQLite in ``data_dir``;
        the indexes derived from it are kept in ``data_dir`` either way. ``leases``
        share the embedding of new passages among the workers of one store, ``queries``
        their query vectors."""
        self.data_dir = data_dir
        self.store = open_store(data_dir, database_url)
        self.embedder = CachedEmbedder(embedder, self.store, leases, queries=queries)
        self.index_path = data_dir / "index" / "vectors.faiss"
        self.lexical = LexicalIndex()
        self.vectors = FaissVectorIndex(embedder.dim)
        self.filters: dict[int, ChunkFilter] = {}
        self._allowed: dict[tuple[str, str | None, str | None], set[int] | None] = {}
        self.chunks_by_document: dict[str, list[int]] = {}  # passages only, no windows
        self.passage_of: dict[int, int] = {}  # window id -> the passage it is part of
        self.documents_by_number: dict[str, set[str]] = {}
        self.titles: list[tuple[str, str]] = []  # (document id, title)
        self.pending: set[int] = set()  # stored chunks whose vectors are not in FAISS yet
        self._lock = threading.RLock()  # guards the in-memory indexes
        self._embed_lock = threading.Lock()  # one embedding run at a time
        self._generation = -1
        self._filters_day = date.today()
        self.on_pending: Callable[[], None] | None = None  # called when sync finds vectors missing
        self._load()

    # -- loading and syncing with SQLite ------------------------------------

    def _load(self) -> None:
        if self.store.get_state("chunker") != CHUNKER_VERSION:
            self._rechunk_all()
        if self.store.get_state("tokenizer") != TOKENIZER_VERSION:
            count = self.store.retokenize(tokenize, TOKENIZER_VERSION)
            if count:
                logger.info("re-tokenised %d passages for tokenizer %s", count, TOKENIZER_VERSION)
        if self.index_path.exists():
            try:
                vectors, meta = FaissVectorIndex.load(self.index_path)
            except (IndexMismatchError, RuntimeError, ValueError) as exc:
                # A torn save (crash between index and metadata) or a damaged file:
                # SQLite holds the truth and the cache the vectors, so rebuild quietly.
                # A change of embedder is still the operator's decision.
                check_meta(read_meta(self.index_path) or {"embedder": self.embedder.name,
                                                          "dim": self.embedder.dim},
                           self.embedder.name, self.embedder.dim)
                logger.warning("vector index unusable (%s); rebuilding it from the database", exc)
            else:
                check_meta(meta, self.embedder.name, self.embedder.dim)
                self.vectors = vectors
                logger.info("loaded %d vectors built at generation %s", len(vectors), meta.get("generation"))
        self.sync()

    def _rechunk_all(self) -> None:
        doc_ids = [r["id"] for r in self.store.read("SELECT id FROM documents")]
        for doc_id in doc_ids:
            with self.store.write() as conn:
                rechunk_document(conn, doc_id)
        self.store.set_state("chunker", CHUNKER_VERSION)
        if doc_ids:
            logger.info("re-chunked %d documents for chunker %s", len(doc_ids), CHUNKER_VERSION)

    @property
    def passage_count(self) -> int:
        """Citable passages (windows inside them are not counted)."""
        return len(self.filters) - len(self.passage_of)

    def sync(self) -> None:
        """Bring the in-memory indexes in line with SQLite (cheap when nothing changed)."""
        generation = self.store.generation()
        with self._lock:
            if generation == self._generation:
                if self._filters_day != date.today():  # documents may have expired overnight
                    self._reload_filters()
                return
            self._reload_filters()
            stored: set[int] = set()
            for rows in self.store.iter_chunks():
                for row in rows:
                    stored.add(row["id"])
                    if row["id"] not in self.lexical:
                        self.lexical.add(row["id"], row["tokens"].split())
            for chunk_id in [i for i in self.lexical.ids() if i not in stored]:
                self.lexical.remove(chunk_id)
            in_faiss = {int(i) for i in self.vectors.ids()}
            stale = np.array(sorted(in_faiss - stored), dtype=np.int64)
            if len(stale):
                self.vectors.remove(stale)
            self.pending = stored - in_faiss
            self._generation = generation
        if self.pending:
            logger.info("%d chunks wait for their vectors", len(self.pending))
            if self.on_pending:
                self.on_pending()  # e.g. another worker wrote them: embed (mostly from the cache)

    def _reload_filters(self, new_chunks: list[int] | None = None) -> None:
        """Rebuild the filter maps from SQLite; with ``new_chunks``, only add those
        (their documents' metadata unchanged), which keeps a folder ingest linear.

        The maps are replaced, never changed in place: searches read them unlocked.
        """
        today = date.today()
        incremental = new_chunks is not None and self._filters_day == today
        filters = dict(self.filters) if incremental else {}
        by_document = {k: list(v) for k, v in self.chunks_by_document.items()} if incremental else {}
        by_number = {k: set(v) for k, v in self.documents_by_number.items()} if incremental else {}
        windows = dict(self.passage_of) if incremental else {}
        titles = dict(self.titles) if incremental else {}
        for row in self.store.chunk_filters(new_chunks if incremental else None):
            if incremental and row["id"] in filters:
                continue  # already loaded by a full reload after the same write
            departments = set(json.loads(row["issuers"]))
            for name in (row["drafting_department"], row["interp_department"]):
                if name:
                    departments.add(name)
            filters[row["id"]] = ChunkFilter(
                row["document_id"], effective_status(row["status"], row["expiry_date"], today),
                frozenset(departments), row["doc_number"],
            )
            if row["parent_chunk_id"] is None:
                by_document.setdefault(row["document_id"], []).append(row["id"])
            else:
                windows[row["id"]] = row["parent_chunk_id"]
            if row["doc_number"]:
                by_number.setdefault(row["doc_number"], set()).add(row["document_id"])
            titles[row["document_id"]] = row["title"]
        self._filters_day = today
        self.filters = filters
        self._allowed: dict[tuple[str, str | None, str | None], set[int] | None] = {}
        self.chunks_by_document = by_document
        self.passage_of = windows
        self.documents_by_number = by_number
        self.titles = list(titles.items())

    def _caught_up_to_own_write(self) -> None:
        """After applying our own write: claim its generation only if nothing else
        (another worker, another thread) committed in between; else the next
        ``sync`` must still pick those writes up."""
        committed = self.store.committed_generation()
        if committed is not None and self._generation in (committed - 1, committed):
            self._generation = committed

    def mark_written(self, chunk_ids: list[int], tokens: list[list[str]]) -> None:
        """Make freshly stored chunks searchable lexically, and queue their vectors."""
        with self._lock:
            for chunk_id, toks in zip(chunk_ids, tokens):
                self.lexical.add(chunk_id, toks)
            self.pending.update(chunk_ids)
            self._reload_filters(new_chunks=list(chunk_ids))
            self._caught_up_to_own_write()

    def forget(self, chunk_ids: list[int]) -> None:
        """Drop chunks from every index at once (their rows are already gone)."""
        with self._lock:
            for chunk_id in chunk_ids:
                self.lexical.remove(chunk_id)
                self.pending.discard(chunk_id)
            if chunk_ids:
                self.vectors.remove(np.array(chunk_ids, dtype=np.int64))
            self._reload_filters()
            self._caught_up_to_own_write()
        # No save here: a saved index that still holds these ids is reconciled
        # against SQLite on load, and writing the whole file per delete is slow.

    def refresh_filters(self) -> None:
        with self._lock:
            self._reload_filters()
            self._caught_up_to_own_write()

    # -- vectors ----------------------------------------------------------------

    def embed_pending(self, progress: Progress | None = None, batch: int = 32) -> int:
        """Compute the vectors still missing; returns how many were added."""
        with self._embed_lock:
            with self._lock:
                todo = sorted(self.pending)
            done = 0
            for start in range(0, len(todo), batch):
                ids = todo[start:start + batch]
                records = self.store.chunk_records(ids)
                ids = [i for i in ids if i in records]
                texts = [passage_text(records[i].header, records[i].text) for i in ids]
                self._note_long(ids, texts)
                vectors = self.embedder.embed_documents(texts) if texts else None
                with self._lock:
                    # A chunk deleted while we embedded must not come back.
                    keep = [n for n, i in enumerate(ids) if i in self.pending]
                    if vectors is not None and keep:
                        self.vectors.add(np.array([ids[n] for n in keep], dtype=np.int64), vectors[keep])
                    self.pending.difference_update(ids)
                done += len(ids)
                if progress:
                    progress(done, len(todo))
            if todo:
                self.save()
            return done

    def _note_long(self, ids: list[int], texts: list[str]) -> None:
        """Say which passages exceed the model's input (not silently truncated: their
        windows of WINDOW_CHARS characters are searched too)."""
        for chunk_id, text in zip(ids, texts):
            if chunk_id in self.passage_of:
                continue
            tokens = self.embedder.count_tokens(text)
            if tokens > self.embedder.max_tokens:
                logger.info(
                    "passage %d has %d tokens, over the embedder's %d: its own vector is approximate, "
                    "its %d-character windows carry the detail",
                    chunk_id, tokens, self.embedder.max_tokens, WINDOW_CHARS,
                )

    def save(self) -> None:
        with self._lock:
            meta: dict[str, Any] = {
                "embedder": self.embedder.name,
                "dim": self.embedder.dim,
                "generation": self._generation,
                "pending": len(self.pending),
            }
            self.vectors.save(self.index_path, meta)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Throw the derived indexes away and rebuild them from SQLite."""
        with self._lock:
            self.lexical = LexicalIndex()
            self.vectors = FaissVectorIndex(self.embedder.dim)
            self._generation = -1
        self.sync()
        return self.embed_pending(progress)

    # -- filters --------------------------------------------------------------

    def allowed(
        self, status: str = "current", department: str | None = None, doc_number: str | None = None,
    ) -> set[int] | None:
        """Chunk ids that pass the filters, or None when every chunk does.

        Computed once per filter combination and generation: the default
        (status=current) is asked on every search.
        """
        if status == "all" and not department and not doc_number:
            return None
        key = (status, department, doc_number)
        with self._lock:
            if key in self._allowed:
                return self._allowed[key]
            out = set()
            for chunk_id, f in self.filters.items():
                if status != "all" and f.status != status:
                    continue
                if department and department not in f.departments:
                    continue
                if doc_number and f.doc_number != doc_number:
                    continue
                out.add(chunk_id)
            result = None if len(out) == len(self.filters) else out
            if len(self._allowed) > 256:
                self._allowed.clear()
            self._allowed[key] = result
            return result

    def interpretation(self, interp_id: str) -> InterpretationRecord | None:
        return self.store.get_interpretation(interp_id)

    def documents(self, ids: list[str]) -> dict[str, DocumentRecord]:
        out = {}
        for doc_id in dict.fromkeys(ids):
            record = self.store.get_document(doc_id)
            if record:
                out[doc_id] = record
        return out
