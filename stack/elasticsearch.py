"""The embedded Elasticsearch node: build the engine with Maven once, then run the launcher."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from plugin.settings import REPO_ROOT, Settings
from stack.processes import StackError, pid_alive, port_open, read_pid, spawn, stop, wait_until

logger = logging.getLogger(__name__)

ENGINE_DIR = REPO_ROOT / "engine"
DIST_DIR = ENGINE_DIR / "target" / "dist"
BUILD_STAMP = DIST_DIR / ".built"
LAUNCHER_CLASS = "dev.dynamicinterest.launcher.Launcher"
START_TIMEOUT_S = 180.0
MAVEN_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class NodeSpec:
    """One embedded node: its name, ports and folders."""

    name: str
    http_port: int
    transport_port: int
    home: Path

    @property
    def pid_file(self) -> Path:
        return self.home / "node.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "launcher.log"


def default_node(settings: Settings) -> NodeSpec:
    return NodeSpec(
        name="node-1",
        http_port=settings.es_http_port,
        transport_port=settings.es_transport_port,
        home=settings.state_dir / "elasticsearch" / "node-1",
    )


def java_binary(settings: Settings) -> tuple[str, int]:
    """The java executable (17 or later) and its feature version, or a StackError saying how."""
    candidate = (
        str(settings.java_home / "bin" / "java") if settings.java_home else shutil.which("java")
    )
    if not candidate or not Path(candidate).exists():
        raise StackError(
            "Java 17 is missing: install it (Debian: apt-get install -y openjdk-17-jdk-headless) "
            "or set INTEREST_JAVA_HOME"
        )
    out = subprocess.run(
        [candidate, "-version"], capture_output=True, text=True, check=False
    ).stderr
    match = re.search(r'version "(\d+)', out)
    if not match or int(match.group(1)) < 17:
        raise StackError(f"Java 17 or later is needed; {candidate} reports: {out.splitlines()[:1]}")
    return candidate, int(match.group(1))


def vector_flags(java_version: int) -> list[str]:
    """JVM flags that let Lucene's VectorUtil (the scorer's dot products) use SIMD.

    Lucene 9.12 has Panama code for Java 21+ through the incubator vector module; it turns it on
    only up to the feature version it was tested with unless told the JVM's own. On Java 17 there
    is no such code and the dot products stay scalar (BENCHMARKS.md §1: 2.0x vs 1.34x).
    """
    if java_version < 21:
        return []
    return [
        "--add-modules=jdk.incubator.vector",
        f"-Dorg.apache.lucene.vectorization.upperJavaFeatureVersion={java_version}",
    ]


def _sources_newer_than_stamp() -> bool:
    if not BUILD_STAMP.exists():
        return True
    stamp = BUILD_STAMP.stat().st_mtime
    sources = [ENGINE_DIR / "pom.xml", *(ENGINE_DIR / "src" / "main").rglob("*")]
    return any(path.stat().st_mtime > stamp for path in sources if path.is_file())


def ensure_built(*, quiet: bool = True) -> Path:
    """Build the engine (plugin zip + node home) if missing or stale; offline when possible."""
    if not _sources_newer_than_stamp():
        return DIST_DIR
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("Maven is missing: install it (Debian: apt-get install -y maven)")
    base = [mvn, "-B", "-f", str(ENGINE_DIR / "pom.xml"), "package", "-DskipTests"]
    if quiet:
        base.append("-q")
    logger.info("building the engine with Maven (first time: resolves ~50 MB from Maven Central)")
    for offline in (True, False):
        cmd = [*base, "-o"] if offline else base
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_S, check=False
        )
        if done.returncode == 0:
            BUILD_STAMP.parent.mkdir(parents=True, exist_ok=True)
            BUILD_STAMP.touch()
            return DIST_DIR
        last = (done.stdout + done.stderr).strip().splitlines()[-15:]
    raise StackError("Maven could not build engine/:\n  " + "\n  ".join(last))


def http_get(url: str, timeout: float = 2.0) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data: dict[str, object] = json.loads(response.read())
            return data
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _healthy(port: int) -> bool:
    health = http_get(f"http://127.0.0.1:{port}/_cluster/health")
    return isinstance(health, dict) and health.get("status") in ("yellow", "green")


def start_node(
    settings: Settings,
    node: NodeSpec,
    *,
    seed_hosts: list[str] | None = None,
    initial_masters: list[str] | None = None,
    cluster_name: str = "dynamic-interest",
    wait: bool = True,
) -> bool:
    """Start one node unless it already runs; True when this call started it."""
    pid = read_pid(node.pid_file)
    if pid is not None:
        if wait:
            wait_until(
                lambda: _healthy(node.http_port), timeout=START_TIMEOUT_S, what="Elasticsearch"
            )
        return False
    for port in (node.http_port, node.transport_port):
        if port_open(port):
            raise StackError(
                f"port {port} is busy (another process listens there); stop it, or choose other "
                "ports with INTEREST_ES_HTTP_PORT / INTEREST_ES_TRANSPORT_PORT"
            )
    java, java_version = java_binary(settings)
    dist = ensure_built()
    for sub in ("data", "logs", "config"):
        (node.home / sub).mkdir(parents=True, exist_ok=True)
    cmd = [
        java,
        f"-Xms{settings.es_heap}",
        f"-Xmx{settings.es_heap}",
        "-XX:+UseG1GC",
        "-Dfile.encoding=UTF-8",
        "-Dlog4j2.disable.jmx=true",
        *vector_flags(java_version),
        "-cp",
        str(dist / "lib" / "*"),
        LAUNCHER_CLASS,
        "--home", str(dist),
        "--data", str(node.home / "data"),
        "--logs", str(node.home / "logs"),
        "--config", str(node.home / "config"),
        "--http-port", str(node.http_port),
        "--transport-port", str(node.transport_port),
        "--cluster-name", cluster_name,
        "--node-name", node.name,
    ]  # fmt: skip
    if seed_hosts:
        cmd += ["--seed-hosts", ",".join(seed_hosts)]
    if initial_masters:
        cmd += ["--initial-masters", ",".join(initial_masters)]
    env = dict(os.environ)
    env.pop("JAVA_TOOL_OPTIONS", None)
    new_pid = spawn(cmd, pid_file=node.pid_file, log_file=node.log_file, env=env)
    logger.info("started Elasticsearch %s (pid %d) on port %d", node.name, new_pid, node.http_port)
    if wait:
        wait_until(
            lambda: _healthy(node.http_port),
            timeout=START_TIMEOUT_S,
            what=f"Elasticsearch {node.name}",
            alive=lambda: pid_alive(new_pid),
            log_file=node.log_file,
        )
    return True


def stop_node(node: NodeSpec) -> bool:
    return stop(node.pid_file, name=f"Elasticsearch {node.name}", timeout=90.0)
