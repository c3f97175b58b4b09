"""Normalisation and removal of site chrome and spam."""

from __future__ import annotations

from _ingest_paths import seed_text

from ingest.clean import clean_text, is_spam, normalize


def test_normalize_line_endings_zero_width_and_indentation() -> None:
    raw = "\ufeff标题\r\n\u3000\u3000第一段\u200b内容。\r\u00a0 第二段，保留（全角）标点：是。  \n\n\n\n结尾"
    assert normalize(raw) == "标题\n第一段内容。\n第二段，保留（全角）标点：是。\n\n结尾"


def test_normalize_keeps_inner_blanks_of_scrubbed_words() -> None:
    assert normalize("2018年 工作要点") == "2018年 工作要点"


def test_seed_000_breadcrumb_footer_and_spam_removed() -> None:
    text = clean_text(seed_text("000"))
    lines = text.split("\n")
    assert lines[0] == "江西省委办公厅、省政府办公厅关于全面推进政务公开工作的实施意见"
    assert lines[-1] == "2016年9月1日"
    for chrome in ("当前位置", "设为首页", "©", "beat365", "ICP", "邮编", "南一路5号"):
        assert chrome not in text
    # Real content that mentions a contact channel stays.
    assert "加强政府热线、领导信箱、政府开放日等载体建设" in text


def test_footer_removed_from_the_bottom_up_only() -> None:
    text = "示例通知\n请拨打联系电话咨询，地址：示例路1号。\n正文结束。\n设为首页 | 加入收藏 | 联系我们\n主办单位：示例市人民政府办公室\n技术支持：某公司\n打印本页 关闭窗口"
    cleaned = clean_text(text)
    assert cleaned == "示例通知\n请拨打联系电话咨询，地址：示例路1号。\n正文结束。"


def test_chrome_lines_anywhere_and_tail_chrome_of_one_line_pages() -> None:
    text = "示例标题\n【打印本页】【关闭窗口】\n正文一。\n分享到：微信\n正文二。 责任编辑：张三 扫一扫在手机打开当前页"
    assert clean_text(text) == "示例标题\n正文一。\n正文二。"


def test_spam_detection() -> None:
    assert is_spam("© 版权所有 2005 beat365官网")
    assert is_spam("澳门新葡京娱乐城 体育投注")
    assert is_spam("最新博彩平台")
    assert not is_spam("全年365天提供服务，群众可通过官网预约。")
    assert not is_spam("政务服务“一网通办”")


def test_spam_inside_a_long_content_line_is_cut_not_the_line() -> None:
    body = "各单位要加强政策解读，及时回应社会关切，" * 10
    cleaned = clean_text(f"标题\n{body}beat365官网\n结尾。")
    assert "beat365" not in cleaned and body in cleaned
