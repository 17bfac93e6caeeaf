package dev.dynamicinterest.scoring;

import org.elasticsearch.script.DocReader;
import org.elasticsearch.script.ScoreScript;
import org.elasticsearch.search.lookup.SearchLookup;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;

/** Scores the documents of one segment: reads their values and hands them to {@link BlendScorer}. */
final class BlendScoreScript extends ScoreScript {
    private final BlendScorer scorer;
    private final boolean needsScore;
    private final LeafFeatureReader reader;
    private final DocFeatures features = new DocFeatures();
    private final Breakdown breakdown = new Breakdown();

    BlendScoreScript(
        Map<String, Object> params,
        SearchLookup lookup,
        DocReader docReader,
        BlendScorer scorer,
        LeafFeatureReader reader
    ) {
        super(params, lookup, docReader);
        this.scorer = scorer;
        this.needsScore = scorer.needsScore();
        this.reader = reader;
        reader.prepare(features);
    }

    @Override
    public double execute(ExplanationHolder explanation) {
        features.subQueryScore = needsScore ? get_score() : 0;
        try {
            reader.read(_getDocId(), features);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        double score = scorer.score(features, breakdown);
        if (explanation != null) {
            explanation.set(breakdown.toJson());
        }
        return score;
    }
}
