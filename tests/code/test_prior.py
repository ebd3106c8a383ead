"""The calibrated prior (CustomerRatePrior): its branches worked by hand or by a simpler oracle."""

from __future__ import annotations

import numpy as np
import pytest

from payrisk.models.estimators import CustomerRatePrior

COLUMNS = ("late_share", "settled_invoices", "base_share")


def matrix(rows: list[tuple[float, float, float]]) -> np.ndarray:
    return np.array(rows, dtype="float64")


def test_a_base_rate_scales_the_trials() -> None:
    """late_share 0.5 of 10 settled invoices, of which a base share of 0.8 could be late:
    5 events in 8 trials; shrunk with strength 10 towards the population rate."""
    prior = CustomerRatePrior(base_rate_feature="base_share", strengths=(10.0,))
    x = matrix([(0.5, 10.0, 0.8), (0.0, 0.0, 1.0)])
    prior.fit(x, np.array([1, 0]), COLUMNS)
    p = 1.5 / 3  # (1 + 0.5) / (2 + 1)
    assert prior.population_rate_ == pytest.approx(p)
    assert prior.predict(x)[0] == pytest.approx((5 + 10 * p) / (8 + 10))


@pytest.mark.parametrize(
    ("y", "empty_rate", "population_rate"),
    [
        ([], None, 0.0),  # nothing to learn from: zero
        ([], 0.2, 0.2),  # or the rate given for that case
        ([1], 0.2, 1.5 / 2),  # one example: Jeffreys, the empty rate is not used
    ],
)
def test_the_population_rate_of_few_examples(
    y: list[int], empty_rate: float | None, population_rate: float
) -> None:
    x = matrix([(0.0, 0.0, 1.0)] * len(y)).reshape(len(y), 3)
    prior = CustomerRatePrior(empty_rate=empty_rate).fit(x, np.array(y), COLUMNS)
    assert prior.population_rate_ == pytest.approx(population_rate)


def _best_strength(
    x: np.ndarray, y: np.ndarray, strengths: tuple[float, ...], population: float
) -> float:
    """The oracle: the strength of the grid with the smallest mean log loss, written out."""
    events, trials = x[:, 0] * x[:, 1], x[:, 1]
    losses = []
    for s in strengths:
        rate = np.clip((events + s * population) / (trials + s), 1e-6, 1 - 1e-6)
        losses.append(-np.mean(y * np.log(rate) + (1 - y) * np.log(1 - rate)))
    return strengths[int(np.argmin(losses))]


STRENGTHS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


@pytest.mark.parametrize(
    ("y", "own_rate", "strength"),
    [
        ([0, 0, 0, 0], 0.0, 10.0),  # one class only: no search, the middle of the grid
        ([1, 1, 1, 1], 1.0, 10.0),
        ([1, 0, 0, 0], None, 1.0),  # one positive is enough to search: own records win
        ([1, 1, 1, 0], None, 1.0),
    ],
)
def test_the_strength_is_searched_only_when_both_outcomes_occur(
    y: list[int], own_rate: float | None, strength: float
) -> None:
    """Each customer's own record (50 settled invoices) predicts its outcome; the search would
    pick the weakest shrinkage, the middle of the grid is kept when there is nothing to search."""
    rates = [float(v) if own_rate is None else own_rate for v in y]
    x = matrix([(r, 50.0, 1.0) for r in rates])
    prior = CustomerRatePrior(strengths=STRENGTHS).fit(x, np.array(y), COLUMNS)
    assert prior.strength_ == strength
    if own_rate is None:
        assert strength == _best_strength(x, np.array(y), STRENGTHS, prior.population_rate_)


def test_rates_stay_a_millionth_inside_zero_and_one() -> None:
    prior = CustomerRatePrior(strengths=(1.0,)).fit(
        matrix([(1.0, 1e7, 1.0), (0.0, 1e7, 1.0)]), np.array([1, 0]), COLUMNS
    )
    high, low = prior.predict(matrix([(1.0, 1e8, 1.0), (0.0, 1e8, 1.0)]))
    assert high == 1 - 1e-6 and low == 1e-6
    middle = prior.predict(matrix([(0.5, 2.0, 1.0)]))[0]
    assert middle == pytest.approx((1 + 0.5) / (2 + 1))  # population 0.5, strength 1
