"""Unit tests of indexer.intensity: the enthusiasm lexicon scorer."""

from __future__ import annotations

import pytest

from indexer.intensity import MAX_INTENSITY, MIN_INTENSITY, intensity
from plugin.errors import InputError

MOVIE = "刚刚看了个电影，叫《你的名字》。太好看了！"
WEATHER = "今天天气真好，出去散步了。"


def test_intensity_client_example_movie_clearly_above_weather() -> None:
    movie, weather = intensity(MOVIE), intensity(WEATHER)
    assert movie - weather > 0.2
    assert weather > MIN_INTENSITY  # 真 is a weak cue, not nothing


@pytest.mark.parametrize("text", ["The meeting is at noon.", "明天上午开会。", "", "去超市买菜"])
def test_intensity_neutral_text_is_one(text: str) -> None:
    assert intensity(text) == MIN_INTENSITY


@pytest.mark.parametrize("text", ["最近在忙", "可爱的猫", "认真工作", "太阳出来"])
def test_intensity_words_containing_cue_characters_do_not_count(text: str) -> None:
    assert intensity(text) == MIN_INTENSITY


def test_intensity_strong_intensifier_beats_weak() -> None:
    assert intensity("非常好") > intensity("很好") > intensity("好")


def test_intensity_exclamations_add_up_to_a_cap() -> None:
    scores = [intensity("好看" + "！" * n) for n in range(7)]
    assert scores[0] < scores[1] < scores[2] < scores[4]
    assert scores[4] == scores[6]


def test_intensity_english_cues_caps_and_emoji() -> None:
    plain = intensity("I saw this film.")
    assert intensity("I really love this film") > plain
    assert intensity("I saw THIS FILM") > plain
    assert intensity("I saw this film 😍") > plain
    assert intensity("so I left") < intensity("really loved it")


def test_intensity_extreme_text_stays_below_two() -> None:
    shouting = "!!!!!!!!! 太太太好了 AMAZING LOVE WOW BEST 😍😍😍😍😍 超级 非常 特别 最爱 真的"
    score = intensity(shouting)
    assert 1.7 < score < MAX_INTENSITY


def test_intensity_not_str_raises() -> None:
    with pytest.raises(InputError):
        intensity(None)  # type: ignore[arg-type]
