"""Files -> structured documents: readers, cleaning, structure, interpretations, chunks."""

from ingest.chunking import chunk_article, chunk_interpretation, chunk_plain, chunks_for_document
from ingest.errors import IngestError
from ingest.interpretation import looks_like_interpretation, parse_interpretation
from ingest.model import Article, Chunk, InterpretationSection, ParsedDocument, ParsedInterpretation
from ingest.readers import read_bytes, read_file
from ingest.structure import PARSER_VERSION, parse_policy

__all__ = [
    "Article",
    "Chunk",
    "IngestError",
    "PARSER_VERSION",
    "InterpretationSection",
    "ParsedDocument",
    "ParsedInterpretation",
    "chunk_article",
    "chunk_interpretation",
    "chunk_plain",
    "chunks_for_document",
    "looks_like_interpretation",
    "parse_interpretation",
    "parse_policy",
    "read_bytes",
    "read_file",
]
