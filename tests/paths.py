"""Where test data lives: the shared seeds and eval sets beside the repo."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEEDS = SHARED / "corpus" / "seeds"
EVAL = SHARED / "eval"
SAMPLES = REPO / "samples"
