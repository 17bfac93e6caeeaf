package dev.dynamicinterest.scoring;

import org.apache.lucene.index.SortedNumericDocValues;
import org.elasticsearch.index.fielddata.SortedNumericDoubleValues;

import java.io.IOException;

/**
 * Reads the document values the blend needs in one segment. A null reader means the value is not needed
 * or the field is not mapped. Multi-valued fields give their highest value (for dates: the latest).
 */
final class LeafFeatureReader {
    private final VectorReader item;
    private final VectorReader collab;
    /** Epoch millis, also for date_nanos fields (Elasticsearch converts them). */
    private final SortedNumericDocValues createdAt;
    private final SortedNumericDoubleValues popularity;
    private final KeywordValueReader category;
    private final KeywordValueReader neighbours;

    LeafFeatureReader(
        VectorReader item,
        VectorReader collab,
        SortedNumericDocValues createdAt,
        SortedNumericDoubleValues popularity,
        KeywordValueReader category,
        KeywordValueReader neighbours
    ) {
        this.item = item;
        this.collab = collab;
        this.createdAt = createdAt;
        this.popularity = popularity;
        this.category = category;
        this.neighbours = neighbours;
    }

    /** Fills what holds for every document of the segment; once, before the first {@link #read}. */
    void prepare(DocFeatures out) {
        out.unitItemVector = item != null && item.unit();
        out.unitCollabVector = collab != null && collab.unit();
    }

    void read(int doc, DocFeatures out) throws IOException {
        out.itemVector = item == null ? null : item.read(doc);
        out.collabVector = collab == null ? null : collab.read(doc);
        out.hasCreatedAt = createdAt != null && createdAt.advanceExact(doc);
        if (out.hasCreatedAt) {
            out.createdAtMillis = lastValue(createdAt);
        }
        out.popularity = popularity != null && popularity.advanceExact(doc) ? lastValue(popularity) : 0;
        out.categoryAffinity = category == null ? 0 : category.read(doc);
        out.neighbourScore = neighbours == null ? 0 : neighbours.read(doc);
    }

    /** Values come sorted ascending, so the last is the highest. */
    private static long lastValue(SortedNumericDocValues values) throws IOException {
        long value = values.nextValue();
        for (int i = 1, n = values.docValueCount(); i < n; i++) {
            value = values.nextValue();
        }
        return value;
    }

    private static double lastValue(SortedNumericDoubleValues values) throws IOException {
        double value = values.nextValue();
        for (int i = 1, n = values.docValueCount(); i < n; i++) {
            value = values.nextValue();
        }
        return value;
    }
}
