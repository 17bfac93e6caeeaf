"""Elasticsearch adapter: the client factory, index creation behind aliases, and `_meta` access."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from elasticsearch import (
    ApiError,
    BadRequestError,
    ConnectionTimeout,
    Elasticsearch,
    NotFoundError,
)
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch.serializer import OrjsonSerializer

from mappings import INDEX_NAMES, load
from plugin.errors import MappingError, ServiceUnavailable
from plugin.settings import Settings

logger = logging.getLogger(__name__)

SCORING_PLUGIN_NAME = "interest-scoring"
# Answers that mean "busy or recovering, try again": throttled, a shard not yet allocated after
# a restart or a node loss, a proxy in front of the cluster without a live node.
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


def make_es_client(settings: Settings) -> Elasticsearch:
    """One client per process; credentials and TLS come from settings, never from code."""
    kwargs: dict[str, Any] = {
        "request_timeout": settings.request_timeout_s,
        "retry_on_timeout": True,
        "max_retries": 2,
        # Documents are mostly float vectors: orjson reads and writes them several times
        # faster than the standard library, which dominated the write path's client time.
        "serializer": OrjsonSerializer(),
    }
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key
    elif settings.es_username and settings.es_password:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password)
    if settings.es_ca_path is not None:
        kwargs["ca_certs"] = str(settings.es_ca_path)
    # Several URLs: a request that cannot reach one node is retried on another.
    return Elasticsearch(settings.es_urls, **kwargs)


def is_transient(exc: BaseException) -> bool:
    """True for Elasticsearch errors worth retrying: unreachable, timed out, busy, recovering."""
    if isinstance(exc, EsConnectionError | ConnectionTimeout):
        return True
    return isinstance(exc, ApiError) and exc.meta.status in TRANSIENT_STATUSES


def check_reachable(es: Elasticsearch, settings: Settings) -> dict[str, Any]:
    """Return cluster info, or raise ServiceUnavailable saying how to start Elasticsearch."""
    try:
        info: dict[str, Any] = es.info().body
    except (EsConnectionError, ApiError) as exc:
        hint = (
            "run `interest up` to start the embedded node"
            if settings.embedded_es
            else "check INTEREST_ES_URL and the credentials"
        )
        raise ServiceUnavailable(
            f"Elasticsearch at {settings.display_es_url} is not reachable "
            f"({type(exc).__name__}); {hint}"
        ) from None
    return info


def scorer_mode(es: Elasticsearch) -> str:
    """'native' when every node has the scoring plugin loaded, else 'portable'."""
    nodes = es.nodes.info(metric="plugins").body.get("nodes", {})
    if not nodes:
        return "portable"
    for node in nodes.values():
        names = {plugin.get("name") for plugin in node.get("plugins", [])}
        if SCORING_PLUGIN_NAME not in names:
            return "portable"
    return "native"


def model_identity(
    name: str, dims: int, *, prefixes: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {"name": name, "dims": dims, "normalized": True, "prefixes": dict(prefixes or {})}


def index_body(
    name: str, *, model: Mapping[str, Any], replicas: int | None = None
) -> dict[str, Any]:
    """Settings and mappings of index ``name`` for ``model`` (its dims; its identity in the
    items `_meta`), with ``replicas`` replica copies when given (pure)."""
    body = load(name, dims=int(model["dims"]))
    if name == "items":
        body["mappings"]["_meta"]["model"] = dict(model)
    if replicas is not None:
        body["settings"]["number_of_replicas"] = int(replicas)
    return body


def ensure_indices(
    es: Elasticsearch,
    settings: Settings,
    *,
    model: Mapping[str, Any],
    replicas: int | None = None,
    check_existing: bool = True,
) -> dict[str, str]:
    """Create every index behind its alias if missing; refuse a model/dimension mismatch.

    Args:
        es: the client.
        settings: index names (prefix) and the default replica count (INTEREST_ES_REPLICAS).
        model: the encoder's identity (name, dims, ...), stored in the items `_meta`.
        replicas: replica copies of each new index (default: ``settings.es_replicas``); a
            multi-node cluster survives the loss of a node with 1.
        check_existing: also check the items' model (``init``); False skips that check (a
            worker before its first write). Fields added since are mapped either way.

    Returns:
        alias -> concrete index. Idempotent: existing indices are checked, not changed.
    """
    copies = settings.es_replicas if replicas is None else replicas
    result: dict[str, str] = {}
    for name in INDEX_NAMES:
        alias = settings.index_alias(name)
        existing = resolve_alias(es, alias)
        if existing is None:
            body = index_body(name, model=model, replicas=copies)
            concrete = f"{alias}-v1"
            try:
                es.indices.create(
                    index=concrete,
                    settings=body["settings"],
                    mappings=body["mappings"],
                    aliases={alias: {"is_write_index": True}},
                )
                logger.info("created index %s behind alias %s", concrete, alias)
            except BadRequestError as exc:
                # Another process (a second worker, `interest init`) created it just now.
                if exc.error != "resource_already_exists_exception":
                    raise
            existing = concrete
        else:
            if check_existing and name == "items":
                check_model(read_meta(es, alias), model)
            # Also for a worker before its first write: new code may write new fields.
            _add_missing_fields(es, alias, index_body(name, model=model, replicas=copies))
        result[alias] = existing
    return result


def _add_missing_fields(es: Elasticsearch, alias: str, body: Mapping[str, Any]) -> None:
    """Map fields added since the index was created (additive only: a changed field needs a
    rebuild, and Elasticsearch refuses it here with a clear error)."""
    wanted = body["mappings"].get("properties") or {}
    mappings = es.indices.get_mapping(index=alias)
    for concrete, current in mappings.items():
        present = (current.get("mappings") or {}).get("properties") or {}
        missing = {name: spec for name, spec in wanted.items() if name not in present}
        if missing:
            es.indices.put_mapping(index=concrete, properties=missing)
            logger.info("mapped new fields %s on %s", ", ".join(sorted(missing)), concrete)


def resolve_alias(es: Elasticsearch, alias: str) -> str | None:
    """The concrete index behind ``alias`` (the write index if several), or None."""
    try:
        found = es.indices.get_alias(name=alias).body
    except NotFoundError:
        return None
    for index, data in found.items():
        if data.get("aliases", {}).get(alias, {}).get("is_write_index", len(found) == 1):
            return str(index)
    return str(next(iter(found)))


def read_meta(es: Elasticsearch, alias: str) -> dict[str, Any]:
    """The `_meta` of the index behind ``alias``."""
    try:
        mapping = es.indices.get_mapping(index=alias).body
    except NotFoundError:
        raise MappingError(f"index {alias} does not exist; run `interest init`") from None
    # One answer decides: a second look-up could see the alias after a rebuild swapped it.
    concrete = next(iter(mapping))
    if len(mapping) > 1:
        concrete = resolve_alias(es, alias) or concrete
        concrete = concrete if concrete in mapping else next(iter(mapping))
    meta: dict[str, Any] = mapping[concrete]["mappings"].get("_meta", {})
    return meta


def meta_version(meta: Mapping[str, Any], section: str) -> int | None:
    """The ``version`` of a fitted model recorded in ``_meta[section]`` (``collab``,
    ``neighbours``), or None when there is none or it is malformed."""
    summary = meta.get(section)
    try:
        return int(summary["version"]) if isinstance(summary, Mapping) else None
    except (KeyError, TypeError, ValueError):
        return None


def write_meta(es: Elasticsearch, alias: str, meta: Mapping[str, Any]) -> None:
    """Replace `_meta` of the index behind ``alias`` (a mapping update, no reindex)."""
    concrete = resolve_alias(es, alias)
    if concrete is None:
        raise MappingError(f"index {alias} does not exist; run `interest init`")
    es.indices.put_mapping(index=concrete, meta=dict(meta))


def check_model(meta: Mapping[str, Any], model: Mapping[str, Any]) -> None:
    """Refuse to mix vectors of two models in one index."""
    stored = meta.get("model") or {}
    if stored.get("name") != model.get("name") or int(stored.get("dims", -1)) != int(model["dims"]):
        raise MappingError(
            f"the items index holds vectors of model {stored.get('name')!r} "
            f"({stored.get('dims')} dims) but the configured model is {model.get('name')!r} "
            f"({model['dims']} dims); use the matching INTEREST_MODEL or rebuild the index"
        )
