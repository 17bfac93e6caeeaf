package dev.dynamicinterest.scoring;

/**
 * What the blend reads from one document. A single instance is refilled for every document
 * so that scoring allocates nothing per document.
 */
public final class DocFeatures {
    /** The sub-query's {@code _score}. */
    public double subQueryScore;
    /** The item's {@code vector_field} vector, or null when the document has none. */
    public float[] itemVector;
    /** The item's {@code collab_field} vector, or null when the document has none. */
    public float[] collabVector;
    /**
     * Whether every {@code itemVector} / {@code collabVector} of the segment has length 1 (see {@link UnitVectors}),
     * so that a cosine is a plain dot product. Set once per segment; false makes the scorer compute the norm.
     */
    public boolean unitItemVector;
    public boolean unitCollabVector;
    /** Whether the document has a {@code freshness_field} value. */
    public boolean hasCreatedAt;
    public long createdAtMillis;
    /** The highest clamped affinity of the document's categories; 0 when none is known. */
    public double categoryAffinity;
    /** The {@code popularity_field} value; 0 when missing. */
    public double popularity;
    /** The clamped {@code neighbour_scores} value of the document's {@code id_field}; 0 when it has none. */
    public double neighbourScore;
}
