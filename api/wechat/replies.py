"""What goes back to the citizen: passive replies within WeChat's 2048 bytes.

A passive text reply holds at most 2048 bytes of UTF-8 (about 680 Chinese
characters). Long answers are cut at a sentence end, never inside the source
line (《title》(文号) article · department), which is what makes an answer
authoritative; the rest waits for "详情".
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Literal

from wechatpy.replies import TextReply, TransferCustomerServiceReply

from bot.answer import Answer

MAX_REPLY_BYTES = 2048
ELLIPSIS = "……"
# A cut may fall after any of these: full- and half-width sentence ends and line breaks.
_BOUNDARY = re.compile(r"[。！？；!?;\n]")

ReplyKind = Literal["text", "transfer", "none"]


@dataclass(frozen=True)
class Reply:
    """One passive reply; stored as JSON so a retry in another worker gets the same."""

    kind: ReplyKind
    content: str = ""

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "content": self.content}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Reply:
        data = json.loads(raw)
        return cls(data["kind"], data.get("content", ""))

    def render(self, openid: str, account: str) -> str:
        """The reply XML (unsealed); "none" is the empty body that stops retries."""
        if self.kind == "none":
            return ""
        if self.kind == "transfer":
            return str(TransferCustomerServiceReply(source=account, target=openid, time=int(time.time())).render())
        # "]]>" would end the CDATA section early: split it across two sections.
        content = self.content.replace("]]>", "]]]]><![CDATA[>")
        return str(TextReply(source=account, target=openid, content=content, time=int(time.time())).render())


def text(content: str) -> Reply:
    return Reply("text", content)


NOTHING = Reply("none")
TRANSFER = Reply("transfer")


def size(value: str) -> int:
    return len(value.encode("utf-8"))


def cut(value: str, budget: int) -> tuple[str, str]:
    """Split `value` so the head fits in `budget` bytes, at the last sentence end that fits.

    With no sentence end in reach, the cut falls on a character boundary.
    """
    if size(value) <= budget:
        return value, ""
    head = value.encode("utf-8")[:max(budget, 0)].decode("utf-8", "ignore")
    ends = [m.end() for m in _BOUNDARY.finditer(head)]
    # A boundary in the first fifth would throw most of the room away.
    at = ends[-1] if ends and ends[-1] >= len(head) // 5 else len(head)
    return value[:at].rstrip(), value[at:].lstrip()


def citizen_text(answer: Answer) -> str:
    """The answer with its warnings and handoff, each said once."""
    parts = [f"⚠️{w}" for w in answer.warnings if w and w not in answer.answer]
    parts.append(answer.answer.strip())
    if answer.handoff and answer.handoff.message not in answer.answer:
        handoff = answer.handoff.message
        if answer.handoff.hotline not in handoff:
            handoff += f"（咨询电话：{answer.handoff.hotline}）"
        parts.append(handoff)
    return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class Fitted:
    reply: str  # what the passive reply says
    rest: str  # what did not fit, for "详情"


def fit(full: str, source_line: str, more_hint: str, limit: int = MAX_REPLY_BYTES) -> Fitted:
    """`full` within `limit` bytes, keeping `source_line` whole and saying how to read on."""
    if size(full) <= limit:
        return Fitted(full, "")
    source = source_line.strip()
    body = full.replace(source, "").strip() if source else full
    tail = "\n".join(p for p in (source, more_hint) if p)
    room = limit - size(ELLIPSIS) - size("\n") - size(tail)
    if room < limit // 4:  # a freakishly long source line must not crowd out the answer
        source = cut(source, limit // 4)[0]
        tail = "\n".join(p for p in (source, more_hint) if p)
        room = limit - size(ELLIPSIS) - size("\n") - size(tail)
    head, rest = cut(body, room)
    reply = f"{head}{ELLIPSIS}\n{tail}"
    return Fitted(reply, rest)
