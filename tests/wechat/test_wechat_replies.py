"""Passive replies: 2048 bytes, cut at sentence ends, the source line kept whole."""

from __future__ import annotations

import xmltodict

from api.wechat.replies import MAX_REPLY_BYTES, Reply, citizen_text, cut, fit, size, text
from bot.answer import Answer, Handoff
from tests.paths import SAMPLES

SOURCE = "——依据《青川市进一步稳就业促发展若干措施》（青府发〔2024〕12号）第三条 · 青川市人力资源和社会保障局"


def long_policy_text() -> str:
    # Real policy prose, repeated until it is far over one reply.
    text = (SAMPLES / "qcfb-2024-12-employment.txt").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if line.strip())


def test_cut_falls_on_a_sentence_end_within_the_budget() -> None:
    body = long_policy_text()
    head, rest = cut(body, 1000)
    assert size(head) <= 1000
    assert head[-1] in "。！？；!?;" or body[len(head)] == "\n"
    assert (head + rest).replace("\n", "").replace(" ", "") == body.replace("\n", "").replace(" ", "")


def test_cut_without_any_sentence_end_splits_characters_not_bytes() -> None:
    head, rest = cut("政" * 1000, 100)
    assert head == "政" * 33 and rest == "政" * 967


def test_long_answers_fit_and_keep_the_source_line() -> None:
    body = long_policy_text()
    assert size(body) > 3 * MAX_REPLY_BYTES
    fitted = fit(f"{body}\n{SOURCE}", SOURCE, "回复“详情”查看完整内容")
    assert size(fitted.reply) <= MAX_REPLY_BYTES
    assert SOURCE in fitted.reply and fitted.reply.endswith("回复“详情”查看完整内容")
    assert fitted.rest and fitted.rest in body
    kept = fitted.reply.split("……")[0]
    assert body.startswith(kept)


def test_short_answers_are_left_alone() -> None:
    fitted = fit(f"每户补贴8000元。\n{SOURCE}", SOURCE, "hint")
    assert fitted.reply == f"每户补贴8000元。\n{SOURCE}" and fitted.rest == ""


def test_warnings_and_handoff_are_said_once() -> None:
    answer = Answer("q1", False, "抱歉，没有找到依据。", handoff=Handoff("请拨打12345热线。", "12345"),
                    warnings=["《旧办法》已废止"])
    said = citizen_text(answer)
    assert said.count("已废止") == 1 and said.count("12345") == 1
    already = Answer("q2", True, "注意：《旧办法》已废止。内容。", warnings=["《旧办法》已废止"])
    assert citizen_text(already).count("已废止") == 1


def test_rendered_text_survives_cdata_terminators() -> None:
    xml = text("a]]>b<c>&d").render("oUser", "gh_account")
    parsed = xmltodict.parse(xml)["xml"]
    assert parsed["Content"] == "a]]>b<c>&d"
    assert (parsed["ToUserName"], parsed["FromUserName"], parsed["MsgType"]) == ("oUser", "gh_account", "text")
    assert Reply.from_json(text("好").to_json()) == text("好")
    assert "transfer_customer_service" in Reply("transfer").render("oUser", "gh")
    assert Reply("none").render("oUser", "gh") == ""
