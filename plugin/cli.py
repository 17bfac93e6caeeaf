"""The `interest` command: stack control, indexing, events, ranking, weights and jobs.

Each command is a small function taking parsed arguments and the Settings read once here.
Heavy imports (Celery, torch, the stack) happen inside the commands that need them, so
query-only commands start fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from plugin.errors import PersonalizationError
from plugin.settings import Settings

logger = logging.getLogger("interest")

Handler = Callable[[argparse.Namespace, Settings], int]


def emit(args: argparse.Namespace, payload: Any, text: str | None = None) -> None:
    """--json: one JSON document on stdout; otherwise the human text."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")
    elif text is not None:
        sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


# --- stack ------------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from stack.control import up

    timings = up(settings, worker=not args.no_worker)
    emit(args, timings, f"stack is up ({timings['total_s']}s): {settings.display_es_url}")
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    from stack.control import down

    stopped = down(settings)
    emit(args, {"stopped": stopped}, "stopped: " + (", ".join(stopped) or "nothing was running"))
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from stack.control import status

    state = status(settings)
    es = state["elasticsearch"]
    text = (
        f"elasticsearch: {es['status']} {es['version'] or ''} at {es['url']}"
        f" (scorer: {es['scorer']})\n"
        f"redis: {'ok' if state['redis']['ok'] else 'down'} at {state['redis']['url']}\n"
        f"workers: {state['workers']}"
    )
    emit(args, state, text)
    healthy = es["status"] in ("green", "yellow") and state["redis"]["ok"]
    return 0 if healthy else 1


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.service import open_service

    with open_service(settings, need_encoder=False) as service:
        aliases = service.init_indices()
    emit(args, {"indices": aliases}, "\n".join(f"{a} -> {i}" for a, i in aliases.items()))
    return 0


# --- content ---------------------------------------------------------------------------------
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
    from plugin.rebuild import rebuild_items
    from plugin.service import open_service
    from tasks.client import TaskClient

    model = args.model if args.model and args.model != settings.model else None
    target = settings.with_overrides(model=model) if model else settings
    batch = args.batch_size or settings.encode_batch
    with open_service(target, need_encoder=False) as service, TaskClient(settings) as client:
        report = rebuild_items(
            service.es,
            alias=settings.index_alias("items"),
            model=service.model_identity(),
            index_batch=lambda rows, index: client.index_items(
                rows, batch_size=batch, progress=False, index=index, model=model
            ),
            drop_old=args.drop_old,
            allow_errors=args.allow_errors,
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


def cmd_collab(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.es import make_es_client, read_meta

    if args.action == "fit":
        from tasks.client import TaskClient

        with TaskClient(settings) as client:
            summary = client.refit_collab()
        if "skipped" in summary:
            emit(args, summary, f"nothing fitted: {summary['skipped']}")
            return 0
        seconds = summary["seconds"]
        text = (
            f"collab factors v{summary['version']}: {summary['written']} items from "
            f"{summary['users']} users ({summary['interactions']} interactions, "
            f"{summary['components']} components); fit {seconds['fit']} s, write "
            f"{seconds['write']} s; {summary['rebuilt']} users rebuilt"
        )
        emit(args, summary, text)
        return 0
    es = make_es_client(settings)
    try:
        collab = read_meta(es, settings.index_alias("items")).get("collab")
    finally:
        es.close()
    emit(args, {"collab": collab}, json.dumps(collab, indent=2) if collab else "no factors yet")
    return 0


def _segmenter() -> Callable[[str], str]:
    from indexer.segment import segmented

    return segmented


def _filters(args: argparse.Namespace) -> Any:
    from plugin.types import SearchFilters

    categories = tuple(c for c in (args.category or []) if c)
    if not categories and not args.since and not args.until:
        return None
    return SearchFilters(categories=categories, created_from=args.since, created_to=args.until)


def _print_hits(args: argparse.Namespace, result: Any) -> None:
    from plugin.service import result_to_json

    payload = result_to_json(result)
    lines = ["(cold start: popular and fresh items)"] if result.cold_start else []
    for rank, hit in enumerate(payload["hits"], start=1):
        lines.append(f"{rank:2d}. {hit['score']:.3f}  {hit['title'][:70]}  [{hit['id']}]")
        lines.append(f"      {hit['reason']}")
    emit(args, payload, "\n".join(lines) or "no results")


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.service import open_service

    with open_service(settings, segmenter=_segmenter()) as service:
        result = service.search(
            args.query,
            user=args.user,
            size=args.size,
            mode=args.mode,
            scorer=args.scorer,
            filters=_filters(args),
        )
    _print_hits(args, result)
    return 0


def cmd_recommend(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.service import open_service

    with open_service(settings, need_encoder=False) as service:
        result = service.recommend(
            args.user, size=args.size, mode=args.mode, scorer=args.scorer, filters=_filters(args)
        )
    _print_hits(args, result)
    return 0


def cmd_weights(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.service import open_service

    if args.action == "fit":
        return cmd_weights_fit(args, settings)
    with open_service(settings, need_encoder=False) as service:
        if args.action == "show":
            payload: Any = service.weights()
        elif args.action == "history":
            payload = service.weights_history()
        elif args.action == "set":
            if not args.pairs:
                raise_input("weights set needs KEY=VALUE pairs, e.g. bm25=0.4 interest=0.3")
            updates = {}
            for pair in args.pairs:
                key, sep, value = pair.partition("=")
                if not sep or not key.strip():
                    raise_input(f"expected KEY=VALUE, got {pair!r}")
                updates[key.strip()] = value.strip()
            payload = service.set_weights(updates, note=args.note or "")
        else:
            payload = service.rollback_weights(args.version)
    if isinstance(payload, list):
        text = "\n".join(
            f"v{v.get('version')}  {v.get('updated_at')}  {v.get('note', '')}" for v in payload
        )
    else:
        weights = ", ".join(f"{k}={v:g}" for k, v in payload["weights"].items())
        text = f"v{payload['version']} ({payload['updated_at']}): {weights}"
    emit(args, payload, text)
    return 0


# --- weights fit (learned from clicks; see plugin/learning.py) ------------------------------


def add_weights_fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from-log", default="feedback",
        help="fit: 'feedback' (the feedback index) or a JSONL file of impressions and clicks",
    )  # fmt: skip
    p.add_argument("--apply", action="store_true", help="fit: write the proposal as a new version")
    p.add_argument("--seed", type=int, default=7, help="fit: seed of the request-id split")


def cmd_weights_fit(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.service import open_service
    from plugin.weight_fit import fit_from_log

    with open_service(settings, need_encoder=False) as service:
        payload = fit_from_log(
            service, source=args.from_log, apply=args.apply, note=args.note or "", seed=args.seed
        )
    lines = [f"{'weight':<14}{'current':>10}{'proposed':>10}"]
    for name, value in payload["current"].items():
        lines.append(f"{name:<14}{value:>10.4f}{payload['proposed'][name]:>10.4f}")
    for side in ("current", "proposed"):
        m = payload["metrics"][side]
        ndcg, recall = m["ndcg@10"], m["recall@10"]
        lines.append(f"{side:<10} held-out ndcg@10 {ndcg:.4f}  recall@10 {recall:.4f}")
    if payload["applied"]:
        lines.append(f"applied as v{payload['new_version']}")
    else:
        lines.append("not applied (use --apply to write the proposal)")
    emit(args, payload, "\n".join(lines))
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from plugin.demo import run_demo
    from stack.control import up

    dataset = args.dataset or "sample"
    if dataset not in ("sample", "movielens"):
        raise_input(f"dataset must be 'sample' or 'movielens', got {dataset!r}")
    inputs: dict[str, Any] = {}
    if dataset == "movielens":
        from plugin.demo_movielens import movielens_demo

        if not args.data_dir:
            raise_input("--dataset movielens needs --data-dir (the folder or its parent)")
        items, events, searches = movielens_demo(args.data_dir)  # bad folders fail before `up`
        inputs = {"items": items, "events": events, "searches": searches}
    up(settings)
    folder = "demo" if dataset == "sample" else f"demo-{dataset}"
    out = Path(args.out) if args.out else settings.state_dir / "reports" / folder
    run_demo(settings, out_dir=out, echo=not args.json, **inputs)
    if not args.no_serve:
        from plugin.api import serve

        print(
            f"\nsearch page and API: http://127.0.0.1:{settings.api_port}/  (Ctrl-C to stop; "
            "`interest down` stops the stack)",
            flush=True,
        )
        serve(settings, host="127.0.0.1", port=settings.api_port)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bench.evaluate import check_inputs, run_eval, summary_lines
    from stack.control import up

    check_inputs(args.dataset, args.data_dir)  # a bad folder fails before the stack starts
    if args.users is not None and args.users < 0:
        raise_input(f"--users must be 0 (all) or positive, got {args.users}")
    up(settings)
    payload = run_eval(
        settings,
        dataset=args.dataset,
        data_dir=args.data_dir,
        out_dir=args.out,
        users=args.users,
        seed=args.seed,
        progress=True,
        variants=_what_if(args.what_if or []),
    )
    emit(args, payload, "\n".join([*summary_lines(payload), f"written to {args.out}"]))
    return 0


def _what_if(specs: Sequence[str]) -> dict[str, dict[str, float]]:
    """``collaborative=0.2,popularity=0.1`` -> a method named after it, with those weights."""
    from plugin.weights import DEFAULT_WEIGHTS, validate_weights

    variants: dict[str, dict[str, float]] = {}
    for spec in specs:
        pairs = [part.split("=", 1) for part in spec.split(",") if part.strip()]
        if not pairs or any(len(pair) != 2 for pair in pairs):
            raise_input(f"--what-if takes KEY=VALUE[,KEY=VALUE...], got {spec!r}")
        weights = {key.strip(): value.strip() for key, value in pairs}
        checked = validate_weights({**DEFAULT_WEIGHTS.as_dict(), **weights}).as_dict()
        variants[f"dynamic-interest[{spec}]"] = {key: checked[key] for key in weights}
    return variants


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.api import serve

    serve(settings, host=args.host, port=args.port or settings.api_port)
    return 0


def cmd_encoders(args: argparse.Namespace, settings: Settings) -> int:
    from bench.encoders import compare, parse_encoder_names

    if not args.data_dir:
        raise_input("encoders compare needs --data-dir (the folder holding the datasets)")
    result = compare(
        args.dataset,
        args.data_dir,
        parse_encoder_names(args.encoders),
        n=args.n,
        fit=args.fit,
        seed=args.seed,
        prefix_study=args.prefix_study,
        threads=settings.encoder_threads,
    )
    split = result["split"]
    lines = [
        f"{result['dataset']}: {split['fit']} fit / {split['test']} test, seed {split['seed']}",
        f"{'encoder':24} {'centroid':>9} {'knn10':>7} {'texts/s':>9}",
    ]
    for name, row in result["encoders"].items():
        lines.append(
            f"{name:24} {row['centroid_acc']:9.3f} {row['knn10_acc']:7.3f} "
            f"{row['texts_per_s']:9.1f}"
        )
    for sides, row in result.get("prefix_study", {}).items():
        lines.append(
            f"  e5 {sides:16} centroid {row['centroid_acc']:.3f}  knn10 {row['knn10_acc']:.3f}"
        )
    emit(args, result, "\n".join(lines))
    return 0


def raise_input(message: str) -> None:
    from plugin.errors import InputError

    raise InputError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interest",
        description="Personalised search and recommendation inside Elasticsearch.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Handler, help_text: str, *, json_flag: bool = True
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if json_flag:
            p.add_argument("--json", action="store_true", help="print one JSON document")
        p.set_defaults(handler=handler)
        return p

    p = add("up", cmd_up, "start the embedded stack (Elasticsearch, Redis, a worker); idempotent")
    p.add_argument("--no-worker", action="store_true", help="start Elasticsearch and Redis only")
    add("down", cmd_down, "stop what `up` started")
    add("status", cmd_status, "health of Elasticsearch, Redis and the workers")
    add("init", cmd_init, "create indices behind aliases and _meta if missing; idempotent")
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

    def ranking_options(p: argparse.ArgumentParser, default_mode: str) -> None:
        p.add_argument("--size", type=int, default=10)
        p.add_argument("--mode", choices=["exact", "approx"], default=default_mode)
        p.add_argument(
            "--scorer", choices=["native", "portable"], default=None,
            help="default: native when the scoring plugin is on every node",
        )  # fmt: skip
        p.add_argument("--category", action="append", help="only this category (repeatable)")
        p.add_argument("--since", help="only items created at or after this ISO date")
        p.add_argument("--until", help="only items created at or before this ISO date")

    p = add("search", cmd_search, "personalised search")
    p.add_argument("query")
    p.add_argument("--user", help="rank for this user (omit for plain BM25)")
    ranking_options(p, "exact")
    p = add("recommend", cmd_recommend, "recommendations for a user, no query")
    p.add_argument("--user", required=True)
    ranking_options(p, "approx")

    p = add(
        "collab", cmd_collab,
        "collaborative item factors: fit them from the stored events (and rebuild every "
        "user's collaborative vector), or show the current version",
    )  # fmt: skip
    p.add_argument("action", choices=["fit", "status"])

    p = add("demo", cmd_demo, "the main job: index a sample, replay events, show interests move")
    p.add_argument(
        "--dataset", choices=["sample", "movielens"], default=None,
        help="sample: the built-in bilingual sample (default); movielens: a few users' recent "
        "ratings and tags from ml-latest-small (needs --data-dir)",
    )  # fmt: skip
    p.add_argument("--data-dir", help="folder of the dataset (or its parent)")
    p.add_argument("--out", help="report folder (default: STATE_DIR/reports/demo[-movielens])")
    p.add_argument("--no-serve", action="store_true", help="exit after the report")

    p = add("eval", cmd_eval, "quality on real data against baselines (starts the stack)")
    p.add_argument("--dataset", required=True, choices=["movielens", "thucnews", "toutiao"])
    p.add_argument("--data-dir", required=True, help="the dataset's folder or its parent")
    p.add_argument("--out", required=True, help="folder for metrics.json, results.md, plots")
    p.add_argument(
        "--users", type=int, default=None,
        help="movielens: evaluate a seeded sample of N users (0: all; default 100); "
        "thucnews/toutiao: number of simulated users (default 6)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=None, help="sampling seed (default 7)")
    p.add_argument(
        "--what-if", action="append", metavar="KEY=VALUE[,...]",
        help="movielens: also rank with these weights overriding the stored ones, as a method "
        "of its own on the same replayed state (repeatable; _meta is not changed)",
    )  # fmt: skip

    p = add("serve", cmd_serve, "the HTTP API and the search page", json_flag=False)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (beyond the loopback only with INTEREST_API_KEY set)",
    )
    p.add_argument("--port", type=int, default=0, help="default: INTEREST_API_PORT (8000)")

    p = add(
        "encoders", cmd_encoders, "compare encoders on a labelled dataset (topic accuracy, speed)"
    )
    p.add_argument("action", choices=["compare"])
    p.add_argument("--dataset", required=True, choices=["thucnews", "toutiao", "movielens"])
    p.add_argument("--data-dir", help="the shared data directory (read in place)")
    p.add_argument("--encoders", help="comma-separated names (default: all)")
    p.add_argument("--n", type=int, default=3000, help="rows drawn after shuffling")
    p.add_argument("--fit", type=int, default=2000, help="rows used as memory; the rest test")
    p.add_argument("--seed", type=int, default=13, help="shuffle seed")
    p.add_argument(
        "--prefix-study", action="store_true",
        help="also measure e5 with passage/passage, query/query and query/passage prefixes",
    )  # fmt: skip

    p = add("weights", cmd_weights, "show, set, list or roll back the blend weights in _meta")
    p.add_argument("action", choices=["show", "set", "history", "rollback", "fit"])
    p.add_argument("pairs", nargs="*", help="KEY=VALUE for set; VERSION for rollback")
    p.add_argument("--note", help="why this change (kept in the history)")
    add_weights_fit_options(p)
    return parser


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("elastic_transport", "urllib3", "jieba", "httpx", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if getattr(args, "action", None) == "rollback":
        args.version = int(args.pairs[0]) if args.pairs and args.pairs[0].isdigit() else None
        if args.pairs and args.version is None:
            parser.error(f"rollback takes a version number, got {args.pairs[0]!r}")
    try:
        settings = Settings.from_env()
        code: int = args.handler(args, settings)
        return code
    except PersonalizationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a last line of defence: one clear line, details with -v
        from stack.processes import StackError

        if isinstance(exc, StackError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        logger.debug("unexpected failure", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
