"""The documents endpoints of API.md against the real app, store and indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import SEEDS
from tests.api.conftest import auth
from tests.texts import DIBAO
from tests.postgres import current_database_url





def upload(client, key: str, text: str = DIBAO, name: str = "dibao.txt", **form: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/documents", headers=auth(key),
                       files={"file": (name, text.encode("utf-8"), "text/plain")}, data=form)


def test_healthz(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json() == {"status": "ok"}


def test_upload_requires_a_valid_key(client) -> None:  # type: ignore[no-untyped-def]
    files = {"file": ("a.txt", DIBAO.encode(), "text/plain")}
    missing = client.post("/api/v1/documents", files=files)
    assert missing.status_code == 401
    assert "密钥" in missing.json()["detail"]
    wrong = client.post("/api/v1/documents", files=files, headers=auth("pb_not-a-key"))
    assert wrong.status_code == 401


def test_upload_parses_and_is_searchable_at_once(client, keys) -> None:  # type: ignore[no-untyped-def]
    response = upload(client, keys["civil"])
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["doc_number"] == "青民发〔2025〕3号"
    assert doc["drafting_department"] == "青川市民政局"
    assert doc["publish_date"] == "2025-01-10"
    assert doc["status"] == "current"
    assert doc["articles"] == 3
    # Lexical search serves it before any vector exists.
    found = client.get("/api/v1/search", params={"q": "农村低保标准每年多少"}).json()["results"]
    assert found and "7200元" in found[0]["text"]
    assert found[0]["document"]["id"] == doc["id"]
    assert found[0]["article"]["path"][-1] == found[0]["article"]["label"]
    detail = client.get(f"/api/v1/documents/{doc['id']}").json()
    units = [a["responsible_units"] for a in detail["articles"]]
    assert ["市民政局", "各县（市、区）人民政府"] in units
    assert "各县（市、区）民政局：" not in " ".join(a["text"] for a in detail["articles"])


def test_upload_form_fields_override_parsed_metadata(client, keys) -> None:  # type: ignore[no-untyped-def]
    doc = upload(client, keys["civil"], drafting_department="青川市财政局", status="amended",
                 publish_date="2025-01-11").json()
    assert doc["drafting_department"] == "青川市财政局"
    assert doc["status"] == "amended"
    assert doc["publish_date"] == "2025-01-11"


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("policy.exe", b"MZ\x90\x00", 415),
        ("empty.txt", b"   \n\n", 422),
        ("binary.txt", bytes(range(256)) * 4, 422),
    ],
)
def test_bad_uploads_say_what_is_wrong(client, keys, name, data, status) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/documents", headers=auth(keys["civil"]), files={"file": (name, data)})
    assert response.status_code == status, response.text
    assert name in response.json()["detail"]
    assert client.get("/api/v1/documents").json()["documents"] == []


def test_oversized_upload_is_413(client, keys) -> None:  # type: ignore[no-untyped-def]
    client.app.state.settings.max_upload_bytes = 1000
    response = upload(client, keys["civil"], DIBAO * 5)
    assert response.status_code == 413
    assert "MB" in response.json()["detail"] or "上限" in response.json()["detail"]


def test_only_the_owning_department_may_change_a_document(client, keys) -> None:  # type: ignore[no-untyped-def]
    doc = upload(client, keys["civil"]).json()
    url = f"/api/v1/documents/{doc['id']}"
    assert client.patch(url, json={"status": "repealed"}).status_code == 401
    forbidden = client.patch(url, json={"status": "repealed"}, headers=auth(keys["health"]))
    assert forbidden.status_code == 403
    assert "无权" in forbidden.json()["detail"]
    assert client.delete(url, headers=auth(keys["health"])).status_code == 403
    assert client.patch(url, json={"status": "gone"}, headers=auth(keys["civil"])).status_code == 422
    assert client.patch(url, json={"colour": "red"}, headers=auth(keys["civil"])).status_code == 422
    assert client.patch(url, json={"expiry_date": "2026年"}, headers=auth(keys["civil"])).status_code == 422
    assert client.patch(url, json={"expiry_date": "2026-12-31"}, headers=auth(keys["admin"])).status_code == 200
    assert client.get(url).json()["expiry_date"] == "2026-12-31"


def test_repeal_and_delete_take_effect_in_search_at_once(client, keys, kb) -> None:  # type: ignore[no-untyped-def]
    doc = upload(client, keys["civil"]).json()
    client.app.state.indexer.wait_idle(60)
    assert len(kb.vectors) > 0
    query = {"q": "城市低保标准提高到多少"}
    assert client.get("/api/v1/search", params=query).json()["results"]
    url = f"/api/v1/documents/{doc['id']}"
    patched = client.patch(url, json={"status": "repealed"}, headers=auth(keys["civil"]))
    assert patched.json()["status"] == "repealed"
    assert client.get("/api/v1/search", params=query).json()["results"] == []
    repealed = client.get("/api/v1/search", params={**query, "status": "all"}).json()["results"]
    assert repealed and repealed[0]["document"]["status"] == "repealed"
    assert client.delete(url, headers=auth(keys["civil"])).status_code == 204
    assert client.get("/api/v1/search", params={**query, "status": "all"}).json()["results"] == []
    assert len(kb.vectors) == 0 and len(kb.lexical) == 0
    assert client.get(url).status_code == 404
    assert client.delete(url, headers=auth(keys["civil"])).status_code == 404


def test_forwarding_notice_keeps_each_document(client, keys) -> None:  # type: ignore[no-untyped-def]
    seed = next(SEEDS.glob("004_*.txt"))
    response = upload(client, keys["admin"], seed.read_text(encoding="utf-8"), name=seed.name)
    assert response.status_code == 201, response.text
    docs = response.json()["documents"]
    numbers = [d["doc_number"] for d in docs]
    assert numbers == ["江府办〔2018〕14号", "粤府办〔2018〕19号", "国办发〔2018〕23号"]
    assert docs[1]["parent_id"] == docs[0]["id"] and docs[2]["parent_id"] == docs[1]["id"]
    hits = client.get("/api/v1/search", params={"q": "国办发〔2018〕23号"}).json()["results"]
    assert hits and all(h["document"]["doc_number"] == "国办发〔2018〕23号" for h in hits[:5])
    filtered = client.get("/api/v1/search", params={"q": "舆情回应", "doc_number": "粤府办〔2018〕19号"})
    assert {h["document"]["doc_number"] for h in filtered.json()["results"]} == {"粤府办〔2018〕19号"}


def test_interpretations_by_json_and_file(client, keys) -> None:  # type: ignore[no-untyped-def]
    doc = upload(client, keys["civil"]).json()
    url = f"/api/v1/documents/{doc['id']}/interpretations"
    body = {"title": "低保标准调整政策解读", "text": "问：城市低保标准提高了多少？\n答：每人每月提高40元，达到820元。",
            "publish_date": "2025-01-12"}
    assert client.post(url, json=body, headers=auth(keys["health"])).status_code == 403
    created = client.post(url, json=body, headers=auth(keys["civil"]))
    assert created.status_code == 201, created.text
    assert created.json()["department"] == "青川市民政局"
    assert created.json()["sections"] == 1
    text = "低保政策问答\n解读部门：青川市民政局\n问：农村低保怎么申请？\n答：向户籍所在地乡镇人民政府提出书面申请。\n"
    uploaded = client.post(url, headers=auth(keys["civil"]),
                           files={"file": ("问答.txt", text.encode("gb18030"), "text/plain")})
    assert uploaded.status_code == 201, uploaded.text
    hits = client.get("/api/v1/search", params={"q": "农村低保怎么申请"}).json()["results"]
    top = hits[0]
    assert top["kind"] == "interpretation"
    assert top["interpretation"]["department"] == "青川市民政局"
    assert top["document"]["id"] == doc["id"]
    detail = client.get(f"/api/v1/documents/{doc['id']}").json()
    assert len(detail["interpretations"]) == 2
    missing = client.post("/api/v1/documents/nope/interpretations", json=body, headers=auth(keys["admin"]))
    assert missing.status_code == 404


def test_search_validates_parameters(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/search", params={"q": ""}).status_code == 422
    assert client.get("/api/v1/search", params={"q": "x" * 501}).status_code == 422
    assert client.get("/api/v1/search", params={"q": "低保", "k": 0}).status_code == 422
    assert client.get("/api/v1/search", params={"q": "低保", "status": "bogus"}).status_code == 422
    ok = client.get("/api/v1/search", params={"q": "低保"})
    assert ok.status_code == 200 and ok.json() == {"query": "低保", "results": [], "terms": ["低保"]}


def test_chinese_is_not_escaped(client, keys) -> None:  # type: ignore[no-untyped-def]
    upload(client, keys["civil"])
    raw = client.get("/api/v1/documents").content.decode("utf-8")
    assert "青川市民政局" in raw and "\\u" not in raw


def test_reupload_of_same_file_is_unchanged_and_new_version_replaces(client, keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = upload(client, keys["civil"]).json()
    again = upload(client, keys["civil"]).json()
    assert again["action"] == "unchanged" and again["id"] == first["id"]
    changed = upload(client, keys["civil"], DIBAO.replace("820元", "850元")).json()
    assert changed["action"] == "replaced" and changed["id"] == first["id"]
    hits = client.get("/api/v1/search", params={"q": "城市低保标准"}).json()["results"]
    assert any("850元" in h["text"] for h in hits)
    assert not any("820元" in h["text"] for h in hits)


def test_anonymous_search_is_rate_limited(client) -> None:  # type: ignore[no-untyped-def]
    from api.ratelimit import RateLimiter

    client.app.state.limiter = RateLimiter(2)
    codes = [client.get("/api/v1/search", params={"q": "低保"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert "频繁" in client.get("/api/v1/search", params={"q": "低保"}).json()["detail"]
    assert client.get("/healthz").status_code == 200  # only the anonymous API is limited


def test_a_second_worker_serves_and_embeds_what_the_first_uploaded(client, keys, kb, embedder) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.config import Settings
    from knowledge.base import KnowledgeBase

    other_kb = KnowledgeBase(kb.data_dir, embedder, current_database_url())
    other = create_app(Settings(data_dir=kb.data_dir, rate_limit=0), kb=other_kb)
    with TestClient(other) as second:
        doc = upload(client, keys["civil"]).json()
        hits = second.get("/api/v1/search", params={"q": "农村低保标准"}).json()["results"]
        assert hits and hits[0]["document"]["id"] == doc["id"]
        assert second.app.state.indexer.wait_idle(60)
        assert len(other_kb.vectors) == len(other_kb.filters) > 0
    other_kb.store.close()


def test_a_document_deleted_on_one_worker_is_gone_from_the_others_next_search(client, keys, kb, embedder) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.config import Settings
    from knowledge.base import KnowledgeBase

    doc = upload(client, keys["civil"]).json()
    assert client.app.state.indexer.wait_idle(60)
    other_kb = KnowledgeBase(kb.data_dir, embedder, current_database_url())
    other = create_app(Settings(data_dir=kb.data_dir, rate_limit=0), kb=other_kb)
    query = {"q": "城市低保标准提高到多少", "status": "all"}
    with TestClient(other) as second:
        assert second.get("/api/v1/search", params=query).json()["results"]
        assert len(other_kb.vectors) > 0
        assert client.delete(f"/api/v1/documents/{doc['id']}", headers=auth(keys["civil"])).status_code == 204
        # No wait: the other worker's next search sees the store's new generation.
        assert second.get("/api/v1/search", params=query).json()["results"] == []
        assert len(other_kb.vectors) == 0 and len(other_kb.lexical) == 0  # no ghost passages to cite
        assert second.get(f"/api/v1/documents/{doc['id']}").status_code == 404
    other_kb.store.close()


HEATING = """青川市住房和城乡建设局关于做好城区冬季供暖工作的通知
青建发〔2025〕2号
一、供暖时间
（一）供暖期。城区供暖期为每年11月15日至次年3月15日。（牵头单位：市住房城乡建设局）
青川市住房和城乡建设局
2025年10月8日
"""


def test_same_file_name_different_policy_is_a_new_document(client, keys) -> None:  # type: ignore[no-untyped-def]
    first = upload(client, keys["admin"], DIBAO, name="通知.txt").json()
    second = upload(client, keys["admin"], HEATING, name="通知.txt").json()
    assert second["action"] == "added" and second["id"] != first["id"]
    numbers = {d["doc_number"] for d in client.get("/api/v1/documents").json()["documents"]}
    assert numbers == {"青民发〔2025〕3号", "青建发〔2025〕2号"}


def test_new_version_keeps_the_interpretations(client, keys) -> None:  # type: ignore[no-untyped-def]
    doc = upload(client, keys["civil"]).json()
    body = {"title": "低保标准调整解读", "text": "问：城市低保提高了多少？\n答：每人每月提高40元。"}
    assert client.post(f"/api/v1/documents/{doc['id']}/interpretations", json=body,
                       headers=auth(keys["civil"])).status_code == 201
    newer = upload(client, keys["civil"], DIBAO.replace("820元", "850元")).json()
    assert newer["action"] == "replaced" and newer["id"] == doc["id"]
    detail = client.get(f"/api/v1/documents/{doc['id']}").json()
    assert len(detail["interpretations"]) == 1
    assert "850元" in " ".join(a["text"] for a in detail["articles"])
    hits = client.get("/api/v1/search", params={"q": "城市低保提高了多少", "k": 10}).json()["results"]
    assert any(h["kind"] == "interpretation" for h in hits)
    assert not any("820元" in h["text"] and h["kind"] == "article" for h in hits)


def test_identical_upload_updates_metadata_or_conflicts(client, keys) -> None:  # type: ignore[no-untyped-def]
    doc = upload(client, keys["civil"]).json()
    again = upload(client, keys["civil"], status="repealed").json()
    assert again["id"] == doc["id"] and again["action"] == "updated"
    assert again["status"] == "repealed" and again["articles"] == doc["articles"] == 3
    conflict = upload(client, keys["health"])
    assert conflict.status_code == 409
    assert "青川市民政局" in conflict.json()["detail"]


def test_a_policy_past_its_expiry_date_leaves_default_search(client, keys) -> None:  # type: ignore[no-untyped-def]
    doc = upload(client, keys["civil"]).json()
    query = {"q": "农村低保标准"}
    assert client.get("/api/v1/search", params=query).json()["results"]
    patched = client.patch(f"/api/v1/documents/{doc['id']}", json={"expiry_date": "2020-12-31"},
                           headers=auth(keys["civil"]))
    assert patched.json()["status"] == "expired"
    assert client.get("/api/v1/search", params=query).json()["results"] == []
    expired = client.get("/api/v1/search", params={**query, "status": "expired"}).json()["results"]
    assert expired and expired[0]["document"]["status"] == "expired"


def test_patch_rejects_nulls_and_impossible_dates(client, keys) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/documents/{upload(client, keys['civil']).json()['id']}"
    for body in ({"title": None}, {"status": None}, {"publish_date": "2024-13-99"}, {"expiry_date": "明年"}):
        response = client.patch(url, json=body, headers=auth(keys["civil"]))
        assert response.status_code == 422, body
        assert response.json()["errors"], body
    assert client.patch(url, json={"url": None}, headers=auth(keys["civil"])).status_code == 200
    assert client.get("/api/v1/documents", params={"status": "bogus"}).status_code == 422


def test_upload_rejects_an_impossible_publish_date(client, keys) -> None:  # type: ignore[no-untyped-def]
    response = upload(client, keys["civil"], publish_date="2025-02-30")
    assert response.status_code == 422
    assert client.get("/api/v1/documents").json()["documents"] == []


def test_a_title_or_doc_number_in_the_question_finds_that_document_first(client, keys) -> None:  # type: ignore[no-untyped-def]
    dibao = upload(client, keys["civil"]).json()
    heating = upload(client, keys["admin"], HEATING, name="heating.txt").json()
    for query, wanted in (("青川市民政局关于提高城乡最低生活保障标准的通知有哪些内容", dibao["id"]),
                          ("青建发〔2025〕2号说了什么", heating["id"]),
                          ("青建发[2025]2号", heating["id"])):
        hits = client.get("/api/v1/search", params={"q": query, "k": 3}).json()["results"]
        assert hits and all(h["document"]["id"] == wanted for h in hits), query


def test_search_returns_the_terms_it_matched_on(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/search", params={"q": "低保户的补助标准是多少"}).json()
    assert {"低保户", "补助", "低保对象", "补贴"} <= set(body["terms"])
    assert "多少" not in body["terms"]


def test_a_new_version_of_a_repealed_policy_stays_repealed(client, keys) -> None:  # type: ignore[no-untyped-def]
    doc = upload(client, keys["civil"]).json()
    url = f"/api/v1/documents/{doc['id']}"
    client.patch(url, json={"status": "repealed", "effective_date": "2024-01-01", "expiry_date": "2030-12-31"},
                 headers=auth(keys["civil"]))
    changed = upload(client, keys["civil"], DIBAO.replace("820元", "850元")).json()
    assert changed["action"] == "replaced" and changed["id"] == doc["id"]
    assert (changed["status"], changed["effective_date"], changed["expiry_date"]) == \
        ("repealed", "2024-01-01", "2030-12-31")
    assert client.get("/api/v1/search", params={"q": "城市低保标准"}).json()["results"] == []
    # Said again on upload, the status is the uploader's.
    again = upload(client, keys["civil"], DIBAO.replace("820元", "860元"), status="current").json()
    assert again["status"] == "current"


def test_patch_checks_the_dates_and_links_together(client, keys) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/documents/{upload(client, keys['civil']).json()['id']}"
    headers = auth(keys["civil"])
    response = client.patch(url, json={"effective_date": "2025-01-01", "expiry_date": "2024-01-01"}, headers=headers)
    assert response.status_code == 422 and "不能早于" in response.json()["detail"]
    assert client.patch(url, json={"effective_date": "2025-01-01"}, headers=headers).status_code == 200
    assert client.patch(url, json={"expiry_date": "2024-12-31"}, headers=headers).status_code == 422
    missing = client.patch(url, json={"supersedes": "no-such-document"}, headers=headers)
    assert missing.status_code == 422 and "不存在" in missing.json()["detail"]
    assert client.patch(url, json={"drafting_department": " "}, headers=headers).status_code == 422
    patched = client.patch(url, json={"issuer": "青川市人民政府"}, headers=headers).json()
    assert patched["issuer"] == "青川市人民政府"
    assert client.get(url).json()["effective_date"] == "2025-01-01"


def test_an_oversized_json_interpretation_is_413_and_adds_nothing(client, keys) -> None:  # type: ignore[no-untyped-def]
    doc = upload(client, keys["civil"]).json()
    limit = client.app.state.settings.max_upload_bytes
    text = "问：标准是多少？答：" + "按规定执行。" * (limit // 10)
    response = client.post(f"/api/v1/documents/{doc['id']}/interpretations", headers=auth(keys["civil"]),
                           json={"title": "解读", "text": text})
    assert response.status_code == 413 and "上限" in response.json()["detail"]
    assert client.get(f"/api/v1/documents/{doc['id']}").json()["interpretations"] == []


def test_blank_queries_are_422_in_chinese(client) -> None:  # type: ignore[no-untyped-def]
    blank = client.get("/api/v1/search", params={"q": "   "})
    assert blank.status_code == 422 and "不能只有空格" in blank.json()["detail"]
    long = client.get("/api/v1/search", params={"q": "医保" * 300})
    assert long.status_code == 422 and "500" in long.json()["detail"]
    bad_k = client.get("/api/v1/search", params={"q": "医保", "k": 51}).json()
    assert bad_k["detail"].startswith("请求参数有误：返回条数 k不能大于 50")
    assert bad_k["errors"][0]["field"] == "k" and bad_k["errors"][0]["message"]


def test_a_superseded_policy_cannot_be_made_current_while_its_successor_stands(client, keys) -> None:  # type: ignore[no-untyped-def]
    headers = auth(keys["civil"])
    old = upload(client, keys["civil"]).json()
    new = upload(client, keys["civil"], DIBAO.replace("820元", "900元").replace("〔2024〕", "〔2025〕"),
                 name="dibao-2025.txt").json()
    assert client.patch(f"/api/v1/documents/{new['id']}", json={"supersedes": old["id"]},
                        headers=headers).status_code == 200
    assert client.get(f"/api/v1/documents/{old['id']}").json()["status"] == "repealed"
    restored = client.patch(f"/api/v1/documents/{old['id']}", json={"status": "current"}, headers=headers)
    assert restored.status_code == 422 and "已取代本文件" in restored.json()["detail"]
    # Undo the link, restore, and link again: sending the same supersedes repeals it again.
    client.patch(f"/api/v1/documents/{new['id']}", json={"supersedes": None}, headers=headers)
    assert client.patch(f"/api/v1/documents/{old['id']}", json={"status": "current"},
                        headers=headers).status_code == 200
    client.patch(f"/api/v1/documents/{new['id']}", json={"supersedes": old["id"]}, headers=headers)
    client.patch(f"/api/v1/documents/{new['id']}", json={"supersedes": old["id"]}, headers=headers)
    assert client.get(f"/api/v1/documents/{old['id']}").json()["status"] == "repealed"


def test_a_department_cannot_publish_an_interpretation_in_another_departments_name(client, keys) -> None:  # type: ignore[no-untyped-def]
    doc = upload(client, keys["civil"]).json()
    body = client.post(f"/api/v1/documents/{doc['id']}/interpretations", headers=auth(keys["civil"]), json={
        "title": "低保标准解读", "text": "解读部门：青川市财政局\n问：标准提高多少？\n答：城市低保每人每月提高到820元。",
        "department": "青川市财政局"}).json()
    assert body["department"] == "青川市民政局"
    admin = client.post(f"/api/v1/documents/{doc['id']}/interpretations", headers=auth(keys["admin"]), json={
        "title": "低保标准解读（财政）", "text": "问：资金谁出？\n答：市县财政分担。", "department": "青川市财政局"}).json()
    assert admin["department"] == "青川市财政局"  # an admin may record who wrote it


def test_a_new_version_cannot_undo_a_supersession_or_invert_its_dates(client, keys) -> None:  # type: ignore[no-untyped-def]
    headers = auth(keys["civil"])
    old = upload(client, keys["civil"]).json()
    new = upload(client, keys["civil"], DIBAO.replace("820元", "900元"), name="dibao-2025.txt").json()
    client.patch(f"/api/v1/documents/{new['id']}", json={"supersedes": old["id"]}, headers=headers)
    revived = upload(client, keys["civil"], DIBAO.replace("820元", "830元"), status="current")
    assert revived.status_code == 422 and "已取代本文件" in revived.json()["detail"]
    assert client.get(f"/api/v1/documents/{old['id']}").json()["status"] == "repealed"
    client.patch(f"/api/v1/documents/{new['id']}", json={"effective_date": "2025-01-01"}, headers=headers)
    from knowledge.errors import Invalid
    from knowledge.service import KnowledgeService
    from knowledge.writer import DocumentMeta

    kb = client.app.state.kb  # the store the app writes to; the upload form has no expiry field
    actor = kb.store.department_for_key(keys["civil"])
    with pytest.raises(Invalid):
        KnowledgeService(kb).ingest_bytes(DIBAO.replace("820元", "910元").encode(), "dibao-2025.txt", actor,
                                               DocumentMeta(expiry_date="2020-06-30"))
