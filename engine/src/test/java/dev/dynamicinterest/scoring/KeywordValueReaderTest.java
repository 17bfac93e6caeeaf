package dev.dynamicinterest.scoring;

import org.apache.lucene.document.Document;
import org.apache.lucene.document.SortedSetDocValuesField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.apache.lucene.util.BytesRef;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class KeywordValueReaderTest {
    private static final String FIELD = "id";

    /** The reader's value for every document, segment by segment; each inner list is one segment's documents. */
    private static List<Double> read(Map<String, Double> valueByTerm, List<List<List<String>>> segments) throws IOException {
        try (Directory dir = new ByteBuffersDirectory()) {
            // No merges, so each flushed batch stays a segment with its own term ordinals.
            try (IndexWriter writer = new IndexWriter(dir, new IndexWriterConfig().setMergePolicy(NoMergePolicy.INSTANCE))) {
                for (List<List<String>> segment : segments) {
                    for (List<String> terms : segment) {
                        Document doc = new Document();
                        for (String term : terms) {
                            doc.add(new SortedSetDocValuesField(FIELD, new BytesRef(term)));
                        }
                        writer.addDocument(doc);
                    }
                    writer.commit();
                }
            }
            List<Double> values = new ArrayList<>();
            try (DirectoryReader reader = DirectoryReader.open(dir)) {
                assertEquals(segments.size(), reader.leaves().size());
                for (LeafReaderContext context : reader.leaves()) {
                    LeafReader leaf = context.reader();
                    KeywordValueReader keywordValues = KeywordValueReader.open(leaf.getSortedSetDocValues(FIELD), valueByTerm);
                    for (int doc = 0; doc < leaf.maxDoc(); doc++) {
                        values.add(keywordValues.read(doc));
                    }
                }
            }
            return values;
        }
    }

    @Test
    void aDocumentGetsTheValueOfItsTermAndZeroWithoutOne() throws IOException {
        Map<String, Double> scores = Map.of("a", 0.4, "c", 0.9, "not-indexed", 1.0);
        assertEquals(
            List.of(0.4, 0.0, 0.9, 0.0),
            read(scores, List.of(List.of(List.of("a"), List.of("b"), List.of("c"), List.of())))
        );
    }

    @Test
    void severalTermsGiveTheHighestValue() throws IOException {
        Map<String, Double> affinity = Map.of("news", 0.2, "sport", 0.7);
        assertEquals(
            List.of(0.7, 0.2),
            read(affinity, List.of(List.of(List.of("news", "sport", "tech"), List.of("news", "tech"))))
        );
    }

    @Test
    void ordinalsAreLookedUpPerSegment() throws IOException {
        // "b" has ordinal 1 in the first segment and 0 in the second.
        Map<String, Double> scores = Map.of("b", 0.5, "z", 0.3);
        assertEquals(
            List.of(0.0, 0.5, 0.5, 0.3),
            read(scores, List.of(List.of(List.of("a"), List.of("b")), List.of(List.of("b"), List.of("z"))))
        );
    }

    @Test
    void anEmptyMapReadsZeroEverywhere() throws IOException {
        assertEquals(List.of(0.0, 0.0), read(Map.of(), List.of(List.of(List.of("a"), List.of("b")))));
    }
}
