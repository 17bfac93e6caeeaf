package dev.dynamicinterest.scoring;

/** The weighted contribution of each component to one document's score, reused from document to document. */
public final class Breakdown {
    private final double[] contributions = new double[Component.values().length];
    private int bestCluster = -1;

    void set(Component component, double contribution) {
        contributions[component.ordinal()] = contribution;
    }

    void setBestCluster(int index) {
        bestCluster = index;
    }

    public double contribution(Component component) {
        return contributions[component.ordinal()];
    }

    /** Index of the interest cluster that matched best, or -1 when none matched. */
    public int bestCluster() {
        return bestCluster;
    }

    /** The sum of the contributions: the document's score. */
    public double total() {
        double total = 0;
        for (double c : contributions) {
            total += c;
        }
        return total;
    }

    /**
     * Compact JSON read back by the Python side from the hit's {@code _explanation}:
     * {@code {"components":{"bm25":0.1,...},"cluster":1}}, all components always present.
     */
    public String toJson() {
        StringBuilder json = new StringBuilder(192).append("{\"components\":{");
        for (Component c : Component.values()) {
            if (c.ordinal() > 0) {
                json.append(',');
            }
            json.append('"').append(c.key()).append("\":").append(contributions[c.ordinal()]);
        }
        return json.append("},\"cluster\":").append(bestCluster).append('}').toString();
    }
}
