package dev.dynamicinterest.scoring;

import org.apache.lucene.document.Document;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UnitVectorsTest {

    @Test
    void aDotProductSegmentOfUnitVectorsIsUnit() throws IOException {
        assertTrue(check(VectorSimilarityFunction.DOT_PRODUCT, new float[] { 0.6f, 0.8f }, new float[] { 1, 0 }));
    }

    @Test
    void vectorsRoundedToSixDecimalsStillCountAsUnit() throws IOException {
        assertTrue(check(VectorSimilarityFunction.DOT_PRODUCT, new float[] { (float) Math.sqrt(1 + 3e-6), 0 }));
    }

    @Test
    void oneNearlyUnitVectorIsEnoughToComputeNorms() throws IOException {
        // Elasticsearch stores a cosine vector as given when its squared length is within 1e-3 of 1.
        float[] nearlyUnit = { (float) Math.sqrt(1.0005), 0 };
        assertFalse(check(VectorSimilarityFunction.DOT_PRODUCT, new float[] { 1, 0 }, nearlyUnit));
    }

    @Test
    void otherSimilaritiesAreNotAssumedNormalised() throws IOException {
        assertFalse(check(VectorSimilarityFunction.COSINE, new float[] { 1, 0 }));
        assertFalse(check(VectorSimilarityFunction.EUCLIDEAN, new float[] { 1, 0 }));
    }

    @Test
    void theAnswerIsKeptPerSegmentAndField() throws IOException {
        try (Directory dir = index(VectorSimilarityFunction.DOT_PRODUCT, new float[] { 1, 0 });
             DirectoryReader reader = DirectoryReader.open(dir)) {
            LeafReader leaf = reader.leaves().get(0).reader();
            assertTrue(UnitVectors.check(leaf, leaf.getFieldInfos().fieldInfo("v")));
            assertTrue(UnitVectors.check(leaf, leaf.getFieldInfos().fieldInfo("v")));
        }
    }

    private static boolean check(VectorSimilarityFunction similarity, float[]... vectors) throws IOException {
        try (Directory dir = index(similarity, vectors); DirectoryReader reader = DirectoryReader.open(dir)) {
            assertEquals(1, reader.leaves().size());
            LeafReader leaf = reader.leaves().get(0).reader();
            return UnitVectors.check(leaf, leaf.getFieldInfos().fieldInfo("v"));
        }
    }

    private static Directory index(VectorSimilarityFunction similarity, float[]... vectors) throws IOException {
        Directory dir = new ByteBuffersDirectory();
        try (IndexWriter writer = new IndexWriter(dir, new IndexWriterConfig())) {
            for (float[] vector : vectors) {
                Document doc = new Document();
                doc.add(new KnnFloatVectorField("v", vector, similarity));
                writer.addDocument(doc);
            }
            writer.forceMerge(1);
        }
        return dir;
    }
}
