"""GET /api/v1/search, and the rate limit shared by the anonymous endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from api.deps import RetrieverDep
from bot.text import content_words
from knowledge.errors import Invalid, TooManyRequests
from knowledge.retriever import Hit
from knowledge.synonyms import official_terms


def rate_limited(request: Request) -> None:
    client = request.client.host if request.client else "unknown"
    limiter = request.app.state.limiter
    if not limiter.allow(client):
        wait = limiter.retry_after()
        raise TooManyRequests(f"请求过于频繁，请{wait}秒后再试。", retry_after=wait)


router = APIRouter(dependencies=[Depends(rate_limited)])

MAX_QUERY = 500


def check_query(q: str) -> str:
    """The query as searched: 1 to 500 characters once spaces are collapsed."""
    query = " ".join(q.split())
    if not query:
        raise Invalid("请输入要搜索的内容（不能只有空格）。")
    if len(query) > MAX_QUERY:
        raise Invalid(f"搜索内容过长（{len(query)}字），请精简到{MAX_QUERY}字以内。")
    return query


@router.get("/search")
def search(
    retriever: RetrieverDep,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    k: Annotated[int, Query(ge=1, le=50)] = 10,
    status: Literal["current", "amended", "repealed", "expired", "all"] = "current",
    department: str | None = None,
    doc_number: str | None = None,
) -> dict[str, Any]:
    query = check_query(q)
    hits = retriever.search(query, k=k, status=status, department=department, doc_number=doc_number)
    return search_body(query, hits)


def search_body(query: str, hits: list[Hit]) -> dict[str, Any]:
    """The search response; `terms` are the words searched for (the agent page highlights them)."""
    terms = list(dict.fromkeys(content_words(query) + official_terms(query)))
    return {"query": query, "results": [h.to_json() for h in hits], "terms": terms}
