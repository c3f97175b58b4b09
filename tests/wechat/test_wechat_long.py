"""Long answers through the real callback: 2048 bytes, the source line kept, "详情" reads on."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote

from api.wechat.replies import ELLIPSIS, MAX_REPLY_BYTES, citizen_text, size
from tests.wechat.wx_sim import Platform, new_openid, text_xml

QUESTION = "高校毕业生就业有哪些补贴政策？"


class VerboseBot:
    """The real bot followed by the five best passages in full, as a wordy LLM rephraser might answer."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    def ask(self, question: str, session_id: str | None = None, channel: str = "api") -> Any:
        answer = self.bot.ask(question, session_id=session_id, channel=channel)
        passages = [hit.text for hit in self.bot.retriever.search(question, k=5)]
        return dataclasses.replace(answer, answer="\n".join([answer.answer, *passages]))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bot, name)


def test_long_answers_are_cut_and_read_on_with_detail(open_app) -> None:  # type: ignore[no-untyped-def]
    platform, openid = Platform("plain"), new_openid()
    with open_app() as client:
        client.app.state.bot = VerboseBot(client.app.state.bot)
        full = client.app.state.bot.ask(QUESTION, session_id=f"x:{new_openid()}")
        full_text = citizen_text(full)
        assert full.answered and size(full_text) > MAX_REPLY_BYTES + 1000
        first = platform.read(platform.post(client, text_xml(openid, QUESTION)))["Content"]
        assert size(first) <= MAX_REPLY_BYTES
        assert full.source_line in first and ELLIPSIS in first and first.endswith("回复“详情”查看完整内容")
        pieces = [first.split(ELLIPSIS)[0]]
        for _ in range(10):
            more = platform.read(platform.post(client, text_xml(openid, "详情")))["Content"]
            assert size(more) <= MAX_REPLY_BYTES
            if more.startswith("暂无更多内容"):
                break
            assert full.source_line in more
            pieces.append(more.split(ELLIPSIS)[0].replace(full.source_line, "").strip())
        else:
            raise AssertionError("详情 never reached the end")
    body = full_text.replace(full.source_line, "")
    squash = lambda s: "".join(s.split())  # noqa: E731 - line breaks move at the cuts
    assert squash("".join(pieces)) == squash(body)


def test_with_a_public_base_url_the_reply_links_to_the_full_answer(open_app) -> None:  # type: ignore[no-untyped-def]
    platform = Platform("plain")
    with open_app(public_base_url="https://zwgk.example.gov.cn/") as client:
        client.app.state.bot = VerboseBot(client.app.state.bot)
        reply = platform.read(platform.post(client, text_xml(new_openid(), QUESTION)))["Content"]
    assert size(reply) <= MAX_REPLY_BYTES
    assert reply.endswith(f"完整内容：https://zwgk.example.gov.cn/chat?q={quote(QUESTION)}")
