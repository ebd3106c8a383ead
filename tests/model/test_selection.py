"""Choosing the model of a target: candidates judged on the latest training slice, a calibrated
prior for targets that cannot be learned, LightGBM sized to the data, checks against baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.models.estimators import (
    CustomerRatePrior,
    LinearLogit,
    TargetClassifier,
    learnability_problem,
    sized_lightgbm,
)
from payrisk.models.training import MODEL, Examples, baseline_checks

SMALL_TREES = {"n_estimators": 60, "learning_rate": 0.1, "num_leaves": 7, "min_child_samples": 20}


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    """Features in time order: a customer record (for the prior), two signals, a category."""
    rng = np.random.default_rng(seed)
    settled = rng.integers(0, 30, n).astype("float64")
    return pd.DataFrame(
        {
            "settled_invoices": settled,
            "late_share": np.where(settled > 0, rng.uniform(0, 1, n), np.nan),
            "days_past_due": rng.integers(-40, 1, n).astype("float64"),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "country": rng.choice(["FR", "DE", "ES"], n),
        }
    )


def classifier(**changes) -> TargetClassifier:
    settings = dict(
        lightgbm_params=SMALL_TREES,
        early_stopping_rounds=10,
        calibration_fraction=0.3,
        categorical=("country",),
        prior=CustomerRatePrior("late_share", "settled_invoices"),
        random_state=0,
    )
    return TargetClassifier(**{**settings, **changes})


def test_the_candidate_with_the_best_out_of_fold_log_loss_is_kept():
    X = frame(3000)
    rng = np.random.default_rng(1)
    y = (rng.random(3000) < 1 / (1 + np.exp(-(2.0 * X["x1"] - X["x2"])))).astype(int)
    model = classifier().fit(X, y)
    judged = {k: v["log_loss"] for k, v in model.selection_.items() if v["eligible"]}
    assert set(judged) == {"lightgbm", "logistic", "blend", "prior"}
    assert model.chosen_ == min(judged, key=judged.get)
    assert model.chosen_ in ("logistic", "blend")  # the truth is linear
    assert judged["prior"] > judged[model.chosen_] + 0.1  # the prior ignores x1, x2
    p = model.predict_proba(X)[:, 1]
    assert abs(p.mean() - y.mean()) < 0.03
    assert model.summary()["learnable"] is True


def test_a_target_with_too_few_positives_is_not_learnable_and_keeps_its_prior():
    X = frame(2000)
    y = np.zeros(2000, dtype=int)
    y[[100, 900, 1500, 1800]] = 1  # 4 positives, one or two after the calibration cut
    model = classifier(min_class_examples=20).fit(X, y)
    assert model.chosen_ == "prior" and model.not_learnable_ is not None
    assert "positive" in model.not_learnable_ and "at least 20" in model.not_learnable_
    summary = model.summary()
    assert summary["learnable"] is False and summary["model"] == "prior"
    p = model.predict_proba(X)[:, 1]
    assert np.allclose(p, model.prior_.predict(model.layout_.matrix(X)))
    assert p.min() > 0 and p.max() < 0.5  # a rate, not a guess


def test_a_target_with_one_class_gets_a_small_positive_prior():
    X = frame(500).assign(late_share=0.0)  # nobody was ever late
    model = classifier().fit(X, np.zeros(500, dtype=int))
    assert model.not_learnable_.startswith("no positive example")
    p = model.predict_proba(X)[:, 1]
    assert (p > 0).all() and p.max() < 0.01


def test_the_prior_is_the_customers_own_rate_shrunk_towards_the_population():
    X = pd.DataFrame({"settled_invoices": [0.0, 2.0, 40.0], "late_share": [np.nan, 1.0, 1.0]})
    prior = CustomerRatePrior(strengths=(10.0,)).fit(
        X.to_numpy(), np.array([0, 0, 1]), tuple(X.columns)
    )
    new, short, long = prior.predict(X.to_numpy())
    assert new == pytest.approx(prior.population_rate_)
    assert new < short < long < 1  # more history, closer to the customer's own rate (1.0)
    assert long == pytest.approx((40 + 10 * prior.population_rate_) / 50)


@pytest.mark.parametrize(
    ("y", "population_rate"),
    [
        ([1, 0, 0, 0], 1.5 / 5),  # (1 + 0.5) / (4 + 1), not 1 / 4
        ([0, 0, 0], 0.5 / 4),  # no positive: a small rate, not zero
        ([1, 1, 1], 3.5 / 4),  # no negative: not one
    ],
)
def test_the_population_rate_has_half_an_event_added(y: list[int], population_rate: float):
    """Jeffreys: (events + 0.5) / (examples + 1); a customer without history gets it."""
    X = pd.DataFrame({"settled_invoices": [0.0] * len(y), "late_share": [np.nan] * len(y)})
    prior = CustomerRatePrior().fit(X.to_numpy(), np.array(y), tuple(X.columns))
    assert prior.population_rate_ == pytest.approx(population_rate)
    assert prior.predict(X.to_numpy()[:1])[0] == pytest.approx(population_rate)


def test_the_logistic_regression_keeps_the_monotone_constraints():
    X = frame(2000)
    # More days past due lowers the outcome in this data, against the declared constraint.
    y = (X["days_past_due"] < -20).astype(int).to_numpy()
    columns = tuple(X.columns[:-1])
    matrix = X[list(columns)].to_numpy(dtype="float64")
    free = LinearLogit().fit(matrix, y, columns, set())
    constrained = LinearLogit(monotone_increasing=("days_past_due",)).fit(matrix, y, columns, set())
    column = columns.index("days_past_due")
    assert free.coef_[column] < -0.5
    assert constrained.coef_[column] >= 0


def test_lightgbm_is_sized_to_the_examples():
    params = {"num_leaves": 15, "min_child_samples": 100, "learning_rate": 0.05}
    assert sized_lightgbm(params, 50_000, 20_000) == params
    small = sized_lightgbm(params, 2_000, 20_000)
    assert small["min_child_samples"] == 10 and small["num_leaves"] == 5
    assert small["learning_rate"] == 0.05
    assert sized_lightgbm(params, 100, 20_000)["min_child_samples"] == 5  # a floor
    assert sized_lightgbm(params, 2_000, None) == params


def test_learnability_names_the_side_of_the_cut_that_lacks_examples():
    y = np.array([0] * 80 + [1] * 15 + [0] * 20 + [1] * 5)
    fit, calibration = np.arange(95), np.arange(95, 120)
    assert "15 positive and 80 negative examples before" in learnability_problem(
        y, fit, calibration, 16
    )
    assert "5 positive and 20 negative examples after" in learnability_problem(
        y, fit, calibration, 6
    )
    assert learnability_problem(y, fit, calibration, 5) is None
    assert learnability_problem(np.array([], dtype=int), fit[:0], fit[:0], 5).startswith("no ")


def holdout_of(y: np.ndarray, customers: np.ndarray) -> Examples:
    queries = pd.DataFrame({"customer_id": customers})
    labels = pd.DataFrame({"late": y.astype("float64"), "default": y.astype("float64")})
    return Examples(queries, pd.DataFrame(index=queries.index), labels)


@pytest.mark.parametrize("model_is_good", [True, False])
def test_a_model_worse_than_its_best_baseline_beyond_noise_is_flagged(model_is_good):
    rng = np.random.default_rng(3)
    n = 3000
    y = rng.integers(0, 2, n)
    customers = rng.integers(0, 300, n).astype("str")
    informative = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.2, n), 0.01, 0.99)
    noise = rng.uniform(0.01, 0.99, n)
    model, baseline = (informative, noise) if model_is_good else (noise, informative)
    predicted = {t: {MODEL: model, "logistic": baseline} for t in ("late", "default")}
    checks = baseline_checks(holdout_of(y, customers), predicted, seed=0)
    for rows in checks.values():
        assert {row["metric"] for row in rows} == {"roc_auc", "log_loss"}
        assert all(row["best_baseline"] == "logistic" for row in rows)
        assert all(row["worse_beyond_noise"] is (not model_is_good) for row in rows)
        assert all(row["noise"] > 0 for row in rows)


def test_the_refit_for_serving_keeps_the_family_the_holdout_measured(monkeypatch):
    """The holdout measured LightGBM for late and the blend for default: the refit on the whole
    history fits those families only, it does not choose again (it registered a blend where
    LightGBM had been evaluated)."""
    from types import SimpleNamespace

    import pipelines.training as pipeline
    from payrisk.core.config import load_train_config

    calls = {}

    def fake_fit(examples, config, metadata=None, families=None):
        calls["families"], calls["trained_until"] = families, metadata["trained_until"]
        return "refitted"

    monkeypatch.setattr(pipeline, "fit_scorer", fake_fit)
    monkeypatch.setattr(pipeline, "window_examples", lambda *args: "every snapshot")
    evaluated = SimpleNamespace(
        model_summary=lambda: {
            "late": {"model": "lightgbm"},
            "default_given_late": {"model": "blend"},
            "payment": {"model": "hazard"},
        }
    )
    data = SimpleNamespace(
        everything=None, dataset=SimpleNamespace(invoices=None), as_of=pd.Timestamp("2024-06-01")
    )
    config = load_train_config()
    assert pipeline.scorer_to_register(data, evaluated, {}, config) == "refitted"
    assert calls == {
        "families": {"late": "lightgbm", "default_given_late": "blend"},
        "trained_until": "2024-06-01",
    }


def test_a_fixed_family_is_kept_even_where_another_would_win():
    """Only the family given is fitted and kept (the prior stays the fallback)."""
    X = frame(3000)
    rng = np.random.default_rng(1)
    y = (rng.random(3000) < 1 / (1 + np.exp(-(2.0 * X["x1"] - X["x2"])))).astype(int)
    model = classifier(candidates=("lightgbm",)).fit(X, y)
    assert model.chosen_ == "lightgbm" and model.linear_ is None
    assert set(model.selection_) == {"lightgbm"}


def test_a_model_behind_a_baseline_at_issue_is_flagged_even_when_ahead_on_the_due_date():
    """Three snapshots in four on the due date, where the model reads the outcome and the
    logistic baseline guesses; at issue it is the other way round. Pooled, the model would be
    ahead; the checks are per age: on the due date it is ahead, at issue worse beyond noise, and
    the check on that group says so (the gate reads it)."""
    from types import SimpleNamespace

    from payrisk.core.config import load_train_config
    from payrisk.models.gate import behind_baselines
    from payrisk.models.training import Baselines, evaluate

    rng = np.random.default_rng(4)
    n = 4000
    at_issue = np.arange(n) % 4 == 0
    issue = pd.Timestamp("2024-03-01")
    due = issue + pd.Timedelta(days=30)
    y = rng.integers(0, 2, n)
    informative = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.2, n), 0.01, 0.99)
    guess = rng.uniform(0.01, 0.99, n)
    model = np.where(at_issue, guess, informative)
    baseline = np.where(at_issue, informative, guess)
    queries = pd.DataFrame(
        {
            "snapshot_date": np.where(at_issue, issue, due),
            "issue_date": issue,
            "due_date": due,
            "customer_id": rng.integers(0, 400, n).astype("str"),
            "amount": 100.0,
        }
    )
    features = pd.DataFrame({"row": np.arange(n), "is_new_customer": 0.0})
    labels = pd.DataFrame({"late": y, "default": y, "days_to_payment": 10.0}).astype("float64")
    days = np.full(n, 10.0)

    def scores(frame: pd.DataFrame) -> pd.DataFrame:
        p = model[frame["row"].to_numpy()]
        return pd.DataFrame(
            {
                "late_probability": p,
                "default_probability": p,
                "days_to_payment": days,
                "days_to_payment_low": days,
                "days_to_payment_high": days,
            }
        )

    def proba(p):
        return SimpleNamespace(predict_proba=lambda f: np.column_stack([1 - p, p])[f["row"]])

    scorer = SimpleNamespace(feature_columns=("row", "is_new_customer"), predict=scores)
    baselines = Baselines(
        rate={t: proba(np.full(n, 0.5)) for t in ("late", "default")},
        logistic={t: proba(baseline) for t in ("late", "default")},
    )
    evaluation = evaluate(
        scorer, Examples(queries, features, labels), load_train_config(), baselines
    )
    assert set(evaluation.group_checks) == {"at_issue", "at_due"}  # no pooled check
    pooled = {row["metric"]: row for row in evaluation.group_checks["at_due"]["late"]}
    issued = {row["metric"]: row for row in evaluation.group_checks["at_issue"]["late"]}
    assert pooled["roc_auc"]["gain"] > 0 and not pooled["roc_auc"]["worse_beyond_noise"]
    assert (
        issued["roc_auc"]["worse_beyond_noise"] and issued["roc_auc"]["best_baseline"] == "logistic"
    )
    assert "late roc_auc at at issue" not in (behind_baselines(evaluation) or "")
    assert "late roc_auc at issue: " in behind_baselines(evaluation)


def test_the_historical_rate_baseline_is_shrunk_by_the_customers_record():
    """One late invoice out of one is not a 100% late payer: the baseline shrinks the rate
    towards the population's, less the longer the record; a new customer gets the population
    rate with half an event added (9 late of 20 training rows: 9.5 / 21)."""
    from payrisk.models.estimators import HistoricalRateBaseline

    rng = np.random.default_rng(0)
    settled = np.array([0, 1, 1, 2, 4, 6, 8, 10, 20, 30] * 2, dtype="float64")
    share = np.where(settled > 0, rng.uniform(0, 1, 20), np.nan)
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0])
    X = pd.DataFrame({"late_share": share, "settled_invoices": settled})
    baseline = HistoricalRateBaseline().fit(X, y)
    ask = pd.DataFrame({"late_share": [1.0, 1.0, np.nan], "settled_invoices": [1.0, 200.0, 0.0]})
    short, long_record, new = baseline.predict_proba(ask)[:, 1]
    population = 9.5 / 21
    assert population < short < long_record < 1.0
    assert long_record > 0.75 and short < 0.75  # strengths between 1 and 50 on the grid
    assert new == pytest.approx(population)
