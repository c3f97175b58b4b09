"""/ask, feedback, the unanswered queue, FAQ, statistics and document lifecycle over HTTP."""

from __future__ import annotations

import pytest

from tests.api.conftest import auth
from tests.texts import DIBAO

DIBAO_2026 = DIBAO.replace("青民发〔2025〕3号", "青民发〔2026〕1号").replace("780元提高到820元", "820元提高到880元") \
    .replace("2025年3月底前", "2026年3月底前").replace("2025年1月10日", "2026年1月8日")




def upload(client, key: str, text: str = DIBAO, name: str = "dibao.txt") -> dict:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/documents", headers=auth(key),
                           files={"file": (name, text.encode("utf-8"), "text/plain")})
    assert response.status_code == 201, response.text
    return response.json()


def ask(client, question: str, **extra: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_ask_returns_the_contract_object_with_a_cited_answer(client, keys) -> None:  # type: ignore[no-untyped-def]
    upload(client, keys["civil"])
    body = ask(client, "城市低保标准提高到多少？", channel="web")
    assert set(body) >= {"question_id", "answered", "answer", "citations", "handoff", "warnings"}
    assert body["answered"] is True and body["handoff"] is None and body["warnings"] == []
    assert "820元" in body["answer"] and "青民发〔2025〕3号" in body["answer"]
    assert "起草部门：青川市民政局" in body["answer"]
    citation = body["citations"][0]
    assert citation["article"]["label"].startswith("（一）城市低保标准")
    assert citation["document"]["drafting_department"] == "青川市民政局"


@pytest.mark.parametrize("payload", [{"question": ""}, {"question": "问" * 501}, {}, {"question": "低保", "channel": "fax"}])
def test_ask_rejects_bad_bodies_with_422(client, payload: dict) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/ask", json=payload)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_empty_knowledge_base_hands_off_to_the_hotline(client) -> None:  # type: ignore[no-untyped-def]
    body = ask(client, "城市低保标准是多少？")
    assert body["answered"] is False and body["citations"] == []
    assert body["handoff"] == {"message": body["handoff"]["message"], "hotline": "12345"}


def test_repealed_then_superseded_policy(client, keys) -> None:  # type: ignore[no-untyped-def]
    old = upload(client, keys["civil"])
    patched = client.patch(f"/api/v1/documents/{old['id']}", headers=auth(keys["civil"]), json={"status": "repealed"})
    assert patched.status_code == 200 and patched.json()["status"] == "repealed"
    body = ask(client, "农村低保标准每人每年多少钱？")
    assert body["answered"] and body["citations"][0]["document"]["status"] == "repealed"
    assert "已废止" in body["warnings"][0] and body["answer"].startswith("注意：")

    new = upload(client, keys["civil"], DIBAO_2026, "dibao-2026.txt")
    linked = client.patch(f"/api/v1/documents/{new['id']}", headers=auth(keys["civil"]),
                          json={"supersedes": old["id"]})
    assert linked.status_code == 200 and linked.json()["supersedes"] == old["id"]
    body = ask(client, "城市低保标准提高到多少？")
    assert body["citations"][0]["document"]["id"] == new["id"]
    assert "880元" in body["answer"] and not body["warnings"]
    audit = client.app.state.kb.store.read("SELECT actor, action FROM audit_log WHERE target = ?", (new["id"],))
    assert ("青川市民政局", "document.update") in [(r["actor"], r["action"]) for r in audit]


def test_supersedes_needs_rights_over_the_replaced_document(client, keys) -> None:  # type: ignore[no-untyped-def]
    old = upload(client, keys["civil"])
    mine = upload(client, keys["health"], DIBAO_2026, "dibao-2026.txt")
    response = client.patch(f"/api/v1/documents/{mine['id']}", headers=auth(keys["health"]),
                            json={"supersedes": old["id"]})
    assert response.status_code == 403
    assert client.get(f"/api/v1/documents/{old['id']}").json()["status"] == "current"


def test_feedback(client, keys) -> None:  # type: ignore[no-untyped-def]
    upload(client, keys["civil"])
    body = ask(client, "城市低保标准是多少？")
    assert client.post("/api/v1/feedback", json={"question_id": body["question_id"], "helpful": True}).status_code == 204
    assert client.post("/api/v1/feedback", json={"question_id": "nope", "helpful": True}).status_code == 404
    assert client.post("/api/v1/feedback", json={"question_id": body["question_id"]}).status_code == 422


def test_unanswered_queue_faq_and_stats(client, keys) -> None:  # type: ignore[no-untyped-def]
    upload(client, keys["civil"])
    assert client.get("/api/v1/unanswered").status_code == 401
    assert client.get("/api/v1/stats").status_code == 401
    refused = [ask(client, q) for q in ("临时救助怎么申请？", "临时救助怎么申请呢？")]
    ask(client, "你好")  # small talk is not a question for the departments
    assert not any(r["answered"] for r in refused)
    helped = ask(client, "城市低保标准是多少？")
    client.post("/api/v1/feedback", json={"question_id": helped["question_id"], "helpful": False,
                                          "comment": "我想知道怎么申请"})

    groups = client.get("/api/v1/unanswered", headers=auth(keys["civil"])).json()["groups"]
    by_question = {g["question"]: g for g in groups}
    rescue = next(g for g in groups if "临时救助" in g["question"])
    assert rescue["count"] == 2 and rescue["reasons"] == ["refused"]
    assert any(g["reasons"] == ["unhelpful"] for g in by_question.values())
    theirs = client.get("/api/v1/unanswered", headers=auth(keys["health"])).json()["groups"]
    assert not any(g["reasons"] == ["unhelpful"] for g in theirs)  # an answer from 民政局's notice
    admin = client.get("/api/v1/unanswered", headers=auth(keys["admin"])).json()["groups"]
    assert [g["id"] for g in admin] == [g["id"] for g in groups]

    faq = client.post("/api/v1/faq", headers=auth(keys["civil"]), json={
        "question": "临时救助怎么申请？",
        "answer": "临时救助由申请人向户籍所在地乡镇（街道）提出，急难情况可先行救助，事后补办手续。",
        "question_ids": [q["question_id"] for q in rescue["questions"]],
    })
    assert faq.status_code == 201, faq.text
    assert faq.json()["department"] == "青川市民政局" and faq.json()["resolved"] == 2

    body = ask(client, "临时救助怎么申请？")
    assert body["answered"], body["answer"]
    assert body["citations"][0]["kind"] == "faq"
    assert "乡镇（街道）提出" in body["answer"] and "答复部门：青川市民政局" in body["answer"]
    groups = client.get("/api/v1/unanswered", headers=auth(keys["civil"])).json()["groups"]
    assert not any("临时救助" in g["question"] for g in groups)

    # Every question, the refused ones too, is in the admin's figures (a department's: tests/api/test_stats_scope.py).
    stats = client.get("/api/v1/stats", headers=auth(keys["admin"])).json()
    assert not any(g["question"] == "你好" for g in groups)
    assert stats["total"] == 4 and stats["answered"] == 2  # the greeting is not counted
    assert stats["answered_rate"] == 0.5
    assert stats["days"][-1]["questions"] == 4
    assert stats["hot_questions"][0] == {"question": "临时救助怎么申请？", "count": 3}
    assert {t["title"]: t["count"] for t in stats["topics"]} == {
        "青川市民政局关于提高城乡最低生活保障标准的通知": 1, "青川市民政局常见问题解答": 1}


def test_faq_on_another_departments_document_is_forbidden(client, keys) -> None:  # type: ignore[no-untyped-def]
    doc = upload(client, keys["civil"])
    response = client.post("/api/v1/faq", headers=auth(keys["health"]),
                           json={"question": "低保怎么办？", "answer": "请咨询民政局。", "document_id": doc["id"]})
    assert response.status_code == 403


def test_whoami_and_my_documents(client, keys) -> None:  # type: ignore[no-untyped-def]
    upload(client, keys["civil"])
    assert client.get("/api/v1/whoami", headers=auth(keys["civil"])).json() == {"name": "青川市民政局", "is_admin": False}
    assert client.get("/api/v1/whoami", headers=auth("wrong")).status_code == 401
    mine = client.get("/api/v1/documents?mine=true", headers=auth(keys["health"])).json()["documents"]
    assert mine == []
    assert len(client.get("/api/v1/documents?mine=true", headers=auth(keys["civil"])).json()["documents"]) == 1


def test_ask_is_rate_limited_with_retry_after(client) -> None:  # type: ignore[no-untyped-def]
    from api.ratelimit import RateLimiter

    client.app.state.limiter = RateLimiter(2)
    codes = [client.post("/api/v1/ask", json={"question": "低保标准"}) for _ in range(3)]
    assert [c.status_code for c in codes] == [200, 200, 429]
    assert codes[2].headers["Retry-After"] == "30"


def test_supersedes_refuses_cycles_and_links_inside_a_notice(client, keys) -> None:  # type: ignore[no-untyped-def]
    first = upload(client, keys["civil"])
    second = upload(client, keys["civil"], DIBAO_2026, "dibao-2026.txt")
    headers = auth(keys["civil"])
    assert client.patch(f"/api/v1/documents/{second['id']}", headers=headers,
                        json={"supersedes": first["id"]}).status_code == 200
    back = client.patch(f"/api/v1/documents/{first['id']}", headers=headers, json={"supersedes": second["id"]})
    assert back.status_code == 422 and "反向替代" in back.json()["detail"]
    itself = client.patch(f"/api/v1/documents/{first['id']}", headers=headers, json={"supersedes": first["id"]})
    assert itself.status_code == 422


def test_a_notice_repealed_by_its_successor_takes_what_it_prints_along(client, keys) -> None:  # type: ignore[no-untyped-def]
    from tests.paths import SEEDS

    forwarding = next(SEEDS.glob("004_*.txt"))
    response = client.post("/api/v1/documents", headers=auth(keys["admin"]),
                           files={"file": (forwarding.name, forwarding.read_bytes(), "text/plain")})
    assert response.status_code == 201, response.text
    notice = response.json()
    printed = [d["id"] for d in notice["documents"][1:]]
    expired = client.patch(f"/api/v1/documents/{notice['id']}", headers=auth(keys["admin"]),
                           json={"expiry_date": "2020-12-31"})
    assert expired.status_code == 200 and expired.json()["status"] == "expired"
    assert all(client.get(f"/api/v1/documents/{d}").json()["status"] == "expired" for d in printed)
    body = ask(client, "办事条件发生变化的事项应在多少个工作日内公开变更后的信息？")
    if body["answered"]:
        assert body["warnings"], "a passage of an expired notice was quoted without a warning"


def test_a_short_new_question_is_not_read_as_a_follow_up(client, keys) -> None:  # type: ignore[no-untyped-def]
    upload(client, keys["civil"])
    first = ask(client, "城市低保标准提高到多少？", session_id="s")
    assert first["answered"]
    body = ask(client, "公积金提取", session_id="s")
    assert not body["answered"]  # nothing about the provident fund here; the earlier topic does not answer it
    state = client.app.state.kb.store.read("SELECT state FROM sessions WHERE id = 's'")[0]["state"]
    assert "公积金" not in state


def test_faq_masks_personal_numbers_and_quotes_in_department_names(client, kb) -> None:  # type: ignore[no-untyped-def]
    _, key = kb.store.add_department('青川市"便民"服务中心')
    response = client.post("/api/v1/faq", headers=auth(key), json={
        "question": "我手机13812345678，怎么办理居住证？", "answer": "持身份证到派出所办理。"})
    assert response.status_code == 201, response.text
    assert response.json()["question"] == "我手机138****5678，怎么办理居住证？"
    audit = kb.store.read("SELECT detail FROM audit_log WHERE action = 'faq.add'")[0]["detail"]
    assert "13812345678" not in audit
    listed = client.get("/api/v1/documents").json()["documents"]
    assert any(d["issuer"] == '青川市"便民"服务中心' for d in listed)


def test_a_faq_resolves_only_the_departments_own_queue(client, keys) -> None:  # type: ignore[no-untyped-def]
    upload(client, keys["civil"])
    helped = ask(client, "城市低保标准是多少？")
    client.post("/api/v1/feedback", json={"question_id": helped["question_id"], "helpful": False})
    other = client.post("/api/v1/faq", headers=auth(keys["health"]), json={
        "question": "城市低保标准是多少？", "answer": "请咨询民政部门。", "question_ids": [helped["question_id"]]})
    assert other.status_code == 201 and other.json()["resolved"] == 0
    groups = client.get("/api/v1/unanswered", headers=auth(keys["civil"])).json()["groups"]
    assert any(q["question_id"] == helped["question_id"] for g in groups for q in g["questions"])


def test_question_length_is_counted_without_the_spaces(client) -> None:  # type: ignore[no-untyped-def]
    padded = client.post("/api/v1/ask", json={"question": "医保" + " " * 600 + "怎么交"})
    assert padded.status_code == 200
    too_long = client.post("/api/v1/ask", json={"question": "问" * 501})
    assert too_long.status_code == 422 and "问题过长（501字）" in too_long.json()["detail"]
    empty = client.post("/api/v1/ask", json={"question": "   "})
    assert empty.status_code == 422 and "问题不能为空" in empty.json()["detail"]
