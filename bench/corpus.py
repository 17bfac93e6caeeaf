"""Realistic item vectors for the query benchmarks: real e5 embeddings, perturbed copies.

Random vectors are the worst case for HNSW (see shared/notes/embedded-elasticsearch.md), so
``bench.queries`` builds its items from real text: MovieLens titles and Chinese headlines are
encoded once with the configured model and cached under /tmp; N item vectors are then copies
of those, each with a little Gaussian noise and renormalised (``perturb``).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plugin.app.evaluation.datasets import load_headlines, load_movielens_titles
from plugin.encoder import load_encoder
from plugin.settings import Settings

CACHE_DIR = Path("/tmp")
DEFAULT_PER_SOURCE = {"movielens": 2000, "thucnews": 1000, "toutiao": 1000}
# Norm of the noise added to a unit vector (per dimension sigma = NOISE_NORM / sqrt(dims)).
DEFAULT_NOISE_NORM = 0.25


@dataclass(frozen=True)
class Corpus:
    """Real texts with their labels, languages and unit-length embeddings (row-aligned)."""

    texts: list[str]
    labels: list[str]
    langs: list[str]
    vectors: np.ndarray  # float32, (len(texts), dims), unit rows
    model: str


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 (nearest-rank), mean and count of ``values``; empty gives zeros."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0, "n": 0}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return {
        "p50": round(rank(0.50), 2),
        "p95": round(rank(0.95), 2),
        "p99": round(rank(0.99), 2),
        "mean": round(sum(ordered) / len(ordered), 2),
        "n": len(ordered),
    }


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


def perturb(
    base: np.ndarray, count: int, *, noise_norm: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` unit vectors: copies of ``base`` rows (cycled) plus Gaussian noise.

    Returns:
        (vectors, source row of each vector). Row i copies ``base[i % len(base)]``, so every
        base row is used about equally.
    """
    if base.ndim != 2 or len(base) == 0:
        raise ValueError("base must be a non-empty 2-d matrix")
    dims = base.shape[1]
    sources = np.arange(count) % len(base)
    noise = rng.normal(0.0, noise_norm / math.sqrt(dims), size=(count, dims)).astype(np.float32)
    return normalise_rows(base[sources] + noise), sources


def recall_at(approx: Sequence[str], exact: Sequence[str], k: int = 10) -> float:
    """Share of the exact top ``k`` that the approximate top ``k`` also holds."""
    truth = list(exact)[:k]
    if not truth:
        return 1.0
    return len(set(approx[:k]) & set(truth)) / len(truth)


def load_texts(
    data_dir: Path, per_source: dict[str, int]
) -> tuple[list[str], list[str], list[str]]:
    """Texts, labels and languages: MovieLens titles (en) and two headline sets (zh)."""
    texts: list[str] = []
    labels: list[str] = []
    langs: list[str] = []
    for name, count in per_source.items():
        rows = (
            load_movielens_titles(data_dir)
            if name == "movielens"
            else load_headlines(name, data_dir)
        )
        step = max(1, len(rows) // max(count, 1))
        chosen = rows[::step][:count]
        texts += [text for text, _ in chosen]
        labels += [label for _, label in chosen]
        langs += ["en" if name == "movielens" else "zh"] * len(chosen)
    return texts, labels, langs


def load_corpus(settings: Settings, data_dir: Path, per_source: dict[str, int]) -> Corpus:
    """The corpus with its embeddings, encoded once and cached under /tmp by content hash."""
    texts, labels, langs = load_texts(data_dir, per_source)
    digest = hashlib.sha1(
        json.dumps([settings.model, texts], ensure_ascii=False).encode()
    ).hexdigest()[:12]
    cache = CACHE_DIR / f"bench-corpus-{settings.model}-{digest}.npy"
    if cache.is_file():
        vectors = np.load(cache)
    else:
        encoder = load_encoder(settings)
        started = time.perf_counter()
        parts = [
            encoder.encode(texts[i : i + 64], kind="passage") for i in range(0, len(texts), 64)
        ]
        vectors = normalise_rows(np.concatenate(parts))
        seconds = time.perf_counter() - started
        print(f"encoded {len(texts)} texts in {seconds:.1f}s -> {cache}", file=sys.stderr)
        np.save(cache, vectors)
    return Corpus(texts=texts, labels=labels, langs=langs, vectors=vectors, model=settings.model)
