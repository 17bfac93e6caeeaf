package dev.dynamicinterest.scoring;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class VectorMathTest {

    @Test
    void dotHandlesLengthsThatAreNotMultiplesOfFour() {
        float[] a = { 1, 2, 3, 4, 5, 6, 7 };
        float[] b = { 7, 6, 5, 4, 3, 2, 1 };
        assertEquals(84, VectorMath.dot(a, b), 1e-9);
        assertEquals(Math.sqrt(140), VectorMath.norm(a), 1e-6);
    }

    @Test
    void unitScalesToLengthOneAndKeepsZeroVectorsZero() {
        assertArrayEquals(new float[] { 0.6f, 0.8f }, VectorMath.unit(new float[] { 3, 4 }), 1e-7f);
        assertArrayEquals(new float[] { 0, 0 }, VectorMath.unit(new float[] { 0, 0 }));
    }

    @Test
    void cosineIsZeroForZeroVectors() {
        float[] unit = { 1, 0 };
        assertEquals(0.6, VectorMath.cosine(unit, new float[] { 3, 4 }, 5), 1e-7);
        assertEquals(0, VectorMath.cosine(unit, new float[] { 0, 0 }, 0));
        assertEquals(0, VectorMath.cosine(new float[] { 0, 0 }, new float[] { 3, 4 }, 5));
    }

    @Test
    void weightedSum() {
        assertArrayEquals(new float[] { 0.5f, 1.5f }, VectorMath.weightedSum(new float[] { 1, 1 }, 0.5, new float[] { 0, 1 }, 1), 1e-7f);
    }
}
