from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from api.deps import RetrieverDep
from knowledge.errors import TooManyRequests

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
    return {"query": q, "results": [h.to_json() for h in hits]}
