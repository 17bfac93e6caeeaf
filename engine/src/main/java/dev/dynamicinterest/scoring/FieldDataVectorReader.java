package dev.dynamicinterest.scoring;

import org.elasticsearch.script.field.vectors.DenseVectorDocValuesField;

import java.io.IOException;

/**
 * Reads vectors that Lucene does not hold as float vectors ({@code index: false} or byte vectors)
 * through Elasticsearch's script field. Such mappings cannot be asked their dimension count when the
 * query is built, so the param length is checked here, on the first document read.
 */
final class FieldDataVectorReader implements VectorReader {
    private final DenseVectorDocValuesField field;
    private final String fieldName;
    private final VectorParam expected;

    FieldDataVectorReader(DenseVectorDocValuesField field, String fieldName, VectorParam expected) {
        this.field = field;
        this.fieldName = fieldName;
        this.expected = expected;
    }

    @Override
    public float[] read(int doc) throws IOException {
        field.setNextDocId(doc);
        if (field.isEmpty()) {
            return null;
        }
        float[] vector = field.get().getVector();
        if (vector.length != expected.length()) {
            throw expected.mismatch(fieldName, Integer.toString(vector.length));
        }
        return vector;
    }
}
