"""Text cleaning, script-based language detection and content hashing (pure)."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from functools import lru_cache

from plugin.errors import InputError

DEFAULT_MAX_CHARS = 2000
# Heavy steps only ever see this many raw characters per allowed output character, so a
# 1 MB post costs the same as a 40 kB one; markup rarely outweighs text by more than this.
RAW_CUT_FACTOR = 20
# Longest run of one punctuation/emoji character kept ("!!!!!!!!" -> "!!!"): more adds
# noise to tokens and lets one keyboard-mashed run dominate the intensity score.
MAX_SYMBOL_RUN = 3
# A cut backs off to the start of the word it would split, unless the word is longer.
MAX_WORD_BACKOFF = 40

# Language thresholds (see detect_language). One Han character carries about as much as
# three Latin letters (a Chinese word is ~1.7 characters, an English word ~5 letters).
LATIN_LETTERS_PER_UNIT = 3.0
ZH_MIN_HAN_SHARE = 0.6
EN_MAX_HAN_SHARE = 0.03

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_SYLLABIC = "\u3040-\u30ff\u31f0-\u31ff\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
_HAN_RE = re.compile(f"[{_HAN}]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")
_SYLLABIC_RE = re.compile(f"[{_SYLLABIC}]")

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Terminal escape sequences (colours, cursor moves) pasted from a console: ESC [ ... letter.
_ANSI_RE = re.compile(r"\x1b\[[0-?]{0,32}[ -/]{0,8}[@-~]|\x1b[@-Z\\-_]")
_BLOCK_OPEN_RE = re.compile(r"<(script|style|noscript|template)\b", re.IGNORECASE)
# Bounded and anchored on "<" + letter, so a stray "<" costs at most one short scan.
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]{0,1000}>|<![A-Za-z][^<>]{0,1000}>")
_BLOCK_TAG_RE = re.compile(r"</?(?:br|p|div|li|tr|td|th|h[1-6]|section|article)\b", re.IGNORECASE)
_URL_RE = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{0,2000}"
    r"[A-Za-z0-9/_~#=&%+\-]"
)
_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){1,8}"
)
# Fast path: only characters outside these common printable ranges go through the
# per-character category check.
_UNUSUAL_RE = re.compile("[^\x20-\x7e\u00a0-\u00ac\u00ae-\u02ff\u3001-\u303f\u4e00-\u9fff]")
_SYMBOL_RUN_RE = re.compile(rf"([^\w\s])\1{{{MAX_SYMBOL_RUN},}}")
_SPACE_RE = re.compile(r"\s+")


def clean_text(text: str | bytes, *, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Clean one post or item text for segmentation, keywords and encoding.

    Decodes bytes as UTF-8 (invalid sequences become spaces), repairs lone surrogates,
    drops markup (tags, comments, script/style blocks) and decodes entities, applies NFKC,
    removes URLs, e-mail addresses and control/format characters, caps runs of one
    punctuation/emoji character at three, collapses whitespace (newlines included) and cuts
    the result to ``max_chars`` at a word boundary where one is near. Emoji are kept: they
    carry the enthusiasm that ``indexer.intensity`` measures.

    Args:
        text: raw text or UTF-8 bytes.
        max_chars: the longest result, in characters.

    Returns:
        The cleaned text, never empty.

    Raises:
        InputError: ``text`` is not str/bytes, or nothing is left after cleaning.
        ValueError: ``max_chars`` is not a positive integer.
    """
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise ValueError(f"max_chars must be a positive integer, got {max_chars!r}")
    raw_limit = max_chars * RAW_CUT_FACTOR
    if isinstance(text, (bytes, bytearray)):
        # Four bytes per character at most in UTF-8; a cut inside a sequence becomes U+FFFD.
        text = bytes(text[: raw_limit * 4]).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        raise InputError(f"text must be str or bytes, got {type(text).__name__}")
    text = text[:raw_limit]
    if _SURROGATE_RE.search(text):
        # UTF-16 re-joins valid surrogate pairs and replaces the lone halves.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if "\x1b" in text:
        text = _ANSI_RE.sub("", text)
    if "<" in text:
        text = _strip_markup(text)
    if "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    text = _URL_RE.sub(" ", text)
    if "@" in text:
        text = _EMAIL_RE.sub(" ", text)
    text = _UNUSUAL_RE.sub(_replace_unusual, text)
    text = _SYMBOL_RUN_RE.sub(lambda m: m.group(1) * MAX_SYMBOL_RUN, text)
    text = _SPACE_RE.sub(" ", text).strip()
    if not text:
        raise InputError("text is empty after cleaning")
    return _truncate(text, max_chars)


def detect_language(text: str) -> str:
    """Guess the language of cleaned text from the scripts it is written in.

    Han ideographs count one unit each and Latin letters one third of a unit each (roughly
    one word either way). With ``share`` the Han share of those units:

    * ``"zh"`` when share >= 0.6 (Chinese, perhaps with a brand or code name in it);
    * ``"en"`` when share <= 0.03 (Latin text, at most a stray Chinese word);
    * ``"mixed"`` in between (route it to the multilingual encoder);
    * ``"other"`` when there are no Han or Latin letters, or letters of other scripts
      (kana and Hangul one unit each, other alphabets one third) outweigh them.

    Raises:
        InputError: ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise InputError(f"text must be str, got {type(text).__name__}")
    han = len(_HAN_RE.findall(text))
    latin = len(_LATIN_RE.findall(text))
    syllabic = len(_SYLLABIC_RE.findall(text))
    alphabetic_other = sum(1 for ch in text if ch.isalpha()) - han - latin - syllabic
    latin_units = latin / LATIN_LETTERS_PER_UNIT
    other_units = syllabic + max(alphabetic_other, 0) / LATIN_LETTERS_PER_UNIT
    known_units = han + latin_units
    if known_units == 0 or other_units >= known_units:
        return "other"
    share = han / known_units
    if share >= ZH_MIN_HAN_SHARE:
        return "zh"
    if share <= EN_MAX_HAN_SHARE:
        return "en"
    return "mixed"


def content_hash(text: str | bytes) -> str:
    """Return a stable SHA-256 hex digest of text, for duplicate detection and document ids.

    The text is NFKC-normalised, case-folded and whitespace-collapsed first, so copies that
    differ only in width, case or spacing hash alike. Pass cleaned text.

    Raises:
        InputError: ``text`` is not str/bytes, or it is blank.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        raise InputError(f"text must be str or bytes, got {type(text).__name__}")
    if _SURROGATE_RE.search(text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    normal = _SPACE_RE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    if not normal:
        raise InputError("cannot hash empty text")
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def _strip_markup(text: str) -> str:
    """Drop comments and script/style blocks (whose content is never prose), then tags."""
    text = _drop_between(text, "<!--", "-->")
    text = _drop_blocks(text)
    # Block-level tags separate words; inline ones (<b>, <span>) must not split them.
    text = _BLOCK_TAG_RE.sub(lambda m: " " + m.group(0), text)
    return _TAG_RE.sub("", text)


def _drop_between(text: str, start: str, end: str) -> str:
    """Remove every start..end span; an unterminated one runs to the end (linear time)."""
    parts: list[str] = []
    pos = 0
    while (begin := text.find(start, pos)) != -1:
        parts.append(text[pos:begin])
        stop = text.find(end, begin + len(start))
        if stop == -1:
            pos = len(text)
            break
        pos = stop + len(end)
        parts.append(" ")
    parts.append(text[pos:])
    return "".join(parts)


def _drop_blocks(text: str) -> str:
    """Remove <script>/<style>-like elements with their content, in linear time."""
    lower = text.lower()
    parts: list[str] = []
    pos = 0
    while match := _BLOCK_OPEN_RE.search(text, pos):
        parts.append(text[pos : match.start()])
        close = lower.find(f"</{match.group(1).lower()}", match.end())
        if close == -1:
            pos = len(text)
            break
        end = text.find(">", close)
        pos = len(text) if end == -1 else end + 1
        parts.append(" ")
    parts.append(text[pos:])
    return "".join(parts)


@lru_cache(maxsize=4096)
def _clean_char(ch: str) -> str:
    """Map one uncommon character: whitespace-like controls to a space, other C* to nothing."""
    if ch in "\t\n\r\x0b\x0c\x85\u2028\u2029" or ch.isspace():
        return " "
    if ch == "\ufffd":
        # What is left of an undecodable byte; a space cannot glue two words together.
        return " "
    category = unicodedata.category(ch)
    if category[0] == "C" or (category in ("Mn", "Me") and _is_emoji_modifier(ch)):
        return ""
    return ch


def _is_emoji_modifier(ch: str) -> bool:
    """Variation selectors and the combining keycap only decorate the emoji before them."""
    code = ord(ch)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or code == 0x20E3


def _replace_unusual(match: re.Match[str]) -> str:
    return _clean_char(match.group(0))


def _truncate(text: str, max_chars: int) -> str:
    """Cut to max_chars, backing off to the start of a Latin word rather than splitting it."""
    if len(text) <= max_chars:
        return text
    end = max_chars
    if _is_word_char(text[end]):
        while end > 0 and _is_word_char(text[end - 1]):
            end -= 1
        if end == 0 or max_chars - end > MAX_WORD_BACKOFF:
            end = max_chars  # one giant "word" (a hash, a URL-like blob): cut it
    return text[:end].rstrip()


def _is_word_char(ch: str) -> bool:
    """Letters and digits of space-separated scripts; every Han character is a boundary."""
    return ch.isalnum() and not _HAN_RE.match(ch)
