"""parse_interpretation and looks_like_interpretation on invented interpretations."""

from __future__ import annotations

from ingest import looks_like_interpretation, parse_interpretation

QA = """《示例市人民政府关于促进养老服务发展的实施意见》政策解读
解读部门：示例市民政局
发布日期：2019-03-01

问：《实施意见》出台的背景是什么？
答：为落实国家关于养老服务的部署，市民政局起草了《示例市人民政府关于促进养老服务发展的实施意见》（示府发〔2019〕5号），此前的《示例市养老服务办法》（示府发〔2015〕2号）同时废止。
新政策更加注重居家养老。
问：哪些老人可以领取护理补贴？答：年满80周岁的失能老人。
Q: 什么时候开始执行？
A: 自2019年4月1日起执行。
"""

HEADINGS = """示例县义务教育招生办法解读
来源：示例县教育局  发布时间：2020年6月5日
一、出台背景
为规范招生秩序，制定本办法。
二、主要内容。共分为五个部分。
包括招生范围和招生程序。
三、新旧政策差异
取消了特长生招生。
"""


def test_question_answer_pairs_and_metadata() -> None:
    result = parse_interpretation(QA, "解读.txt")
    assert result.title == "《示例市人民政府关于促进养老服务发展的实施意见》政策解读"
    assert result.department == "示例市民政局"
    assert result.publish_date == "2019-03-01"
    assert result.policy_title == "示例市人民政府关于促进养老服务发展的实施意见"
    assert result.policy_doc_number == "示府发〔2019〕5号"
    questions = [s.question for s in result.sections]
    assert questions == ["《实施意见》出台的背景是什么？", "哪些老人可以领取护理补贴？", "什么时候开始执行？"]
    assert result.sections[0].answer.endswith("新政策更加注重居家养老。")
    assert result.sections[1].answer == "年满80周岁的失能老人。"
    assert result.sections[2].text == "问：什么时候开始执行？\n答：自2019年4月1日起执行。"


def test_heading_sections_use_heading_as_question() -> None:
    result = parse_interpretation(HEADINGS)
    assert result.department == "示例县教育局"
    assert result.publish_date == "2020-06-05"
    assert [s.question for s in result.sections] == ["一、出台背景", "二、主要内容", "三、新旧政策差异"]
    assert result.sections[1].answer == "共分为五个部分。\n包括招生范围和招生程序。"
    assert result.policy_doc_number is None


def test_spokesperson_department_and_plain_paragraphs() -> None:
    text = "示例省人力资源社会保障厅负责人解读《示例省就业促进条例》\n2021年5月10日\n条例明确了就业服务的责任。\n条例自公布之日起施行。"
    result = parse_interpretation(text)
    assert result.department == "示例省人力资源社会保障厅"
    assert result.publish_date == "2021-05-10"
    assert result.policy_title == "示例省就业促进条例"
    assert [s.question for s in result.sections] == [None, None]
    assert result.sections[1].text == "条例自公布之日起施行。"


def test_looks_like_interpretation() -> None:
    assert looks_like_interpretation(QA, "a.txt")
    assert looks_like_interpretation("示例通知\n正文。", "关于示例通知的解读.docx")
    assert looks_like_interpretation("示例\n解读部门：示例局\n正文。", "a.txt")
    assert looks_like_interpretation("示例问答\n问：能办吗？\n答：能。", "a.txt")
    assert not looks_like_interpretation("示例市关于做好供暖工作的通知\n一、供暖时间。\n二、缴费方式。", "通知.txt")
    assert not looks_like_interpretation("", "a.txt")


def test_policies_are_not_taken_for_interpretations() -> None:
    from _ingest_paths import SEEDS, STARD_LAWS

    paths = sorted(SEEDS.glob("*.txt")) + sorted(STARD_LAWS.glob("*.txt"))[:30]
    for path in paths:
        assert not looks_like_interpretation(path.read_text(encoding="utf-8"), path.name), path.name
