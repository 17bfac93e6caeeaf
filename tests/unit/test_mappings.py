from __future__ import annotations

import pytest

import mappings


@pytest.mark.parametrize("name", mappings.INDEX_NAMES)
def test_every_mapping_loads_and_is_strict(name):
    body = mappings.load(name)
    assert body["mappings"]["dynamic"] == "strict"
    assert body["mappings"]["properties"]


def test_items_vector_field_and_meta():
    body = mappings.load("items")
    embedding = body["mappings"]["properties"]["embedding"]
    assert embedding["type"] == "dense_vector"
    assert embedding["similarity"] == "cosine"
    assert embedding["index_options"]["type"] == "int8_hnsw"
    meta = body["mappings"]["_meta"]
    assert meta["model"]["dims"] == embedding["dims"] == 384
    assert body["mappings"]["properties"]["text_zh"]["analyzer"] == "simple"


def test_dims_override_reaches_every_text_vector():
    items = mappings.load("items", dims=768)
    assert items["mappings"]["properties"]["embedding"]["dims"] == 768
    assert items["mappings"]["_meta"]["model"]["dims"] == 768
    users = mappings.load("user_interests", dims=768)
    assert users["mappings"]["properties"]["long_term"]["dims"] == 768


def test_load_returns_independent_copies():
    first = mappings.load("items")
    first["mappings"]["properties"].clear()
    assert mappings.load("items")["mappings"]["properties"]


def test_unknown_index_is_refused():
    with pytest.raises(KeyError, match="unknown index"):
        mappings.load("nope")
