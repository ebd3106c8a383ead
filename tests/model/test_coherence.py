"""Predictions that cannot contradict each other: P(default) <= P(late) by construction (no clip),
and payment dates read off one distribution whose mass after the due date is P(late)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.core.config import SnapshotSettings
from payrisk.features.definitions import FeatureSet
from payrisk.models.encoding import frame_columns
from payrisk.models.labels import snapshot_queries
from payrisk.models.payment import _bands, band_edges, coherent_cumulative, quantile_days

LATE_AFTER, DEFAULT_AFTER = 0, 90


def random_case(n: int, seed: int, empty_late_part: bool = False):
    rng = np.random.default_rng(seed)
    edges = band_edges(LATE_AFTER, DEFAULT_AFTER, 365)
    start = rng.integers(-70, 150, n)
    _, width = _bands(edges, start)
    hazard = np.where(width > 0, rng.uniform(0, 0.4, width.shape), 0.0)
    if empty_late_part:  # the hazard model puts no payment between the cuts
        late_bands = (edges[:-1] >= LATE_AFTER + 1) & (edges[1:] <= DEFAULT_AFTER + 1)
        hazard[:, late_bands] = 0.0
    base = 1 - np.cumprod(1 - hazard, axis=1)
    late = np.where(start > LATE_AFTER, 1.0, rng.uniform(0, 1, n))
    default = np.where(start > DEFAULT_AFTER, 1.0, late * rng.uniform(0, 1, n))
    return edges, start, base, late, default


@pytest.mark.parametrize("empty_late_part", [False, True])
def test_the_payment_distribution_carries_the_probabilities(empty_late_part):
    edges, start, base, late, default = random_case(5000, 1, empty_late_part)
    cumulative = coherent_cumulative(base, edges, start, late, default, LATE_AFTER, DEFAULT_AFTER)
    on_time_end = int(np.flatnonzero(edges[1:] == LATE_AFTER + 1)[0])
    default_end = int(np.flatnonzero(edges[1:] == DEFAULT_AFTER + 1)[0])
    not_due = start <= LATE_AFTER
    assert np.allclose(cumulative[not_due, on_time_end], 1 - late[not_due])  # P(paid late)
    not_defaulted = start <= DEFAULT_AFTER
    assert np.allclose(cumulative[not_defaulted, default_end], 1 - default[not_defaulted])
    assert (np.diff(cumulative, axis=1) >= -1e-12).all()
    assert np.allclose(cumulative[:, -1], 1)  # a date for every invoice: P(default) says the rest

    low, central, high = (
        quantile_days(cumulative, edges, start, level) for level in (0.1, 0.5, 0.9)
    )
    assert ((low <= central) & (central <= high)).all()
    assert (low >= start).all()  # never paid before the day it is scored
    # The central date is after the due date exactly when late payment is more likely.
    assert ((central[not_due] > LATE_AFTER) == (late[not_due] > 0.5)).all()
    assert ((central > DEFAULT_AFTER) == (default > 0.5))[default < 1].all()


def test_too_few_payments_to_learn_from_give_the_life_table():
    from payrisk.models.payment import PaymentHazard

    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame({"days_past_due": rng.integers(-40, 30, n).astype("float64"),
                      "x": rng.normal(size=n)})  # fmt: skip
    paid = np.full(n, np.nan)
    paid[:12] = rng.integers(-5, 20, 12)  # twelve payments in all
    timing = pd.DataFrame({"paid_days_past_due": paid, "observed_days_past_due": 120.0})
    hazard = PaymentHazard(categorical=(), min_payments=20).fit(X, timing)
    assert hazard.booster_ is None and "at least 20 needed" in hazard.not_learnable_
    start = X["days_past_due"].to_numpy()
    cumulative = hazard.cumulative(X.to_numpy(), start)
    assert (np.diff(cumulative, axis=1) >= 0).all() and (cumulative[:, -1] < 0.5).all()


@pytest.fixture(scope="module")
def scored(scorer, sample_dataset) -> pd.DataFrame:
    """Every snapshot of the sample's last year (at issue, on the due date and past due), scored
    by the champion as the service would, with the invoices' due dates."""
    end = sample_dataset.invoices["issue_date"].max() + pd.Timedelta(days=1)
    queries = snapshot_queries(sample_dataset.invoices, end, SnapshotSettings())
    queries = queries.loc[queries["snapshot_date"] >= end - pd.Timedelta(days=365)]
    history = scorer.build_history(sample_dataset, end)
    scores = scorer.score(history, queries)
    return pd.concat([queries.reset_index(drop=True), scores.reset_index(drop=True)], axis=1)


def test_default_is_never_more_likely_than_late(scored):
    assert len(scored) > 3000
    assert (scored["default_probability"] <= scored["late_probability"]).all()


def test_default_is_late_times_default_given_late_not_a_clip(scorer, sample_dataset, scored):
    """P(default) is the product of the two models, not the default model cut to the late one:
    the two probabilities are equal only where a default is as likely as the late payment."""
    features = FeatureSet.of(scorer.feature_settings.declared)
    queries = scored[list(snapshot_queries(sample_dataset.invoices.head(0), pd.Timestamp(0),
                                           SnapshotSettings()).columns)]  # fmt: skip
    history = scorer.build_history(sample_dataset, scored["snapshot_date"].max())
    columns = frame_columns(scorer.features(history, queries), features.columns)
    matrix = scorer.plan.layouts[scorer.plan.default].matrix(columns)
    given_late = scorer.default_model.probability(matrix)
    not_due = (scored["snapshot_date"] <= scored["due_date"]).to_numpy()
    expected = scored["late_probability"].to_numpy() * given_late
    assert np.allclose(scored["default_probability"].to_numpy()[not_due], expected[not_due])
    equal = np.isclose(scored["default_probability"], scored["late_probability"])[not_due]
    assert equal.mean() < 0.01  # it was 10% with the clip


def test_no_invoice_likely_late_is_expected_on_time(scored):
    """Issue 14's INV0015325: late 78%, due 12-22, expected 12-14. No more."""
    not_due = scored["snapshot_date"] <= scored["due_date"]
    likely_late = not_due & (scored["late_probability"] > 0.5)
    likely_on_time = not_due & (scored["late_probability"] < 0.5)
    assert likely_late.sum() > 100 and likely_on_time.sum() > 100
    assert (
        scored.loc[likely_late, "expected_payment_date"] > scored.loc[likely_late, "due_date"]
    ).all()
    on_time = scored.loc[likely_on_time]
    assert (on_time["expected_payment_date"] <= on_time["due_date"]).all()


def test_the_interval_contains_the_central_date_and_starts_at_the_snapshot(scored):
    low, central, high = (scored[f"expected_payment_date{s}"] for s in ("_low", "", "_high"))
    assert ((low <= central) & (central <= high)).all()
    assert (low >= scored["snapshot_date"]).all()
    assert (high > low).mean() > 0.9  # an interval, not a point


def test_large_batches_score_in_chunks_as_one(scorer, sample_dataset, monkeypatch):
    from payrisk.models import scorer as scorer_module

    end = sample_dataset.invoices["issue_date"].max() + pd.Timedelta(days=1)
    queries = snapshot_queries(sample_dataset.invoices, end, SnapshotSettings()).tail(1200)
    features = scorer.features(scorer.build_history(sample_dataset, end), queries)
    whole = scorer.predict(features)
    monkeypatch.setattr(scorer_module, "SCORE_CHUNK", 500)
    pd.testing.assert_frame_equal(scorer.predict(features), whole)


def test_the_recommended_plan_keeps_dates_coherent_with_the_probabilities(scorer, sample_dataset):
    """The learned plan may bring a payment date forward (a contact that works), never before
    what P(late) allows: an open invoice more likely late than not stays expected after its due
    date, and the interval still holds the central date."""
    from payrisk.data.receivables import default_as_of
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.planning import open_invoice_queries, score_and_plan

    as_of = default_as_of(sample_dataset)
    history = scorer.build_history(sample_dataset, as_of)
    queries = open_invoice_queries(sample_dataset, as_of)
    planned = score_and_plan(scorer, history, queries, as_of, load_dunning_config(), 0).invoices
    assert scorer.effects is not None and (planned["policy"] == "learned").any()
    not_due = planned["due_date"] >= as_of
    likely_late = not_due & (planned["late_probability"] > 0.5)
    assert likely_late.sum() > 10
    assert (
        planned.loc[likely_late, "expected_payment_date"] > planned.loc[likely_late, "due_date"]
    ).all()
    low, central, high = (planned[f"expected_payment_date{s}"] for s in ("_low", "", "_high"))
    assert ((low <= central) & (central <= high)).all()
