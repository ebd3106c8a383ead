"""Reasons in plain words: the features that pushed a score up, phrased for a credit manager.

The contributions are the model's own (TreeSHAP from LightGBM), so a reason is always something
the score really rests on; the phrasing lives here, one line per feature.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping

import numpy as np


def _days(value: float) -> str:
    return f"{value:.0f} day{'s' if abs(round(value)) != 1 else ''}"


PHRASES: dict[str, Callable[[float], str]] = {
    "days_past_due": lambda v: f"already {_days(v)} past due" if v > 0 else f"due in {_days(-v)}",
    "late_share": lambda v: f"paid {v:.0%} of past invoices late",
    "late_share_recent": lambda v: f"paid {v:.0%} of recent invoices late",
    "late_share_amount_weighted": lambda v: f"{v:.0%} of past invoiced amount was paid late",
    "late_share_long_run_weighted": lambda v: f"paid {v:.0%} of invoices of the last year late",
    "mean_days_late": lambda v: f"pays {_days(v)} after the due date on average",
    "recent_mean_days_late": lambda v: f"recently pays {_days(v)} after the due date",
    "days_late_trend": lambda v: (
        f"payment delays {'lengthening' if v > 0 else 'shortening'} "
        f"({v:+.0f} days against the long run)"
    ),
    "median_days_late_recent": lambda v: f"median delay of the last invoices: {_days(v)}",
    "max_days_late": lambda v: f"worst delay so far: {_days(v)}",
    "severe_late_share": lambda v: f"{v:.0%} of past invoices paid over a month late",
    "written_off_share": lambda v: f"{v:.0%} of past invoices written off",
    "default_share": lambda v: f"{v:.0%} of past invoices ended in default",
    "dispute_rate": lambda v: f"disputes {v:.0%} of invoices",
    "instalment_share": lambda v: f"paid {v:.0%} of invoices in instalments",
    "reminded_share": lambda v: f"needed reminders on {v:.0%} of invoices",
    "mean_days_reminder_to_payment": lambda v: f"pays {_days(v)} after a reminder on average",
    "days_since_last_settlement": lambda v: f"no payment for {_days(v)}",
    "is_new_customer": lambda v: "new customer: no payment history yet",
    "settled_invoices": lambda v: f"short payment history ({v:.0f} invoices settled)",
    "invoices_issued": lambda v: f"{v:.0f} earlier invoices",
    "open_invoices": lambda v: f"{v:.0f} other invoices open",
    "open_amount": lambda v: f"{v:,.0f} already outstanding",
    "past_due_amount": lambda v: f"{v:,.0f} already past due",
    "past_due_1_30_amount": lambda v: f"{v:,.0f} past due by 1-30 days",
    "past_due_31_60_amount": lambda v: f"{v:,.0f} past due by 31-60 days",
    "past_due_61_90_amount": lambda v: f"{v:,.0f} past due by 61-90 days",
    "past_due_over_90_amount": lambda v: f"{v:,.0f} past due by over 90 days",
    "past_due_invoices": lambda v: f"{v:.0f} other invoices past due",
    "past_due_share": lambda v: f"{v:.0%} of the open balance is past due",
    "reminders_received": lambda v: f"{v:.0f} reminders received so far",
    "hard_reminders_received": lambda v: f"{v:.0f} formal notices or agency referrals so far",
    "days_since_customer_contact": lambda v: f"last contacted {_days(v)} ago",
    "reminders_sent": lambda v: f"{v:.0f} reminders already sent for this invoice",
    "last_reminder_step": lambda v: f"dunning already at step {v:.0f}",
    "days_since_last_reminder": lambda v: f"last reminder {_days(v)} ago",
    "log_amount": lambda v: f"amount {np.expm1(v):,.0f}",
    "amount_vs_customer_mean": lambda v: f"amount {v:.1f}x the customer's usual invoice",
    "amount_vs_open_balance": lambda v: f"this invoice is {v:.0%} of the customer's balance",
    "terms_days": lambda v: f"payment terms of {_days(v)}",
    "days_since_issue": lambda v: f"issued {_days(v)} ago",
    "issue_month": lambda v: f"issued in {calendar.month_name[int(v)]}",
    "issue_weekday": lambda v: f"issued on a {calendar.day_name[int(v)]}",
    "due_day_of_month": lambda v: f"due on day {v:.0f} of the month",
    "due_at_month_end": lambda v: "due at month end" if v else "due before month end",
    "key_account": lambda v: "key account" if v else "not a key account",
    "credit_utilisation": lambda v: f"uses {v:.0%} of its credit limit",
    "customer_tenure_days": lambda v: f"customer for {_days(v)}",
    "days_since_first_invoice": lambda v: f"first invoice {_days(v)} ago",
}


def describe(feature: str, value: object) -> str:
    """One plain-words phrase for a feature value; a generic one for features without a phrase."""
    phrase = PHRASES.get(feature)
    if isinstance(value, int | float | np.floating | np.integer):
        number = float(value)
        if np.isnan(number):
            return f"{feature.replace('_', ' ')}: unknown"
        if phrase is not None:
            return phrase(number)
        return f"{feature.replace('_', ' ')}: {number:g}"
    return f"{feature.replace('_', ' ')}: {value}"


def reason_lists(
    matrix: np.ndarray, names: tuple[str, ...], features: Mapping[str, np.ndarray], top: int = 3
) -> list[list[dict]]:
    """For each row, the `top` features that raised the score most, with their phrase.

    `matrix` holds contributions (rows x names, no bias); only contributions that raise the risk
    are reasons, so a row with none gets an empty list.

    Sorting is vectorised; only the few reasons kept per row are phrased one by one.
    """
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :top]
    weights = np.take_along_axis(matrix, order, axis=1)
    reasons: list[list[dict]] = []
    for row, (columns, row_weights) in enumerate(zip(order, weights, strict=True)):
        entries = []
        for column, weight in zip(columns, row_weights, strict=True):
            if weight <= 0:
                break
            name = names[column]
            entries.append(
                {
                    "feature": name,
                    "contribution": round(float(weight), 4),
                    "text": describe(name, features[name][row]),
                }
            )
        reasons.append(entries)
    return reasons
