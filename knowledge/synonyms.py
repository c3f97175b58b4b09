"""How citizens say it, and how policy documents say it.

A citizen asks "刚出生的宝宝怎么交医保"; the notice says "新生儿…参保缴费". BM25
cannot bridge that, and a small offline embedder bridges it poorly. The
table below maps everyday words to the terms government documents use; a
query holding the everyday word is also searched with the official ones.
It is written from general knowledge of citizen questions (12345 hotline
wording), not from any one evaluation question, and is measured on all
evaluation sets (docs/benchmarks.md).
"""

from __future__ import annotations

import unicodedata

# everyday word -> the terms documents use for it
SYNONYMS: dict[str, tuple[str, ...]] = {
    "交钱": ("缴纳", "缴费"), "交费": ("缴费", "缴纳"), "要交": ("缴纳", "缴费"), "交多少": ("缴费标准", "缴纳"),
    "宝宝": ("新生儿",), "婴儿": ("新生儿",), "刚出生": ("新生儿", "出生"),
    "大学生": ("高校毕业生",), "应届生": ("高校毕业生",), "应届毕业生": ("高校毕业生",),
    "补助": ("补贴",), "补贴": ("补助",), "津贴": ("补贴",),
    "到期": ("有效期",), "过期": ("有效期",), "失效": ("有效期",),
    "报销": ("待遇", "支付"), "能报": ("待遇", "支付"),
    "打工": ("务工", "就业"), "上班": ("就业",), "找工作": ("求职", "就业"),
    "公司": ("企业", "单位"), "老板": ("企业", "用人单位"), "厂里": ("企业",),
    "低保户": ("低保对象", "最低生活保障"), "吃低保": ("低保对象", "最低生活保障"),
    "开店": ("个体经营", "创业"), "小店": ("个体经营",), "做生意": ("个体经营", "创业"), "摆摊": ("个体经营",),
    "老人": ("老年人",), "退伍": ("退役军人",), "退伍军人": ("退役军人",), "当兵": ("退役军人",),
    "下岗": ("失业人员",), "没工作": ("失业人员", "就业困难人员"), "失业了": ("失业人员",),
    "房租": ("租金",), "租房子": ("租赁住房", "租房"), "公租房": ("公共租赁住房",), "廉租房": ("公共租赁住房",),
    "结婚": ("已婚", "结婚证"), "结了婚": ("已婚", "结婚证"), "老婆": ("配偶",), "老公": ("配偶",), "爱人": ("配偶",),
    "上限": ("限额", "最高"), "封顶": ("最高", "限额"),
    "户口": ("户籍",), "看病": ("就医", "医疗"), "住院": ("住院", "医疗费用"),
    "医保": ("医疗保险",), "社保": ("社会保险",), "养老金": ("养老保险",),
    "公积金": ("住房公积金",), "网上办": ("在线申请", "网上办理"), "手机上": ("在线", "公众号"),
    "到账": ("拨付", "发放"), "多久到": ("拨付", "时限"), "农民工": ("农村劳动力", "务工人员"),
    "电话": ("热线", "咨询电话"), "残疾人": ("残疾人", "持证残疾人"), "上学": ("入学", "教育"),
    "罚款": ("罚款", "处罚"), "证明": ("证明", "材料"), "办证": ("办理", "证件"),
    "爸妈": ("父母", "直系亲属"), "爸爸": ("父母", "直系亲属"), "妈妈": ("父母", "直系亲属"),
    "父母": ("直系亲属",), "儿子": ("子女", "直系亲属"), "女儿": ("子女", "直系亲属"), "亲戚": ("亲属",),
    "房子": ("住房", "房屋"), "交满": ("缴存满", "缴费满", "连续足额"), "交了": ("缴存", "缴费"),
    "提出来": ("提取",), "取出来": ("提取",), "取钱": ("提取",), "截止": ("截至", "结束"),
    "起付线": ("起付标准",), "门槛费": ("起付标准",),
}
_LONGEST_FIRST = sorted(SYNONYMS, key=len, reverse=True)


def official_terms(question: str) -> list[str]:
    """The document terms for the everyday words in a question (not already in it)."""
    text = unicodedata.normalize("NFKC", question)
    found: list[str] = []
    for word in _LONGEST_FIRST:
        if word in text:
            found += [t for t in SYNONYMS[word] if t not in text and t not in found]
    return found
