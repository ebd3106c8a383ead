"""The online scoring engine: a scorer, the customer-history snapshot, and the answers built from
them. The BentoML service (`payrisk.service`) only wires HTTP to it.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from payrisk.core.days import ordinal_days
from payrisk.data.receivables import AGED_BUCKETS
from payrisk.features.history import History
from payrisk.features.snapshot import SnapshotError, load_history
from payrisk.features.streams import positions
from payrisk.models.scorer import PaymentRiskScorer, declared_attribute_arrays
from payrisk.policy.config import DunningConfig
from payrisk.policy.credit import review_credit
from payrisk.policy.planning import OpenInvoices, plan_portfolio
from payrisk.serving.errors import NoSnapshotError, RefusedRequestError
from payrisk.serving.schemas import (
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
    TargetModel,
)

log = logging.getLogger("payrisk.service")


def _none_if_nan(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def open_invoices_of(
    request: ScoreRequest, today: date, scorer: PaymentRiskScorer | None = None
) -> OpenInvoices:
    """The request's invoices as arrays; refuses invoices issued after `today`, repeated ids and
    attributes the model does not declare.

    One pass over the (at most MAX_BATCH) validated models; the rest is vectorised.
    """
    invoices = request.invoices
    ids = [invoice.invoice_id for invoice in invoices]
    issue = ordinal_days(i.issue_date for i in invoices)
    late_issue = np.flatnonzero(issue > ordinal_days([today])[0])
    if len(late_issue):
        raise RefusedRequestError(f"invoices[{late_issue[0]}].issue_date is after as_of {today}")
    if len(set(ids)) < len(ids):
        first = int(np.flatnonzero(pd.Index(ids).duplicated())[0])
        raise RefusedRequestError(f"invoices[{first}].invoice_id appears twice in the batch")
    amount = np.array([i.amount for i in invoices], dtype="float64")
    open_amount = np.array(
        [np.nan if i.open_amount is None else i.open_amount for i in invoices], dtype="float64"
    )
    given = [invoice.attributes for invoice in invoices]
    attributes = None
    if any(given):
        declared = {} if scorer is None else declared_invoice_kinds(scorer)
        for position, values in enumerate(given):
            for name, value in (values or {}).items():
                kind = declared.get(name)
                if kind is None:
                    raise RefusedRequestError(
                        f"invoices[{position}].attributes.{name} is not an invoice feature "
                        "declared by the model"
                    )
                if kind == "numeric" and isinstance(value, str):
                    raise RefusedRequestError(
                        f"invoices[{position}].attributes.{name} must be a number"
                    )
        attributes = declared_attribute_arrays(scorer, given)
    return OpenInvoices(
        invoice_id=np.array(ids, dtype=object),
        customer_id=np.array([i.customer_id for i in invoices], dtype=object),
        issue_day=issue,
        due_day=ordinal_days(i.due_date for i in invoices),
        amount=amount,
        open_amount=np.where(np.isnan(open_amount), amount, open_amount),
        disputed=np.array([i.disputed for i in invoices], dtype=bool),
        attributes=attributes,
    )


def declared_invoice_kinds(scorer: PaymentRiskScorer) -> dict[str, str]:
    """Declared invoice features of the model: name -> numeric or categorical."""
    return {
        spec.feature_name: spec.kind
        for spec in scorer.feature_settings.declared
        if spec.table == "invoices"
    }


def target_models(scorer: PaymentRiskScorer) -> list[TargetModel]:
    """/v1/status: the model of each target and whether it could be learned."""
    summary = getattr(scorer, "metadata", {}).get("registered_models")
    if summary is None:  # a scorer fitted outside `payrisk train` (tests, notebooks)
        summary = scorer.model_summary() if hasattr(scorer, "model_summary") else {}
    return [
        TargetModel(
            target=target,
            model=values["model"],
            learnable=values.get("learnable", True),
            note=values.get("not_learnable"),
        )
        for target, values in summary.items()
    ]


def _dates(values: np.ndarray) -> list:
    """datetime64 values as `datetime.date` (None for NaT), converted in one call."""
    return np.asarray(values, dtype="datetime64[D]").tolist()


def _records(fields: dict[str, list]) -> list[dict]:
    """Column lists (one Python conversion per column) as one dict per row."""
    names = list(fields)
    return [dict(zip(names, row, strict=True)) for row in zip(*fields.values(), strict=True)]


def invoice_scores(columns: dict[str, np.ndarray], known: np.ndarray) -> list[InvoiceScore]:
    """The answer's invoices, in the worklist's order, from the portfolio's arrays."""
    order = np.argsort(columns["priority_rank"], kind="stable")

    def take(name: str) -> np.ndarray:
        return np.asarray(columns[name])[order]

    step = take("step")
    actions = _records(
        {
            "action": take("action").tolist(),
            "step": [None if np.isnan(s) else int(s) for s in step],
            "channel": take("channel").tolist(),
            "template": take("template").tolist(),
            "actor": take("actor").tolist(),
            "action_date": _dates(take("action_date")),
        }
    )
    rows = _records(
        {
            "invoice_id": take("invoice_id").tolist(),
            "customer_id": take("customer_id").tolist(),
            "known_customer": np.asarray(known)[order].tolist(),
            "late_probability": np.round(take("late_probability"), 6).tolist(),
            "default_probability": np.round(take("default_probability"), 6).tolist(),
            "expected_payment_date": _dates(take("expected_payment_date")),
            "expected_payment_date_low": _dates(take("expected_payment_date_low")),
            "expected_payment_date_high": _dates(take("expected_payment_date_high")),
            "expected_days_late": take("expected_days_late").astype("int64").tolist(),
            "expected_loss": take("expected_loss").astype("float64").tolist(),
            "priority_rank": take("priority_rank").astype("int64").tolist(),
            "scenario": take("scenario").tolist(),
            "reasons": [reasons or [] for reasons in take("reasons").tolist()],
        }
    )
    return [
        InvoiceScore(**row, next_action=NextAction(**action))
        for row, action in zip(rows, actions, strict=True)
    ]


def customer_plans(columns: dict[str, np.ndarray]) -> list[CustomerPlan]:
    """The answer's customers (sorted by id) from the plan's arrays."""
    rows = _records(
        {
            "customer_id": np.asarray(columns["customer_id"]).tolist(),
            "scenario": np.asarray(columns["scenario"]).tolist(),
            "late_probability": np.round(
                np.asarray(columns["late_probability"], dtype="float64"), 6
            ).tolist(),
            "default_probability": np.round(
                np.asarray(columns["default_probability"], dtype="float64"), 6
            ).tolist(),
            "open_amount": np.asarray(columns["open_amount"], dtype="float64").tolist(),
            "expected_loss": np.asarray(columns["expected_loss"], dtype="float64").tolist(),
            "next_contact_date": _dates(columns["next_contact_date"]),
            "next_contact_channel": np.asarray(columns["next_contact_channel"]).tolist(),
            "next_contact_action": np.asarray(columns["next_contact_action"]).tolist(),
            "next_contact_invoices": np.asarray(columns["next_contact_invoices"])
            .astype("int64")
            .tolist(),
        }
    )
    return [CustomerPlan(**row) for row in rows]


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
            raise NoSnapshotError("no customer-history snapshot loaded yet")
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
            models=target_models(self.scorer),
        )

    def score(self, request: ScoreRequest) -> ScoreResponse:
        """Score and plan the request's invoices: the batch path's `plan_portfolio` on arrays.

        A request is usually a single invoice, so nothing here builds a DataFrame: the request's
        fields become arrays, and the answer is built from the portfolio's arrays.
        """
        history, when = self._history(request.as_of)
        invoices = open_invoices_of(request, when.date(), self.scorer)
        known = positions(history.customer_ids, invoices.customer_id) >= 0
        in_history = positions(history.invoice_ids, invoices.invoice_id) >= 0
        invoices = replace(invoices, in_history=in_history)
        portfolio = plan_portfolio(
            self.scorer, history, invoices, when, self.dunning, None if request.with_reasons else 0
        )
        return ScoreResponse(
            model_version=self.model_version,
            as_of=when.date(),
            invoices=invoice_scores(portfolio.invoices, known),
            customers=customer_plans(portfolio.customers),
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
