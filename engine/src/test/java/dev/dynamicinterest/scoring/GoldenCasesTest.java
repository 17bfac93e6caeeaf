package dev.dynamicinterest.scoring;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * The golden cases shared with the Python mirror ({@code tests/unit/test_blend_golden.py}): the
 * native scorer must give the file's weighted components and best cluster for each input.
 */
class GoldenCasesTest {
    private static final String GOLDEN = "/golden/blend-cases.json";

    @TestFactory
    Stream<DynamicTest> theNativeScorerGivesTheGoldenComponents() throws IOException {
        Map<String, Object> golden = load();
        double tolerance = ((Number) golden.get("tolerance")).doubleValue();
        List<DynamicTest> tests = new ArrayList<>();
        for (Object raw : (List<?>) golden.get("cases")) {
            Map<?, ?> c = (Map<?, ?>) raw;
            tests.add(DynamicTest.dynamicTest((String) c.get("name"), () -> check(c, tolerance)));
        }
        return tests.stream();
    }

    @SuppressWarnings("unchecked")
    private static void check(Map<?, ?> c, double tolerance) {
        BlendParams params = BlendParams.parse((Map<String, ?>) c.get("params"), 0);
        Map<?, ?> doc = (Map<?, ?>) c.get("doc");
        DocFeatures features = new DocFeatures();
        features.subQueryScore = number(doc.get("bm25"), 0);
        features.itemVector = floats(doc.get("embedding"));
        features.collabVector = floats(doc.get("collab"));
        features.hasCreatedAt = doc.get("created_at") != null;
        features.createdAtMillis = (long) number(doc.get("created_at"), 0);
        features.popularity = number(doc.get("popularity"), 0);
        // What KeywordValueReader gives: the best clamped affinity of the item's categories,
        // and the clamped neighbour score of its id (doc[id_field], as the Python mirror reads it).
        double affinity = 0;
        for (Object category : doc.get("categories") == null ? List.of() : (List<?>) doc.get("categories")) {
            affinity = Math.max(affinity, params.categoryAffinity().getOrDefault((String) category, 0.0));
        }
        features.categoryAffinity = affinity;
        Object id = doc.get(params.idField());
        features.neighbourScore = id == null ? 0 : params.neighbourScores().getOrDefault(String.valueOf(id), 0.0);

        Breakdown out = new Breakdown();
        new BlendScorer(params).score(features, out);
        Map<?, ?> expected = (Map<?, ?>) c.get("expected");
        Map<?, ?> components = (Map<?, ?>) expected.get("components");
        for (Component component : Component.values()) {
            Object value = components.get(component.key());
            assertNotNull(value, component.key() + " missing from the golden case");
            assertEquals(((Number) value).doubleValue(), out.contribution(component), tolerance, component.key());
        }
        assertEquals(((Number) expected.get("cluster")).intValue(), out.bestCluster(), "best cluster");
    }

    private static double number(Object value, double absent) {
        return value == null ? absent : ((Number) value).doubleValue();
    }

    private static float[] floats(Object value) {
        if (value == null) {
            return null;
        }
        List<?> list = (List<?>) value;
        float[] vector = new float[list.size()];
        for (int i = 0; i < vector.length; i++) {
            vector[i] = ((Number) list.get(i)).floatValue();
        }
        return vector;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> load() throws IOException {
        try (InputStream in = GoldenCasesTest.class.getResourceAsStream(GOLDEN)) {
            assertNotNull(in, GOLDEN + " is not on the test classpath");
            return (Map<String, Object>) new Json(new String(in.readAllBytes(), StandardCharsets.UTF_8)).value();
        }
    }

    /** Just enough JSON for the golden file: objects, arrays, strings, numbers, true/false/null. */
    private static final class Json {
        private final String text;
        private int at;

        Json(String text) {
            this.text = text;
        }

        Object value() {
            skipSpace();
            char c = text.charAt(at);
            switch (c) {
                case '{':
                    return object();
                case '[':
                    return array();
                case '"':
                    return string();
                case 't':
                    return literal("true", Boolean.TRUE);
                case 'f':
                    return literal("false", Boolean.FALSE);
                case 'n':
                    return literal("null", null);
                default:
                    return number();
            }
        }

        private Map<String, Object> object() {
            Map<String, Object> map = new LinkedHashMap<>();
            at++;
            skipSpace();
            if (text.charAt(at) == '}') {
                at++;
                return map;
            }
            while (true) {
                skipSpace();
                String key = string();
                skipSpace();
                expect(':');
                map.put(key, value());
                skipSpace();
                if (text.charAt(at++) == '}') {
                    return map;
                }
            }
        }

        private List<Object> array() {
            List<Object> list = new ArrayList<>();
            at++;
            skipSpace();
            if (text.charAt(at) == ']') {
                at++;
                return list;
            }
            while (true) {
                list.add(value());
                skipSpace();
                if (text.charAt(at++) == ']') {
                    return list;
                }
            }
        }

        private String string() {
            expect('"');
            StringBuilder out = new StringBuilder();
            while (text.charAt(at) != '"') {
                char c = text.charAt(at++);
                if (c == '\\') {
                    char escaped = text.charAt(at++);
                    switch (escaped) {
                        case 'n' -> out.append('\n');
                        case 't' -> out.append('\t');
                        case 'u' -> {
                            out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                            at += 4;
                        }
                        default -> out.append(escaped);
                    }
                } else {
                    out.append(c);
                }
            }
            at++;
            return out.toString();
        }

        private Object number() {
            int start = at;
            while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) {
                at++;
            }
            String token = text.substring(start, at);
            if (token.contains(".") || token.contains("e") || token.contains("E")) {
                return Double.parseDouble(token);
            }
            return Long.parseLong(token);
        }

        private Object literal(String word, Object value) {
            if (!text.startsWith(word, at)) {
                throw new IllegalArgumentException("bad JSON at " + at);
            }
            at += word.length();
            return value;
        }

        private void expect(char c) {
            if (text.charAt(at++) != c) {
                throw new IllegalArgumentException("expected '" + c + "' at " + (at - 1));
            }
        }

        private void skipSpace() {
            while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
                at++;
            }
        }
    }
}
