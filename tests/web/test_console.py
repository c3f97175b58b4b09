"""The department console in headless Chromium: sign-in, upload with progress, documents, queue, statistics."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

from tests.texts import DIBAO
from tests.web.browser import PAYLOAD, call, find, find_all, settled, sign_in, wait_text

DIBAO_INTERPRETATION = """《青川市民政局关于提高城乡最低生活保障标准的通知》政策解读
解读部门：青川市民政局
发布日期：2025年1月12日

问：这次低保标准提高了多少？
答：城市低保标准由每人每月780元提高到820元，农村低保标准由每人每年6800元提高到7200元。

问：什么时候按新标准发放？
答：各地要于2025年3月底前按新标准发放到位。
"""


def test_console_refuses_a_wrong_key_with_the_api_message(page, live_server) -> None:  # type: ignore[no-untyped-def]
    status, body = call(live_server, "/api/v1/whoami", "pb_not-a-real-key")
    assert status == 401
    sign_in(page, live_server, "pb_not-a-real-key")
    error = wait_text(page, "#sign-in-error", "密钥")
    assert error.text == body["detail"]
    assert not page.find_element("id", "workspace").is_displayed()
    assert page.execute_script("return sessionStorage.getItem('policybot.department_key')") is None


def test_console_uploads_with_progress_lists_and_repeals(page, live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, live_server, live_server.keys["civil"])
    wait_text(page, "#who", "青川市民政局")
    # The key lives in the tab: a reload keeps the department signed in.
    page.refresh()
    wait_text(page, "#who", "青川市民政局")
    assert not page.find_element("id", "sign-in").is_displayed()
    # Written to the page as text when the upload returns, and in the list.
    title = f"{PAYLOAD}青川市民政局关于调整城乡低保标准的通知"
    file = tmp_path / "dibao.txt"
    # Trailing blanks (ignored by the parser) make the upload long enough to report progress
    # under a throttled link.
    file.write_text(DIBAO + " " * 600_000, encoding="utf-8")
    find(page, "#file").send_keys(str(file))
    page.find_element("css selector", "#policy-fields input[name=title]").send_keys(title)
    page.execute_script("""
        window.__progress = [];
        new MutationObserver(() => window.__progress.push(document.getElementById("upload-percent").textContent))
          .observe(document.getElementById("upload-percent"), {childList: true, characterData: true, subtree: true});""")
    page.set_network_conditions(offline=False, latency=5, download_throughput=10_000_000, upload_throughput=400_000)
    try:
        page.find_element("id", "upload-button").click()
        result = wait_text(page, "#upload-result", "已上传", timeout=30)
    finally:
        page.delete_network_conditions()
    steps = page.execute_script("return window.__progress")
    partial = [int(m.group(1)) for m in map(re.compile(r"已上传 (\d+)%$").match, steps) if m]
    assert any(0 < p < 100 for p in partial), steps
    assert "青民发〔2025〕3号" in result.text and "3 条条文" in result.text
    assert page.find_element("id", "upload-progress").get_attribute("value") == "100"
    assert page.find_element("id", "upload-percent").text == "已上传 100%"

    # Its interpretation, from the same department, onto the document just uploaded.
    interpretation = tmp_path / "dibao-解读.txt"
    interpretation.write_text(DIBAO_INTERPRETATION, encoding="utf-8")
    page.find_element("css selector", "input[name=kind][value=interpretation]").click()
    wait_text(page, "#target-doc", "青民发〔2025〕3号")
    from selenium.webdriver.support.ui import Select

    target = Select(page.find_element("id", "target-doc"))
    target.select_by_visible_text(next(o.text for o in target.options if "青民发〔2025〕3号" in o.text))
    doc_id = target.first_selected_option.get_attribute("value")
    page.find_element("id", "file").send_keys(str(interpretation))
    page.find_element("id", "upload-button").click()
    result = wait_text(page, "#upload-result", "已上传解读", timeout=30)
    assert "共 2 个段落" in result.text and "解读部门：青川市民政局" in result.text
    status, detail = call(live_server, f"/api/v1/documents/{doc_id}")
    assert [len(i["sections"]) for i in detail["interpretations"]] == [2]
    # Or pasted as text, when there is no file.
    page.find_element("css selector", "input[name=kind][value=interpretation]").click()
    Select(page.find_element("id", "target-doc")).select_by_value(doc_id)
    page.find_element("id", "interp-title").send_keys("市民政局负责人就提高低保标准答记者问")
    page.find_element("id", "interp-text").send_keys("问：农村低保标准提高到多少？\n答：每人每年7200元。")
    page.find_element("id", "upload-button").click()
    wait_text(page, "#upload-result", "已上传解读《市民政局负责人就提高低保标准答记者问》", timeout=30)
    status, detail = call(live_server, f"/api/v1/documents/{doc_id}")
    assert "市民政局负责人就提高低保标准答记者问" in [i["title"] for i in detail["interpretations"]]

    page.find_element("css selector", "[data-tab=documents]").click()
    item = settled(page, "#documents li.doc", "青民发〔2025〕3号")
    assert title in item.text
    assert "现行有效" in item.text
    # Only this department's documents: none of the samples.
    assert len(find_all(page, "#documents li.doc")) == 1
    assert page.execute_script("return window.__xss") is None

    Select(item.find_element("css selector", "select")).select_by_value("repealed")
    page.execute_script("arguments[0].value = '2030-12-31'", item.find_element("css selector", "input[type=date]"))
    item.find_element("css selector", "button.save").click()
    page.switch_to.alert.accept()
    fresh = wait_text(page, "#documents li.doc", "已保存：已废止，有效期至 2030-12-31")
    assert fresh.get_attribute("data-id") == doc_id
    status, doc = call(live_server, f"/api/v1/documents/{doc_id}")
    assert status == 200 and doc["title"] == title
    assert (doc["status"], doc["expiry_date"]) == ("repealed", "2030-12-31")

    fresh.find_element("css selector", "button.delete").click()
    page.switch_to.alert.accept()
    wait_text(page, "#documents li.removed", "已删除")
    assert call(live_server, f"/api/v1/documents/{doc_id}")[0] == 404


def test_console_answers_the_queue_and_charts_the_questions(page, live_server) -> None:  # type: ignore[no-untyped-def]
    status, refused = call(live_server, "/api/v1/ask", body={"question": "青川市图书馆周一开门吗？", "channel": "api"})
    assert status == 200 and refused["answered"] is False
    sign_in(page, live_server, live_server.keys["admin"])
    wait_text(page, "#who", "管理员")
    # An admin's list holds every document; the filter narrows it by title or 文号.
    page.find_element("css selector", "[data-tab=documents]").click()
    wait_text(page, "#documents", "青医保发〔2024〕7号")
    assert len(find_all(page, "#documents li.doc")) >= 4  # the four sample policies
    page.find_element("id", "documents-filter").send_keys("青医保发〔2024〕7号")
    shown = [li for li in find_all(page, "#documents li.doc") if li.is_displayed()]
    assert len(shown) == 1 and "青医保发〔2024〕7号" in shown[0].text
    page.find_element("css selector", "[data-tab=queue]").click()
    wait_text(page, "#queue", "图书馆")
    group = next(g for g in find_all(page, "#queue li.group") if "图书馆" in g.text)
    group.find_element("css selector", "button.reply").click()
    group.find_element("css selector", "textarea").send_keys("市图书馆每周一闭馆，周二至周日9:00—21:00开放。")
    group.find_element("css selector", "button[type=submit]").click()
    wait_text(page, "#queue li.group.done", "已发布为常见问答")
    status, queue = call(live_server, "/api/v1/unanswered", live_server.keys["admin"])
    assert refused["question_id"] not in {q["question_id"] for g in queue["groups"] for q in g["questions"]}

    page.find_element("css selector", "[data-tab=stats]").click()
    chart = find(page, "#days-chart svg.daily")
    status, stats = call(live_server, "/api/v1/stats", live_server.keys["admin"])
    bars = chart.find_elements("css selector", "g.day title")
    assert len(bars) == min(stats.get("days_covered", 30), 90)  # quiet days drawn as zeros
    tips = {b.get_attribute("textContent") for b in bars}
    assert stats["days"] and all(f"{d['date']}：咨询 {d['questions']}，已回答 {d['answered']}" in tips
                                 for d in stats["days"])
    assert str(stats["total"]) in page.find_element("id", "totals").text
    if stats["topics"]:
        topics = find(page, "#topics-chart svg.topics")
        assert len(topics.find_elements("css selector", "g.topic")) == len(stats["topics"])
    assert page.find_element("id", "hot").text

    # Signing out forgets the key and leaves nothing of the department on the page.
    page.find_element("id", "sign-out").click()
    assert find(page, "#sign-in").is_displayed() and not page.find_element("id", "workspace").is_displayed()
    assert page.execute_script("return sessionStorage.getItem('policybot.department_key')") is None
    assert page.execute_script("return document.getElementById('documents').children.length") == 0

    # The answer is now an FAQ entry that agents find at once.
    page.get(live_server.url + "/agent?" + urllib.parse.urlencode({"q": "图书馆周一开门吗"}))
    faq = find(page, "li.result.kind-faq")
    assert "周二至周日9:00—21:00开放" in faq.text and "常见问答" in faq.text
