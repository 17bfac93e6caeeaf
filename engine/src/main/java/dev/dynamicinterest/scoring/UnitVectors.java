package dev.dynamicinterest.scoring;

import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.DocIdSetIterator;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Whether every vector of a segment's float vector field has length 1, so that cosines need no per-document norm.
 * Elasticsearch indexes {@code similarity: cosine} float fields with Lucene's DOT_PRODUCT and normalises their vectors
 * first, but only those whose squared length is more than 1e-3 off 1 (the rest are stored as given, as are
 * {@code dot_product} fields, which it only checks to that tolerance). Taking such vectors as unit could move a
 * cosine by 5e-4, so each segment is checked once, by reading all its vectors, and the answer kept until it closes.
 */
final class UnitVectors {
    /**
     * Squared lengths within this of 1 count as 1. Normalised 384-float vectors sent as JSON with 6 decimals (as the
     * bench does) are up to ~3e-6 off; full floats ~1e-7. Taking the norm as 1 then moves a cosine by at most half of
     * this, 5e-6 relative: about the worst-case rounding of a 384-term dot product summed in floats.
     */
    static final double TOLERANCE = 1e-5;

    private static final Map<IndexReader.CacheKey, Map<String, Boolean>> SEGMENTS = new ConcurrentHashMap<>();

    private UnitVectors() {}

    static boolean check(LeafReader reader, FieldInfo field) throws IOException {
        if (field.getVectorSimilarityFunction() != VectorSimilarityFunction.DOT_PRODUCT) {
            return false; // not normalised by Elasticsearch: a cosine, L2 or max-inner-product field
        }
        IndexReader.CacheHelper core = reader.getCoreCacheHelper();
        if (core == null) {
            return false; // nothing to key a cached answer on, and a scan per query would cost more than the norms
        }
        Map<String, Boolean> fields = SEGMENTS.computeIfAbsent(core.getKey(), key -> {
            core.addClosedListener(SEGMENTS::remove);
            return new ConcurrentHashMap<>();
        });
        Boolean unit = fields.get(field.name);
        if (unit == null) {
            unit = allUnit(reader.getFloatVectorValues(field.name));
            fields.put(field.name, unit);
        }
        return unit;
    }

    /** Reads every vector once; deleted documents count too, which only errs towards computing norms. */
    static boolean allUnit(FloatVectorValues values) throws IOException {
        if (values == null) {
            return true;
        }
        for (int doc = values.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = values.nextDoc()) {
            float[] v = values.vectorValue();
            if (Math.abs(VectorMath.dot(v, v) - 1) > TOLERANCE) {
                return false;
            }
        }
        return true;
    }
}
