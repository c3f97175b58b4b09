"""The citizen chat page in headless Chromium, against a live policybot on the sample corpus."""

from __future__ import annotations

import re
import urllib.parse

from tests.web.browser import EMPLOYMENT, ask_on_page, call, find, tap, wait_text


def test_chat_answers_with_an_expandable_citation(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.get(live_server.url + "/")
    answer = ask_on_page(page, "个人创业担保贷款最多能贷多少钱？")
    assert "answer" in answer.get_attribute("class").split()
    assert "30万元" in answer.find_element("css selector", ".answer-text").text
    citation = answer.find_element("css selector", "details.citation")
    summary = citation.find_element("css selector", "summary")
    assert EMPLOYMENT in summary.text
    label = summary.find_element("css selector", ".label").text
    assert re.match(r"（[一二三四五六七八九十]+）", label), label
    passage = citation.find_element("css selector", "blockquote.passage")
    assert not passage.is_displayed()
    summary.click()
    assert citation.get_attribute("open") is not None
    assert "30万元" in passage.text
    meta = citation.find_element("css selector", "dl.meta").text
    assert "青府办发〔2024〕12号" in meta and "青川市人民政府办公室" in meta
    # The interpretation passage is cited with the department that wrote it.
    interp = answer.find_element("css selector", "details.citation.kind-interpretation")
    assert "青川市人力资源和社会保障局" in interp.find_element("css selector", "summary").text
    tap(page, interp.find_element("css selector", "summary"))
    assert "解读部门：青川市人力资源和社会保障局" in interp.find_element("css selector", ".interp").text
    assert interp.find_element("css selector", "blockquote.passage").text.startswith("问：")

    session = page.execute_script("return sessionStorage.getItem('policybot.session_id')")
    assert re.fullmatch(r"[0-9a-f]{32}", session)
    follow_up = ask_on_page(page, "需要多久能批下来？")
    assert page.execute_script("return sessionStorage.getItem('policybot.session_id')") == session
    assert follow_up.find_element("css selector", ".answer-text").text

    tap(page, answer.find_element("css selector", ".thumb.up"))
    wait_text(page, "li.msg.answer .feedback [role=status]", "感谢您的反馈")

    # 新话题 starts a new session: the next question is not read as a follow-up.
    page.find_element("id", "new-topic").click()
    assert page.find_elements("css selector", "li.msg:not(.intro)") == []
    ask_on_page(page, "城乡居民医保每年交多少钱？")
    fresh = page.execute_script("return sessionStorage.getItem('policybot.session_id')")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh) and fresh != session


def test_chat_refusal_offers_the_hotline_and_unhelpful_answers_reach_the_queue(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.get(live_server.url + "/chat")
    refused = ask_on_page(page, "明天青川市会下雨吗？")
    assert "refused" in refused.get_attribute("class").split()
    call_link = refused.find_element("css selector", ".handoff a.call")
    assert call_link.get_attribute("href") == "tel:12345"
    assert "12345" in call_link.text

    # Asked by its 文号, the repealed notice is quoted, under a warning that names its successor.
    repealed = ask_on_page(page, "青医保发〔2023〕5号规定的缴费标准是多少？")
    warning = repealed.find_element("css selector", ".warnings[role=alert]")
    assert "已废止" in warning.text and "青医保发〔2024〕7号" in warning.text
    assert warning.location["y"] < repealed.find_element("css selector", ".answer-text").location["y"]
    assert "已废止" not in repealed.find_element("css selector", ".answer-text").text
    assert "已废止" in repealed.find_element("css selector", "details.citation summary").text

    answered = ask_on_page(page, "失业保险稳岗返还需要企业自己去申请吗？")
    question_id = answered.get_attribute("data-question-id")
    answered.find_element("css selector", ".thumb.down").click()
    wait_text(page, "li.msg.answer:last-child .feedback [role=status]", "已记录")
    # 没帮助 counts at once, whether or not a comment follows.
    status, queue = call(live_server, "/api/v1/unanswered", live_server.keys["admin"])
    assert status == 200
    queued = {q["question_id"]: q["reason"] for g in queue["groups"] for q in g["questions"]}
    assert queued.get(question_id) == "unhelpful"
    answered.find_element("css selector", ".feedback-more textarea").send_keys("没说什么时候到账")
    answered.find_element("css selector", ".feedback-more button").click()
    wait_text(page, "li.msg.answer:last-child .feedback [role=status]", "感谢反馈")


def test_a_linked_question_is_asked_once(page, live_server) -> None:  # type: ignore[no-untyped-def]
    """WeChat's cut replies link to /chat?q=<question> for the full answer."""
    question = "失业保险稳岗返还需要企业自己去申请吗？"
    page.get(live_server.url + "/chat?" + urllib.parse.urlencode({"q": question}))
    wait_text(page, "li.msg.answer .answer-text", "无需")
    assert page.find_element("css selector", "li.msg.user").text == question
    assert "?" not in page.current_url
    page.refresh()
    find(page, "#question")
    assert page.find_elements("css selector", "li.msg.user") == []
