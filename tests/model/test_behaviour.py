"""Model behaviour: what any credit manager expects of the scores, on the trained champion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.models.scorer import PaymentRiskScorer
from tests.helpers import dataset


def customer_history(days_late: int) -> list[dict]:
    """Twelve monthly invoices of 1,000, all settled `days_late` days after their due date."""
    rows = []
    for month in range(12):
        issue = pd.Timestamp("2025-01-05") + pd.DateOffset(months=month)
        due = issue + pd.Timedelta(days=30)
        rows.append(
            {
                "invoice_id": f"H{month}",
                "customer_id": "C",
                "issue_date": issue.date().isoformat(),
                "due_date": due.date().isoformat(),
                "amount": "1000",
                "paid_date": (due + pd.Timedelta(days=days_late)).date().isoformat(),
            }
        )
    return rows


def score_new_invoice(scorer: PaymentRiskScorer, days_late: int) -> pd.Series:
    as_of = pd.Timestamp("2026-03-01")
    new = {
        "invoice_id": "NEW",
        "customer_id": "C",
        "issue_date": "2026-03-01",
        "due_date": "2026-03-31",
        "amount": "1000",
    }
    data = dataset([*customer_history(days_late), new])
    history = scorer.build_history(data, as_of)
    query = data.invoices.loc[data.invoices["invoice_id"] == "NEW"].assign(snapshot_date=as_of)
    return scorer.score(history, query).iloc[0]


def test_a_customer_always_late_scores_riskier_than_a_punctual_one(scorer):
    late_payer = score_new_invoice(scorer, days_late=25)
    punctual = score_new_invoice(scorer, days_late=-2)
    assert late_payer["late_probability"] > punctual["late_probability"] + 0.1
    assert late_payer["default_probability"] >= punctual["default_probability"]
    assert late_payer["expected_payment_date"] > punctual["expected_payment_date"]


def test_an_invoice_past_the_payment_horizon_is_never_expected_in_the_past(scorer):
    """The payment-date model stops at `payment_horizon_days` past due: older open invoices are
    expected no earlier than the scoring day, not on the horizon's last day in the past."""
    as_of = pd.Timestamp("2026-03-01")
    horizon = int(scorer.payment_model.edges_[-1])
    old = []
    for k, days in enumerate((horizon - 20, horizon + 10, horizon + 400)):
        due = as_of - pd.Timedelta(days=days)
        old.append(
            {
                "invoice_id": f"OLD{k}",
                "customer_id": "C",
                "issue_date": (due - pd.Timedelta(days=30)).date().isoformat(),
                "due_date": due.date().isoformat(),
                "amount": "1000",
            }
        )
    data = dataset([*customer_history(40), *old])
    history = scorer.build_history(data, as_of)
    query = data.invoices.loc[data.invoices["invoice_id"].str.startswith("OLD")]
    scores = scorer.score(history, query.assign(snapshot_date=as_of))
    for column in (
        "expected_payment_date_low",
        "expected_payment_date",
        "expected_payment_date_high",
    ):
        assert (scores[column] >= as_of).all(), scores[column]
    assert (scores["expected_payment_date_low"] <= scores["expected_payment_date"]).all()
    assert (scores["expected_payment_date"] <= scores["expected_payment_date_high"]).all()


def test_more_days_past_due_never_lowers_the_default_probability(scorer, sample_dataset):
    as_of = sample_dataset.invoices["issue_date"].max()
    history = scorer.build_history(sample_dataset, as_of)
    invoices = sample_dataset.invoices.sample(300, random_state=3)
    queries = invoices.assign(snapshot_date=as_of)
    features = scorer.features(history, queries).reset_index(drop=True)
    grid = np.arange(-30, 181, 3)
    repeated = features.loc[features.index.repeat(len(grid))].reset_index(drop=True)
    repeated["days_past_due"] = np.tile(grid, len(features)).astype("float64")
    default = scorer.predict(repeated)["default_probability"].to_numpy().reshape(len(features), -1)
    assert (np.diff(default, axis=1) >= -1e-12).all()
    assert (default[:, -1] == 1.0).all()  # 180 days past due: already a default by definition
    assert default[:, 0].mean() < 0.5


def test_one_invoice_requests_score_as_the_batch_does(scorer, sample_dataset):
    """The service's small-request path (hash probes, one thread, arrays) = the batch frame path."""
    from payrisk.data.receivables import default_as_of
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.planning import open_invoice_queries, score_and_plan
    from payrisk.serving.engine import ScoringEngine, SnapshotHolder
    from payrisk.serving.schemas import InvoiceIn, ScoreRequest

    as_of = default_as_of(sample_dataset)
    history = scorer.build_history(sample_dataset, as_of)
    queries = open_invoice_queries(sample_dataset, as_of)
    # One invoice per customer, so that the per-customer plan is the same whole or alone; none
    # with a dunning state (promise, plan, hold, direct debit): this engine has no bundle to
    # know it from (tests/service/test_dunning_state.py compares those).
    stateless = queries["state_promise_date"].isna() & queries["state_plan_due_date"].isna()
    stateless &= queries["state_hold_until_date"].isna() & (queries["state_direct_debit"] != 1)
    # nor a formal notice sent (the ladder reads it from the bundle's state, by channel)
    stateless &= queries["state_notice_date"].isna() & ~(queries["state_top_level_sent"] >= 3)
    queries = queries.loc[stateless].drop_duplicates("customer_id").head(30).reset_index(drop=True)
    batch = score_and_plan(scorer, history, queries, as_of, load_dunning_config())
    batch = batch.invoices.set_index("invoice_id")
    engine = ScoringEngine(
        scorer, "test", "memory", SnapshotHolder(None, history.compact()), load_dunning_config()
    )
    for row in queries.itertuples():
        invoice = InvoiceIn(
            invoice_id=row.invoice_id,
            customer_id=row.customer_id,
            issue_date=row.issue_date.date(),
            due_date=row.due_date.date(),
            amount=float(row.amount),
            open_amount=float(row.open_amount),
            disputed=bool(row.disputed),
        )
        online = engine.score(ScoreRequest(invoices=[invoice], as_of=as_of.date())).invoices[0]
        expected = batch.loc[row.invoice_id]
        assert online.late_probability == pytest.approx(round(expected["late_probability"], 6))
        assert online.default_probability == pytest.approx(
            round(expected["default_probability"], 6)
        )
        assert online.expected_payment_date == expected["expected_payment_date"].date()
        assert online.scenario == expected["scenario"]
        assert online.next_action.action == expected["action"]
        assert online.next_action.action_date == expected["action_date"].date()
        assert [r.model_dump() for r in online.reasons] == expected["reasons"]


def test_the_response_history_read_while_scoring_is_the_one_read_alone(scorer, sample_dataset):
    """Scored today, the customers' response history comes from the scoring pass's features: the
    same per customer as computed on its own."""
    from payrisk.core.days import day_number
    from payrisk.data.receivables import default_as_of
    from payrisk.features.definitions import RESPONSE_FEATURES
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.planning import (
        OpenInvoices,
        open_invoice_queries,
        plan_portfolio,
        response_history,
    )

    as_of = default_as_of(sample_dataset)
    history = scorer.build_history(sample_dataset, as_of)
    invoices = OpenInvoices.of(open_invoice_queries(sample_dataset, as_of).reset_index(drop=True))
    planned = plan_portfolio(scorer, history, invoices, as_of, load_dunning_config())
    alone = response_history(scorer, history, invoices, day_number(as_of))
    names = [feature.name for feature in RESPONSE_FEATURES]
    assert len(alone[names[0]]) == len(np.unique(invoices.customer_id)) > 20
    assert np.nansum([np.nansum(alone[name]) for name in names]) > 0  # some answers known
    for name in names:
        np.testing.assert_array_equal(planned.customers[name], alone[name], err_msg=name)


def test_reasons_are_the_same_as_from_lightgbms_own_treeshap(scorer, sample_dataset, monkeypatch):
    """The fast contributions (payrisk.models.treeshap) give the reasons LightGBM's pred_contrib
    gave, on the champion and the sample's open invoices, for both explained targets."""
    from payrisk.data.receivables import default_as_of
    from payrisk.models import treeshap
    from payrisk.models.encoding import frame_columns
    from payrisk.policy.planning import explain_arrays, open_invoice_queries

    as_of = default_as_of(sample_dataset)
    history = scorer.build_history(sample_dataset, as_of)
    queries = open_invoice_queries(sample_dataset, as_of).reset_index(drop=True)
    features = frame_columns(scorer.features(history, queries), scorer.feature_columns)
    boosted = [t for t in ("late", "default") if scorer.model(t).booster_ is not None]
    if not boosted:
        pytest.skip("the champion uses no LightGBM model for the explained targets")
    for target in ("late", "default"):
        every = np.full(len(queries), target, dtype=object)
        wanted = np.ones(len(queries), dtype=bool)
        fast = explain_arrays(scorer, features, every, wanted)
        with monkeypatch.context() as slow:
            slow.setattr(treeshap, "trees_of", lambda booster, iteration: (booster, iteration))
            slow.setattr(
                treeshap,
                "contributions",
                lambda trees, matrix, threads=0: trees[0].predict(
                    matrix, num_iteration=trees[1], pred_contrib=True
                ),
            )
            lightgbm = explain_arrays(scorer, features, every, wanted)
        assert len(fast) == len(queries) > 0
        assert list(fast) == list(lightgbm)
        assert sum(len(r) for r in fast) > len(queries)  # reasons were given, not empty lists
