"""The three pages in headless Chromium against a live policybot on the sample corpus."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.texts import DIBAO

EMPLOYMENT = "《青川市人民政府办公室关于进一步稳就业促创业的若干措施》（青府办发〔2024〕12号）"
PAYLOAD = '<img src=x onerror="window.__xss=1">'
DIBAO_INTERPRETATION = """《青川市民政局关于提高城乡最低生活保障标准的通知》政策解读
解读部门：青川市民政局
发布日期：2025年1月12日

问：这次低保标准提高了多少？
答：城市低保标准由每人每月780元提高到820元，农村低保标准由每人每年6800元提高到7200元。

问：什么时候按新标准发放？
答：各地要于2025年3月底前按新标准发放到位。
"""


def find(driver: Any, css: str, timeout: float = 15) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def find_all(driver: Any, css: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, css))


def wait_text(driver: Any, css: str, text: str, timeout: float = 15) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    return driver.find_element(By.CSS_SELECTOR, css)


def call(server: Any, path: str, key: str | None = None, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """The API as any other client sees it (for checking what the pages did)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def tap(driver: Any, element: Any) -> None:
    """Scroll an element clear of the fixed question box, as a reader would, and click it."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def ask_on_page(driver: Any, question: str) -> Any:
    count = len(find_all(driver, "li.msg.bot:not(.intro)"))
    box = find(driver, "#question")
    box.send_keys(question)
    driver.find_element("id", "ask-button").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: len(find_all(d, "li.msg.bot:not(.intro):not(.pending)")) > count)
    return find_all(driver, "li.msg.bot:not(.intro)")[-1]


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
    answered.find_element("css selector", ".feedback-more textarea").send_keys("没说什么时候到账")
    answered.find_element("css selector", ".feedback-more button").click()
    wait_text(page, "li.msg.answer:last-child .feedback [role=status]", "感谢反馈")

    status, queue = call(live_server, "/api/v1/unanswered", live_server.keys["admin"])
    assert status == 200
    queued = {q["question_id"]: q["reason"] for g in queue["groups"] for q in g["questions"]}
    assert queued.get(question_id) == "unhelpful"


def test_agent_search_highlights_filters_and_opens_the_whole_article(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.get(live_server.url + "/agent")
    find(page, "#q").send_keys("创业担保贷款 额度")
    page.find_element("css selector", "#search-form button[type=submit]").click()
    first = find(page, "li.result")
    marks = [m.text for m in find_all(page, "li.result .passage mark")]
    assert any("担保" in m or "贷款" in m for m in marks), marks
    assert "q=" in page.current_url

    assert EMPLOYMENT in first.find_element("css selector", ".doc-title").text
    passage = first.find_element("css selector", ".passage").text
    first.find_element("css selector", "button.copy").click()
    wait_text(page, "li.result .copied", "已复制")
    citation = first.find_element("css selector", ".citation-text").text
    assert citation.startswith(EMPLOYMENT) and "起草部门：青川市人民政府办公室" in citation

    first.find_element("css selector", "button.open").click()
    title = wait_text(page, "#doc-title", "稳就业促创业")
    assert title.text == EMPLOYMENT
    target = find(page, "#doc-body .target")
    assert passage[:20].replace("\n", "") in target.text.replace("\n", "")
    interp = find(page, "#doc-body section.interpretation")
    assert "解读部门：青川市人力资源和社会保障局" in interp.text
    assert "问：" in interp.text and "答：" in interp.text
    page.find_element("id", "close-dialog").click()

    # An interpretation passage opens its policy with that question and answer marked.
    page.find_element("id", "q").clear()
    page.find_element("id", "q").send_keys("补贴申请后多长时间能到账")
    page.find_element("css selector", "#search-form button[type=submit]").click()
    wait_text(page, "#summary", "补贴申请后多长时间能到账")
    hit = find(page, "li.result.kind-interpretation")
    assert "《青川市人民政府办公室关于进一步稳就业促创业的若干措施》政策解读 青川市人力资源和社会保障局" in hit.text
    hit.find_element("css selector", "button.open").click()
    wait_text(page, "#doc-title", "稳就业促创业")
    marked = find(page, "#doc-body .qa.target")
    assert marked.text.startswith("问：") and hit.find_element("css selector", ".passage").text[2:20] in marked.text
    assert "《《" not in page.find_element("id", "doc-body").text
    page.find_element("id", "close-dialog").click()

    from selenium.webdriver.support.ui import Select

    Select(page.find_element("id", "status")).select_by_value("repealed")
    page.find_element("id", "q").clear()
    page.find_element("id", "q").send_keys("城乡居民医保每年交多少钱")
    page.find_element("css selector", "#search-form button[type=submit]").click()
    wait_text(page, "#summary", "（已废止）")
    badges = [b.text for b in find_all(page, "li.result .result-head .badge[class*=status-]")]
    assert badges and set(badges) == {"已废止"}, badges

    # The department and 文号 filters, from the suggestions the page offers.
    suggested = page.execute_script(
        "return [...document.querySelectorAll('#departments option, #doc-numbers option')].map(o => o.value)")
    assert {"青川市医疗保障局", "青府办发〔2024〕12号"} <= set(suggested)
    Select(page.find_element("id", "status")).select_by_value("all")
    page.find_element("id", "department").send_keys("青川市医疗保障局")
    page.find_element("css selector", "#search-form button[type=submit]").click()
    wait_text(page, "#summary", "（起草部门：青川市医疗保障局；全部）")
    cited = [c.text for c in find_all(page, "li.result .citation-text")]
    assert cited and all("起草部门：青川市医疗保障局" in c for c in cited), cited
    page.find_element("id", "department").clear()
    page.find_element("id", "doc_number").send_keys("青医保发〔2024〕7号")
    page.find_element("css selector", "#search-form button[type=submit]").click()
    wait_text(page, "#summary", "（文号：青医保发〔2024〕7号；全部）")
    titles = {t.text for t in find_all(page, "li.result .doc-title")}
    assert titles == {"《青川市医疗保障局关于城乡居民基本医疗保险参保缴费有关事项的通知》（青医保发〔2024〕7号）"}, titles


def test_markup_in_a_query_is_shown_as_text(page, live_server) -> None:  # type: ignore[no-untyped-def]
    query = f"{PAYLOAD}创业补贴"
    page.get(live_server.url + "/agent?" + urllib.parse.urlencode({"q": query}))
    summary = wait_text(page, "#summary", "创业补贴")
    assert PAYLOAD in summary.text
    find(page, "li.result")
    page.get(live_server.url + "/chat")
    ask_on_page(page, query)
    assert find_all(page, "li.msg.user")[-1].text == query
    assert not find_all(page, "main img")
    assert page.execute_script("return window.__xss") is None


def sign_in(driver: Any, server: Any, key: str) -> None:
    driver.get(server.url + "/console")
    find(driver, "#key").send_keys(key)
    driver.find_element("css selector", "#sign-in button[type=submit]").click()


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
    item = wait_text(page, "#documents li.doc", "青民发〔2025〕3号")
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

    # The answer is now an FAQ entry that agents find at once.
    page.get(live_server.url + "/agent?" + urllib.parse.urlencode({"q": "图书馆周一开门吗"}))
    faq = find(page, "li.result.kind-faq")
    assert "周二至周日9:00—21:00开放" in faq.text and "常见问答" in faq.text


@pytest.fixture(autouse=True)
def _no_alert_left(page):  # type: ignore[no-untyped-def]
    yield
    try:
        page.switch_to.alert.dismiss()
    except Exception:  # noqa: BLE001 - no alert open is the usual case
        pass


HELPERS = """
const done = arguments[arguments.length - 1];
Promise.all([import("/static/common.js"), import("/static/chart.js")]).then(([m, c]) => {
  const box = document.createElement("div");
  box.append(m.highlight("<b>城乡居民</b>医保缴费", m.queryTerms("城乡居民医保每年交多少钱")));
  const doc = {title: "T", doc_number: "N〔2024〕1号", drafting_department: "D", issuer: "I"};
  done({
    marked: box.innerHTML,
    terms: m.queryTerms("城乡居民医保每年交多少钱？ 青府办发〔2024〕12号"),
    article: m.citationText({kind: "article", document: doc, article: {label: "（六）X", path: []}}),
    interp: m.citationText({kind: "interpretation", document: doc,
      interpretation: {title: "《T》政策解读", department: "E", publish_date: "2024-06-20"}}),
    days: c.fillDays([{date: "2000-01-01", questions: 1, answered: 1}], 7).map((d) => d.date),
    today: new Date().toISOString().slice(0, 10),
    time: m.formatTime("2026-11-22T03:46:44+00:00"),
  });
}).catch((err) => done({error: String(err)}));
"""


def test_page_helpers_escape_highlight_and_cite(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.get(live_server.url + "/agent")
    out = page.execute_async_script(HELPERS)
    assert "error" not in out, out
    # Markup in a passage stays text; the query's words are marked around it.
    assert out["marked"] == "&lt;b&gt;<mark>城乡居民</mark>&lt;/b&gt;<mark>医保</mark>缴费"
    assert {"城乡", "医保", "青府办发", "2024", "12号"} <= set(out["terms"])
    assert "多少" not in out["terms"]
    assert out["article"] == "《T》（N〔2024〕1号） （六）X，起草部门：D"
    assert out["interp"] == "《T》政策解读（E，2024-06-20），解读《T》（N〔2024〕1号）"
    assert len(out["days"]) == 7 and out["days"][-1] == out["today"] and "2000-01-01" not in out["days"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", out["time"])
