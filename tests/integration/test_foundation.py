"""The real stack: Elasticsearch 8.19 with the scoring plugin, Redis, a Celery worker."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from plugin.encoder import KNOWN_MODELS
from plugin.errors import MappingError
from plugin.es import ensure_indices, read_meta, scorer_mode

pytestmark = pytest.mark.integration


def unit(vector):
    vector = np.asarray(vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def test_info_reports_elasticsearch_8_19(es):
    info = es.info()
    assert info["version"]["number"].startswith("8.19.")
    assert info["tagline"]


def test_every_node_has_the_scoring_plugin(es):
    nodes = es.nodes.info(metric="plugins")["nodes"]
    assert nodes
    for node in nodes.values():
        assert "interest-scoring" in {p["name"] for p in node["plugins"]}
    assert scorer_mode(es) == "native"


def test_init_creates_aliased_indices_with_meta(service, settings, es):
    aliases = service.init_indices()  # second call: idempotent
    assert set(aliases) == {
        settings.index_alias("items"),
        settings.index_alias("user_interests"),
        settings.index_alias("user_events"),
    }
    for alias, concrete in aliases.items():
        assert concrete == f"{alias}-v1"
        assert es.indices.exists_alias(name=alias)
    meta = read_meta(es, settings.index_alias("items"))
    assert meta["model"]["name"] == settings.model
    assert meta["model"]["dims"] == KNOWN_MODELS[settings.model].dims


def test_init_refuses_another_model(service, settings, es):
    other = {"name": "some-other-model", "dims": 768}
    with pytest.raises(MappingError, match="some-other-model") as info:
        ensure_indices(es, settings, model=other)
    assert settings.model in str(info.value)


def test_script_score_blend_matches_python_and_knn_finds_the_doc(es, settings):
    index = f"{settings.index_prefix}-scratch-blend"
    es.options(ignore_status=404).indices.delete(index=index)
    es.indices.create(
        index=index,
        mappings={
            "properties": {
                "title": {"type": "text"},
                "embedding": {"type": "dense_vector", "dims": 384, "similarity": "cosine"},
            }
        },
    )
    rng = np.random.default_rng(7)
    doc_vector = unit(rng.normal(size=384))
    query_vector = unit(doc_vector + 0.8 * unit(rng.normal(size=384)))
    es.index(
        index=index, id="a", document={"title": "red apple pie", "embedding": doc_vector.tolist()}
    )
    es.index(
        index=index,
        id="b",
        document={"title": "green pears", "embedding": unit(rng.normal(size=384)).tolist()},
    )
    es.indices.refresh(index=index)

    lexical = {"match": {"title": "apple"}}
    plain = es.search(index=index, query=lexical)["hits"]["hits"]
    bm25 = plain[0]["_score"]
    weights = {"bm25": 0.6, "query": 0.4}
    scored = es.search(
        index=index,
        query={
            "script_score": {
                "query": lexical,
                "script": {
                    "source": "blend",
                    "lang": "interest",
                    "params": {
                        "weights": weights,
                        "bm25_k": 5.0,
                        "query_vector": query_vector.tolist(),
                    },
                },
            }
        },
    )["hits"]["hits"]
    assert [hit["_id"] for hit in scored] == ["a"]
    cosine = float(doc_vector @ query_vector)
    expected = 0.6 * bm25 / (bm25 + 5.0) + 0.4 * max(0.0, cosine)
    assert math.isclose(scored[0]["_score"], expected, rel_tol=1e-4)

    knn = es.search(
        index=index,
        knn={
            "field": "embedding",
            "query_vector": query_vector.tolist(),
            "k": 1,
            "num_candidates": 10,
        },
    )["hits"]["hits"]
    assert knn[0]["_id"] == "a"
    es.indices.delete(index=index)


def test_a_worker_encodes_with_the_real_model_and_writes(service, tasks, es, settings, encoder):
    items = [
        {
            "id": "found-1",
            "title": "Sourdough bread at home",
            "body": "Flour, water, salt and time.",
            "category": "food",
        },
        {
            "id": "found-2",
            "title": "Marathon training plan",
            "body": "Sixteen weeks to the start line.",
            "category": "sports",
        },
    ]
    result = tasks.index_items(items, batch_size=8, progress=False)
    assert result["indexed"] == 2 and result["errors"] == []
    stored = es.get(index=settings.index_alias("items"), id="found-1")["_source"]
    assert stored["category"] == "food"
    local = encoder.encode(
        ["Sourdough bread at home. Flour, water, salt and time."], kind="passage"
    )[0]
    assert float(np.dot(local, np.asarray(stored["embedding"]))) > 0.99


def test_status_counts_the_worker_by_its_heartbeat_without_celery(settings):
    from stack.control import heartbeating_workers, status

    assert any(name.startswith("worker-1@") for name in heartbeating_workers(settings))
    assert status(settings)["workers"] >= 1


def test_stopping_and_starting_the_node_keeps_documents(es, settings):
    from stack.elasticsearch import default_node, start_node, stop_node

    index = settings.index_alias("items")
    es.index(
        index=index, id="durable-1", document={"id": "durable-1", "title": "kept across restarts"}
    )
    node = default_node(settings)
    assert stop_node(node)
    started = time.perf_counter()
    start_node(settings, node)
    assert time.perf_counter() - started < 120
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if es.exists(index=index, id="durable-1"):
                break
        except Exception:  # shards may still be recovering right after the restart
            pass
        time.sleep(0.5)
    assert es.get(index=index, id="durable-1")["_source"]["title"] == "kept across restarts"
