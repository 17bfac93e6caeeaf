"""Unit tests of indexer.segment: jieba tokens, keywords, entities, user dictionary."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from indexer import segment
from plugin.errors import ConfigError, InputError

MOVIE = "刚刚看了个电影，叫《你的名字》。太好看了！"
WEATHER = "今天天气真好，出去散步了。"


def test_tokens_chinese_words_without_punctuation_or_stopwords() -> None:
    words = segment.tokens(MOVIE)
    assert {"电影", "名字", "好看"} <= set(words)
    assert not {"，", "。", "！", "《", "》", "了", "的", "你"} & set(words)


def test_tokens_english_lowercased_stopwords_dropped() -> None:
    words = segment.tokens("The Quick brown fox jumps over the lazy dog!")
    assert words == ["quick", "brown", "fox", "jumps", "lazy", "dog"]


def test_tokens_mixed_text_keeps_latin_words_lowercased() -> None:
    words = segment.tokens("我买了iPhone15和T恤")
    assert "iphone15" in words and "t恤" in words


def test_tokens_same_cut_for_query_and_document() -> None:
    query = segment.tokens("node.js don't")
    document = segment.tokens("我在学node.js，don't panic")
    assert query == ["node", "js"]
    assert document[-3:] == ["node", "js", "panic"]


def test_segmented_is_space_joined_tokens() -> None:
    assert segment.segmented(MOVIE) == " ".join(segment.tokens(MOVIE))
    assert " 电影 " in f" {segment.segmented(MOVIE)} "


@pytest.mark.parametrize("text", ["", "   ", "，。！？"])
def test_tokens_nothing_wordlike_is_empty(text: str) -> None:
    assert segment.tokens(text) == []


@pytest.mark.parametrize(
    "call", [segment.tokens, segment.segmented, segment.keywords, segment.entities]
)
def test_segment_functions_not_str_raise(call: object) -> None:
    with pytest.raises(InputError):
        call(None)  # type: ignore[operator]


def test_keywords_chinese_movie_example_topic_words_first() -> None:
    pairs = segment.keywords(MOVIE)
    words = [word for word, _ in pairs]
    assert words[0] == "电影"
    assert "名字" in words
    assert "刚刚" not in words and "好看" not in words  # mood and time words are not topics
    assert pairs[0][1] == 1.0
    assert all(0 < weight <= 1.0 for _, weight in pairs)


def test_keywords_chinese_weather_example() -> None:
    words = [word for word, _ in segment.keywords(WEATHER)]
    assert "散步" in words


def test_keywords_falls_back_when_no_noun() -> None:
    assert [word for word, _ in segment.keywords("太好看了！")] == ["好看"]


def test_keywords_sorted_and_limited_to_top_k() -> None:
    text = "机器学习和深度学习改变了搜索引擎、推荐系统、自然语言处理和计算机视觉的研究方向"
    pairs = segment.keywords(text, top_k=3)
    assert len(pairs) == 3
    weights = [weight for _, weight in pairs]
    assert weights == sorted(weights, reverse=True)


def test_keywords_english_term_frequency_normalized() -> None:
    pairs = segment.keywords("Python tips: python code, PYTHON tests and code review. Go to it")
    assert pairs[0] == ("python", 1.0)
    assert ("code", pytest.approx(2 / 3)) in pairs
    words = [word for word, _ in pairs]
    assert "and" not in words and "to" not in words and "go" not in words  # stop/short


def test_keywords_bad_top_k_raises() -> None:
    with pytest.raises(ValueError):
        segment.keywords(MOVIE, top_k=0)


def test_entities_client_example_title_is_one_entity() -> None:
    found = segment.entities(MOVIE)
    assert "你的名字" in found
    assert "电影" in found
    assert found.index("电影") < found.index("你的名字")


def test_entities_chinese_places_and_people() -> None:
    found = segment.entities("周杰伦昨天在北京开了演唱会")
    assert "周杰伦" in found and "北京" in found


def test_entities_english_names_skip_sentence_start_and_stopwords() -> None:
    found = segment.entities("Yesterday I met Taylor Swift in New York. We loved it.")
    assert found == ["Taylor Swift", "New York"]


def test_entities_camel_case_and_digits() -> None:
    assert segment.entities("we compared eBay with GPT4 on iPhone") == ["eBay", "GPT4", "iPhone"]


def test_entities_deduplicated_and_limited() -> None:
    text = "《你的名字》《你的名字》《天气之子》《铃芽之旅》北京 上海"
    assert segment.entities(text, limit=3) == ["你的名字", "天气之子", "铃芽之旅"]


def test_configure_missing_user_dict_raises() -> None:
    with pytest.raises(ConfigError, match="not found"):
        segment.configure("/nonexistent/userdict.txt")


def test_configure_user_dict_keeps_custom_word_whole(tmp_path: Path) -> None:
    text = "我去了喵星球看猫"
    assert "喵星球" not in segment.tokens(text)
    user_dict = tmp_path / "userdict.txt"
    user_dict.write_text("喵星球 100 nz\n", encoding="utf-8")
    try:
        segment.configure(str(user_dict))
        assert "喵星球" in segment.tokens(text)
        assert "喵星球" in segment.entities(text)
    finally:
        segment.configure(None)


def test_tokens_concurrent_calls_agree_with_sequential() -> None:
    texts = [MOVIE, WEATHER, "I love Apple iPhone", "机器学习改变搜索"] * 25
    expected = [segment.tokens(text) for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(segment.tokens, texts)) == expected
