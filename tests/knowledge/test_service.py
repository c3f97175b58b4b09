"""The rules of KnowledgeService: who may change what, how a status change
spreads to the documents a notice prints, and what the audit log records."""

from __future__ import annotations

import json

import pytest

from ingest import parse_interpretation
from knowledge.errors import Forbidden, Invalid, NotFound
from knowledge.retriever import Retriever
from knowledge.writer import DocumentMeta
from tests.paths import SEEDS
from tests.texts import DIBAO



@pytest.fixture
def departments(kb):  # type: ignore[no-untyped-def]
    return {
        "owner": kb.store.add_department("青川市大数据中心")[0],
        "drafting": kb.store.add_department("青川市民政局")[0],
        "other": kb.store.add_department("青川市卫生健康委员会")[0],
        "admin": kb.store.add_department("青川市人民政府办公室", admin=True)[0],
    }


@pytest.fixture
def document(service, departments):  # type: ignore[no-untyped-def]
    """Uploaded by the 大数据中心 for the 民政局, which drafted it."""
    meta = DocumentMeta(drafting_department="青川市民政局")
    outcome = service.ingest_bytes(DIBAO.encode(), "dibao.txt", departments["owner"], meta)
    doc = outcome.documents[0]
    assert doc.owner_department_id == departments["owner"].id
    assert doc.drafting_department == "青川市民政局"
    return doc


def audit(kb, action: str) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = kb.store.read("SELECT actor, action, target, detail FROM audit_log WHERE action = ? ORDER BY id", (action,))
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


@pytest.mark.parametrize("who", ["owner", "drafting", "admin"])
def test_owner_drafter_and_admin_may_edit(service, departments, document, who) -> None:  # type: ignore[no-untyped-def]
    actor = departments[who]
    updated = service.update_document(document.id, {"expiry_date": "2026-12-31"}, actor)
    assert updated.expiry_date == "2026-12-31"
    interp = parse_interpretation("青民发〔2025〕3号政策解读\n问：提高了多少？\n答：每人每月40元。\n", "q.txt")
    assert service.add_interpretation(interp, actor).documents[0].id == document.id
    service.delete_document(document.id, actor)
    with pytest.raises(NotFound):
        service.require(document.id)


def test_another_department_is_forbidden_and_changes_nothing(kb, service, departments, document) -> None:  # type: ignore[no-untyped-def]
    other = departments["other"]
    with pytest.raises(Forbidden) as caught:
        service.update_document(document.id, {"status": "repealed"}, other)
    assert "青川市卫生健康委员会" in caught.value.message and "无权" in caught.value.message
    with pytest.raises(Forbidden):
        service.delete_document(document.id, other)
    interp = parse_interpretation("青民发〔2025〕3号政策解读\n问：提高了多少？\n答：每人每月40元。\n", "q.txt")
    with pytest.raises(Forbidden):
        service.add_interpretation(interp, other)
    # A new version of the same file by another department is its own document, not a takeover.
    service.ingest_bytes(DIBAO.replace("820元", "999元").encode(), "dibao.txt", other)
    assert service.require(document.id).status == "current"
    assert "820元" in " ".join(a["text"] for a in kb.store.articles(document.id))
    assert not kb.store.interpretations(document.id)
    assert not audit(kb, "document.update") and not audit(kb, "document.delete")


def test_repeal_of_a_forwarding_notice_repeals_what_it_prints(kb, service, departments) -> None:  # type: ignore[no-untyped-def]
    seed = next(SEEDS.glob("004_*.txt"))
    outcome = service.ingest_bytes(seed.read_bytes(), seed.name, departments["admin"])
    top, *printed = outcome.documents
    assert len(printed) == 2 and all(d.status == "current" for d in outcome.documents)
    query = "国办发〔2018〕23号"
    assert Retriever(kb).search(query)

    service.update_document(top.id, {"status": "repealed"}, departments["admin"])
    assert [service.require(d.id).status for d in outcome.documents] == ["repealed"] * 3
    assert Retriever(kb).search(query) == []
    assert {h.document.status for h in Retriever(kb).search(query, status="all")} == {"repealed"}
    # A change that is not about status leaves the printed documents alone.
    service.update_document(top.id, {"url": "https://example.gov.cn/14"}, departments["admin"])
    assert [service.require(d.id).url for d in printed] == [None, None]


def test_update_rejects_unknown_fields_and_statuses(kb, service, departments, document) -> None:  # type: ignore[no-untyped-def]
    owner = departments["owner"]
    with pytest.raises(Invalid) as caught:
        service.update_document(document.id, {"colour": "red", "status": "repealed"}, owner)
    assert "colour" in caught.value.message and "status" in caught.value.message  # names what may be changed
    with pytest.raises(Invalid) as caught:
        service.update_document(document.id, {"status": "gone"}, owner)
    assert "current" in caught.value.message
    with pytest.raises(Invalid):
        service.update_document(document.id, {"id": "x; DROP TABLE documents"}, owner)
    assert service.require(document.id).status == "current"
    assert not audit(kb, "document.update")
    with pytest.raises(NotFound):
        service.update_document("nope", {"status": "repealed"}, owner)


def test_audit_log_records_add_update_and_delete(kb, service, departments, document) -> None:  # type: ignore[no-untyped-def]
    owner = departments["owner"]
    (added,) = audit(kb, "document.add")
    assert added["actor"] == "青川市大数据中心" and added["target"] == document.id
    assert added["detail"] == {"file": "dibao.txt"}

    service.update_document(document.id, {"status": "amended"}, departments["admin"])
    (updated,) = audit(kb, "document.update")
    assert updated["actor"] == "青川市人民政府办公室" and updated["target"] == document.id
    assert updated["detail"] == {"status": "amended"}

    interp = parse_interpretation("青民发〔2025〕3号政策解读\n问：提高了多少？\n答：每人每月40元。\n", "q.txt")
    created = service.add_interpretation(interp, departments["drafting"])
    (interpreted,) = audit(kb, "interpretation.add")
    assert interpreted["target"] == created.interpretation_id and interpreted["actor"] == "青川市民政局"

    service.delete_document(document.id, owner)
    (deleted,) = audit(kb, "document.delete")
    assert deleted["actor"] == "青川市大数据中心" and deleted["target"] == document.id
    assert deleted["detail"]["title"] == document.title
    assert kb.store.read("SELECT count(*) AS n FROM documents")[0]["n"] == 0


def test_a_new_version_of_an_interpretation_file_replaces_the_old_one(service, kb) -> None:  # type: ignore[no-untyped-def]
    from knowledge.retriever import Retriever

    service.ingest_bytes(DIBAO.encode(), "dibao.txt")
    first = "青民发〔2025〕3号政策解读\n解读部门：青川市民政局\n问：城市低保提高了多少？\n答：每月提高40元。\n"
    added = service.ingest_bytes(first.encode(), "低保解读.txt")
    assert added.kind == "interpretation" and added.action == "added"
    replaced = service.ingest_bytes(first.replace("40元", "70元").encode(), "低保解读.txt")
    assert replaced.action == "replaced"
    assert kb.store.read("SELECT count(*) AS n FROM interpretations")[0]["n"] == 1
    texts = [h.text for h in Retriever(kb, use_dense=False).search("城市低保提高了多少", k=10)]
    assert any("70元" in t for t in texts) and not any("40元" in t for t in texts)
