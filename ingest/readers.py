"""Files -> plain text: .txt (any Chinese encoding), .docx, .pdf, .html.

Readers only extract text; removing site chrome and finding structure is the
job of ``clean`` and ``structure``. Every failure is an ``IngestError`` whose
message tells the uploader what to fix.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import docx
from docx.document import Document as DocxDocument
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from ingest.errors import IngestError
from ingest.html_text import html_to_text

logger = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
SUPPORTED = (".txt", ".docx", ".pdf", ".html", ".htm")

_PLAUSIBLE = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef\u2010-\u206f\x20-\x7e\t\n\r]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# charset-normalizer falls back to single-byte Western code pages when it is
# unsure; for Chinese government files those guesses are always mojibake.
_WESTERN = re.compile(r"latin|cp125\d|iso8859|ascii|mac_", re.IGNORECASE)


def read_file(path: Path | str, max_bytes: int = MAX_BYTES) -> str:
    """Read one uploaded or local file and return its text."""
    path = Path(path)
    _check_extension(path.name)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise IngestError(path.name, "文件不存在或无权限访问", "请检查文件路径后重试") from e
    _check_size(path.name, size, max_bytes)
    return read_bytes(path.read_bytes(), path.name, max_bytes)


def read_bytes(data: bytes, filename: str, max_bytes: int = MAX_BYTES) -> str:
    """Return the text of a file given as bytes (what an HTTP upload holds)."""
    ext = _check_extension(filename)
    _check_size(filename, len(data), max_bytes)
    if not data.strip():
        raise IngestError(filename, "文件内容为空", "请检查是否上传了正确的文件")
    text = _READERS[ext](data, filename)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise IngestError(filename, "文件中没有可读取的文字", "请确认文件内容后重新上传")
    return text


def _check_extension(filename: str) -> str:
    ext = Path(filename).suffix.lower()
    if ext not in SUPPORTED:
        shown = ext or "无扩展名"
        raise IngestError(
            filename,
            f"不支持的文件格式（{shown}）",
            "请上传 .txt、.docx、.pdf 或 .html 格式的文件（.doc 请先另存为 .docx）",
        )
    return ext


def size_limit(max_bytes: int) -> str:
    """A byte limit as people say it: 20 MB, 300 KB, 512 字节."""
    if max_bytes >= 1024 * 1024:
        return f"{max_bytes / 1024 / 1024:.0f} MB"
    return f"{max_bytes / 1024:.0f} KB" if max_bytes >= 1024 else f"{max_bytes} 字节"


def _check_size(filename: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise IngestError(filename, f"文件过大（超过 {size_limit(max_bytes)}）", "请拆分文件或压缩后重新上传")


def decode_text(data: bytes, filename: str) -> str:
    """Decode a text file: BOM, UTF-16 by NUL pattern, UTF-8, GB18030, then a guess."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return _strict(data, codec, filename)
    if b"\x00" in data:
        codec = _utf16_by_nuls(data)
        if codec is None:
            raise _binary(filename)
        return _strict(data, codec, filename)
    for codec in ("utf-8", "gb18030"):  # GB18030 is a superset of GBK and GB2312
        try:
            return _plain_text(data.decode(codec), filename)
        except UnicodeDecodeError:
            continue
    return _guess(data, filename)


def _utf16_by_nuls(data: bytes) -> str | None:
    """UTF-16 without BOM: NUL bytes sit in the high byte of ASCII characters.

    Chinese characters put NULs on either side too (一 is 4E 00), so rather
    than count positions we decode both ways and keep the reading that is
    almost all plausible characters; random binary never is.
    """
    best, best_score = None, 0.0
    for codec in ("utf-16-le", "utf-16-be"):
        text = data[:16384].decode(codec, errors="replace")
        score = len(_PLAUSIBLE.findall(text)) / max(1, len(text))
        if score > best_score:
            best, best_score = codec, score
    return best if best_score >= 0.9 else None


def _strict(data: bytes, codec: str, filename: str) -> str:
    try:
        return _plain_text(data.decode(codec), filename)
    except UnicodeDecodeError as e:
        raise _undecodable(filename) from e


def _plain_text(text: str, filename: str) -> str:
    # Control characters in decoded text mean the bytes were not text at all.
    if len(_CONTROL.findall(text[:20000])) > max(2, len(text[:20000]) // 200):
        raise _binary(filename)
    return text


def _guess(data: bytes, filename: str) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or _WESTERN.search(best.encoding or ""):
        raise _undecodable(filename)
    logger.info("decoded %s as %s by guess", filename, best.encoding)
    return _plain_text(str(best), filename)


def _binary(filename: str) -> IngestError:
    return IngestError(filename, "内容不是文本（可能是二进制文件或扩展名有误）", "请上传文本、Word、PDF 或网页文件")


def _undecodable(filename: str) -> IngestError:
    return IngestError(filename, "无法识别文字编码", "请另存为 UTF-8 或 GBK 编码的文本后重新上传")


def _read_txt(data: bytes, filename: str) -> str:
    return decode_text(data, filename)


def _read_docx(data: bytes, filename: str) -> str:
    try:
        document: DocxDocument = docx.Document(io.BytesIO(data))
    except Exception as e:  # PackageNotFoundError, BadZipFile, XML errors: all a broken package
        raise IngestError(filename, "Word 文件已损坏或不是 .docx 格式", "请用 Word 打开后另存为 .docx 再上传") from e
    lines: list[str] = []
    # Walk the body in order so tables stay where they were printed.
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(child, document).text)
        elif tag == "tbl":
            lines.extend(_table_lines(Table(child, document)))
    return "\n".join(lines)


def _table_lines(table: Table) -> list[str]:
    lines: list[str] = []
    for row in table.rows:
        seen: set[int] = set()
        cells: list[str] = []
        for cell in row.cells:
            # Merged cells repeat the same underlying element; keep it once.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(cell.text.strip())
        if any(cells):
            lines.append("\t".join(cells))
    return lines


def _read_pdf(data: bytes, filename: str) -> str:
    corrupt = IngestError(filename, "PDF 文件已损坏", "请重新导出 PDF 后上传")
    encrypted = IngestError(filename, "PDF 文件已加密", "请先去除密码保护后重新上传")
    # pypdf warns about every small defect; a readable text layer is all we need.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                try:
                    if not reader.decrypt(""):
                        raise encrypted
                except (DependencyError, FileNotDecryptedError, NotImplementedError) as e:
                    raise encrypted from e
            pages = [page.extract_text() or "" for page in reader.pages]
        except IngestError:
            raise
        except FileNotDecryptedError as e:
            raise encrypted from e
        except Exception as e:  # pypdf fails in many ways on broken files
            raise corrupt from e
    if not pages:
        raise corrupt
    text = "\n".join(pages)
    if not text.strip():
        raise IngestError(filename, "PDF 没有文字层（可能是扫描件）", "请先进行 OCR 文字识别，或上传可复制文字的版本")
    return text


def _read_html(data: bytes, filename: str) -> str:
    return html_to_text(_decode_html(data, filename))


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_-]+)""", re.IGNORECASE)


def _decode_html(data: bytes, filename: str) -> str:
    match = _META_CHARSET.search(data[:4096])
    if match:
        codec = match.group(1).decode("ascii").lower()
        if codec in ("gb2312", "gbk", "gb18030", "x-gbk"):
            codec = "gb18030"
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            logger.info("%s: declared charset %s is wrong, detecting", filename, codec)
    return decode_text(data, filename)


_READERS: dict[str, Callable[[bytes, str], str]] = {
    ".txt": _read_txt,
    ".docx": _read_docx,
    ".pdf": _read_pdf,
    ".html": _read_html,
    ".htm": _read_html,
}
