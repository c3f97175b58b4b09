"""Everything the channel says to citizens that does not come from the bot."""

from __future__ import annotations

import re

FETCH_COMMANDS = {"1", "１", "答案", "获取答案"}
DETAIL_COMMANDS = {"详情", "详细", "全文", "查看详情"}
HUMAN_COMMANDS = {"转人工", "人工", "人工客服", "人工服务"}
_NOT_WORDS = re.compile(r"[\s，。！？!?,.~～、]+")
_ASKS_FOR = re.compile(r"^(?:我要|我想|请|请帮我|帮我|麻烦)?(?:转|找|联系)?(?:人工|人工客服|人工服务|客服)(?:吧|啊|呀)?$")


def wants_human(message: str) -> bool:
    """转人工, and the short ways people say it: 我要转人工, 转人工客服, 请转人工服务, 找客服."""
    words = _NOT_WORDS.sub("", message)
    if re.search(r"不要|别|不用|没用|不想", words):
        return False
    return words in HUMAN_COMMANDS or bool(_ASKS_FOR.match(words)) or (
        len(words) <= 8 and "转人工" in words)

WELCOME = (
    "您好，欢迎关注！这里可以查询本地政策和官方解读。\n"
    "直接发送您的问题即可，例如：“城乡低保标准是多少？”\n"
    "回复“详情”查看上一条答案的完整内容，回复“转人工”联系人工客服。"
)
UNSUPPORTED = "暂时只能识别文字和语音提问。请直接用文字描述您的问题，例如：“失业保险金怎么领？”"
VOICE_UNRECOGNISED = "抱歉，没能听清这段语音。请再说一遍，或直接发送文字问题。"
EMPTY_QUESTION = "请发送您想咨询的政策问题。"
HOLD_ON = "您的问题正在查询中，答案准备好后回复“1”即可获取。"
HOLD_ON_PUSH = "您的问题正在查询中，答案稍后发送给您；如未收到，请回复“1”获取。"
STILL_WORKING = "答案还在准备中，请稍候再回复“1”。"
LOST = "抱歉，刚才的问题没能查到结果，请重新发送一次您的问题。"
NOTHING_TO_FETCH = "目前没有待获取的答案。请直接发送您的问题。"
OWED_NOTE = "（您上一个问题的答案已准备好，回复“1”查看）"
OWED_HEADER = "【您上一个问题的答案】"
NOW_HEADER = "【本次问题的答案】"
MORE_BY_REPLY = "回复“详情”查看完整内容"
NO_DETAIL = "暂无更多内容。请直接发送您的问题。"
TRANSFERRED = "正在为您转接人工客服，请稍候。"
HOT_HEADER = "近期热点问题："
HOT_FOOTER = "直接发送问题即可查询。"
HOT_EMPTY = "暂时还没有热点问题。请直接发送您的问题。"
UNKNOWN_BUTTON = "该菜单暂未开放，请直接发送您的问题。"
FAILED = "抱歉，系统暂时无法回答，请稍后再试，或拨打 {hotline} 咨询。"


def more_by_link(url: str) -> str:
    return f"完整内容：{url}"
