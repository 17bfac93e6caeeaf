package dev.dynamicinterest.scoring;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The validated params of the {@code blend} script; see the README for the contract.
 * Parsing fails with an IllegalArgumentException that names the offending param.
 *
 * @param weights          weight per {@link Component}, indexed by ordinal; each finite and >= 0
 * @param categoryAffinity affinity per category, already clamped to [0, 1]
 * @param clusterWeights   one weight in [0, 1] per cluster
 * @param similarityFloor  in [0, 1): the text-embedding cosine of unrelated texts, rescaled to 0
 * @param similarityScale  in (similarityFloor, 1]: the cosine rescaled to 1 (and any above it)
 * @param centre           the catalogue's mean item vector (the calibration), or null: text cosines are then taken
 *                         between the vectors minus it, so the direction every item shares counts for nothing
 * @param idField          the keyword field holding the item's id, looked up in {@code neighbourScores}
 * @param neighbourScores  score per item id, already clamped to [0, 1]
 */
public record BlendParams(
    double[] weights,
    double bm25K,
    String vectorField,
    float[] queryVector,
    float[] longTerm,
    float[] shortTerm,
    double shortTermWeight,
    float[][] clusters,
    double[] clusterWeights,
    double clusterMix,
    double similarityFloor,
    double similarityScale,
    float[] centre,
    long nowMillis,
    String freshnessField,
    double halfLifeDays,
    String categoryField,
    Map<String, Double> categoryAffinity,
    String popularityField,
    double popularityNorm,
    String collabField,
    float[] collabVector,
    String idField,
    Map<String, Double> neighbourScores
) {
    public static final double DEFAULT_BM25_K = 5.0;
    public static final double DEFAULT_HALF_LIFE_DAYS = 14.0;
    public static final double DEFAULT_POPULARITY_NORM = Math.log1p(1000);

    static final Set<String> KEYS = Set.of(
        "weights",
        "bm25_k",
        "vector_field",
        "query_vector",
        "long_term",
        "short_term",
        "short_term_weight",
        "clusters",
        "cluster_weights",
        "cluster_mix",
        "similarity_floor",
        "similarity_scale",
        "centre",
        "now_millis",
        "freshness_field",
        "half_life_days",
        "category_field",
        "category_affinity",
        "popularity_field",
        "popularity_norm",
        "collab_field",
        "collab_vector",
        "id_field",
        "neighbour_scores"
    );

    /**
     * @param raw          the script params (may be null)
     * @param defaultNow   the time freshness is measured from when {@code now_millis} is absent
     */
    public static BlendParams parse(Map<String, ?> raw, long defaultNow) {
        Params p = new Params(raw, KEYS);
        float[][] clusters = p.vectors("clusters");
        double[] clusterWeights = p.fractions("cluster_weights");
        if (clusterWeights == null) {
            clusterWeights = new double[clusters.length];
            Arrays.fill(clusterWeights, 1.0);
        } else if (clusterWeights.length != clusters.length) {
            throw new IllegalArgumentException(
                "cluster_weights has " + clusterWeights.length + " values but clusters has " + clusters.length + " vectors"
            );
        }
        BlendParams params = new BlendParams(
            weights(p.numberMap("weights")),
            p.positive("bm25_k", DEFAULT_BM25_K),
            p.string("vector_field", "embedding"),
            p.vector("query_vector"),
            p.vector("long_term"),
            p.vector("short_term"),
            p.fraction("short_term_weight", 0.5),
            clusters,
            clusterWeights,
            p.fraction("cluster_mix", 0.5),
            similarityFloor(p),
            similarityScale(p),
            p.vector("centre"),
            p.longNumber("now_millis", defaultNow),
            p.string("freshness_field", "created_at"),
            p.positive("half_life_days", DEFAULT_HALF_LIFE_DAYS),
            p.string("category_field", "category"),
            clamped01(p.numberMap("category_affinity")),
            p.string("popularity_field", "popularity"),
            p.positive("popularity_norm", DEFAULT_POPULARITY_NORM),
            p.string("collab_field", "collab"),
            p.vector("collab_vector"),
            p.string("id_field", "id"),
            clamped01(p.numberMap("neighbour_scores"))
        );
        params.itemVectorParam(); // all vectors compared with the item vector must agree on a length
        return params;
    }

    public double weight(Component component) {
        return weights[component.ordinal()];
    }

    /**
     * The first of the params compared with {@code vector_field} (query_vector, long_term, short_term, clusters),
     * or null when none is given. Fails when they disagree on their length.
     */
    public VectorParam itemVectorParam() {
        VectorParam first = null;
        first = agree(first, "query_vector", queryVector);
        first = agree(first, "long_term", longTerm);
        first = agree(first, "short_term", shortTerm);
        for (int i = 0; i < clusters.length; i++) {
            first = agree(first, "clusters[" + i + "]", clusters[i]);
        }
        return agree(first, "centre", centre);
    }

    /** The {@code collab_vector} param, or null when it is not given. */
    public VectorParam collabVectorParam() {
        return collabVector == null ? null : new VectorParam("collab_vector", collabVector.length);
    }

    private static VectorParam agree(VectorParam first, String name, float[] vector) {
        if (vector == null) {
            return first;
        }
        if (first == null) {
            return new VectorParam(name, vector.length);
        }
        if (first.length() != vector.length) {
            throw new IllegalArgumentException(name + " has " + vector.length + " values but " + first.name() + " has " + first.length());
        }
        return first;
    }

    private static double similarityFloor(Params p) {
        double floor = p.number("similarity_floor", 0);
        if (floor < 0 || floor >= 1) {
            throw new IllegalArgumentException("similarity_floor must be in [0, 1) but was [" + floor + "]");
        }
        return floor;
    }

    private static double similarityScale(Params p) {
        double floor = similarityFloor(p);
        double scale = p.number("similarity_scale", 1);
        if (scale <= floor || scale > 1) {
            throw new IllegalArgumentException(
                "similarity_scale must be in (similarity_floor, 1] = (" + floor + ", 1] but was [" + scale + "]"
            );
        }
        return scale;
    }

    private static double[] weights(Map<String, Double> given) {
        double[] weights = new double[Component.values().length];
        for (Map.Entry<String, Double> entry : given.entrySet()) {
            Component component = Component.fromKey(entry.getKey());
            if (component == null) {
                throw new IllegalArgumentException("unknown weight [" + entry.getKey() + "]; valid weights: " + validWeights());
            }
            if (entry.getValue() < 0) {
                throw new IllegalArgumentException("weights." + entry.getKey() + " must be >= 0 but was [" + entry.getValue() + "]");
            }
            weights[component.ordinal()] = entry.getValue();
        }
        return weights;
    }

    private static String validWeights() {
        StringBuilder names = new StringBuilder("[");
        for (Component c : Component.values()) {
            names.append(names.length() > 1 ? ", " : "").append(c.key());
        }
        return names.append(']').toString();
    }

    /** Each value clamped to [0, 1], the range of every component. */
    private static Map<String, Double> clamped01(Map<String, Double> given) {
        Map<String, Double> clamped = new HashMap<>();
        given.forEach((term, value) -> clamped.put(term, Math.min(1.0, Math.max(0.0, value))));
        return Map.copyOf(clamped);
    }
}
