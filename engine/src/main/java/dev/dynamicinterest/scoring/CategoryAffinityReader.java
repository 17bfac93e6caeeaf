package dev.dynamicinterest.scoring;

import org.apache.lucene.index.SortedSetDocValues;
import org.apache.lucene.util.BytesRef;

import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * The best affinity among a document's categories. Affinities are looked up by term ordinal, once per segment,
 * so reading a document compares longs instead of building strings.
 */
final class CategoryAffinityReader {
    private final SortedSetDocValues values;
    /** Ordinals of the categories with an affinity in this segment, ascending. */
    private final long[] ordinals;
    /** Affinity of {@code ordinals[i]}. */
    private final double[] affinities;

    private CategoryAffinityReader(SortedSetDocValues values, long[] ordinals, double[] affinities) {
        this.values = values;
        this.ordinals = ordinals;
        this.affinities = affinities;
    }

    /** @param affinity affinity per category, clamped to [0, 1] */
    static CategoryAffinityReader open(SortedSetDocValues values, Map<String, Double> affinity) throws IOException {
        TreeMap<Long, Double> byOrdinal = new TreeMap<>();
        for (Map.Entry<String, Double> entry : affinity.entrySet()) {
            long ordinal = values.lookupTerm(new BytesRef(entry.getKey()));
            if (ordinal >= 0) {
                byOrdinal.put(ordinal, entry.getValue());
            }
        }
        return new CategoryAffinityReader(
            values,
            byOrdinal.keySet().stream().mapToLong(Long::longValue).toArray(),
            byOrdinal.values().stream().mapToDouble(Double::doubleValue).toArray()
        );
    }

    /** The highest affinity of the document's categories; 0 when it has none with an affinity. */
    double read(int doc) throws IOException {
        if (ordinals.length == 0 || values.advanceExact(doc) == false) {
            return 0;
        }
        double best = 0;
        for (int i = 0, n = values.docValueCount(); i < n; i++) {
            int at = Arrays.binarySearch(ordinals, values.nextOrd());
            if (at >= 0 && affinities[at] > best) {
                best = affinities[at];
            }
        }
        return best;
    }
}
