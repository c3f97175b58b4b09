"""Request validation errors in the words a department's staff or a citizen reads.

pydantic describes a problem in English ("String should have at most 500
characters"); the 422 body keeps that in ``errors[].message`` for developers
and says it in Chinese in ``problem`` and ``detail``.
"""

from __future__ import annotations

from typing import Any

_FIELDS = {
    "q": "搜索内容", "k": "返回条数 k", "question": "问题", "answer": "答复", "status": "状态 status",
    "title": "标题", "text": "正文", "file": "文件", "question_id": "问题编号", "helpful": "是否有帮助",
    "publish_date": "发布日期", "effective_date": "生效日期", "expiry_date": "失效日期",
}


def _limit(error: dict[str, Any], key: str) -> Any:
    return (error.get("ctx") or {}).get(key, "?")


def problem(error: dict[str, Any]) -> str:
    """One pydantic error as a Chinese phrase: what is wrong and what is allowed."""
    kind = error.get("type", "")
    if kind == "missing":
        return "缺少此项"
    if kind == "string_too_short":
        return "不能为空" if _limit(error, "min_length") == 1 else f"太短，至少 {_limit(error, 'min_length')} 个字"
    if kind == "string_too_long":
        return f"太长，最多 {_limit(error, 'max_length')} 个字"
    if kind in ("too_long", "too_short"):
        return f"条目数量不符合要求（{error.get('msg', '')}）"
    if kind == "greater_than_equal":
        return f"不能小于 {_limit(error, 'ge')}"
    if kind == "less_than_equal":
        return f"不能大于 {_limit(error, 'le')}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "须为整数"
    if kind in ("bool_parsing", "bool_type"):
        return "须为 true 或 false"
    if kind == "literal_error":
        return f"只能是 {_limit(error, 'expected')}"
    if kind == "string_pattern_mismatch":
        return "取值不在允许范围内"
    if kind == "extra_forbidden":
        return "不是可提交的字段"
    if kind in ("string_type", "dict_type", "list_type", "model_type", "model_attributes_type"):
        return "类型不对"
    if kind == "json_invalid":
        return "请求体不是有效的 JSON"
    if kind == "value_error":  # our own validators: dates and the like
        return "取值无效，日期请写成 YYYY-MM-DD" if "date" in str(error.get("msg", "")).lower() \
            else "取值无效"
    return "取值无效"


def describe(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """The 422 body's ``detail`` and ``errors``."""
    items = []
    for error in errors:
        field = ".".join(str(p) for p in error.get("loc", ())[1:])
        items.append({"field": field, "problem": problem(error), "message": str(error.get("msg", ""))})
    said = "；".join(f"{_FIELDS.get(i['field'], i['field'] or '请求')}{i['problem']}" for i in items[:3])
    return f"请求参数有误：{said}。请修改后重试。", items
