package dev.dynamicinterest.scoring;

import org.elasticsearch.script.ScoreScript;
import org.elasticsearch.search.lookup.SearchLookup;

import java.util.Map;

/**
 * The compiled {@code blend} script. Params are parsed and checked against the mapping here, when each shard
 * builds the query, so that bad params fail the whole search with HTTP 400.
 */
final class BlendScriptFactory implements ScoreScript.Factory {

    @Override
    public ScoreScript.LeafFactory newFactory(Map<String, Object> params, SearchLookup lookup) {
        BlendScorer scorer = new BlendScorer(BlendParams.parse(params, System.currentTimeMillis()));
        return new BlendLeafFactory(params, lookup, scorer, FeatureFields.resolve(scorer, lookup));
    }
}
