"""Interpretation sections are linked to the articles they explain, and the bot quotes them."""

from __future__ import annotations

from ingest import parse_interpretation
from tests.texts import DIBAO

DIBAO_INTERPRETATION = """《青川市民政局关于提高城乡最低生活保障标准的通知》政策解读
解读部门：青川市民政局
问：为什么要提高低保标准？
答：近年来居民消费价格持续上涨，为保障困难群众基本生活，市里决定提高城乡低保标准。
问：城市低保标准提高了多少？
答：城市最低生活保障标准由每人每月780元提高到820元，每人每月增加40元，惠及全市城市低保对象。
问：农村低保户什么时候能拿到新标准？
答：按照通知“（二）农村低保标准”和工作要求，各地要于2025年3月底前按新标准发放到位。
"""


def test_sections_link_to_the_article_they_name_or_paraphrase(service) -> None:  # type: ignore[no-untyped-def]
    from knowledge.writer import DocumentMeta

    policy = service.ingest_bytes(DIBAO.encode(), "dibao.txt", meta=DocumentMeta()).documents[0]
    outcome = service.add_interpretation(parse_interpretation(DIBAO_INTERPRETATION, "dibao-解读.txt"), None,
                                         document_id=policy.id)
    sections = service.store.interpretation_sections(outcome.interpretation_id)
    linked = {s["question"]: s["article"] for s in sections}
    assert linked["为什么要提高低保标准？"] is None  # background explains no single article
    assert linked["城市低保标准提高了多少？"].startswith("（一）城市低保标准")
    assert linked["农村低保户什么时候能拿到新标准？"].startswith("（二）农村低保标准")
    detail = service.document_detail(policy.id)
    assert [s["article"] for s in detail["interpretations"][0]["sections"]] == list(linked.values())


def test_the_bot_adds_the_linked_interpretation_with_its_department(service) -> None:  # type: ignore[no-untyped-def]
    from bot.service import Bot
    from knowledge.retriever import Retriever
    from knowledge.writer import DocumentMeta

    policy = service.ingest_bytes(DIBAO.encode(), "dibao.txt", meta=DocumentMeta()).documents[0]
    service.add_interpretation(parse_interpretation(DIBAO_INTERPRETATION, "dibao-解读.txt"), None,
                               document_id=policy.id)
    service.kb.embed_pending()
    answer = Bot(service.kb, Retriever(service.kb)).ask("城市低保标准提高了多少？")
    assert answer.answered
    kinds = [c.kind for c in answer.citations]
    assert "interpretation" in kinds
    assert "【政策解读·青川市民政局】" in answer.answer or answer.citations[0].kind == "interpretation"
    assert "820元" in answer.answer


def test_an_interpretation_match_is_answered_from_the_article_it_explains(service) -> None:  # type: ignore[no-untyped-def]
    from bot.service import Bot
    from knowledge.retriever import Retriever
    from knowledge.writer import DocumentMeta

    policy = service.ingest_bytes(DIBAO.encode(), "dibao.txt", meta=DocumentMeta()).documents[0]
    service.add_interpretation(parse_interpretation(DIBAO_INTERPRETATION, "dibao-解读.txt"), None,
                               document_id=policy.id)
    service.kb.embed_pending()
    bot = Bot(service.kb, Retriever(service.kb))
    question = "农村低保户什么时候能拿到新标准？"
    assert Retriever(service.kb).search(question, k=1)[0].kind == "interpretation"  # the Q&A matches best
    answer = bot.ask(question)
    assert answer.answered
    first, second = answer.citations[:2]
    assert first.kind == "article" and first.article["label"].startswith("（二）农村低保标准")
    assert second.kind == "interpretation"
    assert "【政策解读·青川市民政局】" in answer.answer and "2025年3月底前" in answer.answer
