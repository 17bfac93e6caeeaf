package dev.dynamicinterest.scoring;

import org.apache.lucene.index.FloatVectorValues;

import java.io.IOException;

/**
 * Reads an indexed float vector straight from Lucene's vector values: no object per document, unlike
 * the script field API. For cosine fields Lucene holds the normalised vector, which leaves cosines unchanged.
 */
final class KnnVectorReader implements VectorReader {
    private final FloatVectorValues values;
    private final boolean unit;

    KnnVectorReader(FloatVectorValues values, boolean unit) {
        this.values = values;
        this.unit = unit;
    }

    @Override
    public float[] read(int doc) throws IOException {
        int current = values.docID();
        if (current < doc) {
            current = values.advance(doc);
        }
        return current == doc ? values.vectorValue() : null;
    }

    @Override
    public boolean unit() {
        return unit;
    }
}
