from __future__ import annotations

import pytest

from knowledge.tokenize import STOPWORDS, find_doc_numbers, tokenize, warm_up


@pytest.fixture(scope="module", autouse=True)
def _jieba_loaded() -> None:
    warm_up()


@pytest.mark.parametrize(
    ("text", "doc_number"),
    [
        ("国办发〔2018〕23号", "国办发〔2018〕23号"),
        ("根据国办发[2018]23号文件", "国办发〔2018〕23号"),
        ("（国办发（2018）23号）", "国办发〔2018〕23号"),
        ("国办发［2018］２３号", "国办发〔2018〕23号"),
        ("国办发【2018】023号", "国办发〔2018〕23号"),
        ("转发粤府办〔2018〕19号", "粤府办〔2018〕19号"),
        ("文件和江府办〔2018〕14号的要求", "江府办〔2018〕14号"),
        ("印发了国办发〔2018〕23号", "国办发〔2018〕23号"),
        ("人社部发 〔2019〕 5 号", "人社部发〔2019〕5号"),
    ],
)
def test_doc_numbers_are_single_normalised_tokens(text: str, doc_number: str) -> None:
    assert doc_number in tokenize(text)


def test_query_and_document_forms_of_a_doc_number_meet() -> None:
    doc = tokenize("为贯彻落实《国务院办公厅关于推进政务公开的通知》（国办发［2018］23号）精神")
    assert set(tokenize("国办发〔2018〕23号")) <= set(doc)


def test_decree_number() -> None:
    assert "国务院令第699号" in tokenize("依照国务院令第六百九十九号")


def test_article_references_are_whole_and_numerals_unified() -> None:
    assert "第10条" in tokenize("依照本条例第十条规定")
    assert "第10条" in tokenize("第10条是怎么规定的")
    assert "第23条" in tokenize("第二十三条")
    assert "第3章" in tokenize("第三章 法律责任")


@pytest.mark.parametrize(
    "name",
    ["人力资源社会保障厅", "审计厅", "发展改革委", "市场监管局", "住房城乡建设厅", "卫生健康委", "网信办", "国务院办公厅"],
)
def test_department_names_stay_whole(name: str) -> None:
    assert name in tokenize(f"由省{name}牵头，各市州政府配合。")


@pytest.mark.parametrize("term", ["政务公开", "政策解读", "双随机一公开", "互联网+政务服务", "最低生活保障", "住房公积金", "健康码"])
def test_policy_terms_stay_whole(term: str) -> None:
    assert term in tokenize(f"关于进一步加强{term}工作的意见")


def test_numbers_keep_their_units() -> None:
    tokens = tokenize("在30个工作日内办结，开通24小时热线，补贴500元")
    assert {"30个工作日", "工作日", "24小时", "小时", "500元"} <= set(tokens)
    assert "工作日" in tokenize("需要几个工作日")


def test_punctuation_dropped_and_ascii_lowercased() -> None:
    tokens = tokenize("（牵头单位：省审计厅）；“放管服”改革！！ WeChat、ABC…… —— 12345")
    assert "牵头单位" in tokens and "放管服" in tokens
    assert "wechat" in tokens and "abc" in tokens
    assert not any(t in tokens for t in ["（", "：", "；", "“", "！", "、", "……", "——", "(", ":"])
    assert all(t.strip() == t and t for t in tokens)


def test_stopwords_dropped_content_words_kept() -> None:
    tokens = tokenize("请问失业保险金的领取条件是什么？")
    assert "的" not in tokens and "是" not in tokens and "什么" not in tokens
    assert "失业保险金" in tokens and "领取" in tokens and "条件" in tokens
    assert "保险" not in STOPWORDS and "申请" not in STOPWORDS


def test_bigrams_and_search_mode_are_extra_tokens() -> None:
    plain = tokenize("住房公积金提取")
    with_bigrams = tokenize("住房公积金提取", bigrams=True)
    assert with_bigrams[: len(plain)] == plain
    assert {"公积", "积金", "金提"} <= set(with_bigrams)
    assert "社会保险" in tokenize("中华人民共和国社会保险法", search_mode=True)


def test_empty_and_noise_only() -> None:
    assert tokenize("") == []
    assert tokenize("，。！？ \n\t") == []


def test_find_doc_numbers() -> None:
    text = "根据国办发[2018]23号和粤府办（2018）19号，参照国卫办医发〔2020〕05号"
    assert find_doc_numbers(text) == [
        "国办发〔2018〕23号",
        "粤府办〔2018〕19号",
        "国卫办医发〔2020〕5号",
        "国卫办医发〔2020〕05号",
    ]
    assert find_doc_numbers("失业保险金怎么领") == []
