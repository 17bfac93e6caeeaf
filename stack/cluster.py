"""Several embedded nodes forming one cluster: the same launcher, with seed hosts and masters."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from plugin.settings import Settings
from stack.elasticsearch import NodeSpec, http_get, start_node, stop_node
from stack.processes import StackError, read_pid, wait_until

logger = logging.getLogger(__name__)

DEFAULT_NODES = 3
DEFAULT_HEAP = "512m"
DEFAULT_CLUSTER_NAME = "dynamic-interest-cluster"
# Three JVMs starting together on two cores: about a minute to elect a master and go green.
FORM_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Cluster:
    """The nodes of one embedded cluster."""

    name: str
    nodes: tuple[NodeSpec, ...]

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{node.http_port}" for node in self.nodes]

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r} in cluster {self.name}")


def cluster_nodes(
    settings: Settings, *, n: int, http_port: int, transport_port: int, home: Path | None = None
) -> tuple[NodeSpec, ...]:
    """``n`` node specs on consecutive ports, each with its own folder."""
    base = home or settings.state_dir / "cluster"
    return tuple(
        NodeSpec(
            name=f"node-{i + 1}",
            http_port=http_port + i,
            transport_port=transport_port + i,
            home=base / f"node-{i + 1}",
        )
        for i in range(n)
    )


def cluster_health(node: NodeSpec, *, timeout: float = 2.0) -> dict[str, object] | None:
    """``_cluster/health`` as seen by ``node``, or None when it does not answer."""
    return http_get(f"http://127.0.0.1:{node.http_port}/_cluster/health", timeout=timeout)


def wait_for_nodes(
    cluster: Cluster,
    *,
    nodes: int,
    status: tuple[str, ...] = ("yellow", "green"),
    timeout: float = FORM_TIMEOUT_S,
    via: NodeSpec | None = None,
) -> None:
    """Wait until the cluster (asked through ``via``, default its first running node) has
    ``nodes`` nodes and a status in ``status``."""

    def ready() -> bool:
        asked = [via] if via else [n for n in cluster.nodes if read_pid(n.pid_file) is not None]
        for node in asked:
            health = cluster_health(node)
            if health and health.get("number_of_nodes") == nodes:
                return health.get("status") in status
        return False

    wait_until(ready, timeout=timeout, what=f"cluster {cluster.name} with {nodes} nodes")


def start_cluster(
    settings: Settings,
    *,
    n: int = DEFAULT_NODES,
    http_port: int = 9500,
    transport_port: int = 9600,
    heap: str = DEFAULT_HEAP,
    name: str = DEFAULT_CLUSTER_NAME,
    home: Path | None = None,
) -> Cluster:
    """Start ``n`` nodes that discover each other and wait until the cluster is formed.

    Every node is master-eligible and listed in ``cluster.initial_master_nodes``; the seed
    hosts are their transport ports. Nodes that this call started are stopped again if the
    cluster does not form.

    Args:
        settings: Java, the engine build and the state folder (``home`` defaults under it).
        n: number of nodes (3 tolerates the loss of one).
        http_port, transport_port: ports of the first node; the others follow.
        heap: heap of each node.
        name: the cluster name (distinct from the single-node stack's).
        home: folder holding one sub-folder per node.

    Returns:
        The cluster, healthy (yellow or green) with ``n`` nodes.

    Raises:
        StackError: a port is busy, Java is missing, or the cluster did not form in time.
    """
    if n < 1:
        raise StackError(f"a cluster needs at least one node, got {n}")
    cluster = Cluster(
        name=name,
        nodes=cluster_nodes(
            settings, n=n, http_port=http_port, transport_port=transport_port, home=home
        ),
    )
    seeds = [f"127.0.0.1:{node.transport_port}" for node in cluster.nodes]
    masters = [node.name for node in cluster.nodes]
    node_settings = settings.with_overrides(es_heap=heap)
    try:
        for node in cluster.nodes:
            start_node(
                node_settings,
                node,
                seed_hosts=seeds,
                initial_masters=masters,
                cluster_name=name,
                wait=False,
            )
        wait_for_nodes(cluster, nodes=n)
    except BaseException:
        stop_cluster(cluster)
        raise
    logger.info("cluster %s formed with %d nodes on ports %s", name, n, cluster.urls)
    return cluster


def stop_cluster(cluster: Cluster) -> list[str]:
    """Stop every node of ``cluster`` that runs; return the names of those stopped."""
    stopped = []
    for node in cluster.nodes:
        try:
            if stop_node(node):
                stopped.append(node.name)
        except OSError as exc:  # keep stopping the others
            logger.warning("could not stop %s: %s", node.name, exc)
    return stopped
