"""A small made-up corpus of citizen messages, a few classes, for training tests."""

from __future__ import annotations

import random

from gridgov.ai.training import LabelledText

# Invented phrases per class; none comes from a real message.
TOPICS = {
    "H01": ("小区道路破损", "楼道漏水", "物业不修电梯", "违章搭建棚子", "路灯坏了"),
    "H14": ("学校乱收费", "幼儿园学位不够", "老师补课收钱", "学生午餐太差", "体育馆不开放"),
    "H15": ("公司拖欠工资", "社保没有缴纳", "辞退不给补偿", "养老金没到账", "加班不给加班费"),
}
FILLERS = ("希望有关部门尽快处理", "已经反映多次", "请领导关注", "谢谢", "住在A市A3区")


def corpus(per_class: int = 12, seed: int = 7) -> list[LabelledText]:
    """`per_class` messages per class: a topic phrase as title, two more and a filler as body."""
    rng = random.Random(seed)
    out = []
    for label, phrases in TOPICS.items():
        for _ in range(per_class):
            title = rng.choice(phrases)
            body = f"{rng.choice(phrases)}，{rng.choice(FILLERS)}，{rng.choice(phrases)}。"
            out.append(LabelledText(title, body, label))
    return out
