"""Chunks follow structure, split long text at sentences, and never lose a character."""

from __future__ import annotations

import pytest
from _ingest_paths import seed_path, seed_text

from ingest import (
    Article,
    InterpretationSection,
    ParsedInterpretation,
    chunk_article,
    chunk_interpretation,
    chunk_plain,
    chunks_for_document,
    parse_policy,
)
from ingest.chunking import split_text


def covered(text: str, pieces: list[str]) -> bool:
    """Every non-blank character of text lies in some piece, pieces in order."""
    marks = [False] * len(text)
    start = 0
    for piece in pieces:
        at = text.find(piece, start)
        if at < 0:
            return False
        for i in range(at, at + len(piece)):
            marks[i] = True
        start = at + 1
    return all(mark or ch.isspace() for ch, mark in zip(text, marks))


def test_short_article_is_one_chunk_with_header() -> None:
    article = Article("（十）加强政策解读", ["三、提升政务开放参与水平", "（十）加强政策解读"], "（十）加强政策解读。按照原则做好解读。")
    chunks = chunk_article("某实施意见", article)
    assert len(chunks) == 1
    assert chunks[0].header == "某实施意见 > 三、提升政务开放参与水平 > （十）加强政策解读"
    assert chunks[0].text == article.text and chunks[0].part == 0


def test_long_article_split_at_sentences_with_overlap() -> None:
    sentences = [f"第{i}句话说明一项具体的政策要求并写得比较长一些以便测试。" for i in range(60)]
    article = Article("第五条", ["第五条"], "第五条　" + "".join(sentences))
    chunks = chunk_article("示例条例", article, max_chars=300, overlap=80)
    assert len(chunks) > 1
    assert [c.part for c in chunks] == list(range(len(chunks)))
    assert all(len(c.text) <= 300 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks)
    assert covered(article.text, [c.text for c in chunks])
    # Consecutive chunks share the sentence at the cut.
    assert chunks[1].text.split("。")[0] in chunks[0].text


def test_sentence_longer_than_limit_is_cut_at_commas_then_hard() -> None:
    text = "，".join(f"第{i}个很长的分句没有句号" for i in range(80)) + "。" + "".join(f"无标点{i}" for i in range(120))
    pieces = split_text(text, 100, 20)
    assert all(len(p) <= 100 for p in pieces)
    assert covered(text, pieces)


def test_plain_text_is_cut_into_short_passages() -> None:
    text = "".join(f"通知第{i}句内容，群众可以按要求办理相关事项。" for i in range(50))
    chunks = chunk_plain("示例通知", text)
    assert all(len(c.text) <= 300 for c in chunks) and len(chunks) > 3
    assert all(c.header == "示例通知" for c in chunks)
    assert "".join(c.text for c in chunks) == text


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_every_article_fully_covered_on_seeds(prefix: str) -> None:
    root = parse_policy(seed_text(prefix), seed_path(prefix).name)
    for doc in root.walk():
        pairs = chunks_for_document(doc, max_chars=200, overlap=40)
        assert {index for index, _ in pairs} == set(range(len(doc.articles)))
        for index, article in enumerate(doc.articles):
            pieces = [c.text for i, c in pairs if i == index]
            assert covered(article.text, pieces)
            limit = 200 if article.label else 300
            assert all(len(p) <= limit for p in pieces)
            headers = {c.header for i, c in pairs if i == index}
            assert headers == {" > ".join([doc.title, *article.path])}


def test_interpretation_chunks() -> None:
    interpretation = ParsedInterpretation(
        title="示例解读",
        sections=[InterpretationSection("答复内容。", "问题一？"), InterpretationSection("一段说明。")],
    )
    pairs = chunk_interpretation(interpretation)
    assert [(i, c.header, c.text) for i, c in pairs] == [
        (0, "示例解读 > 问题一？", "问：问题一？\n答：答复内容。"),
        (1, "示例解读", "一段说明。"),
    ]
