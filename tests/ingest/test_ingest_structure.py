"""parse_policy rules beyond the seeds: laws, plain notices, cross-references, odd input."""

from __future__ import annotations

import pytest
from _ingest_paths import NCP_DOCS, STARD_LAWS

from ingest import IngestError, parse_policy
from ingest.patterns import law_heading, policy_heading


def test_stard_law_articles_labelled_by_number() -> None:
    path = STARD_LAWS / "个体工商户条例.txt"
    if not path.exists():
        pytest.skip("STARD laws not available")
    doc = parse_policy(path.read_text(encoding="utf-8"), path.name)
    assert doc.title == "个体工商户条例"
    assert doc.articles[0].label == "第二条"
    assert doc.articles[0].path == ["第二条"]
    # Continuation paragraphs belong to the article above them.
    assert "个体工商户可以个人经营，也可以家庭经营。" in doc.articles[0].text
    assert all(a.label.startswith("第") and a.label.endswith("条") for a in doc.articles)


def test_law_items_stay_inside_their_article() -> None:
    path = STARD_LAWS / "中华人民共和国民法典.txt"
    if not path.exists():
        pytest.skip("STARD laws not available")
    doc = parse_policy(path.read_text(encoding="utf-8"), path.name)
    guardians = next(a for a in doc.articles if a.label == "第二十七条")
    assert "（一）祖父母、外祖父母；" in guardians.text
    assert not any(a.label.startswith("（") for a in doc.articles)


def test_every_stard_law_parses_into_numbered_articles() -> None:
    paths = sorted(STARD_LAWS.glob("*.txt"))
    if not paths:
        pytest.skip("STARD laws not available")
    for path in paths:
        doc = parse_policy(path.read_text(encoding="utf-8"), path.name)
        name = path.read_text(encoding="utf-8").split("\n", 1)[0].strip()
        assert doc.title == name, path.name
        assert doc.articles and all(a.label.endswith("条") for a in doc.articles), path.name


def test_law_with_chapters_builds_paths() -> None:
    text = "示例市养犬管理办法\n第一章　总则\n第一条　为了规范养犬行为，制定本办法。\n第二条　本办法适用于本市。依照第一条规定执行。\n第二章　登记\n第三条　养犬应当登记。\n第十条规定的情形除外。"
    doc = parse_policy(text)
    assert [a.label for a in doc.articles] == ["第一条", "第二条", "第三条"]
    assert doc.articles[2].path == ["第二章　登记", "第三条"]
    # A paragraph opening with a cross-reference is a continuation, not an article.
    assert doc.articles[2].text.endswith("第十条规定的情形除外。")


def test_cross_references_mid_sentence_are_not_headings() -> None:
    text = (
        "示例县便民服务实施意见\n一、总体要求\n（一）工作目标。按照本意见第（三）项和第十条的要求推进。"
        "具体见二、有关内容。\n（二）基本原则。依照第十条执行。\n二、保障措施\n（一）加强领导。各单位要落实。"
    )
    doc = parse_policy(text)
    assert [a.label for a in doc.articles] == ["（一）工作目标", "（二）基本原则", "（一）加强领导"]
    assert doc.articles[2].path == ["二、保障措施", "（一）加强领导"]


def test_items_stay_in_their_article_and_long_headings_use_the_number() -> None:
    text = (
        "示例办法\n一、申请条件\n（一）基本条件。申请人应当符合下列条件：\n1.年满十八周岁；\n（1）具有本市户籍；\n2．无不良记录。\n"
        "（二）这是一个非常长的标题没有句号并且一直写下去直到超过了四十个字的限制所以只能用编号来作为标签的情形示例文字\n正文。"
    )
    doc = parse_policy(text)
    assert [a.label for a in doc.articles] == ["（一）基本条件", "（二）"]
    assert "1.年满十八周岁；" in doc.articles[0].text and "2．无不良记录。" in doc.articles[0].text


def test_section_intro_becomes_unit_labelled_with_the_section() -> None:
    text = "示例方案\n一、工作任务\n围绕重点工作推进。\n（一）任务一。内容一。\n（二）任务二。内容二。"
    doc = parse_policy(text)
    assert doc.articles[0].label == "一、工作任务"
    assert doc.articles[0].path == ["一、工作任务"]
    assert doc.articles[0].text == "一、工作任务\n围绕重点工作推进。"


def test_docnum_variants_are_normalised() -> None:
    for printed in ("示府发[2019]3号", "示府发［2019］3号", "示府发(2019)3号", "示府发〔2019〕3号"):
        doc = parse_policy(f"{printed}\n示例市人民政府关于示例工作的通知\n各区人民政府：\n现就有关事项通知如下。\n示例市人民政府\n2019年3月1日")
        assert doc.doc_number == "示府发〔2019〕3号"
        assert doc.title == "示例市人民政府关于示例工作的通知"
        assert doc.issuers == ["示例市人民政府"]
        assert doc.publish_date == "2019-03-01"
        assert doc.recipients == "各区人民政府："


def test_ncp_notices_are_labelled_only_by_their_inline_headings() -> None:
    paths = sorted(NCP_DOCS.glob("*.txt"))
    if not paths:
        pytest.skip("ncp docs not available")
    labelled = 0
    for path in paths:
        doc = parse_policy(path.read_text(encoding="utf-8"), path.name)
        assert doc.title and len(doc.title) <= 60
        assert doc.articles
        assert all(a.label == "" or policy_heading(a.label) or law_heading(a.label) for a in doc.articles), path.name
        labelled += any(a.label for a in doc.articles)
    # One-line pages get their inline 一、/（一） headings back; the others stay passages.
    assert 0 < labelled < len(paths)


def test_ncp_title_is_the_leading_words() -> None:
    path = NCP_DOCS / "0a03ce2e160e32699f6587bf9bf71487.txt"
    if not path.exists():
        pytest.skip("ncp doc not available")
    doc = parse_policy(path.read_text(encoding="utf-8"), path.name)
    assert doc.title == "北京市人力资源和社会保障局关于落实一次性就业创业服务补助有关工作的通知"


def test_title_falls_back_to_file_stem() -> None:
    text = "这是一段没有标题的长文字，" * 10 + "。"
    doc = parse_policy(text, "我的通知.txt")
    assert doc.title == "我的通知"


@pytest.mark.parametrize(
    "text",
    [
        "一、",
        "（一）",
        "第一条",
        "2、 标题\n3、 标题",
        "：\n：：\n。",
        "《》〔〕号\n2016年\n年月日",
        "中共示例县委办公室\n2017年6月12日",
        "a" * 5000,
        "一、甲\n（一）乙\n（一）乙\n一、甲",
    ],
)
def test_weird_text_never_raises(text: str) -> None:
    doc = parse_policy(text)
    assert doc.title


@pytest.mark.parametrize("text", ["", "   \n\u3000\n", "\u200b\n\ufeff"])
def test_empty_text_raises_ingest_error(text: str) -> None:
    with pytest.raises(IngestError) as info:
        parse_policy(text, "空.txt")
    assert "空.txt" in str(info.value)


def test_a_first_sentence_is_not_taken_for_a_title() -> None:
    doc = parse_policy(
        "关于参保缴费的通知\n一、待遇享受\n（一）享受时间。按时缴费的按期享受待遇。\n"
        "（二）在集中参保缴费期内参保缴费的，自2025年1月1日起享受居民医保待遇。\n"
    )
    labels = [a.label for a in doc.articles if a.label]
    assert labels == ["（一）享受时间", "（二）"]


def test_a_bare_last_heading_keeps_its_text_from_the_closing_remarks() -> None:
    from ingest import parse_policy

    text = ("青川市某局关于某事项的通知\n一、办理时间\n工作日9:00-17:00。\n二、工作要求\n"
            "各县（市、区）要做好宣传动员，确保应知尽知。\n本通知自印发之日起施行。\n青川市某局\n2025年1月2日\n")
    doc = parse_policy(text, "notice.txt")
    last_article = next(a for a in doc.articles if a.label == "二、工作要求")
    assert "各县（市、区）要做好宣传动员" in last_article.text
    assert doc.articles[-1].label == "" and doc.articles[-1].text.startswith("本通知自印发之日起施行")
