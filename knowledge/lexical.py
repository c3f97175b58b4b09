"""Incremental BM25 (Okapi) over token lists keyed by chunk id.

Adds and removes take effect at once, so lexical search serves a new upload
while its vectors are still being computed. Each term's postings are two
compact int32 arrays (slots and term frequencies; appended on add, an element
deleted on remove), which query time reads as numpy views without copying, and
scoring is vectorised over a dense per-slot array. Terms are numbered, so a
chunk's term list is an int32 array too: at 60k chunks the postings take about
50 MB, where dicts of dicts and a string per chunk and term took several
hundred.

Nothing is persisted here: the store keeps each chunk's tokens and rebuilds the
index with ``add_many`` at start-up.
"""

from __future__ import annotations

import logging
import math
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["Allowed", "LexicalIndex"]

Allowed = Callable[[int], bool] | set[int] | frozenset[int] | None


class LexicalIndex:
    """BM25 with Lucene's non-negative idf: log(1 + (N - df + 0.5) / (df + 0.5))."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._slot_of: dict[int, int] = {}  # chunk id -> dense slot
        self._free: list[int] = []
        self._ids = np.full(1024, -1, dtype=np.int64)  # slot -> chunk id
        self._lengths = np.zeros(1024, dtype=np.float32)  # slot -> token count
        self._term_id: dict[str, int] = {}
        # term id -> (slots, tfs) holding it; emptied, never reused, when its last chunk goes
        self._postings: list[tuple[array[int], array[int]]] = []
        self._terms: dict[int, array[int]] = {}  # slot -> its distinct term ids, for removal
        self._total_length = 0.0
        self._high = 0  # slots in use are all < _high
        # Ingest adds while the server searches; dict iteration must not race.
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._slot_of

    def ids(self) -> list[int]:
        """Indexed chunk ids, in no particular order."""
        with self._lock:
            return list(self._slot_of)

    def add(self, chunk_id: int, tokens: list[str]) -> None:
        """Index a chunk; an id already present is replaced."""
        with self._lock:
            self._add(int(chunk_id), tokens)

    def add_many(self, items: Iterable[tuple[int, list[str]]]) -> None:
        with self._lock:
            for chunk_id, tokens in items:
                self._add(int(chunk_id), tokens)

    def remove(self, chunk_id: int) -> bool:
        """Forget a chunk; returns False when it was not indexed."""
        with self._lock:
            return self._remove(int(chunk_id))

    def _add(self, chunk_id: int, tokens: list[str]) -> None:
        if chunk_id in self._slot_of:
            self._remove(chunk_id)
        slot = self._free.pop() if self._free else self._next_slot()
        counts = Counter(tokens)
        ids = array("i")
        for term, tf in counts.items():
            term_id = self._term_id.get(term)
            if term_id is None:
                term_id = self._term_id[term] = len(self._postings)
                self._postings.append((array("i"), array("i")))
            slots, tfs = self._postings[term_id]
            slots.append(slot)
            tfs.append(tf)
            ids.append(term_id)
        self._slot_of[chunk_id] = slot
        self._ids[slot] = chunk_id
        self._lengths[slot] = len(tokens)
        self._terms[slot] = ids
        self._total_length += len(tokens)

    def _next_slot(self) -> int:
        slot = self._high
        if slot >= len(self._ids):
            grow = len(self._ids)
            self._ids = np.concatenate([self._ids, np.full(grow, -1, dtype=np.int64)])
            self._lengths = np.concatenate([self._lengths, np.zeros(grow, dtype=np.float32)])
        self._high += 1
        return slot

    def _remove(self, chunk_id: int) -> bool:
        slot = self._slot_of.pop(chunk_id, None)
        if slot is None:
            return False
        for term_id in self._terms.pop(slot):
            slots, tfs = self._postings[term_id]
            at = slots.index(slot)
            del slots[at]
            del tfs[at]
        self._total_length -= float(self._lengths[slot])
        self._lengths[slot] = 0.0
        self._ids[slot] = -1
        self._free.append(slot)
        return True

    def _term_arrays(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Views of the term's postings; the caller holds the lock and drops them before releasing it
        (an array with a view alive cannot grow)."""
        term_id = self._term_id.get(term)
        if term_id is None or not self._postings[term_id][0]:
            return None
        slots, tfs = self._postings[term_id]
        return np.frombuffer(slots, dtype=np.int32), np.frombuffer(tfs, dtype=np.int32)

    def _df(self, term: str) -> int:
        term_id = self._term_id.get(term)
        return 0 if term_id is None else len(self._postings[term_id][0])

    def has_term(self, term: str) -> bool:
        with self._lock:
            return self._df(term) > 0

    def idf(self, term: str) -> float:
        """The term's BM25 idf; a term no chunk holds gets the highest possible."""
        with self._lock:
            n_docs = len(self._slot_of)
            df = self._df(term)
            return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))

    def search(self, tokens: list[str], k: int = 10, allowed: Allowed = None) -> list[tuple[int, float]]:
        """Best ``k`` (chunk id, score), best first; only chunks sharing a term.

        Repeated query tokens count once. ``allowed`` restricts results to a set
        of chunk ids or to ids a predicate accepts.
        """
        if k <= 0:
            return []
        with self._lock:
            n_docs = len(self._slot_of)
            if n_docs == 0:
                return []
            avgdl = max(self._total_length / n_docs, 1e-9)
            scores = np.zeros(self._high, dtype=np.float32)
            norm = self.k1 * (1.0 - self.b + self.b * self._lengths[: self._high] / avgdl)
            for term in dict.fromkeys(tokens):
                arrays = self._term_arrays(term)
                if arrays is None:
                    continue
                slots, counts = arrays
                tfs = counts.astype(np.float32)
                idf = math.log(1.0 + (n_docs - len(slots) + 0.5) / (len(slots) + 0.5))
                scores[slots] += idf * tfs * (self.k1 + 1.0) / (tfs + norm[slots])
                del arrays, slots, counts  # release the views before another thread may append
            if isinstance(allowed, (set, frozenset)):
                keep = [self._slot_of[c] for c in allowed if c in self._slot_of]
                mask = np.zeros(self._high, dtype=bool)
                mask[np.asarray(keep, dtype=np.int64)] = True
                scores[~mask] = 0.0
                return self._top(scores, k, None)
            return self._top(scores, k, allowed)

    def _top(self, scores: np.ndarray, k: int, accept: Callable[[int], bool] | None) -> list[tuple[int, float]]:
        candidates = np.flatnonzero(scores > 0.0)
        if accept is None and len(candidates) > k:
            part = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[part]
        # Stable order: score descending, then chunk id, so ties are reproducible.
        order = np.lexsort((self._ids[candidates], -scores[candidates]))
        out: list[tuple[int, float]] = []
        for slot in candidates[order]:
            chunk_id = int(self._ids[slot])
            if accept is not None and not accept(chunk_id):
                continue
            out.append((chunk_id, float(scores[slot])))
            if len(out) == k:
                break
        return out
