"""Flattened text (a scraped page on one line) gets its heading lines back."""

from __future__ import annotations

from tests.texts import DIBAO

from ingest import parse_policy
from ingest.clean import clean_text, normalize
from ingest.flattened import restore_line_breaks

# A notice scraped into one line: sections, articles, items, a cross-reference
# after a sentence end, a date and amounts that must stay inline.
NOTICE = (
    "示例市人民政府办公厅关于有序推进企业复工复产的通知 各区人民政府，市政府各部门： "
    "为统筹做好疫情防控和经济社会发展工作，经市政府同意，现将有关事项通知如下： "
    "一、分类推进企业复工复产 "
    "（一）明确复工时间。在做好疫情防控工作的基础上，自2020.2.10起分批有序推进全市企业复工复产，"
    "重点保障物资生产企业可以提前复工。第三条规定的企业除外。 "
    "（二）规范备案登记。企业复工前应当向所在区行业主管部门备案，备案材料包括：1.复工申请表；"
    "2.疫情防控方案；3.员工健康情况登记表。备案通过后方可复工复产。 "
    "二、落实企业防控责任 "
    "（一）加强人员管理。企业应当建立员工健康台账，每日两次检测员工体温，发现发热人员立即报告。"
    "（二）做好物资储备。企业应当储备不少于七天用量的口罩、消毒用品和测温设备，"
    "小微企业购置防控物资的，按实际支出给予补贴，单户补贴最高为：1.5万元。 "
    "三、强化服务保障 市级行业主管部门要开通企业复工服务专线，主动上门指导企业制定复工方案，"
    "及时协调解决企业在用工、原料、物流等方面遇到的困难，依照本通知第二条规定落实属地责任。 "
    "示例市人民政府办公厅 2020年2月8日"
)

# Law-style text on one line; the second 第X条 reference follows a sentence end.
MEASURES = (
    "示例市疫情防控期间市场秩序管理办法 第一章 总则 "
    "第一条 为了维护疫情防控期间的市场秩序，保障群众基本生活需要，根据有关法律法规，结合本市实际，制定本办法。 "
    "第二条 本办法适用于本市行政区域内从事防疫物资和生活必需品经营活动的经营者。"
    "第一条规定的目的应当贯穿市场监管工作全过程，各有关部门应当依照职责分工做好相关工作。 "
    "第二章 价格监管 "
    "第三条 经营者不得捏造、散布涨价信息，不得哄抬价格，不得囤积居奇，违反规定的依法从重处罚。"
    "市场监管部门应当加强日常巡查，公布举报电话，及时处理群众投诉举报，对典型案件予以公开曝光。 "
    "第四条 防疫物资经营者应当明码标价，并保存进货凭证，依照本办法第三条规定接受检查。"
    "价格主管部门应当会同有关部门建立重要商品价格监测制度，及时发布价格信息，引导经营者诚信经营。 "
    "第三章 附则 "
    "第五条 本办法由市市场监督管理局负责解释。各区可以根据本办法，结合本区实际制定具体实施细则，"
    "并报市市场监督管理局备案。本办法未作规定的事项，按照国家和省有关规定执行。 "
    "第六条 本办法自发布之日起施行，有效期至疫情防控应急响应终止之日。"
)

# One line whose （一）（二） appear only inside a quotation, then as a list
# that restarts within the same section: items, not headings.
QUOTED = (
    "示例县卫生健康局关于做好发热病人管理工作的通知 各乡镇卫生院： 为做好疫情防控工作，现就有关事项通知如下： "
    "一、依法采取控制措施 《中华人民共和国传染病防治法》规定：“医疗机构发现甲类传染病时，应当及时采取下列措施："
    "（一）对病人、病原携带者，予以隔离治疗；（二）对疑似病人，确诊前在指定场所单独隔离治疗。”"
    "各卫生院要严格执行，不得推诿。 二、做好发热病人登记 各卫生院要对就诊的发热病人逐一登记，内容包括："
    "（一）姓名、住址和联系方式；（二）发病时间和主要症状。登记信息应当每日报送县卫生健康局，"
    "不得迟报、漏报、瞒报，对因工作不力造成疫情扩散的，依法依规追究有关单位和人员的责任。"
    "各卫生院接到本通知后，要立即组织全体医务人员认真学习，明确分工，落实到人，确保各项措施落实到位。"
    "县卫生健康局将适时组织督导检查，检查结果纳入年度绩效考核。对工作中涌现出的先进集体和个人，"
    "县卫生健康局将按照有关规定予以通报表扬；对工作不力、推诿扯皮的，将予以通报批评并责令限期整改。"
    "各卫生院在执行中遇到的问题，请及时向县卫生健康局医政股反映。"
)


def test_flattened_notice_gets_sections_articles_and_paths() -> None:
    assert len(NOTICE) > 450 and "\n" not in NOTICE
    doc = parse_policy(NOTICE)
    labelled = [a for a in doc.articles if a.label]
    assert [a.label for a in labelled] == [
        "（一）明确复工时间",
        "（二）规范备案登记",
        "（一）加强人员管理",
        "（二）做好物资储备",
        "三、强化服务保障",
    ]
    assert labelled[0].path == ["一、分类推进企业复工复产", "（一）明确复工时间"]
    assert labelled[3].path == ["二、落实企业防控责任", "（二）做好物资储备"]
    assert doc.title == "示例市人民政府办公厅关于有序推进企业复工复产的通知"


def test_items_dates_amounts_and_cross_references_stay_in_their_article() -> None:
    lines = clean_text(NOTICE).split("\n")
    assert "1.复工申请表；" in lines and "2.疫情防控方案；" in lines
    doc = parse_policy(NOTICE)
    first, second, _, fourth, third_section = [a for a in doc.articles if a.label]
    assert "自2020.2.10起分批有序推进" in first.text
    assert first.text.endswith("第三条规定的企业除外。")
    assert "3.员工健康情况登记表。备案通过后方可复工复产。" in second.text
    assert fourth.text.endswith("单户补贴最高为：1.5万元。")
    assert "依照本通知第二条规定落实属地责任。" in third_section.text


def test_flattened_law_text_gets_numbered_articles_and_chapters() -> None:
    assert len(MEASURES) > 450
    doc = parse_policy(MEASURES)
    assert [a.label for a in doc.articles] == ["第一条", "第二条", "第三条", "第四条", "第五条", "第六条"]
    assert doc.articles[0].path == ["第一章 总则", "第一条"]
    assert doc.articles[2].path == ["第二章 价格监管", "第三条"]
    # "。第一条规定的…" follows a sentence end but is a cross-reference.
    assert "第一条规定的目的应当贯穿市场监管工作全过程" in doc.articles[1].text
    assert "依照本办法第三条规定接受检查。" in doc.articles[3].text


def test_quoted_and_restarted_lists_are_not_headings() -> None:
    assert len(QUOTED) > 450
    lines = clean_text(QUOTED).split("\n")
    assert lines[1] == "一、依法采取控制措施"
    assert lines[3] == "二、做好发热病人登记"
    assert not any(line.startswith("（") for line in lines)
    doc = parse_policy(QUOTED)
    assert [a.label for a in doc.articles if a.label] == ["一、依法采取控制措施", "二、做好发热病人登记"]


def test_one_heading_or_short_text_is_left_alone() -> None:
    single = "示例通知 " + "各单位要做好疫情防控工作，落实各项措施。" * 20 + " 一、工作要求 各单位要加强值班值守。"
    assert restore_line_breaks(single) == single
    short = "示例通知 一、工作要求 各单位要落实。 二、保障措施 各单位要加强值守。"
    assert restore_line_breaks(short) == short


def test_line_structured_text_is_returned_unchanged() -> None:
    text = normalize(DIBAO)
    assert restore_line_breaks(text) == text
    # A long paragraph with an inline list, among short lines, keeps its list inline.
    long_paragraph = "各地要落实以下要求：（一）加强组织领导，" + "明确责任分工，" * 60 + "；（二）强化督促检查。"
    structured = "\n".join(["示例通知", "一、工作要求", long_paragraph, *[f"{n}、短段落。" for n in "二三四五六七八九"] * 20])
    assert restore_line_breaks(structured) == structured


def test_a_page_parsed_by_an_older_parser_is_parsed_again_when_ingested_again(service, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import knowledge.service as service_module
    import knowledge.writer as writer_module
    from ingest import structure
    from knowledge.writer import DocumentMeta

    # Ingested before headings were recovered: one unlabelled passage run.
    monkeypatch.setattr("ingest.clean.restore_line_breaks", lambda text: text)
    monkeypatch.setattr(service_module, "PARSER_VERSION", "1")
    monkeypatch.setattr(writer_module, "PARSER_VERSION", "1")
    first = service.ingest_bytes(NOTICE.encode(), "notice.txt", meta=DocumentMeta())
    labels = [r["label"] for r in service.store.read("SELECT label FROM articles WHERE document_id = ?",
                                                     (first.documents[0].id,))]
    assert not any(labels)

    monkeypatch.undo()
    assert structure.PARSER_VERSION != "1"
    again = service.ingest_bytes(NOTICE.encode(), "notice.txt", meta=DocumentMeta())
    assert again.action == "replaced" and again.documents[0].id == first.documents[0].id
    labels = [r["label"] for r in service.store.read("SELECT label FROM articles WHERE document_id = ?",
                                                     (first.documents[0].id,))]
    assert "（一）明确复工时间" in labels
    # Parsed by the current parser now: a third ingest changes nothing.
    assert service.ingest_bytes(NOTICE.encode(), "notice.txt", meta=DocumentMeta()).action == "unchanged"
