"""Hybrid retrieval: BM25 and dense vectors, fused by normalised score.

BM25 scores are divided by the best one, cosine similarities min-max
normalised over the candidates, and the two mixed with weight ``alpha`` for
BM25. On the three evaluation sets this beat reciprocal
rank fusion at every weight tried (docs/benchmarks.md): RRF throws away how
far ahead the first candidate is, which is most of what BM25 knows.

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
from knowledge.synonyms import official_terms
from knowledge.tokenize import find_doc_numbers, tokenize

logger = logging.getLogger(__name__)

CANDIDATES = 300
ALPHA = 0.5  # weight of BM25 against dense, chosen on ../shared/eval (all three sets)
EXACT_BONUS = 1.0  # as large as any fused score can be


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
    cosine: float | None = None  # raw query-passage similarity, for the bot's confidence

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


def _scaled(ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """BM25 scores over the best one: zero already means "shares no term"."""
    top = ranked[0][1] if ranked else 0.0
    return [(chunk_id, score / top) for chunk_id, score in ranked] if top > 0 else []


def _min_max(ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Scores mapped onto [0, 1] within one candidate list (a single candidate gets 1)."""
    if not ranked:
        return []
    values = [score for _, score in ranked]
    low, high = min(values), max(values)
    span = high - low
    return [(chunk_id, (score - low) / span if span > 0 else 1.0) for chunk_id, score in ranked]


def normalize(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


class Retriever:
    def __init__(self, kb: KnowledgeBase, alpha: float = ALPHA, use_dense: bool = True, expand: bool = True) -> None:
        self.kb = kb
        self.expand = expand  # add the official terms for everyday words (knowledge/synonyms.py)
        self.alpha = alpha
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
        tokens = tokenize(query)
        if self.expand:
            tokens += [t for term in official_terms(query) for t in tokenize(term)]
        lexical = self.kb.lexical.search(tokens, CANDIDATES, allowed)
        dense: list[tuple[int, float]] = []
        if self.use_dense and len(self.kb.vectors):
            ids = np.fromiter(allowed, dtype=np.int64) if allowed is not None else None
            dense = self.kb.vectors.search(self._embed_query(query), CANDIDATES, ids)
        alpha = self.alpha if dense else 1.0
        scores: dict[int, float] = {}
        for ranked, weight in ((_scaled(lexical), alpha), (_min_max(dense), 1.0 - alpha)):
            for chunk_id, value in self._by_passage(ranked).items():
                scores[chunk_id] = scores.get(chunk_id, 0.0) + weight * value
        if dense and self.kb.pending:
            # Text stored a moment ago has no vector yet: judged on BM25 alone
            # until it does, instead of losing the dense half of its score.
            waiting = self.kb.pending
            for chunk_id, value in self._by_passage(_scaled(lexical)).items():
                if chunk_id in waiting:
                    scores[chunk_id] += (1.0 - alpha) * value
        for chunk_id in self._exact_matches(query, allowed):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + EXACT_BONUS
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
        hits = self.hits(best)
        raw = self._by_passage(dense)
        for hit in hits:
            hit.cosine = raw.get(hit.chunk_id)
        return hits

    def _by_passage(self, ranked: list[tuple[int, float]]) -> dict[int, float]:
        """Credit each window to its passage: a passage scores its best piece."""
        best: dict[int, float] = {}
        for chunk_id, value in ranked:
            passage = self.kb.passage_of.get(chunk_id, chunk_id)
            if value > best.get(passage, -1.0):
                best[passage] = value
        return best

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

    def hits(self, ranked: list[tuple[int, float]]) -> list[Hit]:
        """Hits for ranked chunk ids, skipping any deleted meanwhile."""
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
            if record.article_label:  # unnumbered text (a preamble, a plain notice) has no article
                article = {"label": record.article_label, "path": record.article_path or []}
            hits.append(Hit(chunk_id, score, record.kind, record.text, documents[record.document_id],
                            article, interpretation, record.header))
        return hits
