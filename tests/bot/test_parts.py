"""The bot's pieces that need no corpus: reading questions, sentences, grouping, metrics."""

from __future__ import annotations

import pytest

from bot.answer import Answer
from bot.compose import MAX_CHARS, compose, pick_sentences
from bot.dialogue import is_follow_up
from bot.evaluation import evaluate_answers, fact_matches
from bot.evidence import weigh
from bot.questions import similarity
from bot.smalltalk import reply_for
from bot.text import (
    content_words,
    has_fact_for,
    intents,
    place_names,
    policy_year,
    sentences,
)
from knowledge.records import DocumentRecord
from knowledge.retriever import Hit


def test_content_words_drop_question_fillers_and_glued_runs() -> None:
    assert content_words("个人创业担保贷款最多能贷多少钱？") == ["个人", "创业担保贷款"]
    assert "开无房" not in content_words("租房提取公积金要不要开无房证明？")


def test_an_unknown_word_without_function_characters_is_kept_as_topic() -> None:
    # Neither jieba nor any corpus knows 验车 or 狗证: evidence the question is
    # about something else, so it must weigh in the coverage, not vanish.
    assert "验车" in content_words("车子到年检了，青川哪里可以验车", lambda w: False)
    assert "办狗证" in content_words("在青川养狗要办狗证吗？", lambda w: False)
    assert content_words("公积金最多能领多少？", lambda w: False) == ["公积金"]


@pytest.mark.parametrize(("question", "wanted"), [
    ("重大突发事件发生后，政府多长时间内要开新闻发布会？", {"when"}),
    ("镇康县干部的政务公开知识培训由谁负责？", {"who"}),
    ("见习补贴每人每月多少？", {"amount"}),
    ("公积金租房提取每月限额", {"amount"}),
    ("有没有额外补贴", {"whether"}),
    ("中介服务机构的资质资格审批现在还保留吗？", {"whether"}),
    ("租房提取公积金要带什么证件", {"papers"}),
    ("申请创业补贴需要提交哪些材料", {"papers"}),
    ("企业复工审批流程是什么", {"steps"}),
    ("公积金租房提取需要什么条件", {"conditions"}),
])
def test_intents(question: str, wanted: set[str]) -> None:
    assert intents(question) == wanted


def test_sentences_keep_items_whole() -> None:
    text = "（一）加强解读。各地区要在24小时内举行发布会；并及时回应。\n1.做好备案。"
    assert sentences(text) == ["（一）加强解读。", "各地区要在24小时内举行发布会；", "并及时回应。", "1.做好备案。"]


def test_the_sentence_with_the_wanted_fact_is_picked() -> None:
    text = ("（十一）主动回应关切。各地要建立健全舆情收集和回应机制。重大和特别重大突发事件发生后，"
            "应在24小时内举行新闻发布会。对群众关切要及时回应。")
    picked = pick_sentences(text, ["突发事件", "新闻发布会"], {"when"}, lambda w: 1.0, "（十一）主动回应关切")
    assert picked.startswith("重大和特别重大突发事件发生后，应在24小时内举行新闻发布会。")
    assert "主动回应关切。" not in picked


def test_a_heading_that_states_a_rule_is_quoted() -> None:
    text = "（二）受理举报的部门应对举报人信息严格保密。泄漏举报人信息的，依法依纪追究责任。"
    picked = pick_sentences(text, ["举报人", "信息"], set(), lambda w: 1.0, "（二）受理举报的部门应对举报人信息严格保密")
    assert picked.startswith("（二）受理举报的部门应对举报人信息严格保密。")


def test_a_headline_run_into_the_lead_is_not_quoted_and_a_restated_question_is_followed() -> None:
    title = "三部门：用于疫情防控的进口物资可享税收优惠"
    text = (f"{title} 记者从财政部了解到，财政部、海关总署、税务总局联合发布公告，对用于疫情防控的进口物资，"
            "实行更优惠的进口税收政策。公告适度扩大了免税进口范围，对捐赠用于疫情防控的进口物资免征进口关税。"
            "记者还了解到，各地海关已开通绿色通道。")
    words = ["财政部", "海关总署", "税务总局", "进口", "物资", "进口税收", "政策"]
    picked = pick_sentences(text, words, set(), lambda w: 1.0, title=title)
    assert not picked.startswith(title)
    assert "实行更优惠的进口税收政策。公告适度扩大了免税进口范围" in picked


def test_the_next_sentence_stating_the_asked_fact_joins_the_answer() -> None:
    text = ("（三）实施社会保险补贴。企业招用就业困难人员，签订1年以上劳动合同并依法缴纳社会保险费的，按企业实际缴纳的费用给予补贴。"
            "补贴期限最长不超过3年。（牵头单位：市人力资源社会保障局）")
    # 社保 is how citizens say 社会保险; 3年 states the time asked for.
    picked = pick_sentences(text, ["就业困难人员", "社保"], {"when"}, lambda w: 3.0, "（三）实施社会保险补贴")
    assert "给予补贴。补贴期限最长不超过3年。" in picked
    assert "牵头单位" not in picked


def test_compose_keeps_the_source_line_whole_within_the_limit() -> None:
    source = "——依据《某某通知》（青民发〔2025〕3号）（一）；起草部门：青川市民政局。"
    text = compose("", "很长的条文。" * 200, source)
    assert len(text) <= MAX_CHARS and source in text


@pytest.mark.parametrize(("question", "follow"), [
    ("需要多久？", True), ("那解读材料谁来写？", True), ("这个有什么条件", True),
    ("失业保险稳岗返还需要企业自己去申请吗？", False), ("个人创业担保贷款最多能贷多少钱？", False),
])
def test_follow_up_detection(question: str, follow: bool) -> None:
    assert is_follow_up(question) is follow


def test_place_names() -> None:
    assert place_names("北京市的公积金怎么提取？") == ["北京市"]
    assert place_names("低保标准是多少？") == []


@pytest.mark.parametrize(("message", "start"), [("你好", "您好"), ("谢谢！", "不客气"), ("讲个笑话", "抱歉")])
def test_small_talk(message: str, start: str) -> None:
    reply = reply_for(message)
    assert reply is not None and reply.startswith(start)


def test_policy_questions_are_not_small_talk() -> None:
    assert reply_for("你好，低保标准是多少？") is None
    assert reply_for("城市低保标准提高到多少？") is None


def test_similar_wordings_group_together() -> None:
    assert similarity("临时救助怎么申请？", "临时救助怎么申请呢") >= 0.5
    assert similarity("临时救助怎么申请？", "公积金贷款最高多少") < 0.2
    # Another city's question is another question, however alike the words.
    assert similarity("上海租房提取公积金每月最多多少？", "租房提取公积金每月最多多少？") == 0.0
    # The knowledge base's own city is no other place.
    local = {"青川市", "青川"}.__contains__
    assert similarity("青川市租房提取公积金每月最多多少？", "租房提取公积金每月最多多少？", local) >= 0.5


def test_fact_matching() -> None:
    assert fact_matches({"q": "x", "answer": ["24小时"]})("应在 24 小时内举行")  # type: ignore[misc]
    assert fact_matches({"q": "x", "gold": ["a"]}) is None


def test_answer_metrics_count_each_kind() -> None:
    doc = DocumentRecord(id="d", title="通知")
    hit = Hit(1, 1.0, "article", "应在24小时内举行新闻发布会", doc, None, None)
    replies = {
        "发布会多久开？": Answer("1", True, "应在24小时内举行新闻发布会", [hit]),
        "答非所问？": Answer("2", True, "无关内容", [Hit(2, 1.0, "article", "无关", doc, None, None)]),
        "天气？": Answer("3", False, "抱歉"),
        "诗？": Answer("4", True, "乱答"),
    }
    questions = [
        {"q": "发布会多久开？", "gold": ["24小时内举行新闻发布会"], "answer": ["24小时"]},
        {"q": "答非所问？", "gold": ["24小时内举行新闻发布会"], "answer": ["24小时"]},
        {"q": "天气？", "unanswerable": True},
        {"q": "诗？", "unanswerable": True},
    ]
    metrics = evaluate_answers(replies.__getitem__, questions).as_dict()
    assert metrics["answered"] == 1.0 and metrics["fact"] == 0.5
    assert metrics["cite@1"] == 0.5 and metrics["refusal"] == 0.5


def test_the_interpretation_goes_before_the_quote_is_cut() -> None:
    source = "——依据《某某通知》（青民发〔2025〕3号）（一）；起草部门：青川市民政局。"
    quoted = "城市最低生活保障标准由每人每月780元提高到820元。" * 20  # 540 characters
    text = compose("", quoted, source, "【政策解读·青川市民政局】" + "解读内容。" * 60)
    assert len(text) <= MAX_CHARS and source in text
    assert "【政策解读" not in text and text.startswith(quoted)



def test_a_question_for_papers_is_answered_by_the_sentence_naming_them() -> None:
    assert content_words("租房提取公积金需要什么材料") == ["租房", "提取", "公积金"]  # 材料 is the kind of answer
    text = ("有下列情形之一的，不予办理租房提取：提供虚假租赁合同或者其他虚假证明材料的。"
            "职工申请租房提取，应当提供本人有效身份证件；已婚的，还应当提供结婚证。")
    picked = pick_sentences(text, ["租房", "提取"], {"papers"}, lambda w: 1.0, limit=40)
    assert picked.startswith("职工申请租房提取，应当提供本人有效身份证件") and "虚假" not in picked


def test_a_sign_off_is_never_the_quote_and_steps_are() -> None:
    text = ("五、审批流程\n1．企业向所在地镇街提出复工申请，报送申报材料；\n2．镇街进行现场审核；\n3．核查通过后准予复工。\n"
            "海陵区疫情防控工作领导小组 2020年2月9日")
    words = ["海陵区", "复工", "审批", "流程"]
    picked = pick_sentences(text, words, {"steps"}, lambda w: 1.0, label="五、审批流程", limit=60)
    assert picked.startswith("1．企业向所在地镇街提出复工申请") and "领导小组" not in picked
    signed = "办理业务时请佩戴口罩。咨询电话：8403-8327 东城区劳动鉴定中心 二〇二〇年二月十一日"
    assert pick_sentences(signed, ["东城区", "劳动鉴定中心", "办理业务"], set(), lambda w: 1.0,
                          limit=20) == "办理业务时请佩戴口罩。"


def test_quotes_drop_the_units_note_and_are_cut_at_a_clause_end() -> None:
    text = "（三）稳岗返还。失业保险稳岗返还按60%返还，单位无需提出申请。（牵头单位：市人社局；责任单位：市财政局）"
    picked = pick_sentences(text, ["稳岗返还"], {"amount"}, lambda w: 1.0)
    assert "牵头单位" not in picked and "60%" in picked
    long = "申请时间为2024年7月1日至2025年12月31日，逾期不予受理，请申请人按时提交材料并保持联系方式畅通。"
    cut = pick_sentences(long, ["申请时间"], {"when"}, lambda w: 1.0, limit=30)
    assert cut == "申请时间为2024年7月1日至2025年12月31日…"


def test_a_bare_article_number_is_cited_with_its_section() -> None:
    from bot.compose import source_line

    doc = DocumentRecord(id="d", title="参保缴费通知", doc_number="青医保发〔2024〕7号", drafting_department="青川市医疗保障局")
    bare = Hit(1, 1.0, "article", "（一）个人缴费标准为每人每年400元。", doc,
               {"label": "（一）", "path": ["二、缴费标准", "（一）"]}, None)
    assert source_line(bare) == "——依据《参保缴费通知》（青医保发〔2024〕7号）二、缴费标准（一）；起草部门：青川市医疗保障局。"
    named = Hit(2, 1.0, "article", "…", doc, {"label": "（二）大学生", "path": ["五、参保登记", "（二）大学生"]}, None)
    assert "》（青医保发〔2024〕7号）（二）大学生；" in source_line(named)


def test_conditions_are_the_positive_rule_not_the_grounds_for_refusal() -> None:
    from bot.text import has_fact_for

    assert has_fact_for("职工同时符合下列条件的，可以申请租房提取：", {"conditions"})
    assert not has_fact_for("有下列情形之一的，公积金中心不予办理租房提取：", {"conditions"})
    doc = DocumentRecord(id="d", title="租房提取规定")
    allowed = Hit(1, 1.0, "article", "第四条　职工同时符合下列条件的，可以申请租房提取。", doc, None, None)
    refused = Hit(2, 1.0, "article", "第六条　有下列情形之一的，不予办理租房提取。", doc, None, None)
    assert weigh(["租房", "提取"], allowed, lambda w: 1.0, {"conditions"}).states_asked
    assert not weigh(["租房", "提取"], refused, lambda w: 1.0, {"conditions"}).states_asked


def test_review_cases_for_the_question_readers() -> None:
    from api.wechat.texts import wants_human
    from bot.service import _MARKUP, _WHO_INTERPRETS

    dated = "申领程序如下。市就业服务中心2024年9月1日起受理申请。申请人通过公众号提交申请。"
    assert pick_sentences(dated, ["受理", "申请"], {"when"}, lambda w: 1.0, limit=30).startswith("市就业服务中心2024年9月1日起")
    assert _MARKUP.sub(" ", "月收入<3000元，年龄>60岁能参保吗<br>") == "月收入<3000元，年龄>60岁能参保吗 "
    assert "papers" not in intents("政府提供哪些创业补贴") and "papers" in intents("要提交哪些材料")
    assert "证明" in content_words("开收入证明需要带什么材料")
    assert intents("谁可以申请扩岗补助") == {"conditions"}
    assert "steps" not in intents("用支付宝小程序怎么缴费")
    assert _WHO_INTERPRETS.search("那解读材料谁来写") and not _WHO_INTERPRETS.search("根据政策解读，扩岗补助找哪个部门申请")
    assert not any(wants_human(m) for m in ("不要转人工", "别转人工", "转人工没用"))


def test_a_year_asked_about_is_a_policy_year_unless_it_starts_a_date_or_ends_a_span() -> None:
    assert policy_year("2025年居民医保什么时候开始交") == "2025年度"
    assert policy_year("2024年度居民医保个人缴费标准是多少") == "2024年度"
    assert [policy_year(q) for q in ("2025年12月31日前还能交吗", "2025年底前要办吗", "有效期至2025年吗",
                                     "2025年起执行吗", "居民医保什么时候交")] == [None] * 5


def test_a_duration_is_no_amount_and_a_policy_year_no_time() -> None:
    assert not has_fact_for("选择按年提取的，提取金额不超过12个月限额之和；", {"amount"})
    assert has_fact_for("选择按年提取的，提取金额不超过12个月限额之和；", {"when"})
    assert has_fact_for("每人每月提取限额1200元", {"amount"}) and has_fact_for("资助5个项目", {"amount"})
    assert not has_fact_for("2025年度居民医保个人缴费标准为每人每年400元。", {"when"})
    assert has_fact_for("2025年度集中参保缴费期为2024年9月2日至2024年12月31日。", {"when"})


def test_an_interpretations_question_line_is_not_quoted_as_the_answer() -> None:
    text = ("问：《若干措施》什么时候开始执行？有效期多长？\n答：《若干措施》自2024年7月1日起施行，有效期至2027年12月31日。"
            "其中，一次性扩岗补助的申请时间为2024年7月1日至2025年12月31日。")
    picked = pick_sentences(text, ["若干措施", "开始", "执行"], {"when"}, lambda w: 1.0)
    assert "？" not in picked and picked.startswith("《若干措施》自2024年7月1日起施行"), picked
