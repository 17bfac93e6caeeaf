package dev.dynamicinterest.scoring;

/** A vector param by name and length, to check against the dimension count of the field it is compared with. */
public record VectorParam(String name, int length) {

    /** The error for a param whose length does not match the field's dimension count. */
    public IllegalArgumentException mismatch(String field, String fieldDims) {
        return new IllegalArgumentException(name + " has " + length + " values but field [" + field + "] has " + fieldDims + " dims");
    }
}
