"""jieba segmentation, keywords and entity-like nouns (pure; jieba is loaded once, lazily)."""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections import Counter
from types import ModuleType

from plugin.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

DEFAULT_TOP_K = 8
DEFAULT_ENTITY_LIMIT = 8
# English keywords shorter than this are mostly function words or fragments.
MIN_ENGLISH_KEYWORD_LEN = 3
# jieba POS tags kept as interest keywords: nouns, verb-nouns, idioms, fixed phrases,
# abbreviations and Latin words. Verbs/adjectives (好看) describe a mood, not a topic; when a
# text has no such word the keyword step falls back to all parts of speech.
KEYWORD_POS = ("n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "nw", "vn", "i", "l", "j", "eng")
ENTITY_POS = frozenset({"n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "nw"})
MAX_TITLE_CHARS = 40

# Whitespace-separated word lists, kept as text so they read like a dictionary.
_ZH_STOPWORD_TEXT = """
    的 地 得 了 着 过 和 与 及 或 而 是 在 有 没 没有 不 也 都 就 又 还 再 才 只 但 但是
    因为 所以 如果 然后 而且 并且 虽然 可是 我 你 您 他 她 它 我们 你们 他们 她们 它们 自己
    这 那 这个 那个 这些 那些 这样 那样 这里 那里 什么 怎么 为什么 哪 哪里 谁 个 些 把 被 让
    给 从 向 对 于 为 以 之 其 吗 呢 吧 啊 呀 哦 嗯 哈 么 嘛 啦 哇 一个 一些 一下 可以 会 能
    要 想 去 来 说 很 真 太 挺 好 最 非常 特别 刚刚 刚才 今天 昨天 明天 现在 已经 一直 还是
"""
_EN_STOPWORD_TEXT = """
    a an the and or but if then so as of at by for from in into on onto to with without
    about over under up down out off than too very can could will would shall should may
    might must do does did done doing have has had having be been being am is are was were
    i me my mine we us our ours you your yours he him his she her hers it its they them
    their theirs this that these those there here what which who whom whose when where why
    how all any both each few more most other some such no nor not only own same just also
    s t d ll m re ve don doesn didn isn aren wasn weren won wouldn can't don't it's i'm
"""
ZH_STOPWORDS = frozenset(_ZH_STOPWORD_TEXT.split())
EN_STOPWORDS = frozenset(_EN_STOPWORD_TEXT.split())
STOPWORDS = ZH_STOPWORDS | EN_STOPWORDS

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_RE = re.compile(f"[{_HAN}]")
# Letters and digits of any script except Han, which jieba handles.
_WORD_RE = re.compile(f"(?:(?![{_HAN}])[^\\W_])+")
_TITLE_RE = re.compile(f"《([^《》\\n]{{1,{MAX_TITLE_CHARS}}})》")
# A capitalised or camel-case word (Apple, iPhone, GPT4), and runs of them (New York).
_NAME_WORD = r"(?:[A-Z][A-Za-z0-9]*|[a-z]+[A-Z0-9][A-Za-z0-9]*)"
_NAME_RE = re.compile(rf"\b{_NAME_WORD}(?:[ -]{_NAME_WORD})*\b")
_SENTENCE_END = ".!?。！？"

_lock = threading.Lock()
_jieba: ModuleType | None = None
_user_dict: str | None = None
_loaded_dicts: set[str] = set()


def configure(user_dict: str | None = None) -> None:
    """Set a jieba user dictionary (one ``word [freq] [tag]`` a line) for this process.

    Loaded with jieba's own dictionary on first use, or at once when jieba is already up.
    jieba cannot unload words, so a later call adds to, never replaces, an earlier one.

    Raises:
        ConfigError: the file does not exist.
    """
    global _user_dict
    path = None if user_dict is None else os.fspath(user_dict)
    if path is not None and not os.path.isfile(path):
        raise ConfigError(f"jieba user dictionary not found: {path}")
    with _lock:
        _user_dict = path
        if _jieba is not None and path is not None:
            _load_user_dict(_jieba, path)


def tokens(text: str, *, for_index: bool = False) -> list[str]:
    """Split text into lowercased words for BM25, without punctuation or stopwords.

    Chinese goes through ``jieba.lcut``; other scripts split on letters and digits, so a
    query and a document are cut the same way whichever path they take. ``for_index`` uses
    jieba's search mode, which also emits the words inside compounds (科幻电影 gives 电影
    too), so a query for the short word still finds the compound.

    Raises:
        InputError: ``text`` is not a str.
    """
    _check_text(text)
    if _HAN_RE.search(text):
        pieces: list[str] = []
        jieba = _get_jieba()
        cut = jieba.lcut_for_search(text) if for_index else jieba.lcut(text)
        for word in cut:
            if _HAN_RE.search(word):
                pieces.append(word.strip())
            else:
                pieces.extend(_WORD_RE.findall(word))
    else:
        pieces = _WORD_RE.findall(text)
    words = (piece.lower() for piece in pieces)
    return [word for word in words if word and word not in STOPWORDS and _has_word_char(word)]


def segmented(text: str, *, for_index: bool = False) -> str:
    """Return ``tokens(text)`` joined by spaces, for a ``simple``-analyzed field or a query."""
    return " ".join(tokens(text, for_index=for_index))


def keywords(text: str, top_k: int = DEFAULT_TOP_K) -> list[tuple[str, float]]:
    """Return up to ``top_k`` (keyword, weight) pairs, strongest first, weights max 1.

    Text with Chinese uses jieba's TF-IDF (``extract_tags``) over nouns and similar (see
    ``KEYWORD_POS``); other text uses term frequency over non-stopword tokens of at least
    three characters. Either way weights are scaled so the strongest is 1.0, which keeps
    keyword affinities comparable between short and long posts and between languages.

    Raises:
        InputError: ``text`` is not a str.
        ValueError: ``top_k`` is below 1.
    """
    _check_text(text)
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    if _HAN_RE.search(text):
        scores = _tfidf_keywords(text, top_k)
    else:
        generic = _generic_english_words()
        counts = Counter(
            word
            for word in tokens(text)
            if len(word) >= MIN_ENGLISH_KEYWORD_LEN and not word.isdigit() and word not in generic
        )
        scores = dict(counts)
    # Counter and dict keep first-seen order, so ties break by position in the text.
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:top_k]
    if not ranked:
        return []
    top = ranked[0][1]
    return [(word, weight / top) for word, weight in ranked]


# Words that say little about a topic ("first", "today", "great"): fine for BM25, useless as
# interest labels. scikit-learn's English list plus everyday time and praise words.
_GENERIC_EN_TEXT = """
    today tonight yesterday tomorrow day days night week weeks month year years time times
    morning evening weekend ago soon finally really actually just still new old good great
    best better nice cool amazing awesome perfect love loved like liked want wanted going
    went got get make made think thought know way lot lots thing things planning learning
    works working work next last first second one two three four five
"""


@functools.cache
def _generic_english_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | frozenset(_GENERIC_EN_TEXT.split())


def entities(text: str, limit: int = DEFAULT_ENTITY_LIMIT) -> list[str]:
    """Return up to ``limit`` entity-like nouns in order of first appearance, deduplicated.

    Titles in 《》 count as one entity each; Chinese nouns come from jieba's POS tags
    (``ENTITY_POS``, at least two characters); Latin names are capitalised or camel-case
    words (``Apple``, ``iPhone``, ``New York``), skipping a lone capital at sentence start.

    Raises:
        InputError: ``text`` is not a str.
    """
    _check_text(text)
    found: list[str] = []
    pos = 0
    for match in _TITLE_RE.finditer(text):
        found.extend(_plain_entities(text[pos : match.start()]))
        title = " ".join(match.group(1).split())
        if title:
            found.append(title)
        pos = match.end()
    found.extend(_plain_entities(text[pos:]))
    seen: set[str] = set()
    result: list[str] = []
    for name in found:
        key = name.casefold()
        if key not in seen:
            seen.add(key)
            result.append(name)
            if len(result) >= limit:
                break
    return result


def _plain_entities(text: str) -> list[str]:
    """Entities of a span with no 《》 titles in it."""
    if not text.strip():
        return []
    if not _HAN_RE.search(text):
        return _latin_names(text)
    posseg = _get_jieba().posseg
    found: list[str] = []
    for pair in posseg.lcut(text):
        word, flag = pair.word.strip(), pair.flag
        noun = flag in ENTITY_POS and len(word) >= 2 and word not in STOPWORDS
        if noun or (flag == "eng" and _looks_like_name(word)):
            found.append(word)
    return found


def _latin_names(text: str) -> list[str]:
    names: list[str] = []
    for match in _NAME_RE.finditer(text):
        at_start = _at_sentence_start(text, match.start())
        # Stopwords split a run: "Yesterday I met" holds no name.
        groups: list[list[str]] = [[]]
        for word in match.group(0).replace("-", " ").split():
            if word.lower() in STOPWORDS:
                groups.append([])
            else:
                groups[-1].append(word)
        for index, words in enumerate(groups):
            if not words:
                continue
            # A lone capitalised first word of a sentence is usually not a name.
            lone_opener = index == 0 and at_start and len(words) == 1
            if lone_opener and not _has_inner_capital(words[0]):
                continue
            names.append(" ".join(words))
    return names


def _looks_like_name(word: str) -> bool:
    if word.lower() in STOPWORDS or len(word) < 2:
        return False
    return word[0].isupper() or _has_inner_capital(word)


def _has_inner_capital(word: str) -> bool:
    return any(ch.isupper() or ch.isdigit() for ch in word[1:]) and any(ch.isalpha() for ch in word)


def _at_sentence_start(text: str, index: int) -> bool:
    before = text[:index].rstrip()
    return not before or before[-1] in _SENTENCE_END


def _tfidf_keywords(text: str, top_k: int) -> dict[str, float]:
    analyse = _get_jieba().analyse
    # Ask for extra candidates: stopwords and digits are dropped below.
    tags = analyse.extract_tags(text, topK=top_k * 3, withWeight=True, allowPOS=KEYWORD_POS)
    if not tags:
        tags = analyse.extract_tags(text, topK=top_k * 3, withWeight=True)
    scores: dict[str, float] = {}
    for word, weight in tags:
        key = word.strip().lower()
        if key and key not in STOPWORDS and _has_word_char(key) and not key.isdigit():
            scores[key] = max(scores.get(key, 0.0), float(weight))
    return scores


def _has_word_char(word: str) -> bool:
    return any(ch.isalnum() for ch in word)


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise InputError(f"text must be str, got {type(text).__name__}")


def _get_jieba() -> ModuleType:
    """Import and initialise jieba once per process (about a second), under a lock."""
    global _jieba
    if _jieba is None:
        with _lock:
            if _jieba is None:
                import jieba
                import jieba.analyse
                import jieba.posseg

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                if _user_dict is not None:
                    _load_user_dict(jieba, _user_dict)
                _jieba = jieba
    return _jieba


def _load_user_dict(jieba: ModuleType, path: str) -> None:
    if path in _loaded_dicts:
        return
    jieba.load_userdict(path)
    _loaded_dicts.add(path)
    logger.info("loaded jieba user dictionary %s", path)
