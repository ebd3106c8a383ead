"""Scoring open invoices: scores, reasons and the dunning plan, for batch and online alike.

Batch scoring (`payrisk score`) and the service both call `score_and_plan`; only where the
invoices come from differs (the data directory, or the request body).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from payrisk.config import DunningConfig
from payrisk.dataset import Dataset
from payrisk.dunning import plan_dunning
from payrisk.explain import top_reasons
from payrisk.features import History
from payrisk.receivables import open_invoices
from payrisk.scorer import PaymentRiskScorer

REASON_COUNT = 3


def open_invoice_queries(dataset: Dataset, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every invoice open at `as_of`, as a scoring query dated `as_of`."""
    frame = open_invoices(dataset, as_of)
    keep = ["invoice_id", "customer_id", "issue_date", "due_date", "amount", "open_amount"]
    queries = frame[[*keep, "disputed"]].reset_index(drop=True)
    queries["snapshot_date"] = as_of
    queries["in_history"] = True
    return queries


def score_invoices(
    scorer: PaymentRiskScorer,
    history: History,
    queries: pd.DataFrame,
    explain: np.ndarray | None = None,
    reasons: int = REASON_COUNT,
) -> pd.DataFrame:
    """Scores, expected dates and top reasons of each query invoice (features computed once).

    Reasons come from TreeSHAP contributions, which cost far more than the scores (about half a
    millisecond an invoice on 2 cores); `explain` (a boolean mask over `queries`) limits them to
    the invoices someone will read. None explains every invoice.
    """
    return score_features(scorer, scorer.features(history, queries), queries, explain, reasons)


def score_features(
    scorer: PaymentRiskScorer,
    features: pd.DataFrame,
    queries: pd.DataFrame,
    explain: np.ndarray | None = None,
    reasons: int = REASON_COUNT,
) -> pd.DataFrame:
    """`score_invoices` for features already computed."""
    scores = scorer.score_features(features, queries["snapshot_date"])
    expected = pd.DatetimeIndex(scores["expected_payment_date"])
    scores["expected_days_late"] = (expected - pd.DatetimeIndex(queries["due_date"])).days
    # Past due, the question is whether it will be paid at all; before, whether it will be late.
    past_due = features["days_past_due"].to_numpy() > scorer.targets.late_after_days
    scores["reason_target"] = np.where(past_due, "default", "late")
    scores["reasons"] = explain_scores(scorer, features, scores["reason_target"], explain, reasons)
    scores["reminders_sent"] = features["reminders_sent"].to_numpy()
    scores["days_since_customer_contact"] = features["days_since_customer_contact"].to_numpy()
    scores["is_new_customer"] = features["is_new_customer"].to_numpy() > 0
    return scores


def explain_scores(
    scorer: PaymentRiskScorer,
    features: pd.DataFrame,
    reason_target: pd.Series,
    explain: np.ndarray | None = None,
    reasons: int = REASON_COUNT,
) -> list[list[dict] | None]:
    """Top reasons per row (None where not asked for), from the model that answers its question."""
    wanted = np.ones(len(features), dtype=bool) if explain is None else np.asarray(explain, bool)
    explained: list[list[dict] | None] = [None] * len(features)
    for target in ("late", "default"):
        rows = np.flatnonzero(wanted & (reason_target.to_numpy() == target))
        if len(rows) == 0:
            continue
        subset = features.iloc[rows]
        entries = top_reasons(scorer.contributions(subset, target), subset, reasons)
        for row, entry in zip(rows, entries, strict=True):
            explained[row] = entry
    return explained


def key_accounts(history: History, customer_ids: pd.Series) -> pd.Series:
    row = history.attribute_rows(customer_ids)
    flags = history.customers["key_account"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    found = row >= 0
    return pd.Series(
        np.where(found, flags[np.where(found, row, 0)] if len(flags) else False, False),
        index=customer_ids.index,
    )


@dataclass(frozen=True)
class ScoredPortfolio:
    invoices: pd.DataFrame  # one row per open invoice: scores, reasons, next action, priority
    customers: pd.DataFrame  # one row per customer: risk, scenario, next contact


def score_and_plan(
    scorer: PaymentRiskScorer,
    history: History,
    queries: pd.DataFrame,
    as_of: pd.Timestamp,
    dunning: DunningConfig,
    explain_top: int | None = None,
) -> ScoredPortfolio:
    """Score open invoices and plan their dunning, as known at `as_of`.

    Reasons are given for the `explain_top` invoices first on the collectors' worklist (all when
    None): they are what collectors and credit managers read, and what reasons cost.
    """
    queries = queries.reset_index(drop=True)
    features = scorer.features(history, queries)
    scores = score_features(scorer, features, queries, explain=np.zeros(len(queries), dtype=bool))
    scored = pd.concat([queries, scores.reset_index(drop=True)], axis=1)
    if "open_amount" not in scored:
        scored["open_amount"] = scored["amount"]
    if "disputed" not in scored:
        scored["disputed"] = False
    scored["key_account"] = key_accounts(history, scored["customer_id"])
    last_contact = (
        pd.Series(
            as_of - pd.to_timedelta(scored["days_since_customer_contact"], unit="D"),
            index=scored.index,
        )
        .groupby(scored["customer_id"])
        .max()
    )
    plan, customers = plan_dunning(scored, last_contact, as_of, dunning)
    invoices = pd.concat([scored, plan], axis=1)
    rank = invoices["priority_rank"].to_numpy()
    explain = rank <= (len(invoices) if explain_top is None else explain_top)
    invoices.loc[explain, "reasons"] = pd.Series(
        explain_scores(scorer, features.loc[explain], invoices.loc[explain, "reason_target"]),
        index=invoices.index[explain],
        dtype="object",
    )
    invoices = invoices.sort_values("priority_rank", kind="stable").reset_index(drop=True)
    return ScoredPortfolio(invoices=invoices, customers=customers)
