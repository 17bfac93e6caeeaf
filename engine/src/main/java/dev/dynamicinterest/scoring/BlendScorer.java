package dev.dynamicinterest.scoring;

import static dev.dynamicinterest.scoring.Component.BM25;
import static dev.dynamicinterest.scoring.Component.CATEGORY;
import static dev.dynamicinterest.scoring.Component.COLLABORATIVE;
import static dev.dynamicinterest.scoring.Component.FRESHNESS;
import static dev.dynamicinterest.scoring.Component.INTEREST;
import static dev.dynamicinterest.scoring.Component.NEIGHBOURS;
import static dev.dynamicinterest.scoring.Component.POPULARITY;
import static dev.dynamicinterest.scoring.Component.QUERY;

/**
 * The blend: score = sum of weight * component, every component in [0, 1].
 * Everything that depends only on the params (unit vectors, the user vector, which components count) is decided
 * once here, so {@link #score} allocates nothing and reads each document vector once.
 * A component whose weight is 0 is not computed and its document values need not be read.
 */
public final class BlendScorer {
    private static final double MILLIS_PER_DAY = 86_400_000.0;

    private final BlendParams params;
    /** Unit query vector, or null when absent. */
    private final float[] query;
    /** Unit user vector u, or null when neither long_term nor short_term is given. */
    private final float[] user;
    private final float[][] clusters;
    private final float[] collab;
    /** The calibration's centre m (null: plain cosines), |m|^2, and per text vector w: w.m and |w - m|. */
    private final float[] centre;
    private final double centreSquared;
    private final Centred queryCentred;
    private final Centred userCentred;
    private final Centred[] clustersCentred;
    // Which components count: fixed by the params, so decided here once instead of for every document.
    private final boolean scoresBm25;
    private final boolean scoresQuery;
    private final boolean scoresInterest;
    private final boolean scoresFreshness;
    private final boolean scoresCategory;
    private final boolean scoresPopularity;
    private final boolean scoresCollab;
    private final boolean scoresNeighbours;

    public BlendScorer(BlendParams params) {
        this.params = params;
        this.query = params.queryVector() == null ? null : VectorMath.unit(params.queryVector());
        this.user = userVector(params);
        this.clusters = new float[params.clusters().length][];
        for (int i = 0; i < clusters.length; i++) {
            clusters[i] = VectorMath.unit(params.clusters()[i]);
        }
        this.collab = params.collabVector() == null ? null : VectorMath.unit(params.collabVector());
        this.centre = params.centre();
        this.centreSquared = centre == null ? 0 : VectorMath.dot(centre, centre);
        this.queryCentred = centred(query);
        this.userCentred = centred(user);
        this.clustersCentred = new Centred[clusters.length];
        for (int i = 0; i < clusters.length; i++) {
            clustersCentred[i] = centred(clusters[i]);
        }
        this.scoresBm25 = weighted(BM25);
        this.scoresQuery = weighted(QUERY) && query != null;
        this.scoresInterest = weighted(INTEREST) && (user != null || clusters.length > 0);
        this.scoresFreshness = weighted(FRESHNESS);
        this.scoresCategory = weighted(CATEGORY) && params.categoryAffinity().isEmpty() == false;
        this.scoresPopularity = weighted(POPULARITY);
        this.scoresCollab = weighted(COLLABORATIVE) && collab != null;
        this.scoresNeighbours = weighted(NEIGHBOURS) && params.neighbourScores().isEmpty() == false;
    }

    /** u = (1 - a) * unit(long_term) + a * unit(short_term), an absent one adding nothing. */
    private static float[] userVector(BlendParams p) {
        if (p.longTerm() == null && p.shortTerm() == null) {
            return null;
        }
        float[] user = new float[p.longTerm() != null ? p.longTerm().length : p.shortTerm().length];
        double a = p.shortTermWeight();
        if (p.longTerm() != null) {
            user = VectorMath.weightedSum(user, 1, VectorMath.unit(p.longTerm()), 1 - a);
        }
        if (p.shortTerm() != null) {
            user = VectorMath.weightedSum(user, 1, VectorMath.unit(p.shortTerm()), a);
        }
        return VectorMath.unit(user); // only its direction matters
    }

    /** A unit vector's dot product with the centre and its length once the centre is taken away. */
    private record Centred(double dotCentre, double norm) {}

    private Centred centred(float[] unit) {
        if (centre == null || unit == null) {
            return null;
        }
        double dotCentre = VectorMath.dot(unit, centre);
        return new Centred(dotCentre, Math.sqrt(Math.max(0, VectorMath.dot(unit, unit) - 2 * dotCentre + centreSquared)));
    }

    public BlendParams params() {
        return params;
    }

    private boolean weighted(Component c) {
        return params.weight(c) > 0;
    }

    public boolean needsScore() {
        return scoresBm25;
    }

    public boolean needsItemVector() {
        return scoresQuery || scoresInterest;
    }

    public boolean needsCollabVector() {
        return scoresCollab;
    }

    public boolean needsCreatedAt() {
        return scoresFreshness;
    }

    public boolean needsCategory() {
        return scoresCategory;
    }

    public boolean needsPopularity() {
        return scoresPopularity;
    }

    /** Whether the {@code id_field} values are read, to look them up in {@code neighbour_scores}. */
    public boolean needsNeighbours() {
        return scoresNeighbours;
    }

    /** Scores one document, filling {@code out} with each weighted contribution; never negative, never NaN. */
    public double score(DocFeatures doc, Breakdown out) {
        out.setBestCluster(-1);
        out.set(BM25, scoresBm25 ? params.weight(BM25) * bm25(doc.subQueryScore) : 0);
        double itemNorm = norm(doc.itemVector, doc.unitItemVector);
        boolean text = doc.itemVector != null && itemNorm > 0 && (scoresQuery || scoresInterest);
        // The item's unit vector v: v.m and |v - m|, once per document for every text vector.
        double itemDotCentre = text && centre != null ? VectorMath.dot(doc.itemVector, centre) / itemNorm : 0;
        double itemCentredNorm = text && centre != null ? Math.sqrt(Math.max(0, 1 - 2 * itemDotCentre + centreSquared)) : 0;
        out.set(
            QUERY,
            scoresQuery
                ? params.weight(QUERY) * textSimilarity(query, queryCentred, doc.itemVector, itemNorm, itemDotCentre, itemCentredNorm)
                : 0
        );
        out.set(
            INTEREST,
            scoresInterest ? params.weight(INTEREST) * interest(doc.itemVector, itemNorm, itemDotCentre, itemCentredNorm, out) : 0
        );
        out.set(FRESHNESS, scoresFreshness && doc.hasCreatedAt ? params.weight(FRESHNESS) * freshness(doc.createdAtMillis) : 0);
        out.set(CATEGORY, scoresCategory ? params.weight(CATEGORY) * clamp01(doc.categoryAffinity) : 0);
        out.set(POPULARITY, scoresPopularity ? params.weight(POPULARITY) * popularity(doc.popularity) : 0);
        out.set(COLLABORATIVE, scoresCollab ? params.weight(COLLABORATIVE) * collaborative(doc.collabVector, doc.unitCollabVector) : 0);
        out.set(NEIGHBOURS, scoresNeighbours ? params.weight(NEIGHBOURS) * clamp01(doc.neighbourScore) : 0);
        return out.total();
    }

    /** A document vector's norm, taken as 1 without reading it when its reader vouches that it is a unit vector. */
    private static double norm(float[] v, boolean unit) {
        return v == null ? 0 : unit ? 1 : VectorMath.norm(v);
    }

    /** s / (s + k): saturates unbounded BM25 scores into [0, 1]. */
    double bm25(double subQueryScore) {
        if (subQueryScore == Double.POSITIVE_INFINITY) {
            return 1;
        }
        double s = subQueryScore > 0 ? subQueryScore : 0;
        return s / (s + params.bm25K());
    }

    /** (1 - b) * cos+(u, item) + b * best cluster; either part alone when the other is absent. */
    double interest(float[] item, double itemNorm, double itemDotCentre, double itemCentredNorm, Breakdown out) {
        if (item == null) {
            return 0;
        }
        double userPart = user == null ? 0 : textSimilarity(user, userCentred, item, itemNorm, itemDotCentre, itemCentredNorm);
        if (clusters.length == 0) {
            return userPart;
        }
        double best = 0;
        int bestIndex = -1;
        for (int c = 0; c < clusters.length; c++) {
            double match = textSimilarity(clusters[c], clustersCentred[c], item, itemNorm, itemDotCentre, itemCentredNorm)
                * params.clusterWeights()[c];
            if (match > best) {
                best = match;
                bestIndex = c;
            }
        }
        out.setBestCluster(bestIndex);
        if (user == null) {
            return best;
        }
        double b = params.clusterMix();
        return (1 - b) * userPart + b * best;
    }

    /** 2^(-age / half-life); 1 for dates in the future. */
    double freshness(long createdAtMillis) {
        double ageDays = (params.nowMillis() - createdAtMillis) / MILLIS_PER_DAY;
        return ageDays <= 0 ? 1 : Math.pow(2, -ageDays / params.halfLifeDays());
    }

    /** min(1, ln(1 + pop) / norm), negative or NaN popularity counting as 0. */
    double popularity(double popularity) {
        double pop = popularity > 0 ? popularity : 0;
        return Math.min(1, Math.log1p(pop) / params.popularityNorm());
    }

    double collaborative(float[] itemCollab, boolean unit) {
        return positiveCosine(collab, itemCollab, norm(itemCollab, unit));
    }

    /**
     * The item-vector components' similarity: the cosine (of both vectors minus the centre, when calibrated), rescaled
     * from [similarity_floor, similarity_scale] to [0, 1] and clamped there.
     */
    private double textSimilarity(
        float[] unit,
        Centred centred,
        float[] item,
        double itemNorm,
        double itemDotCentre,
        double itemCentredNorm
    ) {
        if (item == null || itemNorm <= 0) {
            return 0;
        }
        double cos = VectorMath.cosine(unit, item, itemNorm);
        if (centred != null) {
            double norms = centred.norm() * itemCentredNorm;
            cos = norms > 0 ? (cos - centred.dotCentre() - itemDotCentre + centreSquared) / norms : 0;
        }
        double floor = params.similarityFloor();
        double rescaled = (Math.min(1, cos) - floor) / (params.similarityScale() - floor);
        return rescaled > 0 ? Math.min(1, rescaled) : 0;
    }

    private static double positiveCosine(float[] unit, float[] v, double vNorm) {
        if (v == null) {
            return 0;
        }
        double cos = VectorMath.cosine(unit, v, vNorm);
        return cos > 0 ? Math.min(1, cos) : 0;
    }

    private static double clamp01(double x) {
        return x > 0 ? Math.min(1, x) : 0;
    }
}
