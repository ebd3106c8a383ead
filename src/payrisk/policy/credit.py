"""Credit review: what a credit manager should know before granting credit or a higher limit.

The request is scored as a hypothetical invoice issued today for the requested amount and terms;
every rule of `configs/dunning.yaml` (credit_review) is checked and each one that applies is a
ground (the recommendation is the strictest of them). The review also says the most that could be
approved within policy: the largest amount whose own score and exposure pass the rules that would
send the request to a credit manager or decline it. A prospect (a customer without history) is
reviewed as a new customer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from payrisk.core.i18n import Formats
from payrisk.data.terms import LegalTerms, lawful_terms_days
from payrisk.features.history import History
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.policy.config import CreditReviewRules
from payrisk.policy.planning import score_invoices

APPROVE = "approve"
APPROVE_WITH_CONDITIONS = "approve_with_conditions"
REFER = "refer_to_credit_manager"
DECLINE = "decline"
RECOMMENDATIONS = (APPROVE, APPROVE_WITH_CONDITIONS, REFER, DECLINE)  # from mildest to strictest
# What a credit manager decides (a referral is the recommendation to ask one, not a decision).
DECISIONS = (APPROVE, APPROVE_WITH_CONDITIONS, DECLINE)
SEARCH_POINTS = 40  # amounts tried for the most that could be approved (one scoring call)
SEARCH_FACTOR = 10.0  # without a credit limit, amounts up to this many times the request
# What stops the most that could be approved from being higher:
BOUND_LIMIT = "credit_limit"  # the credit limit (exposure rule)
BOUND_DEFAULT = "default_probability"  # a larger amount scores over the referral threshold
BOUND_SEARCH = "search_limit"  # nothing did, up to SEARCH_FACTOR x the request: at least that
BOUND_NEW_CUSTOMER = "new_customer"  # a new customer over refer_new_customer_over_amount
MAX_BOUNDS = (BOUND_LIMIT, BOUND_DEFAULT, BOUND_SEARCH, BOUND_NEW_CUSTOMER)


@dataclass(frozen=True)
class CreditDecision:
    recommendation: str
    late_probability: float
    default_probability: float
    expected_days_late: float
    expected_payment_date: pd.Timestamp
    exposure: float  # open balance + requested amount
    open_amount: float  # the customer's open balance today
    credit_limit: float | None
    is_new_customer: bool
    max_approvable_amount: float  # most that passes the refer/decline rules (0: nothing)
    max_approvable_bound: str  # what stops it from being higher (MAX_BOUNDS)
    conditions: list[str] = field(default_factory=list)
    grounds: list[str] = field(default_factory=list)  # every rule that applies, or why none
    reasons: list[dict] = field(default_factory=list)  # what drives the risk (model)
    warnings: list[str] = field(default_factory=list)  # e.g. terms beyond the legal maximum


def departs(
    recommendation: str,
    decision: str,
    granted_amount: float | None,
    max_approvable_amount: float,
) -> bool:
    """Whether a credit manager's decision departs from the recommendation, so that its reason must
    be on record: another verdict than recommended, stricter or milder (after a referral any
    verdict is the one asked for), or more granted than the most approvable within policy."""
    if recommendation != REFER and decision != recommendation:
        return True
    return (
        decision != DECLINE
        and granted_amount is not None
        and granted_amount > max_approvable_amount + 0.005
    )


def _queries(customer_id: str, amounts: np.ndarray, terms_days: int, as_of: pd.Timestamp):
    n = len(amounts)
    return pd.DataFrame(
        {
            "invoice_id": [f"credit-review-{k}" for k in range(n)],
            "customer_id": [customer_id] * n,
            "issue_date": [as_of] * n,
            "due_date": [as_of + pd.Timedelta(days=terms_days)] * n,
            "amount": amounts.astype("float64"),
            "snapshot_date": [as_of] * n,
            "in_history": [False] * n,
        }
    )


def _round_down(amount: float) -> float:
    """A figure a credit manager can quote: two significant digits, rounded down."""
    if amount <= 0:
        return 0.0
    step = 10 ** max(math.floor(math.log10(amount)) - 1, 0)
    return float(math.floor(amount / step) * step)


def max_approvable(
    scorer: PaymentRiskScorer,
    history: History,
    customer_id: str,
    requested_amount: float,
    terms_days: int,
    as_of: pd.Timestamp,
    rules: CreditReviewRules,
    open_amount: float,
    credit_limit: float | None,
    new_customer: bool = False,
) -> tuple[float, str]:
    """The largest amount such that it, and every smaller amount tried, stays within the refer and
    decline rules (default probability, if the rule is on exposure against the limit, and for a
    new customer the amount it may ask without referral), and what bounds it (MAX_BOUNDS).

    Tried: a geometric grid up to the credit headroom (limit - open balance), or up to
    SEARCH_FACTOR times the request without a limit, scored in one call.
    """
    limited = rules.refer_over_credit_limit and credit_limit is not None
    upper, bound = (
        (max(credit_limit - open_amount, 0.0), BOUND_LIMIT)
        if limited
        else (SEARCH_FACTOR * requested_amount, BOUND_SEARCH)
    )
    cap = rules.refer_new_customer_over_amount
    if new_customer and cap is not None and cap < upper:
        upper, bound = cap, BOUND_NEW_CUSTOMER
    if upper < 0.01:  # no headroom at all under the limit
        return 0.0, bound
    grid = np.geomspace(min(100.0, upper), upper, SEARCH_POINTS)
    amounts = np.unique(np.concatenate([grid, [min(requested_amount, upper)]]))
    scores = scorer.score(history, _queries(customer_id, amounts, terms_days, as_of))
    default = scores["default_probability"].to_numpy("float64")
    passes = default <= rules.refer_default_probability
    failing = np.flatnonzero(~passes)
    if len(failing):
        last = failing[0] - 1
        if last < 0:
            return 0.0, BOUND_DEFAULT
        return _quoted(float(amounts[last]), requested_amount), BOUND_DEFAULT
    return _quoted(float(amounts[-1]), requested_amount), bound


def _quoted(passing: float, requested_amount: float) -> float:
    """The most approvable as quoted: `passing` rounded down, yet never below a request that
    passes too (a request of 0.01 or 12,345 that is approved is within what can be approved;
    issue 26: a prospect asking 0.01 got "approve" with a most approvable of 0)."""
    most = _round_down(passing)
    return max(most, round(requested_amount, 2)) if requested_amount <= passing else most


def _texts(f: Formats) -> dict[str, str]:
    """The grounds and conditions in the reader's language."""
    if f.language == "fr":
        return {
            "decline": "probabilité de défaut {p} au-dessus du seuil de refus {t}",
            "refer": "probabilité de défaut {p} au-dessus du seuil de transmission au crédit {t}",
            "limit": "l'encours {e} dépasserait le plafond de crédit {l} (de {d})",
            "late": "probabilité de retard {p} au-dessus de {t}",
            "new": "nouveau client sans historique de paiement, montant supérieur à {t}",
            "new_refer": "nouveau client sans historique de paiement demandant plus de {t} : "
            "le modèle n'a rien de propre à ce client, un credit manager décide",
            "within": "comportement prévu dans la politique : défaut {p} (seuil {t}), "
            "retard {q} (seuil {u})",
            "limit_ok": "l'encours {e} reste dans le plafond de crédit {l}",
            "no_limit": "aucun plafond de crédit connu pour ce client",
            "terms": "délai de paiement de {d} jours au plus",
            "deposit": "acompte de {s} ({a}) avant livraison",
            "legal": "délai de {d} jours au-delà du maximum légal de {m} jours pour une facture "
            "émise ce jour ({rule}) : ne pas l'accorder tel quel",
        }
    return {
        "decline": "default probability {p} above the decline threshold {t}",
        "refer": "default probability {p} above the referral threshold {t}",
        "limit": "exposure {e} would exceed the credit limit {l} (by {d})",
        "late": "late-payment probability {p} above {t}",
        "new": "new customer without payment history asking for more than {t}",
        "new_refer": "new customer without payment history asking for more than {t}: the model "
        "has nothing of its own on this customer, a credit manager decides",
        "within": "predicted behaviour within policy: default {p} (threshold {t}), late {q} "
        "(threshold {u})",
        "limit_ok": "exposure {e} within the credit limit {l}",
        "no_limit": "no credit limit known for this customer",
        "terms": "payment terms of at most {d} days",
        "deposit": "deposit of {s} ({a}) before delivery",
        "legal": "terms of {d} days beyond the legal maximum of {m} days for an invoice issued "
        "today ({rule}): not to be granted as asked",
    }


def review_credit(
    scorer: PaymentRiskScorer,
    history: History,
    customer_id: str,
    requested_amount: float,
    terms_days: int,
    as_of: pd.Timestamp,
    rules: CreditReviewRules,
    formats: Formats | None = None,
    legal_terms: LegalTerms | None = None,
) -> CreditDecision:
    """Review a request; terms beyond `legal_terms` (France's by default) are never approved as
    asked: a ground quoting the rule, a warning, and at best an approval on lawful terms."""
    formats = formats or Formats()
    legal_terms = legal_terms or LegalTerms()
    f, text = formats, _texts(formats)
    query = _queries(customer_id, np.array([float(requested_amount)]), terms_days, as_of)
    table = scorer.features(history, query)  # once: the scores and the grounds read it
    features = table.iloc[0]
    scores = score_invoices(scorer, history, query, formats=formats, features=table).iloc[0]
    late, default = float(scores["late_probability"]), float(scores["default_probability"])
    open_amount = float(features["open_amount"])
    exposure = open_amount + float(requested_amount)
    limit = float(features["credit_limit"])
    credit_limit = None if np.isnan(limit) else limit
    new = bool(features["is_new_customer"])

    grounds: list[str] = []
    conditions: list[str] = []
    severity = 0  # index into RECOMMENDATIONS
    if default > rules.decline_default_probability:
        severity = 3
        grounds.append(
            text["decline"].format(p=f.pct(default), t=f.pct(rules.decline_default_probability))
        )
    elif default > rules.refer_default_probability:
        severity = 2
        grounds.append(
            text["refer"].format(p=f.pct(default), t=f.pct(rules.refer_default_probability))
        )
    over_limit = credit_limit is not None and exposure > credit_limit + 0.005
    if over_limit:
        if rules.refer_over_credit_limit:
            severity = max(severity, 2)
        grounds.append(
            text["limit"].format(
                e=f.money(exposure), l=f.money(credit_limit), d=f.money(exposure - credit_limit)
            )
        )
    deposit = text["deposit"].format(
        s=f.pct(rules.deposit_share), a=f.money(requested_amount * rules.deposit_share)
    )
    if late > rules.conditions_late_probability:
        grounds.append(
            text["late"].format(p=f.pct(late), t=f.pct(rules.conditions_late_probability))
        )
        conditions.append(deposit)
    # Terms to ask for: the shorter terms of a likely late payer, the legal maximum, the lower.
    terms_cap = rules.shorter_terms_days if late > rules.conditions_late_probability else None
    warnings: list[str] = []
    if legal_terms.enabled:
        industry = features.get("industry")
        lawful = lawful_terms_days(
            as_of, legal_terms, industry if isinstance(industry, str) else None
        )
        if terms_days > lawful:
            ground = text["legal"].format(
                d=terms_days, m=lawful, rule=legal_terms.describe(f.language)
            )
            grounds.append(ground)
            warnings.append(ground)
            terms_cap = lawful if terms_cap is None else min(terms_cap, lawful)
    if terms_cap is not None and terms_days > terms_cap:
        conditions.insert(0, text["terms"].format(d=terms_cap))
    if new and requested_amount > rules.new_customer_deposit_over_amount:
        grounds.append(text["new"].format(t=f.money(rules.new_customer_deposit_over_amount)))
        if deposit not in conditions:
            conditions.append(deposit)
    new_cap = rules.refer_new_customer_over_amount
    if new and new_cap is not None and requested_amount > new_cap:
        severity = max(severity, 2)
        grounds.append(text["new_refer"].format(t=f.money(new_cap)))
    if severity < 2 and conditions:
        severity = 1
    if not grounds:
        grounds.append(
            text["within"].format(
                p=f.pct(default),
                t=f.pct(rules.refer_default_probability),
                q=f.pct(late),
                u=f.pct(rules.conditions_late_probability),
            )
        )
    if not over_limit:
        grounds.append(
            text["limit_ok"].format(e=f.money(exposure), l=f.money(credit_limit))
            if credit_limit is not None
            else text["no_limit"]
        )
    most, bound = max_approvable(
        scorer,
        history,
        customer_id,
        float(requested_amount),
        terms_days,
        as_of,
        rules,
        open_amount,
        credit_limit,
        new,
    )
    return CreditDecision(
        recommendation=RECOMMENDATIONS[severity],
        late_probability=late,
        default_probability=default,
        expected_days_late=float(scores["expected_days_late"]),
        expected_payment_date=scores["expected_payment_date"],
        exposure=round(exposure, 2),
        open_amount=round(open_amount, 2) + 0.0,
        credit_limit=credit_limit,
        is_new_customer=new,
        max_approvable_amount=most,
        max_approvable_bound=bound,
        conditions=conditions if severity == 1 else [],
        grounds=grounds,
        reasons=scores["reasons"] or [],
        warnings=warnings,
    )
