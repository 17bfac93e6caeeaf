package dev.dynamicinterest.scoring;

import org.apache.lucene.util.VectorUtil;

/** Float vector helpers; the per-document ones allocate nothing. */
final class VectorMath {
    private VectorMath() {}

    /**
     * Lucene's dot product: SIMD through the Panama vector API where the JVM allows it (Java 21+ with
     * {@code jdk.incubator.vector}, as a full Elasticsearch distribution runs), an unrolled scalar loop otherwise.
     */
    static double dot(float[] a, float[] b) {
        return VectorUtil.dotProduct(a, b);
    }

    static double norm(float[] v) {
        return Math.sqrt(dot(v, v));
    }

    /** A copy scaled to length 1; a zero vector stays zero (its cosine with anything is 0). */
    static float[] unit(float[] v) {
        double norm = norm(v);
        float[] unit = new float[v.length];
        if (norm > 0) {
            for (int i = 0; i < v.length; i++) {
                unit[i] = (float) (v[i] / norm);
            }
        }
        return unit;
    }

    /** {@code wa * a + wb * b}, element by element. */
    static float[] weightedSum(float[] a, double wa, float[] b, double wb) {
        float[] sum = new float[a.length];
        for (int i = 0; i < sum.length; i++) {
            sum[i] = (float) (wa * a[i] + wb * b[i]);
        }
        return sum;
    }

    /** Cosine of a unit vector with {@code v}, given {@code v}'s norm; 0 when either is zero. */
    static double cosine(float[] unit, float[] v, double vNorm) {
        return vNorm > 0 ? dot(unit, v) / vNorm : 0;
    }
}
