"""Ranking: search and recommend."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from plugin.app.cli.common import AddCommand, emit
from plugin.settings import Settings
from plugin.types import SearchFilters


def _segmenter() -> Callable[[str], str]:
    from indexer.segment import segmented

    return segmented


def filters_from(args: argparse.Namespace) -> SearchFilters | None:
    categories = tuple(c for c in (args.category or []) if c)
    if not categories and not args.since and not args.until:
        return None
    return SearchFilters(categories=categories, created_from=args.since, created_to=args.until)


def print_hits(args: argparse.Namespace, payload: dict[str, Any]) -> None:
    """Hits in the API's JSON shape, or one line and its reason per hit."""
    lines = ["(cold start: popular and fresh items)"] if payload.get("cold_start") else []
    for rank, hit in enumerate(payload["hits"], start=1):
        lines.append(f"{rank:2d}. {hit['score']:.3f}  {hit['title'][:70]}  [{hit['id']}]")
        lines.append(f"      {hit['reason']}")
    emit(args, payload, "\n".join(lines) or "no results")


def _asked_api(args: argparse.Namespace, settings: Settings, path: str) -> dict[str, Any] | None:
    """The running API's answer (see plugin.app.remote), or None to answer in this process."""
    if args.local:
        return None
    from plugin.app.remote import ask_running_api

    params = {
        "q": getattr(args, "query", None),
        "user": args.user,
        "size": args.size,
        "mode": args.mode,
        "scorer": args.scorer,
        "category": [c for c in (args.category or []) if c],
        "since": args.since,
        "until": args.until,
    }
    return ask_running_api(settings, path, params)


def _rank(args: argparse.Namespace, settings: Settings, path: str) -> int:
    """Ask the running API, else rank here: search when ``args`` has a query, else recommend."""
    payload = _asked_api(args, settings, path)
    if payload is None:
        from plugin.service import open_service, result_to_json

        options = {
            "size": args.size,
            "mode": args.mode,
            "scorer": args.scorer,
            "filters": filters_from(args),
        }
        if path == "/api/search":
            with open_service(settings, segmenter=_segmenter()) as service:
                result = service.search(args.query, user=args.user, **options)
        else:
            with open_service(settings, need_encoder=False) as service:
                result = service.recommend(args.user, **options)
        payload = result_to_json(result)
    print_hits(args, payload)
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    return _rank(args, settings, "/api/search")


def cmd_recommend(args: argparse.Namespace, settings: Settings) -> int:
    return _rank(args, settings, "/api/recommend")


def _ranking_options(p: argparse.ArgumentParser, default_mode: str) -> None:
    p.add_argument("--size", type=int, default=10)
    p.add_argument("--mode", choices=["exact", "approx"], default=default_mode)
    p.add_argument(
        "--scorer", choices=["native", "portable"], default=None,
        help="default: native when the scoring plugin is on every node",
    )  # fmt: skip
    p.add_argument("--category", action="append", help="only this category (repeatable)")
    p.add_argument("--since", help="only items created at or after this ISO date")
    p.add_argument("--until", help="only items created at or before this ISO date")
    p.add_argument(
        "--local", action="store_true",
        help="answer in this process even when `interest serve` runs here (which answers "
        "at once: its clients and model are warm)",
    )  # fmt: skip


def register(add: AddCommand) -> None:
    p = add("search", cmd_search, "personalised search")
    p.add_argument("query")
    p.add_argument("--user", help="rank for this user (omit for plain BM25)")
    _ranking_options(p, "exact")
    p = add("recommend", cmd_recommend, "recommendations for a user, no query")
    p.add_argument("--user", required=True)
    _ranking_options(p, "approx")
