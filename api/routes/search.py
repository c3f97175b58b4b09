"""GET /api/v1/search, and the rate limit shared by the anonymous endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from api.deps import RetrieverDep
from bot.text import content_words
from knowledge.errors import TooManyRequests
from knowledge.retriever import Hit
from knowledge.synonyms import official_terms


def rate_limited(request: Request) -> None:
    client = request.client.host if request.client else "unknown"
    limiter = request.app.state.limiter
    if not limiter.allow(client):
        wait = limiter.retry_after()
        raise TooManyRequests(f"请求过于频繁，请{wait}秒后再试。", retry_after=wait)


router = APIRouter(dependencies=[Depends(rate_limited)])


@router.get("/search")
def search(
    retriever: RetrieverDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    k: Annotated[int, Query(ge=1, le=50)] = 10,
    status: Literal["current", "amended", "repealed", "expired", "all"] = "current",
    department: str | None = None,
    doc_number: str | None = None,
) -> dict[str, Any]:
    hits = retriever.search(q, k=k, status=status, department=department, doc_number=doc_number)
    return search_body(q, hits)


def search_body(query: str, hits: list[Hit]) -> dict[str, Any]:
    """The search response; `terms` are the words searched for (the agent page highlights them)."""
    terms = list(dict.fromkeys(content_words(query) + official_terms(query)))
    return {"query": query, "results": [h.to_json() for h in hits], "terms": terms}
