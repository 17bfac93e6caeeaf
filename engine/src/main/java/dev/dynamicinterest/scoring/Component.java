package dev.dynamicinterest.scoring;

/** The weighted parts of the blend, in the order explanations list them. */
public enum Component {
    BM25("bm25"),
    INTEREST("interest"),
    QUERY("query"),
    FRESHNESS("freshness"),
    CATEGORY("category"),
    POPULARITY("popularity"),
    COLLABORATIVE("collaborative"),
    NEIGHBOURS("neighbours");

    private final String key;

    Component(String key) {
        this.key = key;
    }

    /** The name used in the {@code weights} param and in explanations. */
    public String key() {
        return key;
    }

    /** The component named {@code key}, or null when there is none. */
    public static Component fromKey(String key) {
        for (Component c : values()) {
            if (c.key.equals(key)) {
                return c;
            }
        }
        return null;
    }
}
