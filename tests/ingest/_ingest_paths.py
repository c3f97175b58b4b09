"""Where the shared seed corpus and eval sets live: beside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
SEEDS = SHARED / "corpus" / "seeds"
STARD_LAWS = SHARED / "eval" / "stard" / "laws"
NCP_DOCS = SHARED / "eval" / "ncp" / "docs"


def seed_path(prefix: str) -> Path:
    matches = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    if not matches:
        pytest.skip(f"seed {prefix} not found under {SEEDS}")
    return matches[0]


def seed_text(prefix: str) -> str:
    return seed_path(prefix).read_text(encoding="utf-8")


def norm(label: str) -> str:
    """Labels compared with full-width brackets and without spaces."""
    return label.replace("(", "（").replace(")", "）").replace(" ", "")


def article_number(label: str) -> str | None:
    """The numeral of a （一）-style label, e.g. 十九."""
    match = re.match(r"^（([一二三四五六七八九十]+)）", norm(label))
    return match.group(1) if match else None


CN = "一 二 三 四 五 六 七 八 九 十 十一 十二 十三 十四 十五 十六 十七 十八 十九 二十 二十一 二十二 二十三 二十四 二十五 二十六".split()
