"""Retrieval metrics over a question file (API.md's `policybot eval`).

Three kinds of question line are understood:
- ``{"q", "gold": [substrings]}``: a hit holds one of the substrings;
- ``{"q", "gold_articles": ["<law>第N条", ...]}`` (STARD): a hit is that article
  of that law (with or without the 中华人民共和国 prefix);
- ``{"q", "answer", "docid"}`` (ncp): a hit holds the start of the answer;
- ``{"q", "unanswerable": true}``: nothing in the knowledge base answers it.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunking import split_text
from knowledge.base import KnowledgeBase
from knowledge.lexical import LexicalIndex
from knowledge.retriever import Hit, Retriever
from knowledge.tokenize import tokenize

ANSWER_START = 20  # characters of an ncp answer a passage must hold
LAW_PREFIX = "中华人民共和国"


def norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def load_questions(path: Path) -> list[dict[str, Any]]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not a JSON line ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("q"), str):
            raise ValueError(f'{path}:{number}: each line needs a "q" string')
        questions.append(item)
    return questions


def _law_key(name: str) -> str:
    name = norm(name)
    return name[len(LAW_PREFIX):] if name.startswith(LAW_PREFIX) else name


def hit_matches(question: dict[str, Any]) -> Callable[[Hit], bool] | None:
    """A predicate telling whether a hit answers the question; None if unanswerable."""
    if question.get("unanswerable"):
        return None
    if "gold_articles" in question:
        wanted = {_law_key(g) for g in question["gold_articles"]}
        return lambda h: bool(h.article) and _law_key(h.document.title + h.article["label"]) in wanted  # type: ignore[index]
    if "gold" in question:
        if not isinstance(question["gold"], list) or not all(isinstance(g, str) for g in question["gold"]):
            raise ValueError(f'"gold" must be a list of strings: {question["q"]}')
        golds = [norm(g) for g in question["gold"] if g]
        return lambda h: any(g in norm(h.text) for g in golds)
    if "answer" in question:
        start = norm(question["answer"])[:ANSWER_START]
        return lambda h: start in norm(h.text)
    raise ValueError(f"question has no gold, gold_articles, answer or unanswerable: {question['q']}")


SPLIT_SEED = "policybot-2026"  # fixed: a question's half never changes between runs
VALIDATION_SHARE = 0.5


def document_key(question: dict[str, Any], texts: Callable[[], dict[str, str]]) -> str:
    """The document a question is about, so that a whole document falls in one half.

    ncp names it (``docid``), STARD by its first gold article; a gold
    passage or answer is looked up in ``texts`` (document id -> normalised text,
    built only when needed). An unanswerable question is its own key.
    """
    if question.get("docid"):
        return f"doc:{question['docid']}"
    if question.get("gold_articles"):
        # A statute's unit is the article: 民法典 alone holds half of STARD's questions,
        # so splitting by law would leave one half mostly 民法典 and the other without it.
        return "article:" + _law_key(question["gold_articles"][0])
    wanted = [norm(g) for g in question.get("gold", []) if g]
    if "answer" in question and isinstance(question["answer"], str):
        wanted.append(norm(question["answer"])[:ANSWER_START])
    for document_id, text in texts().items():
        if any(w and w in text for w in wanted):
            return f"doc:{document_id}"
    return "q:" + norm(question["q"])


def split_of(key: str, seed: str = SPLIT_SEED) -> str:
    """"train" or "val" for a document key, by a fixed hash (about half each)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return "val" if int.from_bytes(digest[:8], "big") / 2**64 < VALIDATION_SHARE else "train"


def document_texts(kb: KnowledgeBase) -> dict[str, str]:
    """Every document's passages, normalised and joined: what `document_key` searches.

    Keyed by the document's normalised title, not its id: ids are drawn at random
    when a file is ingested, so a key by id would put a document in another half
    each time its corpus is ingested again (and a model trained on one ingest's
    train half could be scored on questions it was trained on).
    """
    records = kb.store.chunk_records([i for i in kb.filters if i not in kb.passage_of]).values()
    documents = kb.documents([r.document_id for r in records])
    texts: dict[str, list[str]] = {}
    for record in records:
        document = documents.get(record.document_id)
        texts.setdefault(norm(document.title) if document else record.document_id, []).append(norm(record.text))
    # Sorted: the order passages come back in is the database's (PostgreSQL's is not id order).
    return {title: "\n".join(sorted(parts)) for title, parts in sorted(texts.items())}


def split_questions(questions: list[dict[str, Any]], kb: KnowledgeBase, half: str) -> list[dict[str, Any]]:
    """The questions of one half ("train" or "val") of a file, split by document."""
    if half == "all":
        return questions
    cache: dict[str, str] = {}

    def texts() -> dict[str, str]:
        if not cache:
            cache.update(document_texts(kb))
        return cache

    return [q for q in questions if split_of(document_key(q, texts)) == half]


@dataclass
class Metrics:
    k: int
    answerable: int = 0
    unanswerable: int = 0
    hits_at_1: int = 0
    hits_at_k: int = 0
    reciprocal_ranks: float = 0.0
    misses: list[str] = field(default_factory=list)

    def add(self, rank: int | None, question: str) -> None:
        self.answerable += 1
        if rank is None:
            self.misses.append(question)
            return
        self.hits_at_1 += rank == 1
        self.hits_at_k += rank <= self.k
        self.reciprocal_ranks += 1.0 / rank

    def as_dict(self) -> dict[str, Any]:
        n = max(self.answerable, 1)
        return {
            "questions": self.answerable + self.unanswerable,
            "answerable": self.answerable,
            "hit@1": round(self.hits_at_1 / n, 4),
            f"hit@{self.k}": round(self.hits_at_k / n, 4),
            "mrr": round(self.reciprocal_ranks / n, 4),
        }


def evaluate(
    search: Callable[[str, int], list[Hit]], questions: Iterable[dict[str, Any]], k: int = 5,
    depth: int = 10,
) -> Metrics:
    """Rank of the first hit within ``depth`` results for every answerable question."""
    metrics = Metrics(k=k)
    for question in questions:
        matches = hit_matches(question)
        if matches is None:
            metrics.unanswerable += 1
            continue
        hits = search(question["q"], max(k, depth))
        rank = next((n for n, h in enumerate(hits, 1) if matches(h)), None)
        metrics.add(rank, question["q"])
    return metrics


class PlainBM25:
    """The issue's reference point: BM25 over plain jieba tokens of ~300-character
    pieces of every passage, with no bigrams, headers, windows or vectors.

    It is built in memory from the stored passages, so it sees exactly the text
    the hybrid retriever sees, cut the way a generic knowledge-base bot would.
    """

    PIECE = 300

    def __init__(self, kb: KnowledgeBase) -> None:
        self.retriever = Retriever(kb)
        self.index = LexicalIndex()
        self.pieces: list[tuple[int, str]] = []  # (passage id, piece text)
        current = kb.allowed("current")  # None: every passage is current
        passages = [i for i in kb.filters if i not in kb.passage_of and (current is None or i in current)]
        for chunk_id, record in kb.store.chunk_records(passages).items():
            for piece in split_text(record.text, self.PIECE):
                self.index.add(len(self.pieces), tokenize(piece, bigrams=False))
                self.pieces.append((chunk_id, piece))

    def search(self, query: str, k: int) -> list[Hit]:
        ranked = self.index.search(tokenize(query, bigrams=False), k)
        hits = self.retriever.hits([(self.pieces[n][0], score) for n, score in ranked])
        for hit, (n, _) in zip(hits, ranked):
            hit.text = self.pieces[n][1]  # the piece, not the whole passage, is what it returned
        return hits
