"""read_file / read_bytes on fixtures generated at test time (invented text)."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from ingest import IngestError, read_bytes, read_file

TEXT = "示例市便民服务办法\n第一条　为了方便群众办事，制定本办法。\n第二条　窗口实行“一次办”，咨询电话12345。\n"


def squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be"])
def test_txt_encodings(tmp_path: Path, codec: str) -> None:
    path = tmp_path / f"办法-{codec}.txt"
    path.write_bytes(TEXT.encode(codec))
    assert read_file(path) == TEXT


def test_gb18030_only_characters(tmp_path: Path) -> None:
    text = "示例通知：㐀䶵 与 𠀀 均为扩展区汉字，办理地点在镕基大厦。\n"
    path = tmp_path / "扩展.txt"
    path.write_bytes(text.encode("gb18030"))
    assert read_file(path) == text


def test_read_bytes_matches_read_file(tmp_path: Path) -> None:
    data = TEXT.encode("gbk")
    path = tmp_path / "a.txt"
    path.write_bytes(data)
    assert read_bytes(data, "a.txt") == read_file(path)


def test_crlf_is_unified() -> None:
    assert read_bytes("甲\r\n乙\r丙".encode(), "a.txt") == "甲\n乙\n丙"


def test_docx_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("示例县社保补贴实施细则")
    document.add_paragraph("一、补贴对象")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "项目"
    table.cell(0, 1).text = "牵头单位"
    table.cell(1, 0).text = "社保补贴"
    table.cell(1, 1).text = "县人社局"
    document.add_paragraph("二、申请程序")
    path = tmp_path / "细则.docx"
    document.save(str(path))
    text = read_file(path)
    lines = [line for line in text.split("\n") if line.strip()]
    assert lines == ["示例县社保补贴实施细则", "一、补贴对象", "项目\t牵头单位", "社保补贴\t县人社局", "二、申请程序"]


def _pdf(lines: list[str], encrypt: str | None = None) -> bytes:
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, encrypt=encrypt)
    pdf.setFont("STSong-Light", 14)
    for i, line in enumerate(lines):
        pdf.drawString(72, 760 - 24 * i, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_pdf_chinese_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "办法.pdf"
    path.write_bytes(_pdf(["示例市便民服务办法", "第一条　为了方便群众办事，制定本办法。"]))
    text = read_file(path)
    assert "示例市便民服务办法" in squash(text)
    assert "第一条为了方便群众办事，制定本办法。" in squash(text)


def test_pdf_without_text_layer_is_a_scan() -> None:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.rect(72, 72, 200, 200, fill=1)
    pdf.showPage()
    pdf.save()
    with pytest.raises(IngestError) as info:
        read_bytes(buffer.getvalue(), "扫描件.pdf")
    assert "扫描件" in info.value.reason and "OCR" in str(info.value)


def test_encrypted_pdf() -> None:
    with pytest.raises(IngestError) as info:
        read_bytes(_pdf(["保密"], encrypt="secret"), "加密.pdf")
    assert "加密" in info.value.reason


@pytest.mark.parametrize(
    ("filename", "data", "word"),
    [
        ("坏.pdf", b"%PDF-1.4\nnot really a pdf\n%%EOF", "损坏"),
        ("坏.pdf", b"this is not a pdf at all", "损坏"),
        ("坏.docx", b"PK\x03\x04 broken zip", "损坏"),
        ("坏.docx", b"plain text renamed to docx", "损坏"),
    ],
)
def test_corrupt_documents(filename: str, data: bytes, word: str) -> None:
    with pytest.raises(IngestError) as info:
        read_bytes(data, filename)
    assert word in info.value.reason
    assert info.value.filename == filename


def test_html_keeps_main_content_only() -> None:
    html = """<html><head><meta charset="gbk"><title>示例</title><style>.a{}</style>
    <script>var 广告 = "不要";</script></head><body>
    <div class="top-nav"><a>首页</a><a>政务公开</a><a>办事服务</a></div>
    <div class="breadcrumb">当前位置：首页 &gt; 政策文件</div>
    <div class="main"><h1>示例区关于做好冬季供暖工作的通知</h1>
      <div class="content"><p>各街道办事处：</p>
      <p>一、供暖时间为每年11月15日至次年3月15日。</p><p>二、供暖费缴纳可通过线上办理。</p></div>
      <div class="share">分享到：微信 微博</div></div>
    <aside>相关链接 热点新闻</aside>
    <div id="footer">版权所有 示例区人民政府 地址：示例路1号 ICP备案号</div>
    </body></html>"""
    text = read_bytes(html.encode("gbk"), "通知.html")
    lines = text.split("\n")
    assert lines[0] == "示例区关于做好冬季供暖工作的通知"
    assert "一、供暖时间为每年11月15日至次年3月15日。" in lines
    for chrome in ("首页", "当前位置", "分享到", "相关链接", "版权所有", "广告"):
        assert chrome not in text


def test_html_without_charset_in_utf8() -> None:
    html = "<html><body><nav>导航 栏目</nav><article><p>第一段政策内容，关于示例补贴。</p></article></body></html>"
    assert read_bytes(html.encode("utf-8"), "a.htm") == "第一段政策内容，关于示例补贴。"


@pytest.mark.parametrize("filename", ["a.doc", "a.xlsx", "noext", "a.exe"])
def test_unsupported_extension(filename: str) -> None:
    with pytest.raises(IngestError) as info:
        read_bytes(b"whatever", filename)
    assert "不支持" in info.value.reason
    message = str(info.value)
    assert message.startswith(f"文件 {filename} 无法读取：") and "请" in message


def test_oversized_file(tmp_path: Path) -> None:
    path = tmp_path / "大.txt"
    path.write_bytes("政策".encode() * 100)
    with pytest.raises(IngestError) as info:
        read_file(path, max_bytes=100)
    assert "过大" in info.value.reason
    with pytest.raises(IngestError):
        read_bytes(b"x" * 101, "b.txt", max_bytes=100)


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n", "\u3000\n".encode()])
def test_empty_files(data: bytes) -> None:
    with pytest.raises(IngestError) as info:
        read_bytes(data, "空.txt")
    assert "空" in info.value.reason or "没有" in info.value.reason


def test_empty_docx(tmp_path: Path) -> None:
    path = tmp_path / "空.docx"
    docx.Document().save(str(path))
    with pytest.raises(IngestError):
        read_file(path)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 4,
        bytes(range(256)) * 8,
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" * 20,
    ],
)
def test_binary_renamed_to_txt(data: bytes) -> None:
    with pytest.raises(IngestError) as info:
        read_bytes(data, "图片.txt")
    assert "二进制" in info.value.reason or "编码" in info.value.reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IngestError):
        read_file(tmp_path / "没有.txt")


def test_ingest_error_is_a_value_error() -> None:
    error = IngestError("a.txt", "文件内容为空", "请检查文件")
    assert isinstance(error, ValueError)
    assert str(error) == "文件 a.txt 无法读取：文件内容为空，请检查文件"
