"""The hotline agent search page in headless Chromium; markup in queries and passages stays text."""

from __future__ import annotations

import re
import urllib.parse

from tests.web.browser import EMPLOYMENT, PAYLOAD, ask_on_page, find, find_all, tap, wait_text


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
    assert "null" not in page.find_element("id", "doc-body").text  # a missing part prints nothing
    page.find_element("id", "close-dialog").click()

    from selenium.webdriver.support.ui import Select

    Select(page.find_element("id", "status")).select_by_value("repealed")
    page.find_element("id", "q").clear()
    page.find_element("id", "q").send_keys("城乡居民医保每年交多少钱")
    page.find_element("css selector", "#search-form button[type=submit]").click()
    wait_text(page, "#summary", "（已废止）")
    badges = [b.text for b in find_all(page, "li.result .result-head .badge[class*=status-]")]
    assert badges and set(badges) == {"已废止"}, badges
    # The repealed notice leads to the one that replaced it.
    find(page, "li.result button.open").click()
    successor = find(page, "#doc-body button.successor")
    assert "青医保发〔2024〕7号" in successor.text
    tap(page, successor)
    wait_text(page, "#doc-body dl.meta", "青医保发〔2024〕7号")
    page.find_element("id", "close-dialog").click()

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
