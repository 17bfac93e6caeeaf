"""Index mappings as JSON data, and a loader that returns fresh copies."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

INDEX_NAMES = ("items", "user_interests", "user_events")
# Indices created lazily by their own writers, not by `interest init` (see load_feedback).
AUXILIARY_NAMES = ("feedback", "item_neighbours")
VECTOR_FIELDS = {
    "items": ("embedding",),
    "user_interests": ("long_term", "short_term"),
    "user_events": ("embedding",),
}


@cache
def _read(name: str) -> dict[str, Any]:
    known = INDEX_NAMES + AUXILIARY_NAMES
    if name not in known:
        raise KeyError(f"unknown index {name!r}; known: {', '.join(known)}")
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def load(name: str, *, dims: int | None = None) -> dict[str, Any]:
    """Return a fresh copy of index ``name``'s body (settings + mappings).

    ``dims`` replaces the dimension of the text-embedding fields, so a model with
    another size gets a matching mapping.
    """
    if name not in INDEX_NAMES:
        raise KeyError(f"unknown index {name!r}; known: {', '.join(INDEX_NAMES)}")
    body = copy.deepcopy(_read(name))
    if dims is not None:
        properties = body["mappings"]["properties"]
        for field in VECTOR_FIELDS[name]:
            properties[field]["dims"] = dims
        if name == "items":
            body["mappings"]["_meta"]["model"]["dims"] = dims
    return body


def load_feedback() -> dict[str, Any]:
    """Return a fresh copy of the impression/click log's body (no vectors, no model)."""
    return copy.deepcopy(_read("feedback"))


def load_neighbours() -> dict[str, Any]:
    """Return a fresh copy of the item neighbours' body (one document per item, written whole
    by each refit into a new index behind the alias)."""
    return copy.deepcopy(_read("item_neighbours"))
