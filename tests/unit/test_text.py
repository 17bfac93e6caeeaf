"""Unit tests of indexer.text: cleaning, language detection, hashing."""

from __future__ import annotations

import contextlib
import hashlib
import time

import pytest

from indexer.text import clean_text, content_hash, detect_language
from plugin.errors import InputError


def test_clean_text_markup_stripped_and_entities_decoded() -> None:
    raw = "<p>Hello <b>wor</b>ld</p><div>next</div> &amp; &lt;ok&gt;&nbsp;end"
    assert clean_text(raw) == "Hello world next & <ok> end"


def test_clean_text_script_style_and_comments_dropped_with_content() -> None:
    raw = "<style>p{color:red}</style>keep<script>alert('x')</script> this<!-- hidden -->!"
    assert clean_text(raw) == "keep this !"


def test_clean_text_unterminated_comment_drops_rest() -> None:
    assert clean_text("visible <!-- never closed secret") == "visible"


def test_clean_text_urls_removed_trailing_punctuation_kept() -> None:
    cleaned = clean_text("看这个 https://example.com/a?b=1&c=2，很棒！ and www.foo.org/x!!")
    assert "http" not in cleaned and "example" not in cleaned and "foo.org" not in cleaned
    assert cleaned.startswith("看这个 ")
    assert cleaned.endswith("and !!")
    assert "很棒!" in cleaned


def test_clean_text_emails_removed() -> None:
    cleaned = clean_text("write to foo.bar+x@mail.example.co.uk or 联系 a@b.cn 谢谢")
    assert "@" not in cleaned
    assert cleaned == "write to or 联系 谢谢"


def test_clean_text_control_and_format_characters_dropped() -> None:
    raw = "a\x00b\u200bc\u202ed\ufeffe\u00adf\tg\nh\r\ni\x7fj"
    assert clean_text(raw) == "abcdef g h ij"


def test_clean_text_newlines_become_single_spaces() -> None:
    assert clean_text("  first line\n\n\n  second\u2028third  ") == "first line second third"


def test_clean_text_invalid_utf8_bytes_replaced() -> None:
    cleaned = clean_text(b"caf\xc3\xa9 \xff\xfe ok \xe4\xbd")
    assert cleaned == "café ok"
    assert "\ufffd" not in cleaned


def test_clean_text_valid_utf8_bytes_decoded() -> None:
    assert clean_text("今天天气真好".encode()) == "今天天气真好"


def test_clean_text_lone_surrogates_repaired_pairs_joined() -> None:
    cleaned = clean_text("lone \ud800 half \ud83d\ude00 pair")
    assert cleaned == "lone half 😀 pair"
    cleaned.encode("utf-8")  # would raise on a surrogate left behind


def test_clean_text_nfkc_full_width_to_ascii() -> None:
    assert clean_text("ｈｅｌｌｏ　ＷＯＲＬＤ １２３！") == "hello WORLD 123!"


def test_clean_text_symbol_runs_capped_words_and_numbers_kept() -> None:
    assert (
        clean_text("好看！！！！！！ 😂😂😂😂😂 哈哈哈哈 1000000")
        == "好看!!! 😂😂😂 哈哈哈哈 1000000"
    )


def test_clean_text_emoji_variation_selector_and_zwj_dropped() -> None:
    assert clean_text("love \u2764\ufe0f family 👨\u200d👩") == "love \u2764 family 👨👩"


@pytest.mark.parametrize(
    "raw",
    ["", "   \n\t ", "<p></p>", "https://example.com/x", "\u200b\u200d\ufeff", b"  ", "<!-- x -->"],
)
def test_clean_text_nothing_left_raises(raw: str | bytes) -> None:
    with pytest.raises(InputError, match="empty after cleaning"):
        clean_text(raw)


@pytest.mark.parametrize("raw", [None, 123, ["text"], {"text": "x"}])
def test_clean_text_not_text_raises(raw: object) -> None:
    with pytest.raises(InputError, match="str or bytes"):
        clean_text(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_chars", [0, -5, 1.5, True])
def test_clean_text_bad_max_chars_raises(max_chars: object) -> None:
    with pytest.raises(ValueError):
        clean_text("hello", max_chars=max_chars)  # type: ignore[arg-type]


def test_clean_text_truncates_at_word_boundary() -> None:
    cleaned = clean_text("alpha beta gamma delta", max_chars=13)
    assert cleaned == "alpha beta"


def test_clean_text_truncates_chinese_at_character() -> None:
    assert clean_text("今天天气真好出去散步了", max_chars=4) == "今天天气"


def test_clean_text_truncates_before_latin_word_in_chinese() -> None:
    assert clean_text("我喜欢iPhone手机", max_chars=5) == "我喜欢"


def test_clean_text_truncates_overlong_word_hard() -> None:
    assert clean_text("a " + "x" * 100, max_chars=60) == "a " + "x" * 58


def test_clean_text_one_megabyte_fast_and_truncated() -> None:
    raw = ("<div>Some <b>words</b> and 中文 text, see https://x.io/p?q=1 </div>\n" * 20_000)[
        :1_000_000
    ]
    for value in (raw, raw.encode("utf-8")):
        start = time.perf_counter()
        cleaned = clean_text(value)
        elapsed = time.perf_counter() - start
        assert elapsed < 0.5
        assert 1900 <= len(cleaned) <= 2000
        assert "<" not in cleaned and "http" not in cleaned


@pytest.mark.parametrize(
    "raw",
    [
        "<!--" * 250_000 + "x",
        "<script>" * 125_000 + "x",
        "a" * 1_000_000 + "@",
        "<a " * 330_000,
        "http://" + "a" * 1_000_000,
        "&" * 1_000_000 + "x",
    ],
)
def test_clean_text_pathological_input_linear_time(raw: str) -> None:
    start = time.perf_counter()
    with contextlib.suppress(InputError):
        clean_text(raw)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("今天天气真好，出去散步了。", "zh"),
        ("刚刚看了个电影，叫《你的名字》。太好看了！", "zh"),
        ("我喜欢iPhone", "zh"),
        ("今天用Python写了个爬虫", "zh"),
        ("I watched a great movie yesterday", "en"),
        ("Café déjà vu, naïve", "en"),
        ("I love 北京 and Shanghai", "mixed"),
        ("Machine learning 机器学习 models", "mixed"),
        ("今日は天気がいいですね", "other"),
        ("Привет, как дела?", "other"),
        ("12345 !!!", "other"),
        ("", "other"),
    ],
)
def test_detect_language_by_script_share(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_detect_language_not_str_raises() -> None:
    with pytest.raises(InputError):
        detect_language(b"bytes")  # type: ignore[arg-type]


def test_content_hash_stable_sha256_of_normalized_text() -> None:
    expected = hashlib.sha256(b"hello world").hexdigest()
    assert content_hash("  Hello \n World ") == expected
    assert content_hash("ＨＥＬＬＯ　world") == expected
    assert content_hash(b"hello world") == expected


def test_content_hash_different_text_differs() -> None:
    assert content_hash("今天天气真好") != content_hash("今天天气不好")


@pytest.mark.parametrize("text", ["", "  \n", None])
def test_content_hash_blank_or_not_text_raises(text: object) -> None:
    with pytest.raises(InputError):
        content_hash(text)  # type: ignore[arg-type]
