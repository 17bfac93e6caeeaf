"""Request bodies and the query parameters shared by search and recommend."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

MAX_SIZE = 100

# Query parameters shared by search and recommend.
Size = Annotated[int, Query(ge=1, le=MAX_SIZE, description="how many hits")]
ScorerParam = Annotated[
    Literal["native", "portable"] | None,
    Query(description="default: native when the scoring plugin is on every node"),
]
Categories = Annotated[list[str] | None, Query(description="only these categories")]
Since = Annotated[str | None, Query(description="only items created at or after (ISO)")]
Until = Annotated[str | None, Query(description="only items created at or before (ISO)")]


class Event(BaseModel):
    """One thing a user did or wrote."""

    model_config = ConfigDict(extra="forbid")

    user: str | int
    type: str = Field(description="post, click, like, dislike or search")
    text: str | None = None
    item: str | int | None = None
    time: str | int | float | None = Field(default=None, description="ISO 8601 or epoch ms")
    event_id: str | None = None


class Item(BaseModel):
    """One item to index."""

    model_config = ConfigDict(extra="forbid")

    id: str | int
    title: str | None = None
    body: str | None = None
    category: str | None = None
    tags: list[str] | str | None = None
    created_at: str | int | float | None = None
    lang: str | None = None
    popularity: int | None = None


class WeightsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: dict[str, float | str]
    note: str = ""


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = None


class Click(BaseModel):
    """A click on a result; ``request_id`` and ``rank`` join it to its impression."""

    model_config = ConfigDict(extra="forbid")

    user: str | int
    item: str | int
    query: str | None = None
    request_id: str | None = None
    rank: int | None = None
