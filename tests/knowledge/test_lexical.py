from __future__ import annotations

import pytest

from knowledge.lexical import LexicalIndex
from knowledge.tokenize import tokenize, warm_up

CHUNKS = {
    1: "职工住房公积金提取：缴存职工购买自住住房的，可以申请提取住房公积金。",
    2: "城乡居民最低生活保障对象每月领取低保金，由县级民政部门审核确认。",
    3: "企业复工复产须制定疫情防控方案，员工返岗前须出示健康码。",
    4: "为贯彻落实国办发〔2018〕23号文件精神，推进政务公开。（牵头单位：省审计厅）",
    5: "住房公积金贷款利率按照中国人民银行规定执行。",
}


@pytest.fixture()
def index() -> LexicalIndex:
    warm_up()
    idx = LexicalIndex()
    for chunk_id, text in CHUNKS.items():
        idx.add(chunk_id, tokenize(text))
    return idx


def test_ranking_sanity(index: LexicalIndex) -> None:
    assert index.search(tokenize("住房公积金怎么提取"), 3)[0][0] == 1
    assert index.search(tokenize("低保金谁来审核"), 3)[0][0] == 2
    assert index.search(tokenize("国办发〔2018〕23号"), 3)[0][0] == 4
    assert index.search(tokenize("省审计厅负责什么"), 3)[0][0] == 4
    hits = index.search(tokenize("住房公积金"), 10)
    assert {c for c, _ in hits} == {1, 5}
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)


def test_no_match_and_k(index: LexicalIndex) -> None:
    assert index.search(tokenize("航天发射"), 5) == []
    assert index.search([], 5) == []
    assert index.search(tokenize("住房公积金"), 0) == []
    assert len(index.search(tokenize("住房公积金"), 1)) == 1


def test_remove_takes_effect_at_once(index: LexicalIndex) -> None:
    assert 1 in index and len(index) == 5
    assert index.remove(1) is True
    assert 1 not in index and len(index) == 4
    assert [c for c, _ in index.search(tokenize("住房公积金提取"), 5)] == [5]
    assert index.remove(1) is False


def test_add_replaces_and_new_text_is_searchable(index: LexicalIndex) -> None:
    index.add(6, tokenize("个体工商户办理营业执照须提交身份证明。"))
    assert index.search(tokenize("营业执照"), 3)[0][0] == 6
    index.add(6, tokenize("残疾人两项补贴按月发放。"))
    assert len(index) == 6
    assert index.search(tokenize("营业执照"), 3) == []
    assert index.search(tokenize("残疾人两项补贴"), 3)[0][0] == 6


def test_allowed_filter_set_and_predicate(index: LexicalIndex) -> None:
    query = tokenize("住房公积金")
    assert [c for c, _ in index.search(query, 5, allowed={5, 2})] == [5]
    assert [c for c, _ in index.search(query, 5, allowed=lambda c: c != 1)] == [5]
    assert index.search(query, 5, allowed=set()) == []
    assert index.search(query, 5, allowed={99}) == []


def test_repeated_query_terms_count_once(index: LexicalIndex) -> None:
    once = index.search(["健康码"], 1)
    assert index.search(["健康码", "健康码"], 1) == once


def test_length_normalisation_and_parameters() -> None:
    idx = LexicalIndex(k1=1.2, b=0.75)
    idx.add(1, ["低保"] + ["填充"] * 50)
    idx.add(2, ["低保", "申请"])
    assert idx.search(["低保"], 2)[0][0] == 2
    flat = LexicalIndex(k1=1.2, b=0.0)
    flat.add(1, ["低保"] + ["填充"] * 50)
    flat.add(2, ["低保", "申请"])
    s = dict(flat.search(["低保"], 2))
    assert s[1] == pytest.approx(s[2])


def test_slots_are_reused_after_removal() -> None:
    idx = LexicalIndex()
    for round_ in range(3):
        for i in range(2000):
            idx.add(round_ * 10_000 + i, [f"t{i % 50}", "共同"])
        for i in range(2000):
            idx.remove(round_ * 10_000 + i)
    assert len(idx) == 0
    idx.add(7, ["共同"])
    assert idx.search(["共同"], 5) == [(7, pytest.approx(idx.search(["共同"], 1)[0][1]))]


def test_add_many_matches_add() -> None:
    a, b = LexicalIndex(), LexicalIndex()
    items = [(i, tokenize(t)) for i, t in CHUNKS.items()]
    for i, toks in items:
        a.add(i, toks)
    b.add_many(items)
    q = tokenize("住房公积金提取")
    assert a.search(q, 5) == b.search(q, 5)


def test_ids_lists_indexed_chunks(index: LexicalIndex) -> None:
    index.remove(3)
    assert sorted(index.ids()) == [1, 2, 4, 5]
