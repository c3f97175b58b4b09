"""GET /api/v1/stats per department: the questions about its own documents; an admin's cover all."""

from __future__ import annotations

from tests.api.conftest import auth
from tests.paths import SAMPLES
from tests.texts import DIBAO

MEDICAL = "青川市医疗保障局"


def upload(client, key: str, name: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/documents", headers=auth(key), files={"file": (name, data, "text/plain")})
    assert response.status_code == 201, response.text


def ask(client, question: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def stats(client, key: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/stats", headers=auth(key))
    assert response.status_code == 200, response.text
    return response.json()


def hot(figures: dict) -> set[str]:
    return {h["question"] for h in figures["hot_questions"]}


def test_a_department_sees_only_the_questions_about_its_own_documents(client, kb, keys) -> None:  # type: ignore[no-untyped-def]
    keys["medical"] = kb.store.add_department(MEDICAL)[1]
    # Asked of an empty knowledge base: refused, near no document at all.
    nowhere = ask(client, "临时救助怎么申请？")
    assert not nowhere["answered"]
    upload(client, keys["civil"], "dibao.txt", DIBAO.encode("utf-8"))
    upload(client, keys["medical"], "medical.txt", (SAMPLES / "qcyb-2024-7-medical-insurance.txt").read_bytes())

    civil = ask(client, "城市低保标准提高到多少？")
    medical = [ask(client, "居民医保个人缴费标准是多少？"), ask(client, "居民医保集中参保缴费期是什么时候？")]
    assert civil["answered"] and civil["citations"][0]["document"]["drafting_department"] == "青川市民政局"
    assert all(m["answered"] and m["citations"][0]["document"]["drafting_department"] == MEDICAL for m in medical)
    # Refused, though some passage of the 医保局's comes nearest: not a question about its documents.
    passport = ask(client, "护照怎么办理？")
    assert not passport["answered"]
    ask(client, "你好")  # small talk counts for no one
    feedback = client.post("/api/v1/feedback", json={"question_id": medical[0]["question_id"], "helpful": False})
    assert feedback.status_code == 204

    mine = stats(client, keys["medical"])
    assert mine["total"] == 2 and mine["answered"] == 2 and mine["answered_rate"] == 1.0
    assert [(d["questions"], d["answered"]) for d in mine["days"]] == [(2, 2)]
    assert mine["feedback"] == {"helpful": 0, "unhelpful": 1}
    assert hot(mine) == {"居民医保个人缴费标准是多少？", "居民医保集中参保缴费期是什么时候？"}
    assert [t["doc_number"] for t in mine["topics"]] == ["青医保发〔2024〕7号"]
    assert mine["topics"][0]["count"] == 2

    theirs = stats(client, keys["civil"])
    assert theirs["total"] == 1 and theirs["answered"] == 1
    assert theirs["feedback"] == {"helpful": 0, "unhelpful": 0}
    assert hot(theirs) == {"城市低保标准提高到多少？"}
    assert [t["doc_number"] for t in theirs["topics"]] == ["青民发〔2025〕3号"]

    # A department with no documents has no questions of its own.
    assert stats(client, keys["health"])["total"] == 0 and stats(client, keys["health"])["hot_questions"] == []

    everything = stats(client, keys["admin"])
    assert everything["total"] == 5 and everything["answered"] == 3  # the greeting is not counted
    assert [(d["questions"], d["answered"]) for d in everything["days"]] == [(5, 3)]
    assert hot(everything) == hot(mine) | hot(theirs) | {"护照怎么办理？", "临时救助怎么申请？"}
    assert {t["doc_number"]: t["count"] for t in everything["topics"]} == {
        "青医保发〔2024〕7号": 2, "青民发〔2025〕3号": 1}
    # The refused questions are still each department's to answer, in its unanswered queue.
    queue = client.get("/api/v1/unanswered", headers=auth(keys["admin"])).json()["groups"]
    assert {"护照怎么办理？", "临时救助怎么申请？"} <= {g["question"] for g in queue}


def test_a_question_refused_for_naming_another_place_counts_for_the_department_that_holds_the_answer(
        client, keys) -> None:  # type: ignore[no-untyped-def]
    upload(client, keys["civil"], "dibao.txt", DIBAO.encode("utf-8"))
    elsewhere = ask(client, "成都市城市低保标准是多少？")
    assert not elsewhere["answered"] and "成都" in elsewhere["answer"]
    figures = stats(client, keys["civil"])
    assert figures["total"] == 1 and figures["answered"] == 0 and figures["answered_rate"] == 0.0
    assert hot(figures) == {"成都市城市低保标准是多少？"} and figures["topics"] == []
    assert stats(client, keys["health"])["total"] == 0
