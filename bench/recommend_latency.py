"""How long one user's recommendation takes, end to end through ``PersonalizedSearch``.

After ``interest eval --dataset movielens ...`` (its users' interests and the neighbours are
in the running stack)::

    python -m bench.recommend_latency --user-prefix movielens- --users 100

Each user is asked ``--repeat`` times (the first, which fills the per-process caches of the
item neighbours and the titles, is reported apart as ``cold``); the profile read, the
neighbour scores and the Elasticsearch ``_msearch`` are all inside the timing. One JSON object
goes to stdout: median and 95th/99th percentile milliseconds per mode.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from plugin.service import open_service
from plugin.settings import Settings


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recommend_latency", description=__doc__)
    parser.add_argument("--user-prefix", default="movielens-", help="host ids of the users")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", type=int, default=20)
    parser.add_argument(
        "--weights", default="", help="per-request overrides, e.g. neighbours=1,diversity=0"
    )
    args = parser.parse_args(argv)
    overrides = {
        key: float(value)
        for key, value in (part.split("=", 1) for part in args.weights.split(",") if part)
    }
    settings = Settings.from_env()
    report: dict[str, Any] = {"overrides": overrides, "size": args.size}
    with open_service(settings, need_encoder=False) as service:
        service.blend_config(fresh=True)
        # Interest documents are keyed by pseudonym: read back which hosts ids exist.
        users = [
            f"{args.user_prefix}{n}"
            for n in range(1, 10 * args.users)
            if service.interest_document(f"{args.user_prefix}{n}") is not None
        ][: args.users]
        report["users"] = len(users)
        for mode in ("approx", "exact"):
            cold: list[float] = []
            warm: list[float] = []
            for user in users:
                for attempt in range(args.repeat):
                    started = time.perf_counter()
                    service.recommend(user, size=args.size, mode=mode, weights=overrides)
                    elapsed = (time.perf_counter() - started) * 1000
                    (cold if attempt == 0 else warm).append(elapsed)
            report[mode] = {"cold": summary(cold), "warm": summary(warm)}
        report["items"] = int(service.es.count(index=service.items_alias)["count"])
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
