"""The bundled model, counting what reaches it: how the worker tests tell who embedded what."""

from __future__ import annotations

import threading

import numpy as np

from knowledge.embedders import BundledE5Embedder


class Counting:
    """Counts the passages (``embedded``) and questions (``queries``) it embeds;
    ``started`` is set at the first passage batch, which waits for ``proceed``."""

    def __init__(self, inner: BundledE5Embedder, name: str | None = None) -> None:
        self.inner = inner
        self.name, self.dim, self.max_tokens = name or inner.name, inner.dim, inner.max_tokens
        self.embedded = 0
        self.queries = 0
        self.started = threading.Event()
        self.proceed = threading.Event()
        self.proceed.set()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.started.set()
        self.proceed.wait(10)
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        self.queries += 1
        return self.inner.embed_query(text)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
