"""Formal clauses (purpose, commencement; scope for a bare topic) rank below the rules."""

from __future__ import annotations

import pytest

from knowledge import retriever as retrieval
from knowledge.retriever import Retriever, asks_formalities, is_formality


def test_formal_clauses_are_recognised() -> None:
    purpose = "第一条　为规范住房公积金租赁住房提取业务，根据《住房公积金管理条例》，制定本规定。"
    scope = "第二条　本规定适用于在本市缴存住房公积金的职工。"
    commencement = "第十二条　本规定由市住房公积金管理中心负责解释，自2022年4月1日起施行。"
    assert is_formality(purpose) and is_formality(commencement)
    assert not is_formality(scope) and is_formality(scope, topic_only=True)
    assert not is_formality("第二条　本法所称保险，是指投保人根据合同约定……")  # a definition is substance
    assert not is_formality("第七条　租房提取每人每月限额1200元。")
    assert asks_formalities("租房提取规定什么时候施行") and asks_formalities("这个办法适用于哪些人")
    assert not asks_formalities("公积金租房提取")


def labels(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.article["label"] if h.article else "" for h in hits]


def test_a_topic_search_shows_the_rules_first(samples_kb, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    query = "公积金租房提取"
    monkeypatch.setattr(retrieval, "FORMALITY_PENALTY", 0.0)
    plain = Retriever(samples_kb, ranker=None).search(query, k=5)
    monkeypatch.undo()
    hits = Retriever(samples_kb, ranker=None).search(query, k=5)
    formal = [h for h in plain if is_formality(h.text, topic_only=True)]
    assert formal, "without the penalty the purpose or scope clause is among the first five"
    assert not is_formality(hits[0].text, topic_only=True), labels(hits)
    place = {h.chunk_id: n for n, h in enumerate(hits)}
    for clause in formal:  # each moved down, or out of the first five
        before = plain.index(clause)
        assert place.get(clause.chunk_id, len(hits)) > before, (labels(plain), labels(hits))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # Asked about them, the clauses are where they rank.
    asked = Retriever(samples_kb, ranker=None).search("租房提取规定从什么时候开始施行", k=3)
    assert any("施行" in h.text for h in asked), labels(asked)
