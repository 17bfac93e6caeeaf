package dev.dynamicinterest.scoring;

import org.apache.lucene.util.SetOnce;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Setting;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.ScriptPlugin;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.script.ScriptContext;
import org.elasticsearch.script.ScriptEngine;

import java.util.Collection;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

/** The dynamic-interest plugin: the {@code interest} script engine and, where asked for, the {@code GET /} endpoint. */
public class InterestScoringPlugin extends Plugin implements ScriptPlugin, ActionPlugin {
    /**
     * Serve {@code GET /} and {@code HEAD /}. Off by default: a full distribution serves them from its rest-root
     * module, and a second handler for the same route stops the node from starting. The embedded launcher turns it on.
     */
    public static final Setting<Boolean> ROOT_ENDPOINT = Setting.boolSetting(
        "interest_scoring.root_endpoint.enabled",
        false,
        Setting.Property.NodeScope
    );

    private final SetOnce<ClusterService> clusterService = new SetOnce<>();

    @Override
    public List<Setting<?>> getSettings() {
        return List.of(ROOT_ENDPOINT);
    }

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService.set(services.clusterService());
        return List.of();
    }

    @Override
    public ScriptEngine getScriptEngine(Settings settings, Collection<ScriptContext<?>> contexts) {
        return new InterestScriptEngine();
    }

    @Override
    public Collection<RestHandler> getRestHandlers(
        Settings settings,
        NamedWriteableRegistry namedWriteableRegistry,
        RestController restController,
        ClusterSettings clusterSettings,
        IndexScopedSettings indexScopedSettings,
        SettingsFilter settingsFilter,
        IndexNameExpressionResolver indexNameExpressionResolver,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return ROOT_ENDPOINT.get(settings) ? List.of(new RootInfoHandler(settings, clusterService::get)) : List.of();
    }
}
