"""Content and users: index, event, events, interests, forget, rebuild, collab, neighbours."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from plugin.app.cli.common import AddCommand, emit, logger, raise_input
from plugin.settings import Settings


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from indexer.sources import read_items
    from tasks.client import TaskClient

    rows, bad_rows = read_items(args.file)
    with TaskClient(settings) as client:
        result = client.index_items(
            rows, batch_size=args.batch_size or settings.encode_batch, progress=not args.json
        )
    errors = bad_rows + result["errors"]
    payload = {"indexed": result["indexed"], "errors": errors, "seconds": result["seconds"]}
    text = f"indexed {result['indexed']} items in {result['seconds']:.1f}s; {len(errors)} errors"
    for error in errors[:20]:
        logger.error("item %s: %s", error["id"], error["error"])
    emit(args, payload, text)
    return 0 if not errors else 1


def _event_from_args(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "user": args.user,
        "type": args.type,
        "text": args.text,
        "item": args.item,
        "time": args.time,
    }


def cmd_event(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.client import TaskClient

    with TaskClient(settings) as client:
        result = client.record_events([_event_from_args(args)], batch_size=1, wait=not args.no_wait)
    if result["errors"]:
        raise_input(result["errors"][0]["error"])
    text = "queued" if args.no_wait else f"applied {result['applied']} event(s)"
    emit(args, result, text)
    return 0


def cmd_events(args: argparse.Namespace, settings: Settings) -> int:
    from indexer.sources import read_events
    from tasks.client import TaskClient

    rows, bad_rows = read_events(args.file)
    with TaskClient(settings) as client:
        result = client.record_events(rows, batch_size=args.batch_size, progress=not args.json)
    result["errors"] = bad_rows + result["errors"]
    for error in result["errors"][:20]:
        logger.error("event %s: %s", error["id"], error["error"])
    emit(args, result, f"applied {result['applied']} events; {len(result['errors'])} errors")
    return 0 if not result["errors"] else 1


def cmd_interests(args: argparse.Namespace, settings: Settings) -> int:
    from indexer.interests import from_document, summary
    from plugin.service import open_service

    with open_service(settings, need_encoder=False) as service:
        document = service.interest_document(args.user) or {}
    state = summary(from_document(document), user=args.user, now_ms=int(time.time() * 1000))
    lines = [f"user {args.user}: {state['events']} events, updated {state['updated_at']}"]
    lines += [f"  {c['weight']:.3f}  {c['label']}" for c in state["clusters"]]
    emit(args, state, "\n".join(lines))
    return 0


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.service import open_service

    with open_service(settings, need_encoder=False) as service:
        removed = service.forget(args.user)
    payload = {"user": args.user, "removed": removed}
    emit(
        args,
        payload,
        f"removed {removed['interests']} interest document(s), {removed['events']} events, "
        f"{removed.get('feedback', 0)} logged impressions/clicks",
    )
    return 0


def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from indexer import calibration_store
    from plugin.errors import InputError
    from plugin.rebuild import rebuild_items
    from plugin.service import open_service
    from tasks.client import TaskClient

    model = args.model if args.model and args.model != settings.model else None
    target = settings.with_overrides(model=model) if model else settings
    batch = args.batch_size or settings.encode_batch
    with open_service(target, need_encoder=False) as service, TaskClient(settings) as client:

        def calibrate(index: str) -> None:
            try:
                calibration_store.refit(service.es, items_index=index)
            except InputError as exc:  # a small catalogue: raw cosines until it grows
                logger.info("no similarity calibration for %s: %s", index, exc)

        report = rebuild_items(
            service.es,
            alias=settings.index_alias("items"),
            model=service.model_identity(),
            index_batch=lambda rows, index: client.index_items(
                rows, batch_size=batch, progress=False, index=index, model=model
            ),
            drop_old=args.drop_old,
            allow_errors=args.allow_errors,
            before_swap=calibrate,
        )
    for error in report["errors"][:20]:
        logger.error("item %s: %s", error["id"], error["error"])
    verdict = "now serves" if report["swapped"] else "NOT swapped; still serving " + report["old"]
    text = (
        f"{report['old']} -> {report['new']}: {report['indexed']} of {report['scanned']} items "
        f"re-encoded in {report['seconds']:.1f}s; {report['alias']} {verdict}"
    )
    emit(args, report, text)
    return 0 if report["swapped"] else 1


def _fit_or_status(
    args: argparse.Namespace,
    settings: Settings,
    section: str,
    refit: Callable[[Any], dict[str, Any]],
    describe: Callable[[dict[str, Any]], str],
) -> int:
    """``fit``: ``refit(task client)`` on a worker and describe its summary; ``status``: the
    summary stored in the items ``_meta[section]``."""
    from plugin.es import make_es_client, read_meta

    if args.action == "fit":
        from tasks.client import TaskClient

        with TaskClient(settings) as client:
            summary = refit(client)
        if "skipped" in summary:
            emit(args, summary, f"nothing fitted: {summary['skipped']}")
        else:
            emit(args, summary, describe(summary))
        return 0
    es = make_es_client(settings)
    try:
        current = read_meta(es, settings.index_alias("items")).get(section)
    finally:
        es.close()
    emit(args, {section: current}, json.dumps(current, indent=2) if current else "none fitted yet")
    return 0


def cmd_collab(args: argparse.Namespace, settings: Settings) -> int:
    def describe(summary: dict[str, Any]) -> str:
        seconds = summary["seconds"]
        return (
            f"collab factors v{summary['version']}: {summary['written']} items from "
            f"{summary['users']} users ({summary['interactions']} interactions, "
            f"{summary['components']} components); fit {seconds['fit']} s, write "
            f"{seconds['write']} s; {summary['rebuilt']} users rebuilt"
        )

    return _fit_or_status(args, settings, "collab", lambda c: c.refit_collab(), describe)


def cmd_neighbours(args: argparse.Namespace, settings: Settings) -> int:
    def describe(summary: dict[str, Any]) -> str:
        seconds = summary["seconds"]
        return (
            f"item neighbours v{summary['version']}: {summary['items']} items, "
            f"{summary['pairs']} pairs from {summary['users']} users "
            f"({summary['interactions']} {'/'.join(summary['kinds'])} interactions); read "
            f"{seconds['read']} s, fit {seconds['fit']} s, write {seconds['write']} s"
        )

    return _fit_or_status(args, settings, "neighbours", lambda c: c.refit_neighbours(), describe)


def cmd_calibration(args: argparse.Namespace, settings: Settings) -> int:
    def describe(summary: dict[str, Any]) -> str:
        return (
            f"similarity calibration v{summary['version']} of {summary['model']}: centre of "
            f"{summary['items']} items, scale {summary['scale']} (the median nearest-neighbour "
            f"cosine of {summary['sample']} of them), floor {summary['floor']}"
        )

    def status(args: argparse.Namespace, settings: Settings) -> int:
        from plugin.es import make_es_client, read_meta

        es = make_es_client(settings)
        try:
            current = read_meta(es, settings.index_alias("items")).get("calibration")
        finally:
            es.close()
        shown = None if current is None else {k: v for k, v in current.items() if k != "centre"}
        emit(args, {"calibration": shown}, describe(shown) if shown else "none fitted yet")
        return 0

    if args.action == "status":
        return status(args, settings)
    return _fit_or_status(args, settings, "calibration", lambda c: c.calibrate(), describe)


def register(add: AddCommand) -> None:
    p = add("index", cmd_index, "index items from JSONL or CSV through the workers")
    p.add_argument(
        "file",
        help="a .jsonl or .csv file (fields: id, title, body, category, tags, created_at, lang)",
    )
    p.add_argument("--batch-size", type=int, default=0, help="items per encoding task")

    p = add("event", cmd_event, "record one event and wait until the user's interests reflect it")
    p.add_argument("--user", required=True)
    p.add_argument("--type", required=True, choices=["post", "click", "like", "dislike", "search"])
    p.add_argument("--text", help="what the user wrote or searched")
    p.add_argument("--item", help="the item id clicked, liked or disliked")
    p.add_argument("--time", help="ISO 8601 time of the event (default: now)")
    p.add_argument("--no-wait", action="store_true", help="queue the event and return at once")
    p = add("events", cmd_events, "record events from JSONL (user, type, text, item, time)")
    p.add_argument("file")
    p.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="events per task (a worker reads and writes each user once per batch)",
    )
    p = add("interests", cmd_interests, "show a user's interest state")
    p.add_argument("--user", required=True)
    p = add("forget", cmd_forget, "erase a user's interest document and events")
    p.add_argument("--user", required=True)

    p = add("rebuild", cmd_rebuild, "re-encode every item into a new index and swap the alias")
    p.add_argument("--model", help="encode with this model (default: INTEREST_MODEL)")
    p.add_argument("--drop-old", action="store_true", help="delete the old index after the swap")
    p.add_argument(
        "--allow-errors", action="store_true", help="swap even if some items fail to index"
    )
    p.add_argument("--batch-size", type=int, default=0, help="items per encoding task")

    p = add(
        "collab", cmd_collab,
        "collaborative item factors: fit them from the stored events (and rebuild every "
        "user's collaborative vector), or show the current version",
    )  # fmt: skip
    p.add_argument("action", choices=["fit", "status"])

    p = add(
        "neighbours", cmd_neighbours,
        "item-to-item neighbours from behaviour (what people who liked an item also liked): "
        "fit them from the stored events into a new table, or show the current version",
    )  # fmt: skip
    p.add_argument("action", choices=["fit", "status"])

    p = add(
        "calibration", cmd_calibration,
        "the similarity calibration of the catalogue (the centre taken away from the text "
        "vectors and the scale of a full match): fit it from the indexed items, or show it",
    )  # fmt: skip
    p.add_argument("action", choices=["fit", "status"])
