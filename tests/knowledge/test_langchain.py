from knowledge.langchain import PolicyRetriever
from knowledge.retriever import Retriever


def test_langchain_retriever_returns_cited_passages(samples_kb) -> None:  # type: ignore[no-untyped-def]
    retriever = PolicyRetriever(retriever=Retriever(samples_kb), k=3)
    docs = retriever.invoke("城乡居民医保个人缴费标准是多少")
    assert 0 < len(docs) <= 3
    top = docs[0].metadata
    assert top["doc_number"] == "青医保发〔2024〕7号"  # the 2023 notice is repealed
    assert top["status"] == "current" and top["article_label"]
    assert all(d.metadata["status"] == "current" for d in docs)
    everything = PolicyRetriever(retriever=Retriever(samples_kb), k=10, status="all")
    numbers = {d.metadata["doc_number"] for d in everything.invoke("城乡居民医保个人缴费标准是多少")}
    assert "青医保发〔2023〕5号" in numbers
