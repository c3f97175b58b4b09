"""Hybrid retrieval: BM25 and dense vectors fused by reciprocal rank.

An exact path sits on top: a 文号 or a full document title named in the query
lifts that document's passages above everything else, because neither BM25
nor an embedding model reliably matches ``国办发〔2018〕23号`` as a whole.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from knowledge.base import KnowledgeBase
from knowledge.records import ChunkRecord, DocumentRecord, InterpretationRecord
from knowledge.tokenize import find_doc_numbers, tokenize

logger = logging.getLogger(__name__)

RRF_K = 60
CANDIDATES = 60
EXACT_BONUS = 1.0  # larger than any fused score: 2 lists x 1/(60+1)


@dataclass
class Hit:
    chunk_id: int
    score: float
    kind: str
    text: str
    document: DocumentRecord
    article: dict[str, Any] | None
    interpretation: InterpretationRecord | None
    header: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "chunk_id": str(self.chunk_id),
            "score": round(self.score, 6),
            "kind": self.kind,
            "text": self.text,
            "document": self.document.to_json(),
            "article": self.article,
            "interpretation": self.interpretation.to_json() if self.interpretation else None,
        }


def normalize(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


class Retriever:
    def __init__(
        self, kb: KnowledgeBase, lexical_weight: float = 1.0, dense_weight: float = 1.0,
        use_dense: bool = True,
    ) -> None:
        self.kb = kb
        self.lexical_weight = lexical_weight
        self.dense_weight = dense_weight
        self.use_dense = use_dense
        self._embed_query = lru_cache(maxsize=1024)(kb.embedder.embed_query)

    def search(
        self, query: str, k: int = 10, status: str = "current",
        department: str | None = None, doc_number: str | None = None,
    ) -> list[Hit]:
        self.kb.sync()
        allowed = self.kb.allowed(status, department, doc_number)
        if allowed is not None and not allowed:
            return []
        scores: dict[int, float] = {}

        def fuse(ranked: list[tuple[int, float]], weight: float) -> None:
            for rank, (chunk_id, _) in enumerate(ranked):
                scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (RRF_K + rank + 1)

        fuse(self.kb.lexical.search(tokenize(query), CANDIDATES, allowed), self.lexical_weight)
        if self.use_dense and len(self.kb.vectors):
            vector = self._embed_query(query)
            ids = np.fromiter(allowed, dtype=np.int64) if allowed is not None else None
            fuse(self.kb.vectors.search(vector, CANDIDATES, ids), self.dense_weight)
        for chunk_id in self._exact_matches(query, allowed):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + EXACT_BONUS
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
        return self._hits(best)

    def _exact_matches(self, query: str, allowed: set[int] | None) -> list[int]:
        """Chunks of documents whose 文号 or full title the query names."""
        doc_ids: set[str] = set()
        for number in find_doc_numbers(query):
            doc_ids |= self.kb.documents_by_number.get(number, set())
        wanted = normalize(query)
        if not doc_ids and len(wanted) >= 8:
            for doc_id, title in self.kb.titles:
                if len(title) >= 8 and normalize(title) in wanted:
                    doc_ids.add(doc_id)
        return [
            chunk_id for doc_id in doc_ids for chunk_id in self.kb.chunks_by_document.get(doc_id, [])
            if allowed is None or chunk_id in allowed
        ]

    def _hits(self, ranked: list[tuple[int, float]]) -> list[Hit]:
        records: dict[int, ChunkRecord] = self.kb.store.chunk_records([i for i, _ in ranked])
        documents = self.kb.documents([r.document_id for r in records.values()])
        hits = []
        for chunk_id, score in ranked:
            record = records.get(chunk_id)
            if record is None or record.document_id not in documents:
                continue  # deleted between ranking and fetching
            interpretation = None
            if record.interpretation_id:
                interpretation = self.kb.interpretation(record.interpretation_id)
            article = None
            if record.article_path is not None and record.article_label is not None:
                article = {"label": record.article_label, "path": record.article_path}
            hits.append(Hit(chunk_id, score, record.kind, record.text, documents[record.document_id],
                            article, interpretation, record.header))
        return hits
