"""How enthusiastic a post reads: a small lexicon scorer returning a weight in [1, 2]."""

from __future__ import annotations

import re

from plugin.errors import InputError

# Points per cue. The total maps to 1 + points / (points + SATURATION_POINTS): no cue gives
# 1.0, SATURATION_POINTS points give 1.5, and it never reaches 2.0.
EXCLAMATION_POINTS = 0.25
STRONG_POINTS = 0.4
WEAK_POINTS = 0.1
EMOJI_POINTS = 0.2
CAPS_POINTS = 0.25
SATURATION_POINTS = 1.0
# Caps per cue so that one shouted line cannot outweigh every other signal.
MAX_EXCLAMATIONS = 4
MAX_STRONG = 4
MAX_WEAK = 3
MAX_EMOJI = 4
MAX_CAPS = 3
MIN_INTENSITY = 1.0
MAX_INTENSITY = 2.0

# Intensity is enthusiasm, not sentiment: "太难看了！" scores as high as "太好看了！"; the
# event kind (like/dislike) carries the sign. Lookarounds skip common words that merely
# contain a cue character (超市 supermarket, 最近 recently, 可爱 cute, 认真 serious).
_STRONG_ZH = re.compile(
    r"太[^，。！？,.!?\s]{1,6}?了|太(?:棒|赞|好|爱)"
    r"|超级|超(?!市|过|出|越|时|重|载|标|额|级|人|声|短|长|导|前|车)"
    r"|非常|特别|真的|绝了|好喜欢|好爱|好开心"
    r"|最(?!近|后|初|终|早|晚|新|少|多|大|小|高|低|长|短|先)"
    r"|(?<![可恋热友])爱(?!好|情|人|国|心)"
)
_WEAK_ZH = re.compile(r"(?<![认天当果])真(?!的|相|实|正|理|人|心)|很|挺|蛮|(?<!好)喜欢")
# "so" opens as many sentences as it intensifies ("so we left"), so it counts as weak.
_STRONG_EN = re.compile(
    r"\b(?:really|love|loved|loving|amazing|awesome|best|incredible|fantastic|wow)\b",
    re.IGNORECASE,
)
_WEAK_EN = re.compile(r"\b(?:so|very|pretty|quite|great|nice|cool)\b", re.IGNORECASE)
_EXCLAMATION = re.compile(r"[!！]")
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\U0001f000-\U0001f2ff]")
# Three or more capitals: "I" and "OK" are not shouting.
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")


def intensity(text: str) -> float:
    """Score how enthusiastic ``text`` is, from 1.0 (neutral) up to, not reaching, 2.0.

    Counts exclamation marks, strong intensifiers (太…了, 超/超级, 非常, 特别, 真的, 最, 好喜欢,
    爱; really, love, amazing, awesome, best), weak ones (真, 很, 挺; so, very), emoji and
    all-caps words, each capped, and saturates the sum. Weights are the module constants.

    Raises:
        InputError: ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise InputError(f"text must be str, got {type(text).__name__}")
    points = (
        EXCLAMATION_POINTS * min(len(_EXCLAMATION.findall(text)), MAX_EXCLAMATIONS)
        + STRONG_POINTS * min(_count(_STRONG_ZH, text) + _count(_STRONG_EN, text), MAX_STRONG)
        + WEAK_POINTS * min(_count(_WEAK_ZH, text) + _count(_WEAK_EN, text), MAX_WEAK)
        + EMOJI_POINTS * min(len(_EMOJI.findall(text)), MAX_EMOJI)
        + CAPS_POINTS * min(len(_CAPS_WORD.findall(text)), MAX_CAPS)
    )
    score = MIN_INTENSITY + points / (points + SATURATION_POINTS)
    return min(max(score, MIN_INTENSITY), MAX_INTENSITY)


def _count(pattern: re.Pattern[str], text: str) -> int:
    return sum(1 for _ in pattern.finditer(text))
