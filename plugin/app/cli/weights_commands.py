"""Blend weights in ``_meta``: show, set, history, rollback, and fit from logged clicks."""

from __future__ import annotations

import argparse
from typing import Any

from plugin.app.cli.common import AddCommand, emit, raise_input
from plugin.settings import Settings


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


def cmd_weights_fit(args: argparse.Namespace, settings: Settings) -> int:
    """Weights learned from logged clicks (plugin/learning.py)."""
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


def parse_rollback_version(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """``weights rollback [VERSION]``: the version as ``args.version`` (None: the previous)."""
    args.version = int(args.pairs[0]) if args.pairs and args.pairs[0].isdigit() else None
    if args.pairs and args.version is None:
        parser.error(f"rollback takes a version number, got {args.pairs[0]!r}")


def register(add: AddCommand) -> None:
    p = add("weights", cmd_weights, "show, set, list or roll back the blend weights in _meta")
    p.add_argument("action", choices=["show", "set", "history", "rollback", "fit"])
    p.add_argument("pairs", nargs="*", help="KEY=VALUE for set; VERSION for rollback")
    p.add_argument("--note", help="why this change (kept in the history)")
    p.add_argument(
        "--from-log", default="feedback",
        help="fit: 'feedback' (the feedback index) or a JSONL file of impressions and clicks",
    )  # fmt: skip
    p.add_argument("--apply", action="store_true", help="fit: write the proposal as a new version")
    p.add_argument("--seed", type=int, default=7, help="fit: seed of the request-id split")
