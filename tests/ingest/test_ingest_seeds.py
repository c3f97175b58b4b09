"""parse_policy on the five seed documents: what the issue asks for, seed by seed."""

from __future__ import annotations

import pytest
from _ingest_paths import CN, article_number, norm, seed_path, seed_text

from ingest import ParsedDocument, parse_policy

CHROME = ("当前位置", "设为首页", "版权所有", "beat365", "ICP备案", "邮编", "加入收藏")


def parse(prefix: str) -> ParsedDocument:
    return parse_policy(seed_text(prefix), seed_path(prefix).name)


def numbered(doc: ParsedDocument) -> list[str]:
    return [n for a in doc.articles if (n := article_number(a.label))]


def sections_of(doc: ParsedDocument) -> list[str]:
    return list(dict.fromkeys(norm(a.path[0])[:2] for a in doc.articles if a.path))


def test_000_metadata_articles_and_no_chrome() -> None:
    doc = parse("000")
    assert doc.title == "江西省委办公厅、省政府办公厅关于全面推进政务公开工作的实施意见"
    assert doc.issuers == ["中共江西省委办公厅", "江西省人民政府办公厅"]
    assert doc.publish_date == "2016-09-01"
    assert doc.children == []
    assert numbered(doc) == CN[:19]
    assert sections_of(doc) == ["一、", "二、", "三、", "四、", "五、"]
    for article in doc.articles:
        assert not any(word in article.text for word in CHROME), article.text[-80:]
        assert "中共江西省委办公厅" not in article.text  # the signature is metadata
    tenth = next(a for a in doc.articles if article_number(a.label) == "十")
    assert norm(tenth.label) == "（十）加强政策解读"
    assert [norm(p) for p in tenth.path] == ["三、提升政务开放参与水平", "（十）加强政策解读"]
    assert tenth.text.startswith("(十)加强政策解读。按照")
    assert tenth.responsible_units == ["各地各单位"]


def test_000_opening_and_closing_are_unlabelled_units() -> None:
    doc = parse("000")
    first, last = doc.articles[0], doc.articles[-1]
    assert first.label == "" and first.path == [] and first.text.startswith("政务公开是建设法治政府")
    assert last.label == "" and last.text.startswith("各地各单位要切实强化组织领导")
    nineteenth = next(a for a in doc.articles if article_number(a.label) == "十九")
    assert "各地各单位要切实强化组织领导" not in nineteenth.text


def test_000_units_collected_across_an_article() -> None:
    doc = parse("000")
    by_number = {article_number(a.label): a for a in doc.articles}
    fifth = by_number["五"]  # (牵头单位:省发改委,责任单位:省直有关单位) and two (责任单位:各地各单位)
    assert fifth.lead_units == ["省发改委"]
    assert fifth.responsible_units == ["各地各单位", "省直有关单位"]
    assert by_number["八"].lead_units == ["省审计厅"]
    assert by_number["七"].lead_units[:2] == ["省政府办公厅", "省发改委"]


def test_001_title_from_distribution_and_no_boilerplate_article() -> None:
    doc = parse("001")
    assert doc.title == "关于全面推进政务公开工作的实施意见"
    assert doc.issuers == ["中共湖南省委办公厅", "湖南省人民政府办公厅"]
    assert doc.publish_date == "2016-10-12"
    assert doc.recipients == "各市州、县市区委,各市州、县市区人民政府,省直机关各单位:"
    assert numbered(doc) == CN[:26]
    assert sections_of(doc) == ["一、", "二、", "三、", "四、", "五、"]
    assert not any("现印发给你们" in a.text for a in doc.articles)
    assert not any(a.text.startswith("各市州、县市区委") for a in doc.articles)
    sixth = next(a for a in doc.articles if article_number(a.label) == "六")
    assert sixth.lead_units == ["省政府法制办"]
    assert sixth.responsible_units == ["各市州政府", "省政府相关部门"]


def test_002_numbering_restarts_per_section_with_unique_paths() -> None:
    doc = parse("002")
    assert doc.title == "自治州2016年政务公开工作实施方案"
    assert doc.issuers == ["昌吉回族自治州人民政府办公室"]
    assert doc.publish_date == "2016-07-26"
    assert sections_of(doc) == ["一、", "二、", "三、", "四、", "五、", "六、"]
    paths = [tuple(a.path) for a in doc.articles if a.label]
    assert len(paths) == len(set(paths))
    assert numbered(doc).count("一") == 6
    assert not any(a.text == "自治州2016年政务公开工作实施方案" for a in doc.articles)
    first = doc.articles[1]
    assert first.lead_units == ["州党委编办"]
    third = doc.articles[3]  # three units notes in one article
    assert third.lead_units == ["州人民政府办公室", "州公安局"]
    assert "政务服务和公共资源交易管理局" in third.responsible_units


def test_003_mistyped_section_number_and_notice_metadata() -> None:
    doc = parse("003")
    assert doc.doc_number == "镇办发〔2017〕74号"
    assert doc.title == "关于全面推进全县政务公开工作的实施意见"
    assert doc.issuers == ["中共镇康县委办公室", "镇康县人民政府办公室"]
    assert doc.publish_date == "2017-06-12"
    assert doc.recipients is not None and doc.recipients.startswith("各乡（镇）党委")
    tops = sections_of(doc)
    assert tops == ["一、", "2、", "三、", "四、", "五、"]
    guiding = next(a for a in doc.articles if norm(a.label) == "（一）指导思想")
    assert norm(guiding.path[0]) == "2、全面推进政务公开的总体要求"
    meaning = next(a for a in doc.articles if norm(a.label) == "一、全面推进政务公开的重要意义")
    assert "让权力在阳光下运行" in meaning.text
    assert doc.articles[-1].label == "" and doc.articles[-1].text.startswith("各乡（镇）、各部门要根据本实施意见")
    assert not any("2017年6月12日印发" in a.text for a in doc.articles)


def test_004_nested_forwarding_notices() -> None:
    root = parse("004")
    assert root.doc_number == "江府办〔2018〕14号"
    assert root.publish_date == "2018-06-25"
    assert root.issuers in ([], ["江门市人民政府办公室"])
    assert [c.doc_number for c in root.children] == ["粤府办〔2018〕19号"]
    province = root.children[0]
    assert province.issuers == ["广东省人民政府办公厅"]
    assert province.publish_date == "2018-05-24"
    assert province.title == "广东省人民政府办公厅转发国务院办公厅2018年 工作要点的通知"
    assert [c.doc_number for c in province.children] == ["国办发〔2018〕23号"]
    state = province.children[0]
    assert state.publish_date == "2018-04-08"
    assert any("国务院办公厅" in issuer for issuer in state.issuers)
    assert state.title in ("2018年 工作要点", "国务院办公厅关于印发2018年 工作要点的通知")
    assert numbered(state) == CN[:16]
    assert [d.doc_number for d in root.walk()] == ["江府办〔2018〕14号", "粤府办〔2018〕19号", "国办发〔2018〕23号"]


def test_004_passages_belong_to_the_innermost_document() -> None:
    root = parse("004")
    province, state = root.children[0], root.children[0].children[0]
    assert [norm(a.label)[:2] for a in root.articles if a.label] == ["一、", "二、", "三、", "四、", "五、"]
    assert [norm(a.label)[:2] for a in province.articles if a.label] == ["一、", "二、", "三、", "四、", "五、", "六、"]
    assert not numbered(root) and not numbered(province)
    assert root.articles[0].text.startswith("一、不断加大政府信息主动公开力度")
    assert "开放江门" in root.articles[0].text
    assert "开放广东" in province.articles[0].text
    assert not any("(十六)" in a.text or "开放江门" in a.text for a in state.articles if a.label == "")
    # The state council points' text appears only in the innermost document.
    marker = "建立市场准入负面清单信息公开机制"
    owners = [d.doc_number for d in root.walk() if any(marker in a.text for a in d.articles)]
    assert owners == ["国办发〔2018〕23号"]


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_seed_paths_are_unique_and_texts_start_with_their_label(prefix: str) -> None:
    root = parse(prefix)
    for doc in root.walk():
        labelled = [a for a in doc.articles if a.label]
        assert len({tuple(a.path) for a in labelled}) == len(labelled)
        for article in labelled:
            assert article.path[-1] == article.label
            assert article.text.startswith(article.label.split(" ")[0][:2])
            assert article.text.strip()
