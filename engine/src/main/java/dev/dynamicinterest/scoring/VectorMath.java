package dev.dynamicinterest.scoring;

/** Float vector helpers; the per-document ones allocate nothing. */
final class VectorMath {
    private VectorMath() {}

    /** Dot product, four accumulators so the JIT can overlap the multiply-adds. */
    static double dot(float[] a, float[] b) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int n = a.length;
        int i = 0;
        for (int end = n & ~3; i < end; i += 4) {
            s0 += a[i] * b[i];
            s1 += a[i + 1] * b[i + 1];
            s2 += a[i + 2] * b[i + 2];
            s3 += a[i + 3] * b[i + 3];
        }
        for (; i < n; i++) {
            s0 += a[i] * b[i];
        }
        return (double) s0 + s1 + s2 + s3;
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
