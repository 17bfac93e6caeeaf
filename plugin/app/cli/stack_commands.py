"""Stack control: up, down, status, init, serve."""

from __future__ import annotations

import argparse

from plugin.app.cli.common import AddCommand, emit
from plugin.settings import Settings

# Commands import what they use when they run: a query command should not pay for the stack's
# or Celery's imports at start-up.


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


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.app.api import serve

    serve(settings, host=args.host, port=args.port or settings.api_port)
    return 0


def register(add: AddCommand) -> None:
    p = add("up", cmd_up, "start the embedded stack (Elasticsearch, Redis, a worker); idempotent")
    p.add_argument("--no-worker", action="store_true", help="start Elasticsearch and Redis only")
    add("down", cmd_down, "stop what `up` started")
    add("status", cmd_status, "health of Elasticsearch, Redis and the workers")
    add("init", cmd_init, "create indices behind aliases and _meta if missing; idempotent")
    p = add("serve", cmd_serve, "the HTTP API and the search page", json_flag=False)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (beyond the loopback only with INTEREST_API_KEY set)",
    )
    p.add_argument("--port", type=int, default=0, help="default: INTEREST_API_PORT (8000)")
