"""A learned ranker over the hybrid retriever's candidates.

The fused score (BM25 over the best, min-max cosine) decides which passages
are candidates; a LightGBM lambdarank model, trained on the train halves of
the evaluation sets (``bench/train_ranker.py``), then orders them from what
each half knows and what neither weighs: ranks and raw scores of both halves,
how much of the question (by idf) the passage, its heading and its document's
title hold, the kind and number of the article, its length, and how many
other candidates share its document.

The model is a small text file shipped in the package (``ranker_model.txt``)
beside its card (``ranker_model.json``: features, training sets, figures).
Feature order is part of the model: a card whose ``features`` differ from
``FEATURES`` is refused rather than scored wrongly.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.records import ChunkRecord, DocumentRecord, passage_text
from knowledge.tokenize import _cn_to_int, tokenize

logger = logging.getLogger(__name__)

MODEL_FILE = "ranker_model.txt"
CARD_FILE = "ranker_model.json"
POOL = 40  # fused candidates the model re-orders

FEATURES = (
    "fused", "fused_rank",
    "bm25", "bm25_rank",
    "cosine", "cosine_gap", "dense", "dense_rank",
    "exact",
    "coverage_idf", "coverage", "title_coverage", "header_coverage", "bigram_coverage", "longest_match",
    "log_length", "kind", "article_number", "status",
    "same_document", "document_rank", "query_tokens",
)
KINDS = {"article": 0, "faq": 1, "interpretation": 2}
STATUS_CODES = {"current": 0, "amended": 1, "repealed": 2, "expired": 3}
_ARTICLE_NUMBER = re.compile(r"第([零〇一二两三四五六七八九十百千\d]+)条")
_CJK = re.compile(r"[\u4e00-\u9fff]+")


@dataclass
class Candidate:
    """What the retriever knows of one passage before the model sees it."""

    chunk_id: int
    fused: float
    bm25: float | None = None
    bm25_rank: int | None = None
    cosine: float | None = None
    dense: float | None = None
    dense_rank: int | None = None
    exact: bool = False


def _norm(text: str) -> str:
    return "".join(text.split()).lower()


def _bigrams(text: str) -> set[str]:
    return {run[i:i + 2] for run in _CJK.findall(text) for i in range(len(run) - 1)}


def _coverage(terms: list[str], weights: list[float], haystack: str) -> float:
    total = sum(weights)
    if not total:
        return 0.0
    return sum(w for t, w in zip(terms, weights) if t in haystack) / total


def _longest_match(query: str, body: str) -> float:
    """The longest stretch of the question found verbatim in the passage, over the question's length."""
    if not query or not body:
        return 0.0
    match = SequenceMatcher(None, query, body, autojunk=False).find_longest_match(0, len(query), 0, len(body))
    return match.size / len(query)


def article_number(label: str | None) -> float:
    """第十二条 -> 12; NaN for text that is not a numbered article."""
    if not label:
        return math.nan
    match = _ARTICLE_NUMBER.search(label)
    value = _cn_to_int(match.group(1)) if match else None
    return float(value) if value is not None else math.nan


def features(
    query: str, candidates: list[Candidate], records: dict[int, ChunkRecord],
    documents: dict[str, DocumentRecord], idf: Any,
) -> np.ndarray:
    """One row of ``FEATURES`` per candidate (in the given, fused order)."""
    terms = [_norm(t) for t in dict.fromkeys(tokenize(query, bigrams=False))]
    terms = [t for t in terms if t]
    weights = [max(idf(t), 0.0) for t in terms]
    query_text = _norm(query)
    query_bigrams = _bigrams(query_text)
    cosines = [c.cosine for c in candidates if c.cosine is not None]
    best_cosine = max(cosines) if cosines else math.nan
    by_document: dict[str, int] = {}
    document_rank: dict[str, int] = {}
    for c in candidates:
        record = records.get(c.chunk_id)
        if record is None:
            continue
        by_document[record.document_id] = by_document.get(record.document_id, 0) + 1
        document_rank.setdefault(record.document_id, len(document_rank))
    rows = np.full((len(candidates), len(FEATURES)), np.nan, dtype=np.float32)
    for n, c in enumerate(candidates):
        record = records.get(c.chunk_id)
        if record is None:
            continue
        document = documents.get(record.document_id)
        body = _norm(passage_text(record.header, record.text))
        title = _norm(document.title) if document else ""
        nan = math.nan
        rows[n] = (
            c.fused, n,
            c.bm25 if c.bm25 is not None else 0.0, c.bm25_rank if c.bm25_rank is not None else nan,
            c.cosine if c.cosine is not None else nan,
            best_cosine - c.cosine if c.cosine is not None else nan,
            c.dense if c.dense is not None else nan, c.dense_rank if c.dense_rank is not None else nan,
            float(c.exact),
            _coverage(terms, weights, body), _coverage(terms, [1.0] * len(terms), body),
            _coverage(terms, weights, title), _coverage(terms, weights, _norm(record.header)),
            len(query_bigrams & _bigrams(body)) / len(query_bigrams) if query_bigrams else 0.0,
            _longest_match(query_text, body),
            math.log1p(len(record.text)), KINDS.get(record.kind, len(KINDS)),
            article_number(record.article_label),
            STATUS_CODES.get(document.status, len(STATUS_CODES)) if document else nan,
            by_document[record.document_id], document_rank[record.document_id], len(terms),
        )
    return rows


class RankerError(RuntimeError):
    """The shipped model cannot be used (missing package, wrong features)."""


class LearnedRanker:
    """Scores candidate rows with a LightGBM model; higher is better."""

    def __init__(self, model_path: Path, card: dict[str, Any]) -> None:
        try:
            import lightgbm
        except ImportError as exc:  # pragma: no cover - lightgbm is a dependency
            raise RankerError("the learned ranker needs the lightgbm package: pip install lightgbm") from exc
        if tuple(card.get("features", ())) != FEATURES:
            raise RankerError(f"{model_path}: its features {card.get('features')} are not this code's {FEATURES}; "
                              "retrain it with bench/train_ranker.py")
        self.booster = lightgbm.Booster(model_file=str(model_path))
        self.card = card
        self.version = card.get("version", "unversioned")
        self.embedder = card.get("embedder")  # whose cosines it was trained on
        self.default = bool(card.get("default"))  # it beat fusion on the validation halves

    @classmethod
    def from_files(cls, model_path: Path, card_path: Path) -> LearnedRanker:
        return cls(model_path, json.loads(card_path.read_text(encoding="utf-8")))

    def score(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0)
        return np.asarray(self.booster.predict(rows, num_threads=1), dtype=np.float64)


@lru_cache(maxsize=1)
def shipped_ranker() -> LearnedRanker | None:
    """The model in the package, or None (logged) when there is none or it cannot load."""
    package = resources.files("knowledge")
    model, card = Path(str(package.joinpath(MODEL_FILE))), Path(str(package.joinpath(CARD_FILE)))
    if not model.is_file() or not card.is_file():
        logger.warning("no learned ranker in the package (%s); ranking by the fused score", MODEL_FILE)
        return None
    try:
        return LearnedRanker.from_files(model, card)
    except (RankerError, OSError, ValueError) as exc:
        logger.error("learned ranker not loaded, ranking by the fused score: %s", exc)
        return None

