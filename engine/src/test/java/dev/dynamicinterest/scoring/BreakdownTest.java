package dev.dynamicinterest.scoring;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class BreakdownTest {

    @Test
    void jsonListsEveryComponentInOrderAndTheCluster() {
        Breakdown breakdown = new Breakdown();
        breakdown.set(Component.BM25, 0.1);
        breakdown.set(Component.INTEREST, 0.2);
        breakdown.set(Component.FRESHNESS, 0.05);
        breakdown.set(Component.POPULARITY, 0.01);
        breakdown.setBestCluster(1);
        assertEquals(
            "{\"components\":{\"bm25\":0.1,\"interest\":0.2,\"query\":0.0,\"freshness\":0.05,\"category\":0.0,"
                + "\"popularity\":0.01,\"collaborative\":0.0,\"neighbours\":0.0},\"cluster\":1}",
            breakdown.toJson()
        );
        assertEquals(0.1 + 0.2 + 0.05 + 0.01, breakdown.total(), 1e-12);
    }

    @Test
    void noClusterIsMinusOne() {
        assertEquals(
            "{\"components\":{\"bm25\":0.0,\"interest\":0.0,\"query\":0.0,\"freshness\":0.0,\"category\":0.0,"
                + "\"popularity\":0.0,\"collaborative\":0.0,\"neighbours\":0.0},\"cluster\":-1}",
            new Breakdown().toJson()
        );
    }
}
