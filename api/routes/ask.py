"""The bot and its department-side views: ask, feedback, the unanswered queue, FAQ, statistics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import DepartmentDep, IndexerDep, ServiceDep
from api.routes.search import rate_limited
from bot.service import MAX_QUESTION, Bot

router = APIRouter(tags=["bot"])


def get_bot(request: Request) -> Bot:
    bot: Bot = request.app.state.bot
    return bot


BotDep = Annotated[Bot, Depends(get_bot)]


class Question(BaseModel):
    # The bot checks the length once spaces are collapsed (and says so in Chinese);
    # this bound only keeps a huge body from reaching it.
    question: str = Field(min_length=1, max_length=4 * MAX_QUESTION)
    session_id: str | None = Field(default=None, max_length=128)
    channel: Literal["web", "wechat", "api"] = "api"


class Feedback(BaseModel):
    question_id: str = Field(min_length=1, max_length=64)
    helpful: bool
    comment: str | None = Field(default=None, max_length=1000)


class FaqEntry(BaseModel):
    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=2000)
    document_id: str | None = None
    question_ids: list[str] = Field(default_factory=list, max_length=500)


@router.post("/ask", dependencies=[Depends(rate_limited)])
async def ask(bot: BotDep, body: Question) -> dict[str, Any]:
    # The bot embeds and scores on the CPU: keep it off the event loop.
    answer = await run_in_threadpool(bot.ask, body.question, body.session_id, body.channel)
    return answer.to_json()


@router.post("/feedback", status_code=204, dependencies=[Depends(rate_limited)])
def feedback(bot: BotDep, body: Feedback) -> Response:
    bot.feedback(body.question_id, body.helpful, body.comment)
    return Response(status_code=204)


@router.get("/unanswered")
def unanswered(bot: BotDep, department: DepartmentDep) -> dict[str, Any]:
    return {"groups": bot.questions.unanswered(department)}


@router.post("/faq", status_code=201)
def add_faq(bot: BotDep, service: ServiceDep, indexer: IndexerDep, department: DepartmentDep,
            body: FaqEntry) -> dict[str, Any]:
    faq = service.add_faq(body.question, body.answer, department, body.document_id)
    faq["resolved"] = bot.questions.resolve(body.question_ids, int(faq["id"]), department)
    indexer.notify()
    return faq


@router.get("/stats")
def stats(bot: BotDep, department: DepartmentDep, days: int = 30) -> dict[str, Any]:
    # A department's figures cover the questions about its own documents; an admin's cover all.
    return bot.questions.stats(days=max(1, min(days, 365)), department=department)


@router.get("/whoami")
def whoami(department: DepartmentDep) -> dict[str, Any]:
    return {"name": department.name, "is_admin": department.is_admin}
