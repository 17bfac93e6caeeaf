package dev.dynamicinterest.scoring;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlendScorerTest {
    private static final long DAY = 86_400_000L;
    private static final long NOW = 1_700_000_000_000L;
    private static final double EPS = 1e-6;

    private final DocFeatures doc = new DocFeatures();
    private final Breakdown out = new Breakdown();

    /** A scorer with one weight of 1 and the given params. */
    private static BlendScorer only(Component component, Object... keysAndValues) {
        Map<String, Object> raw = new HashMap<>();
        raw.put("weights", Map.of(component.key(), 1));
        raw.put("now_millis", NOW);
        for (int i = 0; i < keysAndValues.length; i += 2) {
            raw.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return new BlendScorer(BlendParams.parse(raw, 0));
    }

    private double score(BlendScorer scorer) {
        return scorer.score(doc, out);
    }

    @Test
    void bm25SaturatesTheSubQueryScore() {
        BlendScorer scorer = only(Component.BM25, "bm25_k", 2);
        assertTrue(scorer.needsScore());
        doc.subQueryScore = 6;
        assertEquals(0.75, score(scorer), EPS);
        doc.subQueryScore = -3;
        assertEquals(0, score(scorer));
        doc.subQueryScore = Double.NaN;
        assertEquals(0, score(scorer));
        doc.subQueryScore = Double.POSITIVE_INFINITY;
        assertEquals(1, score(scorer));
    }

    @Test
    void unitDocumentVectorsGiveTheSameCosinesWithoutTheirNorm() {
        BlendScorer scorer = only(Component.QUERY, "query_vector", List.of(3, 4));
        doc.itemVector = new float[] { 0.8f, 0.6f };
        double withNorm = score(scorer);
        doc.unitItemVector = true;
        assertEquals(withNorm, score(scorer), 1e-7);
        assertEquals(0.96, score(scorer), EPS);
        doc.itemVector = new float[] { 8, 6 }; // the flag is trusted: the reader vouches for every vector
        assertEquals(1, score(scorer));
    }

    @Test
    void scoresAreOnlyNeededForBm25() {
        assertFalse(only(Component.QUERY, "query_vector", List.of(1, 0)).needsScore());
        assertFalse(new BlendScorer(BlendParams.parse(Map.of("weights", Map.of("bm25", 0)), 0)).needsScore());
    }

    @Test
    void queryIsThePositiveCosine() {
        BlendScorer scorer = only(Component.QUERY, "query_vector", List.of(3, 4));
        assertTrue(scorer.needsItemVector());
        doc.itemVector = new float[] { 4, 3 };
        assertEquals(24.0 / 25.0, score(scorer), EPS);
        doc.itemVector = new float[] { -4, -3 };
        assertEquals(0, score(scorer));
        doc.itemVector = new float[] { 0, 0 };
        assertEquals(0, score(scorer));
        doc.itemVector = null;
        assertEquals(0, score(scorer));
    }

    @Test
    void zeroQueryVectorScoresZero() {
        doc.itemVector = new float[] { 1, 1 };
        assertEquals(0, score(only(Component.QUERY, "query_vector", List.of(0, 0))));
    }

    @Test
    void userVectorMixesNormalisedLongAndShortTerm() {
        doc.itemVector = new float[] { 1, 0 };
        // long_term (10, 0) and short_term (0, 1) count equally once normalised: u points at (1, 1)
        BlendScorer half = only(Component.INTEREST, "long_term", List.of(10, 0), "short_term", List.of(0, 1));
        assertEquals(Math.sqrt(0.5), score(half), EPS);
        BlendScorer longOnly = only(Component.INTEREST, "long_term", List.of(10, 0), "short_term", List.of(0, 1), "short_term_weight", 0);
        assertEquals(1, score(longOnly), EPS);
        BlendScorer shortOnly = only(Component.INTEREST, "long_term", List.of(10, 0), "short_term", List.of(0, 1), "short_term_weight", 1);
        assertEquals(0, score(shortOnly), EPS);
        // an absent vector adds nothing: short_term alone counts by its weight's sign only
        assertEquals(1, score(only(Component.INTEREST, "short_term", List.of(2, 0), "short_term_weight", 0.3)), EPS);
        assertEquals(0, score(only(Component.INTEREST, "short_term", List.of(2, 0), "short_term_weight", 0)), EPS);
        assertEquals(-1, out.bestCluster());
    }

    @Test
    void similarityFloorRescalesTextCosines() {
        doc.itemVector = new float[] { 1, 0 };
        // cos = 0.8 with floor 0.6 -> (0.8 - 0.6) / 0.4 = 0.5
        assertEquals(0.5, score(only(Component.QUERY, "query_vector", List.of(0.8, 0.6), "similarity_floor", 0.6)), EPS);
        assertEquals(0, score(only(Component.QUERY, "query_vector", List.of(0.6, 0.8), "similarity_floor", 0.7)), EPS);
        assertEquals(0.5, score(only(Component.INTEREST, "long_term", List.of(0.8, 0.6), "similarity_floor", 0.6)), EPS);
        BlendScorer clusters = only(Component.INTEREST, "clusters", List.of(List.of(0.8, 0.6)), "similarity_floor", 0.6);
        assertEquals(0.5, score(clusters), EPS);
        assertEquals(0, out.bestCluster());
        // the collaborative cosine is not a text similarity
        doc.collabVector = new float[] { 1, 0 };
        assertEquals(0.8, score(only(Component.COLLABORATIVE, "collab_vector", List.of(0.8, 0.6), "similarity_floor", 0.6)), EPS);
    }

    @Test
    void clusterScoreIsTheBestWeightedPositiveCosine() {
        doc.itemVector = new float[] { 1, 0 };
        BlendScorer scorer = only(
            Component.INTEREST,
            "clusters", List.of(List.of(1, 0), List.of(1, 1), List.of(-1, 0)),
            "cluster_weights", List.of(0.5, 1, 1)
        );
        assertEquals(Math.sqrt(0.5), score(scorer), EPS); // 0.707 * 1 beats 1 * 0.5
        assertEquals(1, out.bestCluster());
        doc.itemVector = new float[] { -1, 0 };
        assertEquals(1, score(scorer), EPS);
        assertEquals(2, out.bestCluster());
        doc.itemVector = new float[] { 0, -1 };
        assertEquals(0, score(scorer), EPS);
        assertEquals(-1, out.bestCluster());
    }

    @Test
    void interestMixesUserAndClusters() {
        doc.itemVector = new float[] { 1, 0 };
        BlendScorer scorer = only(
            Component.INTEREST,
            "long_term", List.of(0, 1),
            "clusters", List.of(List.of(1, 0)),
            "cluster_mix", 0.25
        );
        assertEquals(0.75 * 0 + 0.25 * 1, score(scorer), EPS);
        assertEquals(0, out.bestCluster());
    }

    @Test
    void interestIsZeroWithoutUserOrClustersOrItem() {
        doc.itemVector = new float[] { 1, 0 };
        BlendScorer none = only(Component.INTEREST);
        assertFalse(none.needsItemVector());
        assertEquals(0, score(none));
        doc.itemVector = null;
        assertEquals(0, score(only(Component.INTEREST, "long_term", List.of(1, 0), "clusters", List.of(List.of(1, 0)))));
        assertEquals(-1, out.bestCluster());
    }

    @Test
    void freshnessHalvesEveryHalfLife() {
        BlendScorer scorer = only(Component.FRESHNESS, "half_life_days", 7);
        doc.hasCreatedAt = true;
        doc.createdAtMillis = NOW - 7 * DAY;
        assertEquals(0.5, score(scorer), EPS);
        doc.createdAtMillis = NOW - 21 * DAY;
        assertEquals(0.125, score(scorer), EPS);
        doc.createdAtMillis = NOW;
        assertEquals(1, score(scorer));
        doc.createdAtMillis = NOW + 3 * DAY;
        assertEquals(1, score(scorer));
        doc.hasCreatedAt = false;
        assertEquals(0, score(scorer));
    }

    @Test
    void categoryIsTheClampedAffinity() {
        BlendScorer scorer = only(Component.CATEGORY, "category_affinity", Map.of("news", 0.4));
        assertTrue(scorer.needsCategory());
        doc.categoryAffinity = 0.4;
        assertEquals(0.4, score(scorer), EPS);
        doc.categoryAffinity = 0;
        assertEquals(0, score(scorer));
        assertFalse(only(Component.CATEGORY).needsCategory());
    }

    @Test
    void neighboursIsTheClampedScoreOfTheItemsId() {
        BlendScorer scorer = only(Component.NEIGHBOURS, "neighbour_scores", Map.of("i1", 0.6));
        assertTrue(scorer.needsNeighbours());
        doc.neighbourScore = 0.6;
        assertEquals(0.6, score(scorer), EPS);
        assertEquals(0.6, out.contribution(Component.NEIGHBOURS), EPS);
        doc.neighbourScore = 1.5; // the reader gives clamped values; the scorer holds the range anyway
        assertEquals(1, score(scorer));
        doc.neighbourScore = 0;
        assertEquals(0, score(scorer));
    }

    @Test
    void neighboursAreOnlyReadWhenWeightedAndGiven() {
        assertFalse(only(Component.NEIGHBOURS).needsNeighbours());
        assertFalse(only(Component.NEIGHBOURS, "neighbour_scores", Map.of()).needsNeighbours());
        BlendScorer unweighted = only(Component.BM25, "neighbour_scores", Map.of("i1", 0.6));
        assertFalse(unweighted.needsNeighbours());
        doc.neighbourScore = 0.6;
        score(unweighted);
        assertEquals(0, out.contribution(Component.NEIGHBOURS));
    }

    @Test
    void popularityIsLogScaledAndCapped() {
        BlendScorer scorer = only(Component.POPULARITY);
        doc.popularity = 1000;
        assertEquals(1, score(scorer), EPS);
        doc.popularity = Math.sqrt(1001) - 1;
        assertEquals(0.5, score(scorer), EPS);
        doc.popularity = 1e12;
        assertEquals(1, score(scorer));
        doc.popularity = -5;
        assertEquals(0, score(scorer));
        doc.popularity = Double.NaN;
        assertEquals(0, score(scorer));
        BlendScorer custom = only(Component.POPULARITY, "popularity_norm", Math.log(11));
        doc.popularity = 10;
        assertEquals(1, score(custom), EPS);
    }

    @Test
    void collaborativeIsThePositiveCosineOfCollabVectors() {
        BlendScorer scorer = only(Component.COLLABORATIVE, "collab_vector", List.of(1, 0, 0));
        assertTrue(scorer.needsCollabVector());
        doc.collabVector = new float[] { 1, 1, 0 };
        assertEquals(Math.sqrt(0.5), score(scorer), EPS);
        doc.collabVector = null;
        assertEquals(0, score(scorer));
        assertFalse(only(Component.COLLABORATIVE).needsCollabVector());
    }

    @Test
    void scoreIsTheSumOfWeightedContributions() {
        Map<String, Object> raw = new HashMap<>();
        raw.put("weights", Map.of("bm25", 2, "query", 3, "freshness", 0.5, "popularity", 1));
        raw.put("query_vector", List.of(1, 0));
        raw.put("now_millis", NOW);
        raw.put("half_life_days", 1);
        BlendScorer scorer = new BlendScorer(BlendParams.parse(raw, 0));
        doc.subQueryScore = 5;
        doc.itemVector = new float[] { 1, 0 };
        doc.hasCreatedAt = true;
        doc.createdAtMillis = NOW - DAY;
        doc.popularity = 0;
        double score = score(scorer);
        assertEquals(2 * 0.5, out.contribution(Component.BM25), EPS);
        assertEquals(3 * 1.0, out.contribution(Component.QUERY), EPS);
        assertEquals(0.5 * 0.5, out.contribution(Component.FRESHNESS), EPS);
        assertEquals(0, out.contribution(Component.POPULARITY));
        assertEquals(1 + 3 + 0.25, score, EPS);
        assertEquals(out.total(), score);
    }

    @Test
    void unweightedComponentsContributeNothing() {
        BlendScorer scorer = new BlendScorer(BlendParams.parse(Map.of("query_vector", List.of(1, 0)), NOW));
        assertFalse(scorer.needsItemVector());
        doc.itemVector = new float[] { 1, 0 };
        doc.subQueryScore = 10;
        assertEquals(0, score(scorer));
    }
}
