"""The demo, the evaluation on real data and the encoder comparison."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plugin.app.cli.common import AddCommand, emit, raise_input
from plugin.app.evaluation.datasets import DATASETS
from plugin.settings import Settings


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.app.demo import run_demo
    from stack.control import up

    dataset = args.dataset or "sample"
    if dataset not in ("sample", "movielens"):
        raise_input(f"dataset must be 'sample' or 'movielens', got {dataset!r}")
    inputs: dict[str, Any] = {}
    if dataset == "movielens":
        from plugin.app.demo_movielens import movielens_demo

        if not args.data_dir:
            raise_input("--dataset movielens needs --data-dir (the folder or its parent)")
        items, events, searches = movielens_demo(args.data_dir)  # bad folders fail before `up`
        inputs = {"items": items, "events": events, "searches": searches}
    up(settings)
    folder = "demo" if dataset == "sample" else f"demo-{dataset}"
    out = Path(args.out) if args.out else settings.state_dir / "reports" / folder
    run_demo(settings, out_dir=out, echo=not args.json, **inputs)
    if not args.no_serve:
        from plugin.app.api import serve

        print(
            f"\nsearch page and API: http://127.0.0.1:{settings.api_port}/  (Ctrl-C to stop; "
            "`interest down` stops the stack)",
            flush=True,
        )
        serve(settings, host="127.0.0.1", port=settings.api_port)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.app.evaluation.evaluate import check_inputs, run_eval, summary_lines
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
        variants=what_if(args.what_if or []),
        retune=args.tune,
        validation=args.validation,
        ablate_sources=args.ablate_sources,
    )
    emit(args, payload, "\n".join([*summary_lines(payload), f"written to {args.out}"]))
    return 0


def what_if(specs: Sequence[str]) -> dict[str, dict[str, float]]:
    """``collaborative=0.2,diversity=0`` -> a method named after it, with those weights and
    blend parameters."""
    from plugin.weights import default_config, overridden

    variants: dict[str, dict[str, float]] = {}
    for spec in specs:
        pairs = [part.split("=", 1) for part in spec.split(",") if part.strip()]
        if not pairs or any(len(pair) != 2 for pair in pairs):
            raise_input(f"--what-if takes KEY=VALUE[,KEY=VALUE...], got {spec!r}")
        weights = {key.strip(): value.strip() for key, value in pairs}
        checked = overridden(default_config(), weights)
        values = {**checked.weights.as_dict(), **checked.params()}
        variants[f"dynamic-interest[{spec}]"] = {key: values[key] for key in weights}
    return variants


def cmd_encoders(args: argparse.Namespace, settings: Settings) -> int:
    from plugin.app.evaluation.encoders import compare, parse_encoder_names

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
        isolate=not args.same_process and not args.prefix_study,
        settings=settings,
    )
    split = result["split"]
    lines = [
        f"{result['dataset']}: {split['fit']} fit / {split['test']} test, seed {split['seed']}",
        f"{'encoder':34} {'centroid':>9} {'knn10':>7} {'texts/s':>9} {'peak MiB':>9}",
    ]
    for name, row in result["encoders"].items():
        fused = f"  (dense weight {row['fusion_weight']})" if "fusion_weight" in row else ""
        lines.append(
            f"{name:34} {row['centroid_acc']:9.3f} {row['knn10_acc']:7.3f} "
            f"{row['texts_per_s']:9.1f} {row.get('rss_mb', float('nan')):9.0f}{fused}"
        )
    for sides, row in result.get("prefix_study", {}).items():
        lines.append(
            f"  e5 {sides:16} centroid {row['centroid_acc']:.3f}  knn10 {row['knn10_acc']:.3f}"
        )
    emit(args, result, "\n".join(lines))
    return 0


def register(add: AddCommand) -> None:
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
        help="movielens: also rank with these weights (or blend parameters, e.g. diversity) "
        "overriding the stored ones, as a method of its own on the same replayed state "
        "(repeatable; _meta is not changed)",
    )  # fmt: skip
    p.add_argument(
        "--tune", action="store_true",
        help="movielens: tune the strong baselines (ease, ials, rp3beta, itemknn, puresvd) "
        "again on a validation split of the training events; without it a stored tuning of "
        "this dataset is reused (the first run tunes, about 5 minutes on 2 cores)",
    )  # fmt: skip
    p.add_argument(
        "--validation", action="store_true",
        help="movielens: evaluate on the validation split (each user's last 20%% of training "
        "positives held out, the test part never read): where defaults are chosen",
    )  # fmt: skip
    p.add_argument(
        "--ablate-sources", action="store_true",
        help="movielens: also rank without each approximate candidate source in turn "
        "(interest, collaborative, neighbours, popular-new), to see what each adds",
    )  # fmt: skip

    p = add(
        "encoders", cmd_encoders, "compare encoders on a labelled dataset (topic accuracy, speed)"
    )
    p.add_argument("action", choices=["compare"])
    p.add_argument("--dataset", required=True, choices=list(DATASETS))
    p.add_argument("--data-dir", help="the shared data directory (read in place)")
    p.add_argument(
        "--encoders",
        help="comma-separated names (default: every single encoder); NAME+tfidf-jieba fuses a "
        "dense encoder with jieba TF-IDF, its weight chosen on a split of the fit rows",
    )
    p.add_argument(
        "--same-process", action="store_true",
        help="run every encoder in this process (default: a fresh process each, for its memory)",
    )  # fmt: skip
    p.add_argument("--n", type=int, default=3000, help="rows drawn after shuffling")
    p.add_argument("--fit", type=int, default=2000, help="rows used as memory; the rest test")
    p.add_argument("--seed", type=int, default=13, help="shuffle seed")
    p.add_argument(
        "--prefix-study", action="store_true",
        help="also measure e5 with passage/passage, query/query and query/passage prefixes",
    )  # fmt: skip
