package dev.dynamicinterest.scoring;

import org.elasticsearch.script.DocReader;
import org.elasticsearch.script.LeafReaderContextSupplier;
import org.elasticsearch.script.ScoreScript;
import org.elasticsearch.search.lookup.SearchLookup;

import java.io.IOException;
import java.util.Map;

/** One blend query on one shard: the validated params and fields, shared by the scripts of every segment. */
final class BlendLeafFactory implements ScoreScript.LeafFactory {
    private final Map<String, Object> params;
    private final SearchLookup lookup;
    private final BlendScorer scorer;
    private final FeatureFields fields;

    BlendLeafFactory(Map<String, Object> params, SearchLookup lookup, BlendScorer scorer, FeatureFields fields) {
        this.params = params;
        this.lookup = lookup;
        this.scorer = scorer;
        this.fields = fields;
    }

    @Override
    public boolean needs_score() {
        return scorer.needsScore();
    }

    @Override
    public boolean needs_termStats() {
        return false;
    }

    @Override
    public ScoreScript newInstance(DocReader docReader) throws IOException {
        LeafFeatureReader reader = fields.open(((LeafReaderContextSupplier) docReader).getLeafReaderContext());
        return new BlendScoreScript(params, lookup, docReader, scorer, reader);
    }
}
