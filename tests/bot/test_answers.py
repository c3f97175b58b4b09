"""The bot answers from the sample corpus: the governing sentence, then its source."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tests.postgres import current_database_url

EMPLOYMENT = "《青川市人民政府办公室关于进一步稳就业促创业的若干措施》"


def test_answer_quotes_the_article_and_names_document_number_and_department(samples_bot) -> None:  # type: ignore[no-untyped-def]
    answer = samples_bot.ask("失业保险稳岗返还需要企业自己去申请吗？")
    assert answer.answered and answer.handoff is None
    assert "单位无需提出申请" in answer.answer
    assert EMPLOYMENT in answer.answer and "青府办发〔2024〕12号" in answer.answer
    assert "起草部门：青川市人民政府办公室" in answer.answer
    first = answer.citations[0]
    assert first.kind == "article" and first.article["label"].startswith("（二）")
    assert answer.source_line in answer.answer
    assert len(answer.answer) <= 700
    assert answer.question_id


def test_key_fact_leads_the_answer(samples_bot) -> None:  # type: ignore[no-untyped-def]
    answer = samples_bot.ask("个人创业担保贷款最多能贷多少钱？")
    assert answer.answered
    first_line = answer.answer.splitlines()[0]
    assert "30万元" in first_line
    assert answer.answer.index("30万元") < answer.answer.index("——依据")


def test_who_is_responsible_is_answered_with_the_articles_units(samples_bot) -> None:  # type: ignore[no-untyped-def]
    answer = samples_bot.ask("公益性岗位托底安置是哪些单位负责的？")
    assert answer.answered
    assert answer.answer.startswith("牵头单位：市人力资源社会保障局；责任单位：市民政局、市残联")


def test_matching_interpretation_passage_is_quoted_with_its_department(samples_bot) -> None:  # type: ignore[no-untyped-def]
    answer = samples_bot.ask("就业创业补贴在网上哪里申请？")
    assert answer.answered
    assert "【政策解读·青川市人力资源和社会保障局】" in answer.answer
    kinds = [c.kind for c in answer.citations]
    assert kinds[0] == "article" and "interpretation" in kinds
    interpretation = next(c for c in answer.citations if c.kind == "interpretation")
    assert interpretation.interpretation.department == "青川市人力资源和社会保障局"


@pytest.mark.parametrize("question", [
    "今天天气怎么样？", "讲个笑话", "帮我写一首关于春天的诗", "今天92号汽油多少钱一升？",
    "怎么报名考驾照？", "北京市的住房公积金怎么提取？", "上海市居民医保一年交多少钱？",
])
def test_out_of_scope_is_refused_with_the_hotline(samples_bot, question: str) -> None:  # type: ignore[no-untyped-def]
    answer = samples_bot.ask(question)
    assert not answer.answered, answer.answer
    assert answer.citations == []
    assert answer.handoff is not None and answer.handoff.hotline == "12345"
    assert answer.answer.startswith("抱歉")


def test_greeting_explains_what_the_bot_does(samples_bot) -> None:  # type: ignore[no-untyped-def]
    answer = samples_bot.ask("你好")
    assert not answer.answered and answer.handoff is not None  # API.md: not answered, so where to turn
    assert answer.answer.startswith("您好") and "政策" in answer.answer


def test_follow_up_is_read_in_the_context_of_the_previous_turn(samples_bot) -> None:  # type: ignore[no-untyped-def]
    first = samples_bot.ask("一次性创业补贴能给多少？", session_id="citizen-1")
    assert first.answered and "5000元" in first.answer
    follow = samples_bot.ask("需要满足什么条件？", session_id="citizen-1")
    assert follow.answered
    assert follow.citations[0].document.id == first.citations[0].document.id
    assert "正常经营6个月以上" in follow.answer
    alone = samples_bot.ask("需要满足什么条件？", session_id="citizen-2")
    assert not alone.answered or "正常经营6个月以上" not in alone.answer


def test_repealed_policy_is_quoted_only_with_a_warning_naming_its_successor(samples_bot) -> None:  # type: ignore[no-untyped-def]
    # Only the repealed 2023 notice speaks of the 2024 contribution.
    answer = samples_bot.ask("2024年度居民医保个人缴费标准是每人每年多少钱？")
    assert answer.answered
    for citation in answer.citations:
        if citation.document.status != "current":
            assert answer.warnings, "a repealed document was quoted without a warning"
    # The year asked about is answered by the notice about that year, behind its warning,
    # not by the current rule for another year.
    assert answer.citations[0].document.doc_number == "青医保发〔2023〕5号" and "380元" in answer.answer
    assert "（青医保发〔2023〕5号）已废止" in answer.warnings[0] and "（青医保发〔2024〕7号）" in answer.warnings[0]
    assert answer.answer.startswith("注意：")
    current = samples_bot.ask("2025年度居民医保个人缴费标准是每人每年多少钱？")
    assert current.citations[0].document.status == "current" and not current.warnings and "400元" in current.answer


def test_questions_are_logged_masked(samples_bot, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    answer = samples_bot.ask("我的身份证号110101199003071234，手机13812345678，低保户参加居民医保要交多少？")
    stored = samples_bot.store.read("SELECT question FROM questions WHERE id = ?", (answer.question_id,))[0]
    assert "110101********1234" in stored["question"] and "138****5678" in stored["question"]
    assert "199003071234" not in stored["question"] and "13812345678" not in stored["question"]
    assert "13812345678" not in caplog.text and "199003071234" not in caplog.text


@pytest.mark.parametrize("question", ["", "   ", "问" * 501])
def test_empty_or_overlong_question_is_refused_with_a_reason(samples_bot, question: str) -> None:  # type: ignore[no-untyped-def]
    from knowledge.errors import Invalid

    with pytest.raises(Invalid) as caught:
        samples_bot.ask(question)
    assert "问题" in caught.value.message


def test_a_new_topic_in_follow_up_words_is_a_new_question(samples_bot) -> None:  # type: ignore[no-untyped-def]
    first = samples_bot.ask("城乡居民医保每年交多少钱？", session_id="citizen-3")
    assert first.answered
    switched = samples_bot.ask("怎么提取公积金？", session_id="citizen-3")
    assert switched.answered and "公积金" in switched.citations[0].document.title
    newborn = samples_bot.ask("新生儿怎么参保？", session_id="citizen-4")
    assert newborn.answered and "新生儿" in newborn.answer
    student = samples_bot.ask("那大学生呢？", session_id="citizen-4")
    assert student.answered and "大学生" in student.answer
    assert student.citations[0].document.id == newborn.citations[0].document.id


def test_a_new_faq_answers_before_its_vector_is_computed(tmp_path: Path) -> None:
    # The calibrated default embedder weighs similarity; a passage without a vector has none yet.
    from bot.service import Bot
    from knowledge.base import KnowledgeBase
    from knowledge.embedders import BundledE5Embedder
    from knowledge.retriever import Retriever
    from knowledge.service import KnowledgeService
    from tests.texts import DIBAO

    base = KnowledgeBase(tmp_path / "data", BundledE5Embedder(), current_database_url())
    try:
        service = KnowledgeService(base)
        service.ingest_bytes(DIBAO.encode(), "dibao.txt")
        base.embed_pending()
        civil, _key = base.store.add_department("青川市民政局")
        service.add_faq("临时救助怎么申请？", "临时救助由申请人向户籍所在地乡镇（街道）提出，急难情况可先行救助。", civil)
        assert base.pending  # the FAQ's vector is not there yet
        answer = Bot(base, Retriever(base)).ask("临时救助怎么申请？")
        assert answer.answered and "乡镇（街道）提出" in answer.answer
    finally:
        base.store.close()


def test_who_interprets_is_answered_from_the_records(samples_bot) -> None:  # type: ignore[no-untyped-def]
    first = samples_bot.ask("一次性扩岗补助能领多少？", session_id="citizen-5")
    assert first.answered and "1500元" in first.answer
    who = samples_bot.ask("那解读材料谁来写？", session_id="citizen-5")
    assert who.answered
    assert who.answer.startswith("本文件的政策解读由青川市人力资源和社会保障局负责")


def test_markup_pasted_with_a_question_is_not_searched_with(samples_bot) -> None:  # type: ignore[no-untyped-def]
    plain = samples_bot.ask("一次性创业补贴能给多少？")
    marked = samples_bot.ask('<img src="x" onerror="alert(1)">一次性创业补贴能给多少？<br>')
    assert marked.answered and marked.citations[0].chunk_id == plain.citations[0].chunk_id


def test_an_interpretation_match_is_answered_by_the_article_that_answers_best(e5_samples_bot) -> None:  # type: ignore[no-untyped-def]
    answer = e5_samples_bot.ask("企业招高校毕业生有什么补助？")
    assert answer.answered and "1500元" in answer.answer, answer.answer


def test_the_default_model_answers_the_year_asked_about(e5_samples_bot) -> None:  # type: ignore[no-untyped-def]
    old = e5_samples_bot.ask("2024年度居民医保个人缴费标准是多少")
    assert "380元" in old.answer and old.warnings and old.citations[0].document.doc_number == "青医保发〔2023〕5号"
    new = e5_samples_bot.ask("居民医保个人缴费标准是多少")
    assert "400元" in new.answer and not new.warnings


def test_a_year_named_without_度_is_the_policy_year_asked_about(e5_samples_bot) -> None:  # type: ignore[no-untyped-def]
    # 2025年 is the notice's 2025年度: its payment period answers, not a sentence that merely
    # holds a 2025 date (the refund rule's 待遇享受至2025年12月31日) nor another policy's dates.
    answer = e5_samples_bot.ask("2025年居民医保什么时候开始交")
    cited = answer.citations[0]
    assert answer.answered and "2024年9月2日至2024年12月31日" in answer.answer, answer.answer
    assert cited.document.doc_number == "青医保发〔2024〕7号" and cited.article["path"][0].startswith("三、")
    assert "不予退还" not in answer.answer and not answer.warnings


def test_a_limit_asked_for_is_answered_by_the_article_stating_the_amount(e5_samples_bot) -> None:  # type: ignore[no-untyped-def]
    from bot.evidence import weigh
    from bot.text import content_words, intents

    question = "公积金租房提取每月限额"
    bot = e5_samples_bot
    answer = bot.ask(question)
    assert answer.citations[0].article["label"] == "第七条" and "1200元" in answer.answer, answer.answer
    # Search puts 第八条 first (it speaks of 12个月限额之和, a duration, no amount); the
    # evidence must say so rather than leave the choice to a hair's breadth of coverage.
    hits = {h.article["label"]: h for h in bot.retriever.search(question, k=5) if h.article}
    words, wanted = content_words(question, bot.kb.lexical.has_term), intents(question)
    assert weigh(words, hits["第八条"], bot.kb.lexical.idf, wanted).fact_missing
    assert not weigh(words, hits["第七条"], bot.kb.lexical.idf, wanted).fact_missing
