"""Credit review: what a credit manager should know before granting credit or a higher limit.

The request is scored as a hypothetical invoice issued today for the requested amount and terms;
the recommendation follows the thresholds in `configs/dunning.yaml` (credit_review).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from payrisk.features.history import History
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.policy.config import CreditReviewRules
from payrisk.policy.planning import score_invoices

APPROVE = "approve"
APPROVE_WITH_CONDITIONS = "approve_with_conditions"
REFER = "refer_to_credit_manager"
DECLINE = "decline"


@dataclass(frozen=True)
class CreditDecision:
    recommendation: str
    late_probability: float
    default_probability: float
    expected_days_late: float
    expected_payment_date: pd.Timestamp
    exposure: float  # open balance + requested amount
    credit_limit: float | None
    is_new_customer: bool
    conditions: list[str] = field(default_factory=list)
    grounds: list[str] = field(default_factory=list)  # why this recommendation
    reasons: list[dict] = field(default_factory=list)  # what drives the risk (model)


def review_credit(
    scorer: PaymentRiskScorer,
    history: History,
    customer_id: str,
    requested_amount: float,
    terms_days: int,
    as_of: pd.Timestamp,
    rules: CreditReviewRules,
) -> CreditDecision:
    query = pd.DataFrame(
        {
            "invoice_id": ["credit-review"],
            "customer_id": [customer_id],
            "issue_date": [as_of],
            "due_date": [as_of + pd.Timedelta(days=terms_days)],
            "amount": [float(requested_amount)],
            "snapshot_date": [as_of],
            "in_history": [False],
        }
    )
    features = scorer.features(history, query).iloc[0]
    scores = score_invoices(scorer, history, query).iloc[0]
    late, default = float(scores["late_probability"]), float(scores["default_probability"])
    exposure = float(features["open_amount"]) + float(requested_amount)
    limit = float(features["credit_limit"])
    credit_limit = None if np.isnan(limit) else limit
    new = bool(features["is_new_customer"])

    grounds: list[str] = []
    conditions: list[str] = []
    if default > rules.decline_default_probability:
        recommendation = DECLINE
        grounds.append(
            f"default probability {default:.0%} above the decline threshold "
            f"{rules.decline_default_probability:.0%}"
        )
    elif default > rules.refer_default_probability:
        recommendation = REFER
        grounds.append(
            f"default probability {default:.0%} above the referral threshold "
            f"{rules.refer_default_probability:.0%}"
        )
    elif rules.refer_over_credit_limit and credit_limit is not None and exposure > credit_limit:
        recommendation = REFER
        grounds.append(
            f"exposure {exposure:,.2f} would exceed the credit limit {credit_limit:,.2f}"
        )
    else:
        if late > rules.conditions_late_probability:
            grounds.append(
                f"late-payment probability {late:.0%} above {rules.conditions_late_probability:.0%}"
            )
            if terms_days > rules.shorter_terms_days:
                conditions.append(f"payment terms of at most {rules.shorter_terms_days} days")
            conditions.append(
                f"deposit of {rules.deposit_share:.0%} "
                f"({requested_amount * rules.deposit_share:,.2f}) before delivery"
            )
        if new and requested_amount > rules.new_customer_deposit_over_amount:
            grounds.append("new customer without payment history asking for a large amount")
            deposit = f"deposit of {rules.deposit_share:.0%}"
            if not any(c.startswith(deposit) for c in conditions):
                conditions.append(
                    f"{deposit} ({requested_amount * rules.deposit_share:,.2f}) before delivery"
                )
        recommendation = APPROVE_WITH_CONDITIONS if conditions else APPROVE
        if not grounds:
            grounds.append("predicted behaviour within policy")
    return CreditDecision(
        recommendation=recommendation,
        late_probability=late,
        default_probability=default,
        expected_days_late=float(scores["expected_days_late"]),
        expected_payment_date=scores["expected_payment_date"],
        exposure=round(exposure, 2),
        credit_limit=credit_limit,
        is_new_customer=new,
        conditions=conditions,
        grounds=grounds,
        reasons=scores["reasons"] or [],
    )
