"""Shared test data for the API and browser tests: three items that all match one query."""

from __future__ import annotations

from typing import Any

QUERY = "quokka guide"


def make_items(prefix: str) -> dict[str, dict[str, Any]]:
    """Three items that all match QUERY, about three unrelated topics."""
    return {
        "run": {
            "id": f"{prefix}-run",
            "title": "Quokka guide: trail running in the mountains",
            "body": "Hill repeats, long runs on rocky trails and marathon training for runners.",
            "category": "sports",
            "tags": ["running", "trails"],
        },
        "bake": {
            "id": f"{prefix}-bake",
            "title": "Quokka guide: sourdough bread baking",
            "body": "Flour, water, salt, a lively starter and a hot oven for crusty loaves.",
            "category": "food",
            "tags": ["baking"],
        },
        "money": {
            "id": f"{prefix}-money",
            "title": "Quokka guide: stock market investing",
            "body": "Index funds, dividends and a long horizon for your retirement savings.",
            "category": "finance",
            "tags": ["investing"],
        },
    }


RUNNER_EVENTS = [
    {"type": "post", "text": "I love trail running and I am training for a mountain marathon"},
    {"type": "search", "text": "best trail running shoes for rocky hills"},
]
BAKER_EVENTS = [
    {"type": "post", "text": "Baked my first sourdough loaf today, the crust came out perfect"},
    {"type": "search", "text": "how to feed a sourdough starter and bake bread"},
]
