from qa.fusion import reciprocal_rank_fusion


def test_rrf_orders_by_summed_reciprocal_ranks() -> None:
    dense = ["a", "b", "c"]
    lexical = ["c", "a", "d"]
    fused = reciprocal_rank_fusion([dense, lexical], k=60)
    # a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62, d: 1/63
    assert [item for item, _ in fused] == ["a", "c", "b", "d"]
    assert abs(fused[0][1] - (1 / 61 + 1 / 62)) < 1e-12
    assert abs(fused[3][1] - 1 / 63) < 1e-12


def test_rrf_deduplicates_and_breaks_ties_by_first_appearance() -> None:
    fused = reciprocal_rank_fusion([["x", "x", "y"], ["y", "x"]], k=1)
    # x: 1/2 + 1/3, y: 1/3 + 1/2 -> tie, x appeared first
    assert [item for item, _ in fused] == ["x", "y"]


def test_rrf_of_nothing_is_empty() -> None:
    assert reciprocal_rank_fusion([[], []]) == []
