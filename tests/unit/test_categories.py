"""Category model: beats a majority baseline on a small bilingual sample; artifacts versioned."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest

from indexer import categories
from plugin.errors import InputError

# Three topics x 16 short texts (8 English, 8 Chinese), written for this test.
SAMPLE: dict[str, list[str]] = {
    "sports": [
        "The football team won the league final with a late goal",
        "Tennis star wins the open after a five set match",
        "Basketball playoffs: the home team beats the champions",
        "Marathon runner sets a new record in the city race",
        "The coach praised the players after the football match",
        "Olympic swimmer takes gold in the relay final",
        "Injured striker misses the football derby this weekend",
        "The league announces the basketball season schedule",
        "足球队在联赛决赛中绝杀对手夺冠",
        "网球名将苦战五盘赢得公开赛冠军",
        "篮球季后赛主队击败卫冕冠军",
        "马拉松选手在城市赛跑中打破纪录",
        "主教练赛后称赞球员在足球比赛中的表现",
        "奥运游泳选手在接力决赛中夺得金牌",
        "受伤前锋将缺席本周末的足球德比",
        "联赛公布新赛季篮球比赛赛程",
    ],
    "tech": [
        "New smartphone chip doubles battery life and speed",
        "The software update fixes a security bug in the browser",
        "Startup releases an open source database for developers",
        "Cloud computing prices fall as the chip market grows",
        "Engineers test a faster processor for laptops",
        "The app store adds new privacy rules for software",
        "A security flaw in the router software lets attackers in",
        "Developers praise the new programming language release",
        "新款智能手机芯片让电池续航翻倍",
        "软件更新修复了浏览器的安全漏洞",
        "初创公司为开发者发布开源数据库",
        "芯片市场增长云计算价格下降",
        "工程师测试笔记本电脑的新处理器",
        "应用商店为软件增加新的隐私规则",
        "路由器软件安全漏洞让黑客入侵",
        "开发者称赞新版编程语言发布",
    ],
    "food": [
        "This noodle soup recipe needs ginger, garlic and fresh chili",
        "The restaurant serves the best dumplings in town",
        "How to bake bread at home with a simple recipe",
        "Chef shares a spicy tofu recipe for dinner",
        "A new bakery opens with fresh cakes and bread",
        "The street food market sells grilled fish and noodles",
        "Simple dinner recipe: fried rice with egg and garlic",
        "Critics review the new dumpling restaurant downtown",
        "这道面条汤的做法需要生姜大蒜和辣椒",
        "这家餐厅的饺子是全城最好吃的",
        "在家烤面包的简单做法",
        "厨师分享麻辣豆腐的晚餐做法",
        "新开的面包店有新鲜蛋糕和面包",
        "美食街卖烤鱼和面条",
        "简单晚餐做法鸡蛋大蒜炒饭",
        "美食评论家点评市中心新开的饺子餐厅",
    ],
}


def _split() -> tuple[list[str], list[str], list[str], list[str]]:
    """Stated split: per topic and language, texts 0-5 fit and 6-7 test (12 of 48 held out)."""
    fit_x, fit_y, test_x, test_y = [], [], [], []
    for label, texts in SAMPLE.items():
        for position, text in enumerate(texts):
            held = position % 8 >= 6
            (test_x if held else fit_x).append(text)
            (test_y if held else fit_y).append(label)
    return fit_x, fit_y, test_x, test_y


def test_train_small_bilingual_sample_beats_majority_baseline() -> None:
    fit_x, fit_y, test_x, test_y = _split()
    model = categories.train(fit_x, fit_y)
    predicted = [label for label, _ in model.predict(test_x)]
    accuracy = sum(p == t for p, t in zip(predicted, test_y, strict=True)) / len(test_y)
    majority = Counter(fit_y).most_common(1)[0][0]
    baseline = sum(t == majority for t in test_y) / len(test_y)
    assert accuracy >= baseline + 0.3, (accuracy, baseline, predicted)


def test_predict_probabilities_are_calibrated_shares() -> None:
    fit_x, fit_y, _, _ = _split()
    model = categories.train(fit_x, fit_y)
    ((label, prob),) = model.predict(["足球联赛冠军"])
    assert label == "sports"
    assert 0.0 < prob <= 1.0
    probs = model.pipeline.predict_proba(["football"])[0]
    assert abs(sum(probs) - 1.0) < 1e-6


def test_train_one_category_raises() -> None:
    with pytest.raises(InputError):
        categories.train(["a b c"] * 12, ["x"] * 12)


def test_predict_categories_below_threshold_gives_none() -> None:
    fit_x, fit_y, _, _ = _split()
    model = categories.train(fit_x, fit_y)
    assert categories.predict_categories(None, ["x"]) == [None]
    assert categories.predict_categories(model, ["football"], threshold=1.01) == [None]
    assert categories.predict_categories(model, ["football league match goal"], threshold=0.0) == [
        "sports"
    ]


def test_save_load_round_trip_and_version_switch(tmp_path: Path) -> None:
    fit_x, fit_y, test_x, _ = _split()
    first = categories.train(fit_x, fit_y)
    assert categories.load(tmp_path) is None
    assert categories.save(first, tmp_path) == 1
    loaded = categories.load(tmp_path)
    assert loaded is not None and loaded.version == 1
    assert loaded.predict(test_x) == first.predict(test_x)
    assert (tmp_path / "models" / "categories" / "v1" / "model.joblib").is_file()

    cache = categories.CategoryCache(tmp_path)
    model = cache.get()
    assert model is not None and model.version == 1
    assert cache.get() is model  # unchanged pointer: no reload

    # A retrained model with other labels; the cache switches without a restart.
    second = categories.train(fit_x, ["a" if y == "sports" else "b" for y in fit_y])
    assert categories.save(second, tmp_path) == 2
    pointer = tmp_path / "models" / "categories" / "current"
    later = time.time() + 5
    os.utime(pointer, (later, later))  # coarse mtime filesystems: make the change visible
    switched = cache.get()
    assert switched is not None and switched.version == 2
    assert set(switched.labels) == {"a", "b"}

    categories.set_current(tmp_path, 1)
    os.utime(pointer, (later + 5, later + 5))
    back = cache.get()
    assert back is not None and back.version == 1
    with pytest.raises(InputError):
        categories.set_current(tmp_path, 9)


def test_label_items_fills_only_missing_categories_above_threshold() -> None:
    fit_x, fit_y, _, _ = _split()
    model = categories.train(fit_x, fit_y)
    sources = [{"category": None}, {"category": "given-one", "category_source": "given"}]
    texts = ["football league match goal final team", "football league match goal"]
    assert categories.label_items(sources, texts, model, threshold=0.0) == 1
    assert sources[0] == {"category": "sports", "category_source": "model"}
    assert sources[1]["category"] == "given-one"
    untouched = [{"category": None}]
    assert categories.label_items(untouched, ["football"], None) == 0
    assert categories.label_items(untouched, ["football"], model, threshold=1.01) == 0
    assert untouched == [{"category": None}]
