"""The online scoring engine: a scorer, the customer-history snapshot, and the answers built from
them. The BentoML service (`payrisk.service`) only wires HTTP to it.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from payrisk.config import DunningConfig
from payrisk.credit import review_credit
from payrisk.features import History
from payrisk.receivables import AGED_BUCKETS
from payrisk.scorer import PaymentRiskScorer
from payrisk.scoring import score_and_plan
from payrisk.service_models import (
    CreditReviewRequest,
    CreditReviewResponse,
    CustomerPlan,
    CustomerProfile,
    CustomerRequest,
    InvoiceScore,
    NextAction,
    ScoreRequest,
    ScoreResponse,
    Status,
)
from payrisk.snapshot import SnapshotError, load_history

log = logging.getLogger("payrisk.service")


class RefusedRequestError(ValueError):
    """A request that is well formed but cannot be answered (e.g. a day before the snapshot)."""


def _none_if_nan(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


class SnapshotHolder:
    """The latest good snapshot; reloads when the file changes, keeps the old one if it is bad."""

    def __init__(self, path: Path | None, history: History | None = None) -> None:
        """Watch the snapshot file at `path`; or, with no path, hold `history` as it is."""
        self.path = path
        self.history: History | None = history
        self.header: dict = {}
        self.problem: str | None = None
        self._stamp: tuple[float, int] | None = None
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        if self.path is None:
            return
        try:
            stat = os.stat(self.path)
        except OSError:
            self.problem = f"{self.path.name}: snapshot file not found"
            return
        stamp = (stat.st_mtime, stat.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                history, header = load_history(self.path)
            except SnapshotError as error:
                self.problem = f"{error}; still serving the snapshot of {self.as_of or 'nothing'}"
                log.error("snapshot refused: %s", error)
            else:
                self.history, self.header, self.problem = history, header, None
                log.info("snapshot loaded: as of %s", history.as_of.date())
            self._stamp = stamp

    @property
    def as_of(self) -> date | None:
        return self.history.as_of.date() if self.history is not None else None


class ScoringEngine:
    def __init__(
        self,
        scorer: PaymentRiskScorer,
        model_version: str,
        model_source: str,
        snapshot: SnapshotHolder,
        dunning: DunningConfig,
    ) -> None:
        self.scorer = scorer
        self.model_version = model_version
        self.model_source = model_source
        self.snapshot = snapshot
        self.dunning = dunning

    def _history(self, as_of: date | None) -> tuple[History, pd.Timestamp]:
        self.snapshot.refresh()
        history = self.snapshot.history
        if history is None:
            raise RefusedRequestError("no customer-history snapshot loaded yet")
        when = pd.Timestamp(as_of) if as_of else history.as_of
        if when < history.as_of:
            raise RefusedRequestError(
                f"as_of {when.date()} is before the snapshot's as-of date {history.as_of.date()}"
            )
        return history, when

    def status(self) -> Status:
        self.snapshot.refresh()
        return Status(
            ready=self.snapshot.history is not None,
            model_version=self.model_version,
            model_source=self.model_source,
            snapshot_as_of=self.snapshot.as_of,
            snapshot_problem=self.snapshot.problem,
        )

    def score(self, request: ScoreRequest) -> ScoreResponse:
        history, when = self._history(request.as_of)
        frame = pd.DataFrame([invoice.model_dump() for invoice in request.invoices])
        late_issue = frame["issue_date"] > when.date()
        if late_issue.any():
            first = int(np.flatnonzero(late_issue.to_numpy())[0])
            raise RefusedRequestError(f"invoices[{first}].issue_date is after as_of {when.date()}")
        if frame["invoice_id"].duplicated().any():
            first = int(np.flatnonzero(frame["invoice_id"].duplicated().to_numpy())[0])
            raise RefusedRequestError(f"invoices[{first}].invoice_id appears twice in the batch")
        for column in ("issue_date", "due_date"):
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
        frame["open_amount"] = frame["open_amount"].fillna(frame["amount"])
        frame["snapshot_date"] = when
        frame["in_history"] = history.invoice_ids.get_indexer(frame["invoice_id"]) >= 0
        portfolio = score_and_plan(
            self.scorer, history, frame, when, self.dunning, None if request.with_reasons else 0
        )
        known = history.customer_ids.get_indexer(portfolio.invoices["customer_id"]) >= 0
        invoices = [
            InvoiceScore(
                invoice_id=row.invoice_id,
                customer_id=row.customer_id,
                known_customer=bool(is_known),
                late_probability=round(float(row.late_probability), 6),
                default_probability=round(float(row.default_probability), 6),
                expected_payment_date=row.expected_payment_date.date(),
                expected_payment_date_low=row.expected_payment_date_low.date(),
                expected_payment_date_high=row.expected_payment_date_high.date(),
                expected_days_late=int(row.expected_days_late),
                expected_loss=float(row.expected_loss),
                priority_rank=int(row.priority_rank),
                scenario=row.scenario,
                next_action=NextAction(
                    action=row.action,
                    step=None if np.isnan(row.step) else int(row.step),
                    channel=row.channel,
                    template=row.template,
                    actor=row.actor,
                    action_date=row.action_date.date(),
                ),
                reasons=row.reasons or [],
            )
            for row, is_known in zip(portfolio.invoices.itertuples(), known, strict=True)
        ]
        customers = [
            CustomerPlan(
                customer_id=row.customer_id,
                scenario=row.scenario,
                late_probability=round(float(row.late_probability), 6),
                default_probability=round(float(row.default_probability), 6),
                open_amount=float(row.open_amount),
                expected_loss=float(row.expected_loss),
                next_contact_date=None
                if pd.isna(row.next_contact_date)
                else row.next_contact_date.date(),
                next_contact_channel=None
                if pd.isna(row.next_contact_channel)
                else row.next_contact_channel,
                next_contact_action=None
                if pd.isna(row.next_contact_action)
                else row.next_contact_action,
                next_contact_invoices=int(row.next_contact_invoices),
            )
            for row in portfolio.customers.itertuples()
        ]
        return ScoreResponse(
            model_version=self.model_version,
            as_of=when.date(),
            invoices=invoices,
            customers=customers,
        )

    def profile(self, request: CustomerRequest) -> CustomerProfile:
        history, when = self._history(request.as_of)
        query = pd.DataFrame(
            {
                "invoice_id": ["profile"],
                "customer_id": [request.customer_id],
                "issue_date": [when],
                "due_date": [when],
                "amount": [1.0],
                "snapshot_date": [when],
                "in_history": [False],
            }
        )
        f = self.scorer.features(history, query).iloc[0]
        buckets = {
            AGED_BUCKETS[1]: f["past_due_1_30_amount"],
            AGED_BUCKETS[2]: f["past_due_31_60_amount"],
            AGED_BUCKETS[3]: f["past_due_61_90_amount"],
            AGED_BUCKETS[4]: f["past_due_over_90_amount"],
        }
        return CustomerProfile(
            model_version=self.model_version,
            as_of=when.date(),
            customer_id=request.customer_id,
            known_customer=bool(history.customer_ids.get_indexer([request.customer_id])[0] >= 0),
            settled_invoices=int(f["settled_invoices"]),
            late_share=_none_if_nan(f["late_share"]),
            mean_days_late=_none_if_nan(f["mean_days_late"]),
            recent_mean_days_late=_none_if_nan(f["recent_mean_days_late"]),
            max_days_late=_none_if_nan(f["max_days_late"]),
            dispute_rate=_none_if_nan(f["dispute_rate"]),
            open_invoices=int(f["open_invoices"]),
            open_amount=round(float(f["open_amount"]), 2),
            past_due_amount=round(float(f["past_due_amount"]), 2),
            aged_balance={k: round(float(v), 2) for k, v in buckets.items()},
            credit_limit=_none_if_nan(f["credit_limit"]),
            days_since_last_settlement=_none_if_nan(f["days_since_last_settlement"]),
        )

    def credit_review(self, request: CreditReviewRequest) -> CreditReviewResponse:
        history, when = self._history(request.as_of)
        decision = review_credit(
            self.scorer,
            history,
            request.customer_id,
            request.requested_amount,
            request.terms_days,
            when,
            self.dunning.credit_review,
        )
        return CreditReviewResponse(
            model_version=self.model_version,
            as_of=when.date(),
            customer_id=request.customer_id,
            known_customer=not decision.is_new_customer
            or bool(history.customer_ids.get_indexer([request.customer_id])[0] >= 0),
            recommendation=decision.recommendation,
            conditions=decision.conditions,
            grounds=decision.grounds,
            late_probability=round(decision.late_probability, 6),
            default_probability=round(decision.default_probability, 6),
            expected_days_late=decision.expected_days_late,
            exposure=decision.exposure,
            credit_limit=decision.credit_limit,
            reasons=decision.reasons,
        )
