"""Train and validation halves of an eval file: by document, with a fixed seed."""

from __future__ import annotations

import json

from knowledge.evaluation import document_key, document_texts, split_of, split_questions
from tests.paths import SAMPLES


def test_split_is_fixed_and_about_half() -> None:
    keys = [f"doc:{n}" for n in range(2000)]
    halves = [split_of(k) for k in keys]
    assert halves == [split_of(k) for k in keys], "the same key always falls in the same half"
    assert set(halves) == {"train", "val"}
    assert 0.45 < halves.count("val") / len(halves) < 0.55
    assert [split_of(k, seed="other") for k in keys] != halves, "the seed decides the split"


def test_document_keys_for_each_kind_of_question() -> None:
    def nothing() -> dict[str, str]:
        raise AssertionError("a question naming its document needs no text search")

    assert document_key({"q": "x", "answer": "y", "docid": "abc"}, nothing) == "doc:abc"
    assert document_key({"q": "x", "gold_articles": ["中华人民共和国民法典第五十四条", "个体工商户条例第二条"]},
                        nothing) == "article:民法典第五十四条"
    assert document_key({"q": "x", "gold_articles": ["民法典第五十四条"]}, nothing) == "article:民法典第五十四条"
    texts = {"d1": "第一条为了规范管理", "d2": "第七条租房提取每月不超过1500元"}
    assert document_key({"q": "x", "gold": ["每月不超过 1500元"]}, lambda: texts) == "doc:d2"
    assert document_key({"q": "没有的", "unanswerable": True}, lambda: texts) == "q:没有的"


def test_questions_about_one_document_stay_in_one_half(samples_kb) -> None:  # type: ignore[no-untyped-def]
    questions = [json.loads(line) for line in (SAMPLES / "questions_blind2.jsonl").read_text("utf-8").splitlines()
                 if line.strip()]
    texts = document_texts(samples_kb)
    # Keyed by title: the repealed and the current 医保 rules share one, so one half holds both versions.
    assert len(texts) == 3, sorted(texts)
    train = split_questions(questions, samples_kb, "train")
    val = split_questions(questions, samples_kb, "val")
    assert len(train) + len(val) == len(questions)
    assert train and val
    keys = {half: {document_key(q, lambda: texts) for q in qs} for half, qs in (("train", train), ("val", val))}
    assert not keys["train"] & keys["val"]
    assert split_questions(questions, samples_kb, "all") == questions



def test_halves_do_not_change_when_the_corpus_is_ingested_again(samples_kb, embedder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from knowledge.base import KnowledgeBase
    from knowledge.folder import ingest_paths
    from knowledge.service import KnowledgeService

    again = KnowledgeBase(tmp_path, embedder)
    _, failures = ingest_paths(KnowledgeService(again), [SAMPLES])
    assert not failures, failures
    assert {d.id for d in again.store.list_documents()}.isdisjoint({d.id for d in samples_kb.store.list_documents()})
    assert document_texts(again) == document_texts(samples_kb)
    for name in ("questions_blind.jsonl", "questions_blind2.jsonl"):
        questions = [json.loads(line) for line in (SAMPLES / name).read_text("utf-8").splitlines() if line.strip()]
        assert split_questions(questions, again, "val") == split_questions(questions, samples_kb, "val"), name
