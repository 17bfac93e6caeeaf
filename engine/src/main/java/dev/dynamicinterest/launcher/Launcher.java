package dev.dynamicinterest.launcher;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs one Elasticsearch node in this JVM from a home folder holding {@code lib/}, {@code modules/} and
 * {@code plugins/}, with the server on the class path. Prints {@code LAUNCHER READY http=HOST:PORT} once the
 * node serves, or one {@code LAUNCHER FAILED: ...} line on stderr and exits 1. SIGTERM closes the node.
 */
public final class Launcher {
    private static final long CLOSE_TIMEOUT_SECONDS = 60;

    private Launcher() {}

    public static void main(String[] args) throws InterruptedException {
        // As Elasticsearch's own jvm.options: the node logs while it closes in our shutdown hook.
        System.setProperty("log4j.shutdownHookEnabled", "false");
        System.setProperty("log4j2.disable.jmx", "true");
        System.setProperty("log4j2.formatMsgNoLookups", "true");

        LauncherOptions options;
        try {
            options = LauncherOptions.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("LAUNCHER FAILED: " + e.getMessage() + "; " + LauncherOptions.USAGE);
            System.exit(2);
            return;
        }
        Node node;
        try {
            node = start(options);
        } catch (Exception e) {
            System.err.println("LAUNCHER FAILED: " + oneLine(e));
            System.exit(1);
            return;
        }
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            closeQuietly(node);
            System.out.println("LAUNCHER STOPPED");
            closed.countDown();
        }, "launcher-shutdown"));
        System.out.println("LAUNCHER READY http=" + node.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress());
        System.out.flush();
        closed.await(); // the node's threads are daemons: keep the JVM up until the shutdown hook has closed it
    }

    private static Node start(LauncherOptions options) throws Exception {
        for (Path dir : List.of(options.data(), options.logs(), options.config())) {
            Files.createDirectories(dir);
        }
        Settings settings = options.toSettings();
        FileLogging.configure(settings, options.logs().resolve(options.clusterName() + ".log"));
        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), options.config(), options::nodeName);
        // false: the server runs on the class path, not as a named module.
        PluginsLoader plugins = PluginsLoader.createPluginsLoader(
            PluginsLoader.loadModulesBundles(env.modulesDir()),
            PluginsLoader.loadPluginsBundles(env.pluginsDir()),
            Map.of(),
            false
        );
        Node node = new Node(env, plugins);
        try {
            return node.start();
        } catch (Exception e) {
            closeQuietly(node);
            throw e;
        }
    }

    /** Closes the node and waits for it, so that acknowledged writes are on disk before the JVM ends. */
    private static void closeQuietly(Node node) {
        if (node == null || node.isClosed()) {
            return;
        }
        try {
            node.prepareForClose();
            node.close();
            if (node.awaitClose(CLOSE_TIMEOUT_SECONDS, TimeUnit.SECONDS) == false) {
                System.err.println("LAUNCHER WARNING: node did not close within " + CLOSE_TIMEOUT_SECONDS + "s");
            }
        } catch (Exception e) {
            System.err.println("LAUNCHER WARNING: closing the node failed: " + oneLine(e));
        }
    }

    /** The messages of an exception and its causes on one line, e.g. "Failed to bind to [9200]: Address already in use". */
    static String oneLine(Throwable e) {
        StringBuilder line = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
            if (line.indexOf(message) < 0) {
                line.append(line.length() == 0 ? "" : ": ").append(message);
            }
        }
        return line.toString().replaceAll("\\s+", " ");
    }
}
