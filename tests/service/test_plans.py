"""What dunning systems rely on: a customer's plan whatever invoices are sent, no silent
acceptance (settled invoices, foreign currencies, stale snapshots), and the worklist."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from tests.conftest import VALID_INVOICE
from tests.helpers import invoice_payload

PLAN_FIELDS = (
    "scenario",
    "next_contact_date",
    "next_contact_channel",
    "next_contact_action",
    "next_contact_invoice_ids",
    "contacts",
    "open_amount",
    "late_probability",
    "default_probability",
)


def test_a_customers_plan_does_not_depend_on_which_invoices_are_sent(client, bundle):
    counts = bundle.invoices["customer_id"].value_counts()
    customer = counts.index[0]
    assert counts.iloc[0] >= 5
    invoices = bundle.invoices.loc[bundle.invoices["customer_id"] == customer]
    plans = {}
    for subset in (invoices.head(1), invoices.iloc[[1, 3, 4]], invoices):
        response = client.post(
            "/v1/score", json={"invoices": invoice_payload(subset), "as_of": bundle.kpis["as_of"]}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert {i["invoice_id"] for i in body["invoices"]} == set(subset["invoice_id"])
        assert sorted(i["priority_rank"] for i in body["invoices"]) == list(
            range(1, len(subset) + 1)
        )
        (plan,) = body["customers"]
        others = set(invoices["invoice_id"]) - set(subset["invoice_id"])
        assert set(plan["invoices_from_snapshot"]) == others
        plans[len(subset)] = {name: plan[name] for name in PLAN_FIELDS}
    first, *rest = plans.values()
    for other in rest:
        assert other == first
    # ... and it is the batch plan of that customer (the bundle's).
    batch = bundle.customers.set_index("customer_id").loc[customer]
    assert first["scenario"] == batch["scenario"]
    assert pd.Timestamp(first["next_contact_date"]) == batch["next_contact_date"]
    # Each contact names its invoices; together they are the contact invoices of the plan.
    contact_ids = [i for c in first["contacts"] for i in c["invoice_ids"]]
    assert len(contact_ids) == len(set(contact_ids))
    planned = bundle.invoices.loc[
        (bundle.invoices["customer_id"] == customer)
        & bundle.invoices["action"].isin(["remind", "escalate"])
    ]
    assert set(contact_ids) == set(planned["invoice_id"])
    if first["contacts"]:
        assert first["next_contact_invoice_ids"] == first["contacts"][0]["invoice_ids"]


def test_an_invoice_with_nothing_left_to_pay_is_refused(client):
    response = client.post("/v1/score", json={"invoices": [{**VALID_INVOICE, "open_amount": 0}]})
    assert response.status_code == 400
    assert ["invoices", 0, "open_amount"] in [d["loc"] for d in response.json()["detail"]]


def test_a_currency_without_a_rate_is_refused_and_named(client):
    one = {**VALID_INVOICE, "amount": 4200.0, "currency": "JPY"}
    response = client.post("/v1/score", json={"invoices": [one]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert "JPY" in error and "EUR" in error and "invoices[0].currency" in error
    euro = client.post("/v1/score", json={"invoices": [VALID_INVOICE]}).json()
    assert euro["invoices"][0]["currency"] == "EUR" and euro["customers"][0]["currency"] == "EUR"


@pytest.fixture(scope="module")
def yen_engine(trained, snapshot_file):
    """An in-process engine whose policy converts JPY at 0.0062 EUR."""
    from payrisk.policy.config import load_dunning_config
    from payrisk.serving.engine import ScoringEngine, SnapshotHolder
    from tests.conftest import project_catalog

    policy = load_dunning_config()
    policy = policy.model_copy(
        update={"currencies": policy.currencies.model_copy(update={"rates": {"JPY": 0.0062}})}
    )
    scorer = project_catalog(trained).load_scorer().scorer
    return ScoringEngine(scorer, "1", "test", SnapshotHolder(snapshot_file), policy)


def test_a_currency_with_a_rate_is_converted_before_scoring(yen_engine):
    """4,200 JPY at 0.0062 EUR scores as 26.04 EUR, and its expected loss comes back in JPY."""
    from payrisk.serving.schemas import ScoreRequest

    yen = {**VALID_INVOICE, "amount": 4200.0, "currency": "JPY"}
    euro = {**VALID_INVOICE, "amount": round(4200 * 0.0062, 2), "currency": "EUR"}
    in_yen = yen_engine.score(ScoreRequest(invoices=[yen])).invoices[0]
    in_euro = yen_engine.score(ScoreRequest(invoices=[euro])).invoices[0]
    assert in_yen.currency == "JPY"
    assert in_yen.late_probability == in_euro.late_probability
    assert in_yen.default_probability == in_euro.default_probability
    assert in_yen.expected_loss == pytest.approx(in_euro.expected_loss / 0.0062, abs=0.02)


def test_a_payment_plan_in_another_currency_asks_for_its_own_instalment(yen_engine):
    """A plan of three 1,400 JPY instalments on a 4,200 JPY invoice asks for 1,400 JPY (the
    instalment was once left in yen while the open amount was converted, and divided again)."""
    from payrisk.serving.schemas import ScoreRequest

    plan = {
        "agreed_on": VALID_INVOICE["issue_date"],
        "instalments": [{"due_date": f"2027-0{month}-15", "amount": 1400.0} for month in (1, 2, 3)],
    }
    amounts = {}
    for currency, amount in (("JPY", 4200.0), ("EUR", 4200.0)):
        invoice = {**VALID_INVOICE, "amount": amount, "currency": currency, "payment_plan": plan}
        (scored,) = yen_engine.score(ScoreRequest(invoices=[invoice])).invoices
        assert scored.next_action.state_reason == "payment_plan"
        amounts[currency] = scored.next_action.amount_due
    assert amounts == {"JPY": pytest.approx(1400.0, abs=0.02), "EUR": 1400.0}


def test_answers_are_of_today_in_the_services_time_zone_and_say_how_old_the_snapshot_is(
    client, bundle
):
    as_of = pd.Timestamp(bundle.kpis["as_of"])
    invoice = {**VALID_INVOICE, "issue_date": "2026-10-01", "due_date": "2026-10-31"}
    # No as_of: today in Europe/Paris (the default PAYRISK_TIMEZONE), a dunning system's day.
    before = datetime.now(ZoneInfo("Europe/Paris")).date()
    today = client.post("/v1/score", json={"invoices": [invoice]}).json()
    after = datetime.now(ZoneInfo("Europe/Paris")).date()
    day = pd.Timestamp(today["as_of"])
    assert max(before, as_of.date()) <= day.date() <= max(after, as_of.date())
    assert today["snapshot_age_days"] == (day - as_of).days
    assert today["stale"] is (today["snapshot_age_days"] > 7)
    fresh = client.post("/v1/score", json={"invoices": [invoice], "as_of": str(as_of.date())})
    fresh = fresh.json()
    assert fresh["snapshot_as_of"] == as_of.date().isoformat()
    assert fresh["snapshot_age_days"] == 0 and fresh["stale"] is False
    later = (as_of + pd.Timedelta(days=3 * 365)).date().isoformat()
    old = client.post("/v1/score", json={"invoices": [invoice], "as_of": later}).json()
    assert old["stale"] is True and old["snapshot_age_days"] == 3 * 365
    assert any("days old" in w for w in old["warnings"])
    for path, body in (
        ("/v1/customer", {"customer_id": "C000001", "as_of": later}),
        ("/v1/credit-review", {"customer_id": "C000001", "requested_amount": 10, "as_of": later}),
    ):
        answer = client.post(path, json=body).json()
        assert answer["stale"] is True and answer["snapshot_age_days"] == 3 * 365


def test_the_worklist_pages_todays_actions_by_priority(client, bundle):
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.workdays import is_working_day

    first = client.post("/v1/worklist", json={"page_size": 10}).json()
    day = pd.Timestamp(first["day"])
    calendar = load_dunning_config().calendar.business_days
    day_number = np.array([day.to_datetime64()]).astype("datetime64[D]").astype("int64")
    assert is_working_day(day_number, calendar)[0]
    assert day >= pd.Timestamp(bundle.kpis["as_of"])
    due = bundle.invoices.loc[
        (bundle.invoices["action_date"] <= day) & (bundle.invoices["action"] != "direct_debit")
    ]  # direct debit collects by itself: nobody's work
    assert first["total"] > 0 and first["pages"] == -(-first["total"] // 10)
    ranks = [item["priority_rank"] for item in first["items"]]
    assert ranks == sorted(ranks)
    every = []
    for page in range(1, first["pages"] + 1):
        items = client.post("/v1/worklist", json={"page_size": 10, "page": page}).json()["items"]
        every.extend(items)
    assert len(every) == first["total"]
    ids = [i for item in every for i in item["invoice_ids"]]
    assert sorted(ids) == sorted(due["invoice_id"])  # every invoice due once, no other
    assert all(pd.Timestamp(item["action_date"]) <= day for item in every)
    # One contact per customer and day: the invoices it bundles travel together.
    contacts = [(i["customer_id"], i["action_date"]) for i in every if i["action"] == "remind"]
    assert len(contacts) == len(set(contacts))

    week = (day + pd.Timedelta(days=7)).date().isoformat()
    phone = client.post(
        "/v1/worklist", json={"day": week, "actor": "collector", "channel": "phone"}
    ).json()
    assert phone["total"] > 0
    assert all(i["actor"] == "collector" and i["channel"] == "phone" for i in phone["items"])
    beyond = client.post("/v1/worklist", json={"page": 10_000}).json()
    assert beyond["items"] == [] and beyond["total"] == first["total"]
    bad = client.post("/v1/worklist", json={"channel": "pigeon"})
    assert bad.status_code == 400


def test_the_worklist_takes_what_the_dunning_system_reported(client, bundle):
    """A contact reported sent leaves the worklist; its customer is planned there as /v1/score
    plans it with the same report, the other customers keep the snapshot's plan, and every
    item is ranked again together."""
    week = np.datetime64(bundle.kpis["as_of"], "D") + 7
    day = str(np.busday_offset(week, 0, roll="forward"))  # a weekday (no holiday in November)
    snapshot = client.post("/v1/worklist", json={"day": day, "page_size": 500}).json()
    contacts = [i for i in snapshot["items"] if i["action"] == "remind" and i["step"]]
    assert contacts, "no contact due in the snapshot's first week"
    item = contacts[0]
    rows = bundle.invoices.loc[bundle.invoices["customer_id"] == item["customer_id"]]
    sent = {"sent_date": item["action_date"], "channel": item["channel"], "step": item["step"]}
    covered = set(item["invoice_ids"])
    invoices = [
        {**invoice, "reminders": [sent]} if invoice["invoice_id"] in covered else invoice
        for invoice in invoice_payload(rows)
    ]
    reported = client.post(
        "/v1/worklist", json={"day": day, "page_size": 500, "invoices": invoices}
    ).json()
    assert any("planned as of" in w for w in reported["warnings"]), reported["warnings"]
    mine = [i for i in reported["items"] if i["customer_id"] == item["customer_id"]]
    assert all(i["action_date"] != item["action_date"] or i["action"] != "remind" for i in mine)

    # The others' items are the snapshot's, in the same order among themselves.
    def others(answer):
        return [
            {k: v for k, v in i.items() if k != "priority_rank"}
            for i in answer["items"]
            if i["customer_id"] != item["customer_id"]
        ]

    assert others(reported) == others(snapshot)
    ranks = [i["priority_rank"] for i in reported["items"]]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    # The customer's items are /v1/score's contacts due by then, with or without the report.
    for sent_back in (invoices, invoice_payload(rows)):
        listed = client.post(
            "/v1/worklist", json={"day": day, "page_size": 500, "invoices": sent_back}
        ).json()
        scored = client.post("/v1/score", json={"invoices": sent_back, "as_of": day}).json()
        (plan,) = scored["customers"]
        due = [
            (c["action_date"], c["action"], c["channel"], sorted(c["invoice_ids"]))
            for c in plan["contacts"]
            if c["action_date"] <= day
        ]
        items = [
            (i["action_date"], i["action"], i["channel"], sorted(i["invoice_ids"]))
            for i in listed["items"]
            if i["customer_id"] == item["customer_id"] and i["action"] in ("remind", "escalate")
        ]
        assert sorted(items) == sorted(due)
    assert due, "planned again without the report, the contact due is there"
    refused = client.post(
        "/v1/worklist", json={"customers": [{"customer_id": item["customer_id"]}]}
    )
    assert refused.status_code == 422 and "invoices[]" in refused.json()["error"]
