"""A question that names a document's full title (or its 文号) puts that document first."""

from __future__ import annotations

from knowledge.retriever import Retriever
from tests.texts import DIBAO

# Same topic, other document: without the exact path it would compete for every 低保 question.
TEMPORARY = """青川市民政局关于做好临时救助和最低生活保障衔接工作的通知
青民发〔2025〕9号
一、对象衔接
城市最低生活保障对象遭遇突发困难的，可以申请临时救助，救助标准按城市低保标准的3倍确定。
二、办理程序
临时救助向户籍所在地乡镇人民政府申请，乡镇人民政府在5个工作日内审核。
"""


def test_a_full_title_named_anywhere_in_the_question_lifts_its_document(kb, service) -> None:  # type: ignore[no-untyped-def]
    service.ingest_bytes(DIBAO.encode(), "dibao.txt")
    service.ingest_bytes(TEMPORARY.encode(), "temporary.txt")
    retriever = Retriever(kb)
    named = "请问《青川市民政局关于做好临时救助和最低生活保障衔接工作的通知》里城市低保标准是多少"
    assert {h.document.title for h in retriever.search(named, k=2)} == {
        "青川市民政局关于做好临时救助和最低生活保障衔接工作的通知"}
    # Spaces and full-width letters typed in the title still name it.
    spaced = "青川市民政局关于提高城乡最低生活保障标准的通知 里 临时救助 怎么申请"
    assert retriever.search(spaced, k=1)[0].document.title == "青川市民政局关于提高城乡最低生活保障标准的通知"
    assert retriever.search("青民发〔2025〕9号 城市低保标准", k=1)[0].document.doc_number == "青民发〔2025〕9号"


def test_a_title_added_later_is_matched_without_a_restart(kb, service) -> None:  # type: ignore[no-untyped-def]
    service.ingest_bytes(DIBAO.encode(), "dibao.txt")
    retriever = Retriever(kb)
    question = "青川市民政局关于做好临时救助和最低生活保障衔接工作的通知 城市低保标准"
    assert retriever.search(question, k=1)[0].document.title.startswith("青川市民政局关于提高")
    service.ingest_bytes(TEMPORARY.encode(), "temporary.txt")
    assert retriever.search(question, k=1)[0].document.title.startswith("青川市民政局关于做好临时救助")
