"""payrisk.models.banded gives LightGBM's own probabilities for every band of an invoice.

The payment hazard's question is asked once per band; banded walks each tree once per invoice.
Compared with `Booster.predict` on the rows LightGBM would get: the invoice's features repeated
with each band's values, including missing values, categorical codes and band splits that divide
an invoice's bands many ways.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from payrisk.models import banded
from payrisk.models.payment import BAND_FEATURES, PaymentHazard, _bands

from .test_treeshap import booster, probe_rows


def band_rows(matrix: np.ndarray, values: np.ndarray, reachable: np.ndarray) -> np.ndarray:
    """What LightGBM is given without banded: one row per invoice and reachable band."""
    row, band = np.nonzero(reachable)
    return np.hstack([matrix[row], values[:, row, band].T])


@pytest.mark.parametrize(
    "params",
    [{}, {"zero_as_missing": True}, {"num_leaves": 63, "min_data_in_leaf": 5}],
)
def test_every_band_gets_lightgbms_probability(params):
    # features 4 and 5 play the band features: split often, with values on the thresholds
    model, X = booster(seed=7 + len(params), **params)
    rows = probe_rows(X, seed=3)
    invoice = rows[:, :4]
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(size=(2, len(rows), 40)), 1)
    values[0, :, ::7] = 0.0
    reachable = rng.random((len(rows), 40)) < 0.8
    reachable[:20] = False  # invoices with nothing left to reach
    expected = np.zeros(reachable.shape)
    expected[reachable] = model.predict(band_rows(invoice, values, reachable))
    forest = banded.build(model)
    for threads in (1, 0):
        got = banded.predict(forest, invoice, values, reachable, threads=threads)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # A few invoices (a service request) test the splits in the walk instead of deciding all.
    few = slice(15, 15 + banded.DECIDED_FROM_ROWS - 1)
    got = banded.predict(forest, invoice[few], values[:, few], reachable[few], threads=1)
    np.testing.assert_allclose(got, expected[few], rtol=0, atol=1e-12)


def test_only_the_first_trees_and_built_once():
    model, X = booster(seed=11)
    rows = probe_rows(X, seed=4)[:100]
    values = np.stack([np.tile(np.linspace(-2, 2, 10), (100, 1))] * 2)
    reachable = np.ones((100, 10), dtype=bool)
    expected = model.predict(band_rows(rows[:, :4], values, reachable), num_iteration=9)
    forest = banded.forest_of(model, 9)
    got = banded.predict(forest, rows[:, :4], values, reachable)
    np.testing.assert_allclose(got.ravel(), expected, rtol=0, atol=1e-12)
    assert banded.forest_of(model, 9) is forest


def test_a_matrix_of_the_wrong_width_or_objective_is_refused():
    model, X = booster(seed=12)
    forest = banded.build(model)
    with pytest.raises(ValueError, match="6 features, given 5 \\+ 2"):
        banded.predict(forest, X[:3, :5], np.zeros((2, 3, 4)), np.ones((3, 4), dtype=bool))
    data = lgb.Dataset(X, X[:, 1], free_raw_data=False)
    regression = lgb.train({"objective": "regression", "verbose": -1}, data, num_boost_round=3)
    with pytest.raises(ValueError, match="binary objective"):
        banded.build(regression)


def test_the_hazard_distribution_is_the_one_from_band_rows():
    """PaymentHazard.cumulative (banded) against its band rows through LightGBM."""
    rng = np.random.default_rng(5)
    n = 4000
    start = rng.integers(-40, 60, n).astype("float64")
    X = pd.DataFrame({"days_past_due": start, "x": rng.normal(size=n),
                      "segment": rng.choice(["a", "b", "c"], n)})  # fmt: skip
    X.loc[rng.random(n) < 0.1, "x"] = np.nan
    lateness = rng.gamma(2.0, 8.0, n) * np.where(X["segment"] == "a", 0.3, 1.0) + 5 * X["x"].fillna(
        0
    )
    paid = np.where(lateness - 10 >= start, np.round(lateness - 10), np.nan)
    timing = pd.DataFrame({"paid_days_past_due": paid, "observed_days_past_due": 200.0})
    params = {"n_estimators": 80, "num_leaves": 15, "min_child_samples": 20}
    hazard = PaymentHazard(params, categorical=("segment",), horizon_days=200, random_state=0)
    hazard.fit(X, timing)
    assert hazard.booster_ is not None
    matrix = hazard.layout_.matrix(X)
    got = hazard.cumulative(matrix, start)

    low, width = _bands(hazard.edges_, start.astype("int64"))
    bands = np.arange(width.shape[1])[None, :]
    values = hazard._band_values(bands, low, start[:, None].astype("int64"))
    assert values.shape[0] == len(BAND_FEATURES)
    rows = band_rows(matrix, values, width > 0)
    probability = np.zeros(width.shape)
    probability[width > 0] = hazard.booster_.booster_.predict(
        rows, num_iteration=hazard.booster_.best_iteration_
    )
    expected = 1.0 - np.cumprod(1.0 - probability, axis=1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert (np.diff(got, axis=1) >= -1e-15).all()
