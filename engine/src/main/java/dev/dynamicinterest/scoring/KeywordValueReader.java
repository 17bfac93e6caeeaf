package dev.dynamicinterest.scoring;

import org.apache.lucene.index.SortedSetDocValues;
import org.apache.lucene.util.BytesRef;

import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * The highest value, in a term -> value map, among a keyword field's terms of a document: the best category
 * affinity of an item's categories, or the neighbour score of its id. The map is turned into term ordinals once
 * per segment, so reading a document compares longs instead of building strings, and allocates nothing.
 */
final class KeywordValueReader {
    private final SortedSetDocValues values;
    /** Ordinals of the mapped terms present in this segment, ascending. */
    private final long[] ordinals;
    /** The value of {@code ordinals[i]}. */
    private final double[] mapped;

    private KeywordValueReader(SortedSetDocValues values, long[] ordinals, double[] mapped) {
        this.values = values;
        this.ordinals = ordinals;
        this.mapped = mapped;
    }

    /** @param valueByTerm value per term, each already clamped to [0, 1] */
    static KeywordValueReader open(SortedSetDocValues values, Map<String, Double> valueByTerm) throws IOException {
        TreeMap<Long, Double> byOrdinal = new TreeMap<>();
        for (Map.Entry<String, Double> entry : valueByTerm.entrySet()) {
            long ordinal = values.lookupTerm(new BytesRef(entry.getKey()));
            if (ordinal >= 0) { // terms absent from the segment score nothing here
                byOrdinal.put(ordinal, entry.getValue());
            }
        }
        return new KeywordValueReader(
            values,
            byOrdinal.keySet().stream().mapToLong(Long::longValue).toArray(),
            byOrdinal.values().stream().mapToDouble(Double::doubleValue).toArray()
        );
    }

    /** The highest value of the document's terms; 0 when none of them is mapped. */
    double read(int doc) throws IOException {
        if (ordinals.length == 0 || values.advanceExact(doc) == false) {
            return 0;
        }
        double best = 0;
        for (int i = 0, n = values.docValueCount(); i < n; i++) {
            int at = Arrays.binarySearch(ordinals, values.nextOrd());
            if (at >= 0 && mapped[at] > best) {
                best = mapped[at];
            }
        }
        return best;
    }
}
