"""Items from user input to Elasticsearch sources (pure, apart from the vector added later)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from indexer import segment
from indexer.text import clean_text, content_hash, detect_language
from indexer.timeparse import iso, parse_time
from plugin.errors import InputError

MAX_TITLE_CHARS = 300
MAX_BODY_CHARS = 5000
MAX_ID_CHARS = 200
# Longer fields are cut to the limits above; past these a field is a paste or an attack,
# refused with an error rather than silently reduced to its first page.
MAX_TITLE_RAW_CHARS = 10_000
MAX_BODY_RAW_CHARS = 200_000
# Language codes as detect_language gives them ("en", "zh", "mixed", "other") or as
# hosts send them ("zh-Hans", "pt-BR").
LANG_CODE = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8}){0,2}$")
# What the encoder reads: the title and the start of the body (the model truncates anyway).
EMBED_BODY_CHARS = 600


@dataclass(frozen=True)
class PreparedItem:
    """A validated item: its Elasticsearch source (without vector) and the text to encode."""

    item_id: str
    source: dict[str, Any]
    embed_text: str


def item_id_of(raw: Mapping[str, Any]) -> str:
    value = raw.get("id")
    if value is None or isinstance(value, bool) or str(value).strip() == "":
        raise InputError("item has no id")
    item_id = str(value).strip()
    if len(item_id) > MAX_ID_CHARS or any(ch in item_id for ch in "\x00\n\r\t"):
        raise InputError(f"item id {item_id[:40]!r} is too long or has control characters")
    return item_id


def _string_list(value: object, field: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        parts = [p for p in value.replace("|", ",").split(",")]
    elif isinstance(value, list | tuple):
        parts = [str(p) for p in value]
    else:
        raise InputError(f"{field} must be a list of strings or a comma-separated string")
    return [p.strip()[:100] for p in parts if p.strip()][:50]


def _clean_field(value: object, field: str, item_id: str, max_chars: int, max_raw: int) -> str:
    """The cleaned field, "" when absent or nothing is left after cleaning (the other field
    may still carry the item); InputError when it is not text or far too long."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str | bytes):
        raise InputError(f"item {item_id}: {field} must be a string, got {type(value).__name__}")
    if len(value) > max_raw:
        raise InputError(
            f"item {item_id}: {field} has {len(value):,} characters; at most {max_raw:,} "
            "are accepted"
        )
    try:
        return clean_text(value, max_chars=max_chars)
    except InputError:  # whitespace, control characters or markup only
        return ""


def _lang(value: object, item_id: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not LANG_CODE.match(value.strip()):
        raise InputError(
            f"item {item_id}: lang must be a language code such as 'en' or 'zh', "
            f"got {str(value)[:40]!r}"
        )
    return value.strip()


def prepare_item(raw: Mapping[str, Any], *, now: datetime | None = None) -> PreparedItem:
    """Validate and normalise one item; raise InputError naming what is wrong."""
    if not isinstance(raw, Mapping):
        raise InputError("item must be a JSON object")
    now = now or datetime.now(UTC)
    item_id = item_id_of(raw)
    title = _clean_field(raw.get("title"), "title", item_id, MAX_TITLE_CHARS, MAX_TITLE_RAW_CHARS)
    body = _clean_field(raw.get("body"), "body", item_id, MAX_BODY_CHARS, MAX_BODY_RAW_CHARS)
    if not title and not body:
        raise InputError(f"item {item_id}: title and body are both empty")
    text = f"{title}\n{body}".strip()
    lang = _lang(raw.get("lang"), item_id) or detect_language(text)
    category = raw.get("category")
    category = str(category).strip()[:100] if category not in (None, "") else None
    popularity = raw.get("popularity", 0)
    try:
        popularity = max(0, int(popularity or 0))
    except (TypeError, ValueError):
        raise InputError(f"item {item_id}: popularity must be a number") from None
    try:
        created = parse_time(raw.get("created_at"), now=now, field="created_at")
    except InputError as exc:
        raise InputError(f"item {item_id}: {exc}") from None
    source: dict[str, Any] = {
        "id": item_id,
        "title": title,
        "body": body,
        "lang": lang,
        "category": category,
        "category_source": "given" if category else None,
        "tags": _string_list(raw.get("tags"), "tags"),
        "keywords": [word for word, _ in segment.keywords(text, top_k=8)],
        "entities": segment.entities(text),
        "created_at": iso(created),
        "indexed_at": iso(now),
        "popularity": popularity,
        "content_hash": content_hash(text),
    }
    if lang in ("zh", "mixed"):
        source["text_zh"] = segment.segmented(text, for_index=True)
    embed_text = f"{title}. {body[:EMBED_BODY_CHARS]}" if title and body else (title or body)
    return PreparedItem(item_id=item_id, source=source, embed_text=embed_text)
