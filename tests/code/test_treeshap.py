"""payrisk.models.treeshap gives LightGBM's own TreeSHAP numbers (pred_contrib), faster.

Boosters with what the scorer's models meet: missing values (NaN and "zero as missing"), values on
the thresholds, categorical splits with unseen and negative codes, deep and single-leaf trees.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from payrisk.models import treeshap


def booster(seed: int, rows: int = 3000, **params) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 6))
    X[:, 2] = rng.integers(0, 12, rows)  # a categorical code
    X[:, 3] = np.round(X[:, 3], 1)  # many values exactly on thresholds
    X[rng.random(rows) < 0.15, 0] = np.nan
    X[rng.random(rows) < 0.2, 4] = 0.0
    logit = X[:, 1] + np.nan_to_num(X[:, 0]) * X[:, 3] + (X[:, 2] % 3 == 0) - 0.5 * X[:, 4]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    data = lgb.Dataset(X, y, categorical_feature=[2], free_raw_data=False)
    settings = {"objective": "binary", "verbose": -1, "seed": seed, "num_leaves": 15, **params}
    return lgb.train(settings, data, num_boost_round=60), X


def probe_rows(X: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = X[rng.integers(0, len(X), 700)].copy()
    rows[rng.random(rows.shape) < 0.1] = np.nan  # missing anywhere, categorical too
    rows[:50, 2] = -1  # a category never seen (the encoder's code for it)
    rows[50:100, 2] = 40  # a code the trees never split on
    rows[100:150, 4] = 0.0
    return rows


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"zero_as_missing": True},
        {"use_missing": False},
        {"num_leaves": 63, "min_data_in_leaf": 5},  # deep paths, up to every feature
        {"min_data_in_leaf": 2000},  # trees with a single leaf
    ],
)
def test_contributions_are_lightgbms_own(params):
    model, X = booster(seed=len(params), **params)
    rows = probe_rows(X, seed=1)
    expected = model.predict(rows, pred_contrib=True)
    trees = treeshap.build(model)
    for threads in (1, 0):  # one thread, and the parallel blocks
        got = treeshap.contributions(trees, rows, threads=threads)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    # contributions and bias add up to the raw score, as LightGBM's do
    np.testing.assert_allclose(got.sum(axis=1), model.predict(rows, raw_score=True), atol=1e-9)


def test_only_the_first_trees_when_early_stopping_chose_fewer():
    model, X = booster(seed=3)
    rows = probe_rows(X, seed=2)
    expected = model.predict(rows, pred_contrib=True, num_iteration=17)
    got = treeshap.contributions(treeshap.trees_of(model, 17), rows)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert treeshap.trees_of(model, 17) is treeshap.trees_of(model, 17)  # built once


def test_no_rows_gives_an_empty_matrix_of_the_right_width():
    model, X = booster(seed=4)
    assert treeshap.contributions(treeshap.build(model), X[:0]).shape == (0, X.shape[1] + 1)
