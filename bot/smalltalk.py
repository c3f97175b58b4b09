"""Messages that are not questions about policy: greetings, thanks, chit-chat.

They never reach retrieval: the nearest passage to "讲个笑话" is not an answer.
Greetings and thanks get a friendly word on what the bot can do; chit-chat
(weather, jokes, poems, prices) is declined with the same hint.
"""

from __future__ import annotations

import re

_GREETING = re.compile(r"^(你好|您好|hi|hello|哈喽|嗨|在吗|在不在|早上好|下午好|晚上好|你是谁|你叫什么|你能做什么|你会什么)[!！。.？?～~呀啊呢吗]*$",
                       re.IGNORECASE)
_THANKS = re.compile(r"^(谢谢|多谢|感谢|谢了|好的|好|明白了|知道了|ok|嗯|嗯嗯|收到)[!！。.～~啦了呀你您]*$", re.IGNORECASE)
_CHITCHAT = re.compile(
    r"天气|下雨|气温|笑话|讲个故事|写一?首|作诗|写诗|唱歌|唱首|猜谜|脑筋急转弯|星座|运势|算命|彩票|股票|股价|基金涨|"
    r"油价|汽油|金价|比分|球赛|电影|电视剧|游戏|好玩|陪我聊|聊聊天|无聊|你喜欢|你爱|你几岁|你多大|你是男|你是女|"
    r"翻译一下|写一篇|写作文|做作业|编程|写代码"
)

SCOPE_HINT = ("我是政策咨询助手，可以回答本地政策文件及其解读的问题，例如补贴标准、办理条件、办理时限、负责部门等。"
              "请直接描述您想了解的政策问题。")


def reply_for(question: str) -> str | None:
    """A reply for a message that is not a policy question, else None."""
    flat = "".join(question.split())
    if _GREETING.match(flat):
        return "您好！" + SCOPE_HINT
    if _THANKS.match(flat):
        return "不客气！如还有其他政策问题，欢迎继续提问。"
    if _CHITCHAT.search(flat):
        return "抱歉，这个问题不在政策咨询的范围内，我无法回答。" + SCOPE_HINT
    return None
