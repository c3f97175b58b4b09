"""Long passages are also searched as windows, credited to the whole passage."""

from __future__ import annotations

from knowledge.base import KnowledgeBase
from knowledge.retriever import Retriever
from knowledge.writer import WINDOW_CHARS
from tests.postgres import current_database_url

FILLER = "各地各部门要加强组织领导，明确责任分工，细化工作措施，确保各项任务落到实处。" * 6
POLICY = f"""青川市交通运输局关于规范网络预约出租汽车经营服务的通知
青交发〔2025〕8号
一、经营许可
（一）车辆条件。{FILLER}车辆轴距不小于2650毫米，车龄不超过8年。{FILLER}（牵头单位：市交通运输局）
（二）驾驶员条件。取得相应准驾车型机动车驾驶证并具有3年以上驾驶经历。（牵头单位：市交通运输局）
青川市交通运输局
2025年2月1日
"""


def test_long_article_is_found_by_its_window_and_cited_whole(service, kb: KnowledgeBase) -> None:  # type: ignore[no-untyped-def]
    outcome = service.ingest_bytes(POLICY.encode(), "wangyueche.txt")
    assert outcome.articles == 2
    windows = kb.store.read("SELECT count(*) AS n FROM chunks WHERE parent_chunk_id IS NOT NULL")[0]["n"]
    assert windows >= len(FILLER) * 2 // WINDOW_CHARS
    kb.embed_pending()
    assert len(kb.vectors) == len(kb.filters)
    for retriever in (Retriever(kb), Retriever(kb, use_dense=False)):
        hits = retriever.search("网约车车龄要求不超过几年", k=5)
        assert hits[0].article and hits[0].article["label"] == "（一）车辆条件"
        assert hits[0].text.startswith("（一）车辆条件。") and "2650毫米" in hits[0].text
        assert len({h.chunk_id for h in hits}) == len(hits)
        assert all(h.chunk_id not in kb.passage_of for h in hits)


def test_chunker_upgrade_and_title_change_rechunk_from_stored_articles(service, kb: KnowledgeBase, embedder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = service.ingest_bytes(POLICY.encode(), "wangyueche.txt").documents[0]
    kb.embed_pending()
    with kb.store.write() as conn:  # as if written by an older chunker
        conn.execute("DELETE FROM chunks WHERE parent_chunk_id IS NOT NULL")
        conn.execute("UPDATE state SET value = 'old' WHERE key = 'chunker'")
    reopened = KnowledgeBase(kb.data_dir, embedder, current_database_url())
    assert reopened.passage_of, "windows are rebuilt on open"
    reopened.embed_pending()
    assert len(reopened.vectors) == len(reopened.filters)
    assert Retriever(reopened).search("驾驶员需要几年驾驶经历", k=1)[0].document.id == doc.id

    service.update_document(doc.id, {"title": "青川市网约车管理通知"}, None)
    headers = {r["header"] for r in kb.store.read("SELECT header FROM chunks WHERE document_id = ?", (doc.id,))}
    assert headers and all(h.startswith("青川市网约车管理通知") for h in headers)
    hits = Retriever(kb, use_dense=False).search("网约车管理通知 驾驶员条件", k=1)
    assert hits[0].document.title == "青川市网约车管理通知"


def test_filter_maps_match_a_full_reload_after_mixed_writes(service, kb: KnowledgeBase) -> None:  # type: ignore[no-untyped-def]
    doc = service.ingest_bytes(POLICY.encode(), "wangyueche.txt").documents[0]
    service.ingest_bytes(POLICY.replace("8年", "6年").encode(), "wangyueche.txt")  # a new version
    service.update_document(doc.id, {"title": "青川市网约车管理通知"}, None)  # re-chunked
    incremental = (kb.filters, {k: sorted(v) for k, v in kb.chunks_by_document.items()},
                   kb.passage_of, sorted(kb.titles))
    kb._reload_filters()
    full = (kb.filters, {k: sorted(v) for k, v in kb.chunks_by_document.items()}, kb.passage_of, sorted(kb.titles))
    assert incremental == full
