"""Evaluation outputs: ``metrics.json``, a Markdown table and PNG plots."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from plugin.app.evaluation.scoring import METRIC_NAMES


def write_metrics(out_dir: Path, payload: Mapping[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "metrics.json"
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def metrics_table(
    methods: Mapping[str, Mapping[str, float]], names: Sequence[str] = METRIC_NAMES
) -> list[str]:
    """A Markdown table, one row per method, the best value of each column in bold."""
    best = {name: max((m.get(name, 0.0) for m in methods.values()), default=0.0) for name in names}
    lines = ["| method | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for method, values in methods.items():
        cells = []
        for name in names:
            value = values.get(name)
            text = "–" if value is None else f"{value:.4f}"
            cells.append(f"**{text}**" if value is not None and value == best[name] else text)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def write_markdown(out_dir: Path, lines: Sequence[str]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path


def _pyplot() -> Any:
    from plugin.app.plotting import pyplot

    return pyplot()


def bar_chart(
    methods: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str],
    path: Path,
    *,
    title: str,
) -> Path:
    """Grouped bars: one group per method, one bar per metric."""
    plt = _pyplot()
    names = list(methods)
    width = 0.8 / max(len(metrics), 1)
    fig, axis = plt.subplots(figsize=(1.6 * len(names) + 2, 3.6))
    for offset, metric in enumerate(metrics):
        xs = [i + offset * width for i in range(len(names))]
        axis.bar(xs, [methods[n].get(metric, 0.0) for n in names], width, label=metric)
    axis.set_xticks([i + width * (len(metrics) - 1) / 2 for i in range(len(names))])
    axis.set_xticklabels(names, rotation=20, ha="right")
    axis.set_title(title)
    axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def line_chart(
    series: Mapping[str, Sequence[float]],
    path: Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    marker_x: float | Sequence[float] | None = None,
) -> Path:
    """One line per series (x = position), with an optional vertical marker."""
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(7, 3.6))
    for name, values in series.items():
        axis.plot(range(1, len(values) + 1), values, label=name)
    markers = (
        () if marker_x is None else (marker_x,) if isinstance(marker_x, int | float) else marker_x
    )
    for x in markers:
        axis.axvline(x, color="grey", linestyle="--", linewidth=1)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_ylim(-0.02, 1.02)
    axis.set_title(title)
    axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
