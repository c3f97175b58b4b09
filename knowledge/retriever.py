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
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from knowledge.base import KnowledgeBase
from knowledge.ranker import POOL, Candidate, LearnedRanker, features, shipped_ranker
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


# The formal clauses of a regulation: its purpose (为……，根据……，制定本规定) and its
# commencement or interpretation (本办法自……起施行, 由……负责解释); for a bare topic, as a
# hotline agent types it, also its scope (本规定适用于……). Each names the whole topic, so
# BM25 and the embedder rank it first for a topic query (公积金租房提取 -> 第一条, 第二条),
# above the articles that say what the rules are. A question (人在外地租房，能办租房提取吗)
# may be answered by the scope clause itself, and definitions (本法所称……) are substance.
_INSTRUMENT = "(?:规定|办法|条例|细则|法|意见|措施|规则|决定|方案)"
_ARTICLE = "^(?:第[一二三四五六七八九十百零〇]+条)?\\s*"
_FORMALITY = re.compile(
    rf"{_ARTICLE}为了?[^。]{{2,200}}?制[定订]本{_INSTRUMENT}"
    rf"|{_ARTICLE}本{_INSTRUMENT}(?:自|由)[^。]{{0,60}}?(?:施行|生效|负责解释)"
)
_SCOPE = re.compile(rf"{_ARTICLE}[^。]{{0,40}}?本{_INSTRUMENT}适用于")
# A question about those very clauses keeps them where they rank.
_ASKS_FORMALITY = re.compile(r"目的|宗旨|为什么制定|为何制定|适用|范围|施行|生效|实施日期|有效期|到期|截止|失效|解释权|负责解释")
_QUESTION = re.compile(r"[吗呢？?]|能否|能不能|可不可以|可以|是否|谁|哪|什么|怎么|如何|多少|几")
FORMALITY_PENALTY = 0.2  # of a fused score on [0, 1]: below a substantive article that matches as well
FORMALITY_SLACK = 5  # candidates beyond k, so that a demoted clause can make room


def is_formality(text: str, topic_only: bool = False) -> bool:
    """Whether a passage is a formal clause; ``topic_only``: the query is a bare topic."""
    text = text.strip()
    return bool(_FORMALITY.search(text) or (topic_only and _SCOPE.search(text)))


def asks_formalities(query: str) -> bool:
    return bool(_ASKS_FORMALITY.search(query))


def _ranks(values: dict[int, float]) -> dict[int, int]:
    """Each passage's place (0 = best) in one half's list."""
    return {chunk_id: n for n, (chunk_id, _) in enumerate(sorted(values.items(), key=lambda i: (-i[1], i[0])))}


def normalize(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


class Retriever:
    def __init__(
        self, kb: KnowledgeBase, alpha: float = ALPHA, use_dense: bool = True, expand: bool = True,
        ranker: LearnedRanker | None | str = "shipped",
    ) -> None:
        self.kb = kb
        self._titles_of: list[tuple[str, str]] | None = None
        # Long titles by their first two characters: a query is checked at each of its
        # positions against the few titles starting there, not against every title.
        self._titles_by_start: dict[str, list[tuple[str, str]]] = {}
        # The learned re-ranker (knowledge/ranker.py); None ranks by the fused score alone.
        # The shipped model knows one embedder's similarities: another's would mislead it; and
        # it ranks only if it beat fusion on the validation halves (its card's "default").
        if ranker == "shipped":
            shipped = shipped_ranker()
            usable = shipped is not None and shipped.default and shipped.embedder == kb.embedder.name
            ranker = shipped if usable else None
        self.ranker: LearnedRanker | None = ranker if use_dense else None  # type: ignore[assignment]
        self.expand = expand  # add the official terms for everyday words (knowledge/synonyms.py)
        self.alpha = alpha
        self.use_dense = use_dense
        # Documents never returned, as if not in the knowledge base: how near misses are
        # made for training and measuring refusal (bench/train_answerability.py).
        self.without: frozenset[str] = frozenset()
        # Passages never returned, the rest of their document kept: a near miss on the
        # same notice, which covers the topic but not the asked fact.
        self.without_passages: frozenset[int] = frozenset()
        self._embed_query = lru_cache(maxsize=1024)(kb.embedder.embed_query)

    def search(
        self, query: str, k: int = 10, status: str = "current",
        department: str | None = None, doc_number: str | None = None,
    ) -> list[Hit]:
        wanted = k + FORMALITY_SLACK
        candidates = self.candidates(query, max(wanted, POOL) if self.ranker else wanted, status, department,
                                     doc_number)
        if self.ranker is not None and candidates:
            ranked = self.rerank(query, candidates)
        else:
            ranked = [(c.chunk_id, c.fused) for c in candidates]
        hits = self.hits(ranked[:wanted])
        if not asks_formalities(query):
            topic_only = not _QUESTION.search(query)
            for hit in hits:
                if is_formality(hit.text, topic_only):
                    hit.score -= FORMALITY_PENALTY
            hits.sort(key=lambda h: -h.score)  # stable: ties keep their order
        cosine = {c.chunk_id: c.cosine for c in candidates}
        for hit in hits[:k]:
            hit.cosine = cosine.get(hit.chunk_id)
        return hits[:k]

    def candidates(
        self, query: str, k: int, status: str = "current",
        department: str | None = None, doc_number: str | None = None,
    ) -> list[Candidate]:
        """The best ``k`` passages by fused score, with what each half said of them."""
        self.kb.sync()
        allowed = self.kb.allowed(status, department, doc_number)
        if self.without or self.without_passages:
            gone = {c for d in self.without for c in self.kb.chunks_by_document.get(d, [])} | self.without_passages
            gone |= {window for window, passage in self.kb.passage_of.items() if passage in gone}
            allowed = (set(self.kb.filters) if allowed is None else allowed) - gone
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
        bm25, normalised = self._by_passage(_scaled(lexical)), self._by_passage(_min_max(dense))
        scores: dict[int, float] = {}
        for values, weight in ((bm25, alpha), (normalised, 1.0 - alpha)):
            for chunk_id, value in values.items():
                scores[chunk_id] = scores.get(chunk_id, 0.0) + weight * value
        if dense and self.kb.pending:
            # Text stored a moment ago has no vector yet: judged on BM25 alone
            # until it does, instead of losing the dense half of its score.
            waiting = self.kb.pending
            for chunk_id, value in bm25.items():
                if chunk_id in waiting:
                    scores[chunk_id] += (1.0 - alpha) * value
        exact = set(self._exact_matches(query, allowed))
        for chunk_id in exact:
            scores[chunk_id] = scores.get(chunk_id, 0.0) + EXACT_BONUS
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
        raw = self._by_passage(dense)
        bm25_rank = _ranks(bm25)
        dense_rank = _ranks(raw)
        return [
            Candidate(chunk_id, score, bm25.get(chunk_id), bm25_rank.get(chunk_id), raw.get(chunk_id),
                      normalised.get(chunk_id), dense_rank.get(chunk_id), chunk_id in exact)
            for chunk_id, score in best
        ]

    def rerank(self, query: str, candidates: list[Candidate]) -> list[tuple[int, float]]:
        """(chunk id, score) in the learned model's order, best first.

        The model's margin is squashed onto (0, 1), the fused score's range, so
        what adds to it downstream (the bot's evidence re-ranking) keeps its
        weight; a named 文号 or title keeps its document first, as in fusion.
        """
        assert self.ranker is not None
        margins = self.ranker.score(self.features(query, candidates))
        scored = [(c.chunk_id, 1.0 / (1.0 + math.exp(-m)) + EXACT_BONUS * c.exact)
                  for c, m in zip(candidates, margins)]
        return sorted(scored, key=lambda item: (-item[1], item[0]))

    def features(self, query: str, candidates: list[Candidate]) -> np.ndarray:
        records = self.kb.store.chunk_records([c.chunk_id for c in candidates])
        documents = self.kb.documents(list({r.document_id for r in records.values()}))
        return features(query, candidates, records, documents, self.kb.lexical.idf)

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
            by_start = self._long_titles()
            doc_ids = {doc_id for i in range(len(wanted) - 1) for doc_id, title in by_start.get(wanted[i:i + 2], ())
                       if wanted.startswith(title, i)}
        return [
            chunk_id for doc_id in doc_ids for chunk_id in self.kb.chunks_by_document.get(doc_id, [])
            if allowed is None or chunk_id in allowed
        ]

    def _long_titles(self) -> dict[str, list[tuple[str, str]]]:
        """(document id, normalized title) of titles long enough to name a document, by their
        first two characters; rebuilt when the knowledge base reloads its titles."""
        titles = self.kb.titles
        if self._titles_of is not titles:
            by_start: dict[str, list[tuple[str, str]]] = {}
            for doc_id, title in titles:
                normalized = normalize(title)
                if len(title) >= 8 and len(normalized) >= 2:
                    by_start.setdefault(normalized[:2], []).append((doc_id, normalized))
            self._titles_by_start, self._titles_of = by_start, titles
        return self._titles_by_start

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
