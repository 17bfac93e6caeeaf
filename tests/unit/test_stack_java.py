"""The node's JVM flags: SIMD for the scorer's dot products where the JDK has it."""

from __future__ import annotations

import pytest

from stack.elasticsearch import vector_flags


@pytest.mark.parametrize("version", [17, 19, 20])
def test_no_vector_module_before_java_21(version: int) -> None:
    assert vector_flags(version) == []


@pytest.mark.parametrize("version", [21, 25])
def test_vector_module_and_the_jvms_own_version_from_java_21(version: int) -> None:
    flags = vector_flags(version)
    assert "--add-modules=jdk.incubator.vector" in flags
    assert f"-Dorg.apache.lucene.vectorization.upperJavaFeatureVersion={version}" in flags
