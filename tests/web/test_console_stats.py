"""The console's statistics tab signed in as a department: its own questions, nobody else's."""

from __future__ import annotations

from tests.web.browser import call, find, find_all, sign_in, wait_text

MEDICAL = "青川市医疗保障局"  # drafted the sample medical-insurance notices


def test_a_departments_statistics_tab_shows_only_its_questions(page, live_server) -> None:  # type: ignore[no-untyped-def]
    key = live_server.kb.store.add_department(MEDICAL)[1]
    status, mine = call(live_server, "/api/v1/ask", body={"question": "居民医保个人缴费标准是多少？"})
    assert status == 200 and mine["answered"]
    assert mine["citations"][0]["document"]["drafting_department"] == MEDICAL
    status, passport = call(live_server, "/api/v1/ask", body={"question": "护照怎么办理？"})
    assert status == 200 and not passport["answered"]
    status, theirs = call(live_server, "/api/v1/ask", body={"question": "个人创业担保贷款最多能贷多少钱？"})
    assert status == 200 and theirs["citations"][0]["document"]["drafting_department"] != MEDICAL

    status, stats = call(live_server, "/api/v1/stats", key)
    assert status == 200 and stats["total"] >= 1
    status, everything = call(live_server, "/api/v1/stats", live_server.keys["admin"])
    assert everything["total"] > stats["total"]

    sign_in(page, live_server, key)
    wait_text(page, "#who", MEDICAL)
    page.find_element("css selector", "[data-tab=stats]").click()
    find(page, "#days-chart svg.daily")
    totals = page.find_element("id", "totals").text
    assert str(stats["total"]) in totals and str(everything["total"]) not in totals.split()
    hot = page.find_element("id", "hot").text
    assert "居民医保个人缴费标准是多少？" in hot
    assert "护照怎么办理？" not in hot and "个人创业担保贷款最多能贷多少钱？" not in hot
    topics = find(page, "#topics-chart svg.topics")
    assert len(topics.find_elements("css selector", "g.topic")) == len(stats["topics"])
    assert all("医疗保险" in t["title"] for t in stats["topics"])
    assert find_all(page, "#hot li")
