package dev.dynamicinterest.scoring;

import java.io.IOException;

/** Reads a document's dense vector in one segment; documents must be read in increasing doc id order. */
interface VectorReader {
    /** For segments without the field. */
    VectorReader MISSING = doc -> null;

    /** The document's vector, or null when it has none; the array may be reused by the next call. */
    float[] read(int doc) throws IOException;

    /** Whether every vector this reader returns has length 1 (see {@link UnitVectors}); false when not known. */
    default boolean unit() {
        return false;
    }
}
