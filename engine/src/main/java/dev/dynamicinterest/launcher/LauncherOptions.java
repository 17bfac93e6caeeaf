package dev.dynamicinterest.launcher;

import org.elasticsearch.common.settings.Settings;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The launcher's command line and the node settings it stands for. */
record LauncherOptions(
    Path home,
    Path data,
    Path logs,
    Path config,
    int httpPort,
    int transportPort,
    String clusterName,
    String nodeName,
    String bindHost,
    List<String> seedHosts,
    List<String> initialMasters
) {
    static final String USAGE = "usage: Launcher --home DIR --data DIR --logs DIR --config DIR [--http-port 9200] [--transport-port 9300]"
        + " [--cluster-name dynamic-interest] [--node-name node-1] [--bind-host 127.0.0.1]"
        + " [--seed-hosts host:port,...] [--initial-masters name,...]";

    private static final Set<String> FLAGS = Set.of(
        "--home",
        "--data",
        "--logs",
        "--config",
        "--http-port",
        "--transport-port",
        "--cluster-name",
        "--node-name",
        "--bind-host",
        "--seed-hosts",
        "--initial-masters"
    );

    static LauncherOptions parse(String[] args) {
        Map<String, String> values = new HashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            if (FLAGS.contains(args[i]) == false) {
                throw new IllegalArgumentException("unknown option [" + args[i] + "]");
            }
            if (i + 1 == args.length) {
                throw new IllegalArgumentException("option [" + args[i] + "] needs a value");
            }
            values.put(args[i], args[i + 1]);
        }
        return new LauncherOptions(
            path(values, "--home"),
            path(values, "--data"),
            path(values, "--logs"),
            path(values, "--config"),
            port(values, "--http-port", 9200),
            port(values, "--transport-port", 9300),
            values.getOrDefault("--cluster-name", "dynamic-interest"),
            values.getOrDefault("--node-name", "node-1"),
            values.getOrDefault("--bind-host", "127.0.0.1"),
            list(values.get("--seed-hosts")),
            list(values.get("--initial-masters"))
        );
    }

    /** One node alone (single-node discovery) unless seed hosts or initial masters make it part of a cluster. */
    Settings toSettings() {
        Settings.Builder settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", data.toString())
            .put("path.logs", logs.toString())
            .put("cluster.name", clusterName)
            .put("node.name", nodeName)
            .put("network.host", bindHost)
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            // A development node: wildcard deletes allowed, and a full-ish disk must not block shard allocation.
            .put("action.destructive_requires_name", false)
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            // The node has no rest-root module; the interest-scoring plugin stands in for it (clients call GET /).
            .put("interest_scoring.root_endpoint.enabled", true);
        if (seedHosts.isEmpty() && initialMasters.isEmpty()) {
            settings.put("discovery.type", "single-node");
        } else {
            settings.putList("discovery.seed_hosts", seedHosts);
            settings.putList("cluster.initial_master_nodes", initialMasters);
        }
        return settings.build();
    }

    private static Path path(Map<String, String> values, String flag) {
        String value = values.get(flag);
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("option [" + flag + "] is required");
        }
        return Path.of(value).toAbsolutePath().normalize();
    }

    private static int port(Map<String, String> values, String flag, int defaultPort) {
        String value = values.get(flag);
        if (value == null) {
            return defaultPort;
        }
        try {
            int port = Integer.parseInt(value);
            if (port >= 0 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("option [" + flag + "] must be a port number but was [" + value + "]");
    }

    private static List<String> list(String value) {
        if (value == null || value.isBlank()) {
            return List.of();
        }
        return Arrays.stream(value.split(",")).map(String::trim).filter(s -> s.isEmpty() == false).toList();
    }
}
