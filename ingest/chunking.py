"""Articles -> passages to index, following the document's structure.

One chunk per article; an article is split only when it is longer than
``max_chars``, at sentence boundaries, with a small overlap, and never
truncated: every character of the article is in some chunk. Text without a
heading of its own (a notice without numbering, an opening paragraph) is cut
into passages of about ``plain_chars`` so that a citation pins the answer.
"""

from __future__ import annotations

import re

from ingest.model import Article, Chunk, ParsedDocument, ParsedInterpretation

MAX_CHARS = 800
OVERLAP = 80
PLAIN_CHARS = 300

_SENTENCE_END = re.compile(r"(?<=[。；;！!？?\n])")
_CLAUSE_END = re.compile(r"(?<=[，,、：:])")


def header_for(title: str, path: list[str]) -> str:
    """``title > section > article``: embedded and searched with the text."""
    return " > ".join([title, *path]) if title else " > ".join(path)


def chunk_article(doc_title: str, article: Article, max_chars: int = MAX_CHARS, overlap: int = OVERLAP) -> list[Chunk]:
    """One chunk per article, split at sentence boundaries only when long."""
    header = header_for(doc_title, article.path)
    return [Chunk(text, header, part) for part, text in enumerate(split_text(article.text, max_chars, overlap))]


def chunk_plain(doc_title: str, text: str, plain_chars: int = PLAIN_CHARS, overlap: int = 0) -> list[Chunk]:
    """Unnumbered text -> passages of about ``plain_chars`` characters."""
    header = header_for(doc_title, [])
    return [Chunk(piece, header, part) for part, piece in enumerate(split_text(text, plain_chars, overlap))]


def chunk_interpretation(
    interpretation: ParsedInterpretation, max_chars: int = MAX_CHARS, overlap: int = OVERLAP
) -> list[tuple[int, Chunk]]:
    """(section index, chunk) for every Q&A pair or paragraph of an interpretation."""
    out: list[tuple[int, Chunk]] = []
    for index, section in enumerate(interpretation.sections):
        path = [section.question] if section.question else []
        header = header_for(interpretation.title, path)
        for part, text in enumerate(split_text(section.text, max_chars, overlap)):
            out.append((index, Chunk(text, header, part)))
    return out


def chunks_for_document(
    doc: ParsedDocument,
    max_chars: int = MAX_CHARS,
    overlap: int = OVERLAP,
    plain_chars: int = PLAIN_CHARS,
) -> list[tuple[int, Chunk]]:
    """(article index, chunk) for this document's own articles (not its children)."""
    out: list[tuple[int, Chunk]] = []
    for index, article in enumerate(doc.articles):
        if article.label:
            chunks = chunk_article(doc.title, article, max_chars, overlap)
        else:
            chunks = chunk_plain(doc.title, article.text, plain_chars)
        out.extend((index, chunk) for chunk in chunks)
    return out


def split_text(text: str, max_chars: int, overlap: int = 0) -> list[str]:
    """Pieces of at most ``max_chars`` covering ``text``, cut between sentences."""
    if len(text) <= max_chars:
        return [text]
    pieces = _pieces(text, max_chars)
    chunks: list[str] = []
    start = 0
    while start < len(pieces):
        end, size = start, 0
        while end < len(pieces) and (end == start or size + len(pieces[end]) <= max_chars):
            size += len(pieces[end])
            end += 1
        chunks.append("".join(pieces[start:end]).strip("\n"))
        if end >= len(pieces):
            break
        # Repeat the last sentences (up to ``overlap`` characters) so a fact
        # stated across the cut is whole in one chunk.
        back, tail = end, 0
        while back - 1 > start and tail + len(pieces[back - 1]) <= overlap:
            back -= 1
            tail += len(pieces[back])
        start = back
    return [c for c in chunks if c.strip()]


def _pieces(text: str, max_chars: int) -> list[str]:
    """Sentences; a sentence longer than max_chars is cut at commas, then hard."""
    out: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if not sentence:
            continue
        if len(sentence) <= max_chars:
            out.append(sentence)
            continue
        for clause in _CLAUSE_END.split(sentence):
            while len(clause) > max_chars:
                out.append(clause[:max_chars])
                clause = clause[max_chars:]
            if clause:
                out.append(clause)
    return out
