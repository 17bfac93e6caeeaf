package dev.dynamicinterest.scoring;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Typed, validating reads of script params as they arrive from JSON (numbers, lists, maps).
 * Every failure is an IllegalArgumentException naming the param, which Elasticsearch answers with HTTP 400.
 * A key mapped to null counts as absent, so callers may send optional params as null.
 */
final class Params {
    private final Map<String, ?> raw;

    Params(Map<String, ?> raw, Set<String> allowedKeys) {
        this.raw = raw == null ? Map.of() : raw;
        for (String key : this.raw.keySet()) {
            if (allowedKeys.contains(key) == false) {
                throw new IllegalArgumentException("unknown param [" + key + "]; valid params: " + new TreeSet<>(allowedKeys));
            }
        }
    }

    boolean has(String key) {
        return raw.get(key) != null;
    }

    String string(String key, String defaultValue) {
        Object value = raw.get(key);
        if (value == null) {
            return defaultValue;
        }
        if (value instanceof String s && s.isEmpty() == false) {
            return s;
        }
        throw new IllegalArgumentException(key + " must be a non-empty string but was [" + value + "]");
    }

    double number(String key, double defaultValue) {
        Object value = raw.get(key);
        return value == null ? defaultValue : finite(value, key);
    }

    long longNumber(String key, long defaultValue) {
        Object value = raw.get(key);
        if (value == null) {
            return defaultValue;
        }
        if (value instanceof Long || value instanceof Integer || value instanceof Short || value instanceof Byte) {
            return ((Number) value).longValue();
        }
        double d = finite(value, key);
        if (d != Math.rint(d)) {
            throw new IllegalArgumentException(key + " must be a whole number but was [" + value + "]");
        }
        return (long) d;
    }

    /** A finite number strictly above zero. */
    double positive(String key, double defaultValue) {
        double value = number(key, defaultValue);
        if (value <= 0) {
            throw new IllegalArgumentException(key + " must be > 0 but was [" + value + "]");
        }
        return value;
    }

    /** A finite number in [0, 1]. */
    double fraction(String key, double defaultValue) {
        return checkFraction(number(key, defaultValue), key);
    }

    /** A list of finite numbers, or null when absent. */
    float[] vector(String key) {
        Object value = raw.get(key);
        return value == null ? null : toVector(value, key);
    }

    /** A list of lists of finite numbers; empty when absent. */
    float[][] vectors(String key) {
        List<?> list = list(key);
        float[][] vectors = new float[list.size()][];
        for (int i = 0; i < vectors.length; i++) {
            vectors[i] = toVector(list.get(i), key + "[" + i + "]");
        }
        return vectors;
    }

    /** A list of numbers in [0, 1], or null when absent. */
    double[] fractions(String key) {
        if (has(key) == false) {
            return null;
        }
        List<?> list = list(key);
        double[] values = new double[list.size()];
        for (int i = 0; i < values.length; i++) {
            String name = key + "[" + i + "]";
            values[i] = checkFraction(finite(list.get(i), name), name);
        }
        return values;
    }

    /** An object of finite numbers keyed by name (insertion order kept); empty when absent. */
    Map<String, Double> numberMap(String key) {
        Object value = raw.get(key);
        if (value == null) {
            return Map.of();
        }
        if (!(value instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException(key + " must be an object but was [" + value + "]");
        }
        Map<String, Double> numbers = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : map.entrySet()) {
            String name = String.valueOf(entry.getKey());
            numbers.put(name, finite(entry.getValue(), key + "." + name));
        }
        return numbers;
    }

    private List<?> list(String key) {
        Object value = raw.get(key);
        if (value == null) {
            return List.of();
        }
        if (value instanceof List<?> list) {
            return list;
        }
        throw new IllegalArgumentException(key + " must be a list but was [" + value + "]");
    }

    private static float[] toVector(Object value, String name) {
        if (!(value instanceof List<?> list)) {
            throw new IllegalArgumentException(name + " must be a list of numbers but was [" + value + "]");
        }
        if (list.isEmpty()) {
            throw new IllegalArgumentException(name + " must not be empty");
        }
        float[] vector = new float[list.size()];
        for (int i = 0; i < vector.length; i++) {
            double d = finite(list.get(i), name + "[" + i + "]");
            if (Float.isInfinite((float) d)) {
                throw new IllegalArgumentException(name + "[" + i + "] is out of float range: [" + d + "]");
            }
            vector[i] = (float) d;
        }
        return vector;
    }

    static double finite(Object value, String name) {
        if (value instanceof Number n) {
            double d = n.doubleValue();
            if (Double.isFinite(d)) {
                return d;
            }
        }
        throw new IllegalArgumentException(name + " must be a finite number but was [" + value + "]");
    }

    private static double checkFraction(double value, String name) {
        if (value < 0 || value > 1) {
            throw new IllegalArgumentException(name + " must be in [0, 1] but was [" + value + "]");
        }
        return value;
    }
}
