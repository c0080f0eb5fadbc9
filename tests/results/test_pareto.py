import math

import pytest

from bench.results.pareto import dominates, pareto_mask


def test_a_point_beaten_on_both_axes_is_off_the_front() -> None:
    # ($/success, p95 ms): b is cheaper and faster than c; a is cheapest but slowest
    points = [(0.001, 900.0), (0.002, 300.0), (0.003, 400.0)]
    assert pareto_mask(points) == [True, True, False]


def test_ties_stay_on_the_front_and_one_better_axis_is_enough() -> None:
    assert pareto_mask([(1.0, 1.0), (1.0, 1.0)]) == [True, True]
    assert pareto_mask([(1.0, 1.0), (1.0, 2.0)]) == [True, False]
    assert dominates((1.0, 1.0), (1.0, 2.0)) and not dominates((1.0, 2.0), (1.0, 1.0))


def test_unmeasured_points_are_never_recommended_nor_dominate() -> None:
    points = [(None, 1.0), (math.nan, 1.0), (2.0, 3.0)]
    assert pareto_mask(points) == [False, False, True]


def test_objective_counts_must_agree() -> None:
    with pytest.raises(ValueError, match="objectives"):
        dominates((1.0,), (1.0, 2.0))
