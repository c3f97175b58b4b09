"""The menu file: WeChat's own menu definition plus what each CLICK key answers.

    {
      "button": [ ...exactly as WeChat's menu/create API takes it... ],
      "answers": {"HOT": "hot", "HOURS": "办事大厅工作时间：工作日 9:00-17:00。"}
    }

`policybot wechat menu FILE.json` sends "button" to WeChat; the callback
reads "answers" (POLICYBOT_WECHAT_MENU_FILE) to reply to CLICK events. The
value "hot" lists the questions citizens ask most; any other value is said
as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOT = "hot"


class MenuError(ValueError):
    """The menu file cannot be used; the message says why, in Chinese."""


@dataclass(frozen=True)
class Menu:
    buttons: list[dict[str, Any]]
    answers: dict[str, str]

    def click_keys(self) -> Iterator[str]:
        for button in self.buttons:
            for item in (button, *button.get("sub_button", [])):
                if item.get("type") == "click" and item.get("key"):
                    yield str(item["key"])


def load_menu(path: Path) -> Menu:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MenuError(f"菜单文件 {path} 无法读取：{exc}") from exc
    if not isinstance(data, dict):
        raise MenuError(f"菜单文件 {path} 应为 JSON 对象（含 button 与 answers）。")
    buttons = data.get("button", [])
    answers = data.get("answers", {})
    if not isinstance(buttons, list) or not all(isinstance(b, dict) for b in buttons):
        raise MenuError("菜单文件的 button 应为按钮对象的列表。")
    if not isinstance(answers, dict) or not all(isinstance(v, str) and v.strip() for v in answers.values()):
        raise MenuError("菜单文件的 answers 应把每个按钮 key 对应到一段非空文字或 \"hot\"。")
    return Menu(buttons, {str(k): v for k, v in answers.items()})


def check_for_upload(menu: Menu) -> None:
    """Before sending: WeChat allows 1-3 buttons with up to 5 sub-buttons, and every CLICK needs an answer."""
    if not 1 <= len(menu.buttons) <= 3:
        raise MenuError("一级菜单应有 1 到 3 个按钮。")
    if any(len(b.get("sub_button", [])) > 5 for b in menu.buttons):
        raise MenuError("每个一级菜单最多 5 个子按钮。")
    missing = [key for key in menu.click_keys() if key not in menu.answers]
    if missing:
        raise MenuError(f"这些按钮 key 在 answers 中没有对应的回复：{'、'.join(missing)}")
