"""The registry gate's paired bootstrap: weighted metrics equal the metrics on resampled rows.

`paired_bootstrap` weighs rows by how many times their cluster is drawn instead of building each
resample; compared here with the plain way (rows repeated, scikit-learn's metrics), with the same
draws, on data with ties, clusters of different sizes and resamples that miss a class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from payrisk.models.evaluation import paired_bootstrap


def by_resampling(y, p_model, p_other, clusters, metric, rounds, seed):
    """The bootstrap written the plain way: concatenate the drawn clusters' rows."""

    def value(rows):
        yy = y[rows]
        if len(np.unique(yy)) < 2:
            return float("nan")
        a = np.clip(p_model[rows], 1e-6, 1 - 1e-6)
        b = np.clip(p_other[rows], 1e-6, 1 - 1e-6)
        if metric == "roc_auc":
            return roc_auc_score(yy, a) - roc_auc_score(yy, b)
        return log_loss(yy, a, labels=[0, 1]) - log_loss(yy, b, labels=[0, 1])

    codes, _ = pd.factorize(pd.Series(clusters))
    members = [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(rounds):
        picked = rng.integers(0, len(members), size=len(members))
        draws.append(value(np.concatenate([members[k] for k in picked])))
    return value(np.arange(len(y))), float(np.nanstd(draws))


@pytest.mark.parametrize("metric", ["roc_auc", "log_loss"])
@pytest.mark.parametrize("customers", [40, 3])  # with 3, some resamples hold one class only
def test_weighted_bootstrap_equals_resampling_rows(metric, customers):
    rng = np.random.default_rng(customers)
    n = 600
    clusters = np.array([f"C{k}" for k in rng.integers(0, customers, n)])
    y = (rng.random(n) < 0.3).astype(int)
    if customers == 3:
        y[clusters != "C0"] = 0  # only one customer has late payments
        y[(clusters == "C0") & (rng.random(n) < 0.5)] = 1
    p_model = np.round(np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.2, n), 0, 1), 1)  # ties
    p_other = np.clip(rng.random(n), 0, 1)
    p_other[:20] = 0.0  # beyond the clip: tied after clipping
    got = paired_bootstrap(y, p_model, p_other, clusters, metric, rounds=60, seed=3)
    expected = by_resampling(y, p_model, p_other, clusters, metric, rounds=60, seed=3)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert np.isfinite(got).all()
