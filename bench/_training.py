"""What the model-training scripts share: their command line, the machine line, writing a model."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import lightgbm

ROOT = Path(__file__).resolve().parents[1]


def start(doc: str) -> tuple[argparse.Namespace, Path]:
    """Parse ``--dry-run``, print the machine, and return the data directory of the eval corpora."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="report, do not write the model")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"lightgbm {lightgbm.__version__}")
    return args, Path(os.environ.get("POLICYBOT_DATA_DIR", ROOT / "var"))


def write_model(model: lightgbm.Booster, model_path: Path, card_path: Path, card: dict[str, Any]) -> None:
    """The model as LightGBM text, and its card with a version (the text's digest), date and commit."""
    text = model.model_to_string()
    model_path.write_text(text, encoding="utf-8")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    card = {"version": hashlib.sha256(text.encode()).hexdigest()[:12], "trained": date.today().isoformat(),
            "commit": commit.stdout.strip(), **card}
    card_path.write_text(json.dumps(card, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {model_path.relative_to(ROOT)} ({len(text) // 1024} KB), version {card['version']}")
