package dev.dynamicinterest.scoring;

import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.ClusterName;
import org.elasticsearch.cluster.metadata.Metadata;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.IndexVersion;
import org.elasticsearch.node.Node;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

import java.io.IOException;
import java.util.List;
import java.util.function.Supplier;

/**
 * {@code GET /} and {@code HEAD /}: the node's name, cluster and version, as clients expect from any node.
 * The stock handler lives in a module the embedded node lacks; without it {@code Elasticsearch.info()} fails.
 */
final class RootInfoHandler extends BaseRestHandler {
    private final String nodeName;
    private final String clusterName;
    /** Null until the node has created its components. */
    private final Supplier<ClusterService> clusterService;

    RootInfoHandler(Settings settings, Supplier<ClusterService> clusterService) {
        this.nodeName = Node.NODE_NAME_SETTING.get(settings);
        this.clusterName = ClusterName.CLUSTER_NAME_SETTING.get(settings).value();
        this.clusterService = clusterService;
    }

    @Override
    public String getName() {
        return "interest_root_info_action";
    }

    @Override
    public List<Route> routes() {
        return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
        return channel -> {
            XContentBuilder builder = channel.newBuilder();
            if (request.hasParam("pretty") == false) {
                builder.prettyPrint().lfAtEnd();
            }
            channel.sendResponse(new RestResponse(RestStatus.OK, body(builder)));
        };
    }

    private XContentBuilder body(XContentBuilder builder) throws IOException {
        Build build = Build.current();
        ClusterService cluster = clusterService.get();
        builder.startObject()
            .field("name", nodeName)
            .field("cluster_name", clusterName)
            .field("cluster_uuid", cluster == null ? Metadata.UNKNOWN_CLUSTER_UUID : cluster.state().metadata().clusterUUID());
        builder.startObject("version")
            .field("number", build.version())
            .field("build_flavor", "default")
            .field("build_type", build.type().displayName())
            .field("build_hash", build.hash())
            .field("build_date", build.date())
            .field("build_snapshot", build.isSnapshot())
            .field("lucene_version", IndexVersion.current().luceneVersion().toString())
            .field("minimum_wire_compatibility_version", build.minWireCompatVersion())
            .field("minimum_index_compatibility_version", build.minIndexCompatVersion())
            .endObject();
        return builder.field("tagline", "You Know, for Search").endObject();
    }
}
