"""`interest eval`: quality on real data against simple baselines, on the running stack.

``movielens``: next-item prediction on a per-user time split (``eval_movielens``).
``thucnews`` / ``toutiao``: a simulated topic switch on Chinese headlines (``eval_drift``).
Both write ``OUT/metrics.json``, ``OUT/results.md`` and PNG plots.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plugin.errors import InputError
from plugin.settings import Settings

DATASETS = ("movielens", "thucnews", "toutiao")


def check_inputs(dataset: str, data_dir: str | Path) -> Path:
    """The dataset's folder, checked before anything starts.

    Raises:
        InputError: an unknown dataset, or no dataset files in ``data_dir`` or its child.
    """
    if dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    if dataset == "movielens":
        from plugin.app.evaluation.movielens import dataset_folder

        return dataset_folder(data_dir)
    from plugin.app.evaluation.eval_drift import FOLDERS, headlines_parent

    folder = headlines_parent(dataset, data_dir) / FOLDERS[dataset]
    if not folder.is_dir():
        raise InputError(f"no {FOLDERS[dataset]} folder at {Path(data_dir).expanduser()}")
    return folder


def run_eval(
    settings: Settings,
    *,
    dataset: str,
    data_dir: str | Path,
    out_dir: str | Path,
    users: int | None = None,
    seed: int | None = None,
    progress: bool = True,
    variants: Mapping[str, Mapping[str, float]] | None = None,
    retune: bool = False,
    validation: bool = False,
    ablate_sources: bool = False,
) -> dict[str, Any]:
    """Run one evaluation; ``users`` (MovieLens: sample size, 0 = all; drift: user count);
    ``variants`` (MovieLens): extra what-if weight overrides ranked as methods of their own;
    ``retune`` (MovieLens): tune the strong baselines again; ``validation`` (MovieLens): on
    the validation split carved from the training events (for choosing defaults);
    ``ablate_sources`` (MovieLens): also rank without each candidate source in turn.

    Raises:
        InputError: an unknown dataset or a missing data folder.
    """
    folder, out = check_inputs(dataset, data_dir), Path(out_dir).expanduser()
    if dataset == "movielens":
        from plugin.app.evaluation import eval_movielens

        return eval_movielens.run(
            settings,
            data_dir=folder,
            out_dir=out,
            users=eval_movielens.DEFAULT_USERS if users is None else (users or None),
            seed=eval_movielens.DEFAULT_SEED if seed is None else seed,
            progress=progress,
            variants=variants,
            retune=retune,
            validation=validation,
            ablate_sources=ablate_sources,
        )
    if variants or validation or ablate_sources:
        raise InputError("--what-if, --validation and --ablate-sources are for movielens only")
    from plugin.app.evaluation import eval_drift

    return eval_drift.run(
        settings,
        dataset=dataset,
        data_dir=folder,
        out_dir=out,
        pairs=users or eval_drift.DEFAULT_PAIRS,
        seed=eval_drift.DEFAULT_SEED if seed is None else seed,
        progress=progress,
    )


def summary_lines(payload: dict[str, Any]) -> list[str]:
    """A short plain-text table for the terminal."""
    lines = [f"{payload['dataset']}: {payload['split']}"]
    for method, values in payload["methods"].items():
        cells = "  ".join(f"{name} {value:.4f}" for name, value in values.items())
        lines.append(f"  {method:20} {cells}")
    drift = payload.get("drift")
    if drift:
        for method, values in drift["methods"].items():
            lines.append(
                f"  {method:20} switched {values['switched_pairs']}/{len(drift['pairs'])} "
                f"pairs, mean {values['mean_events_to_switch']} events after the switch; "
                f"returned {values['returned_pairs']}/{len(drift['pairs'])}, mean "
                f"{values['mean_events_to_return']} events after the return"
            )
    return lines
