"""Numbers that agree: a customer's open amount is the same in its profile, the credit review,
the portfolio bundle (the pages) and the scored invoices, partial payments included."""

from __future__ import annotations

import pandas as pd
import pytest


def test_profile_open_and_past_due_amounts_add_up_to_the_open_invoices(client, bundle):
    invoices = bundle.invoices
    as_of = pd.Timestamp(bundle.kpis["as_of"])
    assert (invoices["open_amount"] < invoices["amount"] - 0.005).any(), "no part-paid invoice"
    dpd = (as_of - invoices["due_date"]).dt.days
    labels = ["1-30", "31-60", "61-90", "over_90"]
    buckets = pd.cut(dpd, [0, 30, 60, 90, float("inf")], labels=labels)
    per_customer = invoices.assign(bucket=buckets).groupby("customer_id")
    disagree = []
    for customer, rows in per_customer:
        asked = {"customer_id": customer, "as_of": str(as_of.date())}
        body = client.post("/v1/customer", json=asked).json()
        past_due = rows.loc[dpd.loc[rows.index] > 0, "open_amount"].sum()
        aged = rows.groupby("bucket", observed=False)["open_amount"].sum()
        wanted = {
            "open_amount": round(rows["open_amount"].sum(), 2),
            "past_due_amount": round(past_due, 2),
            "open_invoices": len(rows),
            **{f"aged {k}": round(v, 2) for k, v in aged.items()},
        }
        got = {
            "open_amount": body["open_amount"],
            "past_due_amount": body["past_due_amount"],
            "open_invoices": body["open_invoices"],
            **{f"aged {k}": v for k, v in body["aged_balance"].items()},
        }
        if any(abs(got[k] - wanted[k]) > 0.011 for k in wanted):
            disagree.append((customer, got, wanted))
        assert all(str(v) != "-0.0" for v in body["aged_balance"].values())
    assert not disagree, f"{len(disagree)} customers disagree, e.g. {disagree[:2]}"


def test_credit_review_counts_the_same_exposure_as_the_profile(client, bundle):
    part_paid = bundle.invoices.loc[
        bundle.invoices["open_amount"] < bundle.invoices["amount"] - 0.005, "customer_id"
    ]
    customer = part_paid.iloc[0]
    profile = client.post("/v1/customer", json={"customer_id": customer}).json()
    review = client.post(
        "/v1/credit-review", json={"customer_id": customer, "requested_amount": 1000}
    ).json()
    open_amount = bundle.invoices.loc[bundle.invoices["customer_id"] == customer, "open_amount"]
    assert review["exposure"] == pytest.approx(profile["open_amount"] + 1000, abs=0.011)
    assert profile["open_amount"] == pytest.approx(open_amount.sum(), abs=0.011)


def test_no_planned_action_falls_on_a_day_off(bundle):
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.workdays import is_working_day

    calendar = load_dunning_config().calendar.business_days
    planned = [(bundle.invoices, "action_date"), (bundle.customers, "next_contact_date")]
    for frame, column in planned:
        days = frame[column].dropna()
        assert len(days)
        working = is_working_day(days.to_numpy("datetime64[D]").astype("int64"), calendar)
        assert working.all(), f"{(~working).sum()} {column} on a day off"
