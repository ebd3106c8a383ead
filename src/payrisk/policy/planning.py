"""Scoring open invoices: scores, reasons and the dunning plan, for batch and online alike.

Batch scoring (`payrisk score`) calls `score_and_plan` on a frame of open invoices, the service
calls `plan_portfolio` on the arrays of a request; the first is a thin frame wrapper around the
second, so both run the same features, models, rules and reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from payrisk.core.days import day_number, to_days
from payrisk.data.loading import Dataset
from payrisk.data.receivables import open_invoices
from payrisk.features.history import History
from payrisk.models.encoding import Columns, frame_columns
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.policy.config import DunningConfig
from payrisk.policy.dunning import NO_CONTACT, frame, plan_arrays
from payrisk.policy.reasons import reason_lists

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
    features = frame_columns(scorer.features(history, queries), scorer.feature_columns)
    scores = scored_columns(
        scorer, features, to_days(queries["snapshot_date"]), to_days(queries["due_date"])
    )
    wanted = np.ones(len(queries), dtype=bool) if explain is None else np.asarray(explain, bool)
    scores["reasons"] = explain_arrays(scorer, features, scores["reason_target"], wanted, reasons)
    return frame(scores, queries.index)


def scored_columns(
    scorer: PaymentRiskScorer, features: Columns, snapshot_day: np.ndarray, due_day: np.ndarray
) -> dict[str, np.ndarray]:
    """Scores, expected dates and what the dunning rules read from the features, per invoice."""
    scores = scorer.score_arrays(features, snapshot_day)
    expected = scores["expected_payment_date"].astype("datetime64[D]").astype("int64")
    scores["expected_days_late"] = expected - np.asarray(due_day, dtype="int64")
    # Past due, the question is whether it will be paid at all; before, whether it will be late.
    past_due = np.asarray(features["days_past_due"]) > scorer.targets.late_after_days
    scores["reason_target"] = np.where(past_due, "default", "late").astype(object)
    scores["reasons"] = np.full(len(past_due), None, dtype=object)
    scores["reminders_sent"] = np.asarray(features["reminders_sent"])
    scores["days_since_customer_contact"] = np.asarray(features["days_since_customer_contact"])
    scores["is_new_customer"] = np.asarray(features["is_new_customer"]) > 0
    return scores


def explain_arrays(
    scorer: PaymentRiskScorer,
    features: Columns,
    reason_target: np.ndarray,
    wanted: np.ndarray,
    reasons: int = REASON_COUNT,
) -> np.ndarray:
    """Top reasons per row where `wanted` (None elsewhere), from the model that answers its
    question: the late model before the due date, the default model after."""
    explained = np.full(len(wanted), None, dtype=object)
    for target in ("late", "default"):
        rows = np.flatnonzero(wanted & (np.asarray(reason_target) == target))
        if len(rows) == 0:
            continue
        subset = {name: np.asarray(values)[rows] for name, values in features.items()}
        matrix = scorer.contribution_matrix(subset, target)[:, :-1]  # without the bias
        entries = reason_lists(matrix, scorer.contribution_names(target), subset, reasons)
        for row, entry in zip(rows, entries, strict=True):
            explained[row] = entry
    return explained


@dataclass(frozen=True)
class OpenInvoices:
    """Open invoices to score, as plain arrays (days since 1970): what a request or a frame
    of queries carries."""

    invoice_id: np.ndarray  # object
    customer_id: np.ndarray  # object
    issue_day: np.ndarray  # int64
    due_day: np.ndarray  # int64
    amount: np.ndarray  # float64
    open_amount: np.ndarray  # float64
    disputed: np.ndarray  # bool
    in_history: np.ndarray | None = None  # bool; None: in the history if its id is there
    snapshot_day: np.ndarray | None = None  # int64; None: the as-of day
    attributes: dict[str, np.ndarray] | None = None  # declared invoice features not in history

    def __len__(self) -> int:
        return len(self.invoice_id)

    @classmethod
    def of(cls, queries: pd.DataFrame) -> OpenInvoices:
        amount = queries["amount"].to_numpy(dtype="float64")
        open_amount = (
            queries["open_amount"].to_numpy(dtype="float64", na_value=np.nan)
            if "open_amount" in queries
            else amount
        )
        return cls(
            invoice_id=queries["invoice_id"].to_numpy(dtype=object),
            customer_id=queries["customer_id"].to_numpy(dtype=object),
            issue_day=to_days(queries["issue_date"]),
            due_day=to_days(queries["due_date"]),
            amount=amount,
            open_amount=open_amount,
            disputed=(
                queries["disputed"].fillna(False).to_numpy(dtype="bool")
                if "disputed" in queries
                else np.zeros(len(queries), dtype=bool)
            ),
            in_history=(
                queries["in_history"].to_numpy(dtype="bool") if "in_history" in queries else None
            ),
            snapshot_day=to_days(queries["snapshot_date"]) if "snapshot_date" in queries else None,
        )


@dataclass(frozen=True)
class PortfolioArrays:
    invoices: dict[str, np.ndarray]  # per invoice, in input order
    customers: dict[str, np.ndarray]  # per customer, sorted by id


def plan_portfolio(
    scorer: PaymentRiskScorer,
    history: History,
    invoices: OpenInvoices,
    as_of: pd.Timestamp,
    dunning: DunningConfig,
    explain_top: int | None = None,
) -> PortfolioArrays:
    """Score open invoices and plan their dunning as known at `as_of`, on plain arrays.

    Reasons are given for the `explain_top` invoices first on the collectors' worklist (all when
    None): they are what collectors and credit managers read, and what reasons cost.
    """
    today = day_number(as_of)
    n = len(invoices)
    snapshot_day = (
        np.full(n, today, dtype="int64") if invoices.snapshot_day is None else invoices.snapshot_day
    )
    features = scorer.feature_arrays(
        history,
        invoice_ids=invoices.invoice_id,
        customer_ids=invoices.customer_id,
        issue_day=invoices.issue_day,
        due_day=invoices.due_day,
        amount=invoices.amount,
        snapshot_day=snapshot_day,
        in_history=invoices.in_history,
        disputed=invoices.disputed,
        attributes=invoices.attributes,
    )
    scores = scored_columns(scorer, features, snapshot_day, invoices.due_day)
    open_amount = np.where(np.isnan(invoices.open_amount), invoices.amount, invoices.open_amount)
    contact = scores["days_since_customer_contact"]
    scored = {
        "invoice_id": invoices.invoice_id,
        "customer_id": invoices.customer_id,
        "issue_date": invoices.issue_day.astype("datetime64[D]"),
        "due_date": invoices.due_day.astype("datetime64[D]"),
        "open_amount": open_amount,
        "disputed": invoices.disputed,
        "key_account": history.key_account_flags(invoices.customer_id),
        **scores,
    }
    # The customer's latest reminder: the same day for each of its invoices (a customer feature).
    last_contact = np.where(
        np.isnan(contact), NO_CONTACT, today - np.nan_to_num(contact).astype("int64")
    )
    plan = plan_arrays(scored, last_contact, today, dunning)
    rank = plan.invoices["priority_rank"]
    wanted = rank <= (n if explain_top is None else explain_top)
    scored["reasons"] = explain_arrays(scorer, features, scores["reason_target"], wanted)
    return PortfolioArrays(invoices={**scored, **plan.invoices}, customers=plan.customers)


PLAN_COLUMNS = frozenset(
    {"scenario", "action", "step", "channel", "template", "actor", "action_date"}
    | {"expected_recovery", "expected_loss", "priority_rank"}
)


SCORED_INPUTS = frozenset(
    {"invoice_id", "customer_id", "issue_date", "due_date", "open_amount", "disputed"}
    | {"key_account"}
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
    """`plan_portfolio` on a frame of queries; invoices sorted by the collectors' priority."""
    queries = queries.reset_index(drop=True)
    portfolio = plan_portfolio(
        scorer, history, OpenInvoices.of(queries), as_of, dunning, explain_top
    )
    columns = portfolio.invoices
    # The queries' own columns as they are, then what scoring adds (in the order it adds them).
    added = [n for n in columns if n not in SCORED_INPUTS and n not in PLAN_COLUMNS]
    added += [name for name in ("open_amount", "disputed") if name not in queries]
    added.append("key_account")
    added += [name for name in columns if name in PLAN_COLUMNS]
    computed = {name: columns[name] for name in dict.fromkeys(added)}
    invoices = pd.concat([queries, frame(computed, queries.index)], axis=1)
    order = np.argsort(portfolio.invoices["priority_rank"], kind="stable")
    invoices = invoices.take(order).reset_index(drop=True)
    return ScoredPortfolio(invoices=invoices, customers=frame(portfolio.customers))
