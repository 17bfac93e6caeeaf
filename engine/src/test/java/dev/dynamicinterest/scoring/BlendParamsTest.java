package dev.dynamicinterest.scoring;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlendParamsTest {
    private static final long NOW = 1_700_000_000_000L;

    private static BlendParams parse(Object... keysAndValues) {
        Map<String, Object> raw = new HashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            raw.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return BlendParams.parse(raw, NOW);
    }

    private static String failure(Object... keysAndValues) {
        return assertThrows(IllegalArgumentException.class, () -> parse(keysAndValues)).getMessage();
    }

    @Test
    void defaultsWhenEmpty() {
        for (BlendParams p : List.of(parse(), BlendParams.parse(null, NOW))) {
            for (Component c : Component.values()) {
                assertEquals(0.0, p.weight(c));
            }
            assertEquals(5.0, p.bm25K());
            assertEquals("embedding", p.vectorField());
            assertEquals("created_at", p.freshnessField());
            assertEquals("category", p.categoryField());
            assertEquals("popularity", p.popularityField());
            assertEquals("collab", p.collabField());
            assertEquals("id", p.idField());
            assertEquals(0.5, p.shortTermWeight());
            assertEquals(0.5, p.clusterMix());
            assertEquals(0.0, p.similarityFloor());
            assertEquals(14.0, p.halfLifeDays());
            assertEquals(Math.log(1001), p.popularityNorm(), 1e-12);
            assertEquals(NOW, p.nowMillis());
            assertEquals(0, p.clusters().length);
            assertTrue(p.categoryAffinity().isEmpty());
            assertTrue(p.neighbourScores().isEmpty());
            assertNull(p.itemVectorParam());
            assertNull(p.collabVectorParam());
        }
    }

    @Test
    void nullValuesCountAsAbsent() {
        BlendParams p = parse("query_vector", null, "weights", null, "bm25_k", null);
        assertNull(p.queryVector());
        assertEquals(5.0, p.bm25K());
    }

    @Test
    void readsWeightsAndMissingWeightsAreZero() {
        BlendParams p = parse("weights", Map.of("bm25", 1, "interest", 0.5));
        assertEquals(1.0, p.weight(Component.BM25));
        assertEquals(0.5, p.weight(Component.INTEREST));
        assertEquals(0.0, p.weight(Component.COLLABORATIVE));
    }

    @Test
    void rejectsBadWeights() {
        assertTrue(failure("weights", Map.of("recency", 1)).contains("unknown weight [recency]"));
        assertTrue(failure("weights", Map.of("recency", 1)).contains("collaborative, neighbours]"));
        assertTrue(failure("weights", Map.of("bm25", -0.1)).contains("weights.bm25 must be >= 0"));
        assertTrue(failure("weights", Map.of("query", Double.NaN)).contains("weights.query must be a finite number"));
        assertTrue(failure("weights", Map.of("query", Double.POSITIVE_INFINITY)).contains("weights.query"));
        assertTrue(failure("weights", Map.of("query", "1")).contains("weights.query"));
        assertTrue(failure("weights", List.of(1)).contains("weights must be an object"));
    }

    @Test
    void rejectsUnknownParams() {
        String message = failure("bm25k", 3);
        assertTrue(message.contains("unknown param [bm25k]"), message);
        assertTrue(message.contains("bm25_k"), message);
    }

    @Test
    void rejectsOutOfRangeNumbers() {
        assertTrue(failure("bm25_k", 0).contains("bm25_k must be > 0"));
        assertTrue(failure("half_life_days", -1).contains("half_life_days must be > 0"));
        assertTrue(failure("popularity_norm", 0.0).contains("popularity_norm must be > 0"));
        assertTrue(failure("short_term_weight", 1.5).contains("short_term_weight must be in [0, 1]"));
        assertTrue(failure("cluster_mix", -0.1).contains("cluster_mix must be in [0, 1]"));
        assertTrue(failure("similarity_floor", 1).contains("similarity_floor must be in [0, 1)"));
        assertTrue(failure("similarity_floor", -0.5).contains("similarity_floor must be in [0, 1)"));
        assertEquals(0.75, parse("similarity_floor", 0.75).similarityFloor());
        assertTrue(failure("bm25_k", Double.NaN).contains("bm25_k must be a finite number"));
        assertTrue(failure("bm25_k", true).contains("bm25_k"));
    }

    @Test
    void readsTheCalibration() {
        BlendParams p = parse("centre", List.of(0.1, 0.2), "query_vector", List.of(1, 0), "similarity_scale", 0.6);
        assertArrayEquals(new float[] { 0.1f, 0.2f }, p.centre());
        assertEquals(0.6, p.similarityScale());
        assertEquals(1.0, parse().similarityScale());
        assertTrue(failure("similarity_scale", 0.0).contains("similarity_scale must be in (similarity_floor, 1]"));
        assertTrue(failure("similarity_scale", 1.5).contains("similarity_scale must be in (similarity_floor, 1]"));
        assertTrue(failure("similarity_floor", 0.5, "similarity_scale", 0.4).contains("(0.5, 1]"));
        assertTrue(failure("centre", List.of(0.1, 0.2, 0.3), "query_vector", List.of(1, 0)).contains("centre has 3 values"));
    }

    @Test
    void readsVectors() {
        BlendParams p = parse("query_vector", List.of(1, 2.5, -3), "collab_vector", List.of(0.5f, 1L));
        assertArrayEquals(new float[] { 1f, 2.5f, -3f }, p.queryVector());
        assertEquals(new VectorParam("query_vector", 3), p.itemVectorParam());
        assertEquals(new VectorParam("collab_vector", 2), p.collabVectorParam());
    }

    @Test
    void rejectsBadVectors() {
        assertTrue(failure("query_vector", List.of(1.0, Double.NaN)).contains("query_vector[1] must be a finite number"));
        assertTrue(failure("long_term", List.of(Double.NEGATIVE_INFINITY)).contains("long_term[0]"));
        assertTrue(failure("collab_vector", List.of(1e300)).contains("collab_vector[0] is out of float range"));
        assertTrue(failure("short_term", List.of()).contains("short_term must not be empty"));
        assertTrue(failure("query_vector", "1,2").contains("query_vector must be a list of numbers"));
        assertTrue(failure("query_vector", List.of("a")).contains("query_vector[0]"));
        assertTrue(failure("clusters", List.of(List.of(1.0), List.of(Double.NaN))).contains("clusters[1][0]"));
        assertTrue(failure("clusters", List.of(1.0)).contains("clusters[0] must be a list of numbers"));
    }

    @Test
    void vectorsComparedWithTheItemMustAgreeOnLength() {
        String message = failure("query_vector", List.of(1, 2, 3), "long_term", List.of(1, 2));
        assertEquals("long_term has 2 values but query_vector has 3", message);
        message = failure("short_term", List.of(1, 2), "clusters", List.of(List.of(1, 2), List.of(1, 2, 3)));
        assertEquals("clusters[1] has 3 values but short_term has 2", message);
        // collab_vector lives in another space and may differ
        assertEquals(1, parse("query_vector", List.of(1, 2, 3), "collab_vector", List.of(1)).collabVector().length);
    }

    @Test
    void clusterWeightsDefaultToOneAndMustMatchClusters() {
        BlendParams p = parse("clusters", List.of(List.of(1, 0), List.of(0, 1)));
        assertArrayEquals(new double[] { 1, 1 }, p.clusterWeights());
        p = parse("clusters", List.of(List.of(1, 0)), "cluster_weights", List.of(0.25));
        assertArrayEquals(new double[] { 0.25 }, p.clusterWeights());
        assertEquals(
            "cluster_weights has 1 values but clusters has 2 vectors",
            failure("clusters", List.of(List.of(1, 0), List.of(0, 1)), "cluster_weights", List.of(1))
        );
        assertTrue(failure("clusters", List.of(List.of(1, 0)), "cluster_weights", List.of(2)).contains("cluster_weights[0] must be in [0, 1]"));
        assertTrue(failure("cluster_weights", List.of(1)).contains("clusters has 0 vectors"));
    }

    @Test
    void categoryAffinitiesAreClampedAndMustBeFinite() {
        BlendParams p = parse("category_affinity", Map.of("news", 2, "sport", -1, "tech", 0.25));
        assertEquals(Map.of("news", 1.0, "sport", 0.0, "tech", 0.25), p.categoryAffinity());
        assertTrue(failure("category_affinity", Map.of("news", Double.NaN)).contains("category_affinity.news"));
    }

    @Test
    void neighbourScoresAreClampedAndMustBeFiniteNumbersInAnObject() {
        BlendParams p = parse("neighbour_scores", Map.of("i1", 0.5, "i2", 3, "i3", -0.25), "weights", Map.of("neighbours", 1));
        assertEquals(Map.of("i1", 0.5, "i2", 1.0, "i3", 0.0), p.neighbourScores());
        assertEquals(1.0, p.weight(Component.NEIGHBOURS));
        assertTrue(failure("neighbour_scores", Map.of("i1", Double.NaN)).contains("neighbour_scores.i1 must be a finite number"));
        assertTrue(failure("neighbour_scores", Map.of("i1", Double.NEGATIVE_INFINITY)).contains("neighbour_scores.i1"));
        assertTrue(failure("neighbour_scores", Map.of("i1", "0.5")).contains("neighbour_scores.i1"));
        assertTrue(failure("neighbour_scores", List.of("i1")).contains("neighbour_scores must be an object"));
        assertTrue(failure("neighbour_score", Map.of()).contains("unknown param [neighbour_score]"));
        assertTrue(failure("neighbour_score", Map.of()).contains("neighbour_scores"));
    }

    @Test
    void nowMillisMustBeAWholeNumber() {
        assertEquals(123L, parse("now_millis", 123).nowMillis());
        assertEquals(1_700_000_000_123L, parse("now_millis", 1_700_000_000_123L).nowMillis());
        assertEquals(5L, parse("now_millis", 5.0).nowMillis());
        assertTrue(failure("now_millis", 5.5).contains("now_millis must be a whole number"));
    }

    @Test
    void fieldNamesMustBeNonEmptyStrings() {
        assertEquals("vec", parse("vector_field", "vec").vectorField());
        assertTrue(failure("vector_field", "").contains("vector_field must be a non-empty string"));
        assertTrue(failure("category_field", 3).contains("category_field"));
        assertEquals("item_id", parse("id_field", "item_id").idField());
        assertTrue(failure("id_field", "").contains("id_field must be a non-empty string"));
    }
}
