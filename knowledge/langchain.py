"""The hybrid retriever as a LangChain retriever, for chains built on policybot.

Each LangChain ``Document`` is one passage; its metadata carries what a
citation needs (document title, 文号, status, article label and path, the
interpreting department) so a chain can quote the article and name who
interprets it without a second lookup.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from knowledge.retriever import Hit, Retriever


def hit_to_document(hit: Hit) -> Document:
    doc = hit.document
    metadata: dict[str, Any] = {
        "chunk_id": str(hit.chunk_id),
        "score": hit.score,
        "kind": hit.kind,
        "document_id": doc.id,
        "title": doc.title,
        "doc_number": doc.doc_number,
        "status": doc.status,
        "drafting_department": doc.drafting_department,
        "article_label": hit.article["label"] if hit.article else None,
        "article_path": hit.article["path"] if hit.article else None,
        "interpretation_department": hit.interpretation.department if hit.interpretation else None,
    }
    return Document(page_content=hit.text, metadata=metadata)


class PolicyRetriever(BaseRetriever):
    """``PolicyRetriever(retriever=Retriever(kb), k=5).invoke("问题")``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = 5
    status: str = "current"
    department: str | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.retriever.search(query, k=self.k, status=self.status, department=self.department)
        return [hit_to_document(h) for h in hits]
