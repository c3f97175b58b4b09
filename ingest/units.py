"""Who carries an article out: 牵头单位 (lead units) and 责任单位 (responsible units).

Articles end with notes such as ``(牵头单位:省审计厅)``,
``（牵头单位：省发改委；责任单位：各市州政府）`` or ``(州党委编办牵头落实)``,
sometimes several per article. Citizens ask "谁负责…", so we keep every name.
"""

from __future__ import annotations

import re

_OPEN, _CLOSE = "（(", "）)"
_FIELD = re.compile(r"(牵头单位|责任单位|配合单位|参与单位)\s*[:：]\s*(.+?)(?=[，,；;。\s]*(?:牵头单位|责任单位|配合单位|参与单位)\s*[:：]|$)")
_SEPARATORS = set("、，,；; \t\u3000")
# Words around the names in "(州发改委、财政局按职责分工分别牵头落实)".
_NOISE = re.compile(r"按职责分工|按职责|分别|共同|负责|落实|牵头|会同|配合|等部门$")


def extract_units(text: str) -> tuple[list[str], list[str]]:
    """(lead units, responsible units) named in an article, deduplicated, in order."""
    lead: list[str] = []
    responsible: list[str] = []
    for inner in _groups(text):
        inner = inner.strip()
        if "。" in inner or not 2 <= len(inner) <= 160:
            continue
        if "牵头单位" in inner or "责任单位" in inner:
            for field in _FIELD.finditer(inner):
                target = lead if field.group(1) == "牵头单位" else responsible
                target.extend(_names(field.group(2)))
        elif "牵头" in inner:
            head, _, tail = inner.partition("牵头")
            lead.extend(_names(head))
            tail = re.sub(r"^[，,、\s]*(会同)?", "", tail)
            responsible.extend(_names(tail))
        elif inner.endswith(("负责落实", "负责", "落实")) and not inner.startswith(("以下", "含")):
            responsible.extend(_names(re.sub(r"(负责落实|负责|落实)$", "", inner)))
    return _unique(lead), [u for u in _unique(responsible) if u not in lead]


def _groups(text: str) -> list[str]:
    """Outermost bracketed groups; names such as 各县（市、区）人民政府 nest brackets."""
    groups, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in _OPEN:
            if depth == 0:
                start = i + 1
            depth += 1
        elif char in _CLOSE and depth:
            depth -= 1
            if depth == 0:
                groups.append(text[start:i])
    return groups


def _split_top_level(text: str) -> list[str]:
    """Split a list of names at separators outside brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        depth += char in _OPEN
        depth -= char in _CLOSE and depth > 0
        if depth == 0 and char in _SEPARATORS:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _names(text: str) -> list[str]:
    out: list[str] = []
    for part in _split_top_level(text):
        name = _NOISE.sub("", part).strip(" ：:")
        if len(name) >= 2:
            out.append(name)
    return out


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))
