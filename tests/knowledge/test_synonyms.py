"""Everyday words reach the terms documents use."""

from __future__ import annotations

from knowledge.synonyms import official_terms
from tests.texts import DIBAO


def test_official_terms_for_everyday_words() -> None:
    assert set(official_terms("刚出生的宝宝怎么交医保")) >= {"新生儿", "医疗保险"}
    assert "高校毕业生" in official_terms("公司招了个大学生有补助吗")
    assert official_terms("城市最低生活保障标准") == []
    assert "公共租赁住房" in official_terms("住公租房能提公积金吗")
    assert "已婚" in official_terms("结了婚的要带什么材料")
    assert "补助" not in official_terms("补助标准")  # already said


NEWBORN = """青川市医疗保障局关于新生儿参加居民医保的通知
青医保发〔2025〕2号
一、参保办理
（一）新生儿参保。新生儿在出生后90天内完成参保缴费的，自出生之日起享受居民医保待遇。
"""


def test_expansion_finds_the_article_in_official_wording(service) -> None:  # type: ignore[no-untyped-def]
    from knowledge.retriever import Retriever
    from knowledge.writer import DocumentMeta

    service.ingest_bytes(DIBAO.encode(), "dibao.txt", meta=DocumentMeta())
    service.ingest_bytes(NEWBORN.encode(), "newborn.txt", meta=DocumentMeta())
    question = "宝宝看病怎么报销"
    assert Retriever(service.kb, use_dense=False, expand=False).search(question, k=3) == []
    expanded = Retriever(service.kb, use_dense=False).search(question, k=3)
    assert expanded and "新生儿在出生后90天内" in expanded[0].text
