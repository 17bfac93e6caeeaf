"""Field lists, shares and request limits shared by every body builder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin.blend import (
    COLLAB_FIELD,
    VECTOR_FIELD,
)

DEFAULT_SOURCE_FIELDS: tuple[str, ...] = (
    "title",
    "category",
    "tags",
    "keywords",
    "lang",
    "created_at",
    "popularity",
)
# Vectors are large: only the portable mode asks for them, and hits never carry them.
VECTOR_SOURCE_FIELDS: tuple[str, ...] = (VECTOR_FIELD, COLLAB_FIELD)
# An interest with this share of a user's (lasting + recent) attention always gets a slot.
GUARANTEED_SHARE = 0.1
# A cold user has none of these, so their weights are 0 and the rest keeps its proportions.
PERSONAL_WEIGHTS: tuple[str, ...] = ("interest", "category", "collaborative", "neighbours")
# Learned from what people did rather than from the text: capped at the bm25 weight in a search.
BEHAVIOUR_WEIGHTS: tuple[str, ...] = ("collaborative", "neighbours")
LEXICAL_FIELDS: tuple[str, ...] = ("title^2", "body")
KEYWORD_FIELDS: tuple[str, ...] = ("keywords", "tags")
CHINESE_FIELD = "text_zh"
BM25_QUERY_NAME = "bm25"
# The portable mode reads each hit's BM25 score from its named lexical clause.
# The share of a hit's score a personal signal needs before it is named as the reason.
PERSONAL_REASON_SHARE = 0.2
# And the strength (its value before weighting, in [0, 1]) an interest, category or liked-item
# signal needs before the reason names that interest, category or item. With the catalogue
# calibration an interest similarity of 0.5 is half what an item's nearest neighbour gets:
# against an interest of 10 headlines, 54% of the items of its category reach it and 2.7% of
# the others on THUCNews (Toutiao 49% / 1.4%; python -m bench.separation, USE). A category
# affinity of 0.5 is half the user's strongest category.
REASON_MIN_STRENGTH = 0.5
PORTABLE_SEARCH_PARAMS: Mapping[str, Any] = {"include_named_queries_score": True}

MAX_SIZE = 10_000
MAX_NUM_CANDIDATES = 10_000
MIN_NUM_CANDIDATES = 100
MAX_QUERY_TERMS = 32
MAX_TERM_CHARS = 100
MAX_CATEGORY_CLAUSES = 50
MIN_PORTABLE_POOL = 50
