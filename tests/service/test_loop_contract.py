"""A contract a daily loop can drive (issue 25): request ids are idempotency keys, every input
that is ignored or partial gets a warning by position, and an invoice id is one customer's."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from tests.helpers import invoice_payload


def _one(bundle, position: int = 0) -> dict:
    return invoice_payload(bundle.invoices.iloc[[position]])[0]


@pytest.fixture(scope="module")
def clocked(trained, snapshot_file, bundle):
    """An in-process engine whose clock the test moves (requests without as_of are of today)."""
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.portfolio import BundleHolder
    from payrisk.serving.engine import ScoringEngine, SnapshotHolder
    from tests.conftest import project_catalog

    today = [bundle.as_of.date() + timedelta(days=1)]
    scorer = project_catalog(trained).load_scorer().scorer
    engine = ScoringEngine(
        scorer, "1", "test", SnapshotHolder(snapshot_file), load_dunning_config(),
        BundleHolder(snapshot_file.with_name("portfolio")), clock=lambda: today[0],
    )  # fmt: skip
    return engine, today


def test_the_same_request_id_and_body_get_the_same_answer(clocked, bundle):
    """A retry after midnight gets the answer recorded for its id, not a new day's plan."""
    from payrisk.serving.schemas import ScoreRequest

    engine, today = clocked
    request = ScoreRequest(request_id="loop-day-1", invoices=[_one(bundle)], with_reasons=False)
    first = engine.score(request)
    today[0] += timedelta(days=1)
    again = engine.score(request)
    assert again.model_dump() == first.model_dump()
    fresh = engine.score(request.model_copy(update={"request_id": None}))
    assert fresh.as_of == first.as_of + timedelta(days=1)  # what the key kept from moving


def test_a_request_id_reused_for_another_body_is_refused(client, bundle):
    body = {"request_id": "loop-day-2", "invoices": [_one(bundle)], "with_reasons": False}
    assert client.post("/v1/score", json=body).status_code == 200
    other = {**body, "invoices": [_one(bundle, 1)]}
    response = client.post("/v1/score", json=other)
    assert response.status_code == 409
    assert "request_id" in response.json()["error"]
    assert _one(bundle, 1)["invoice_id"] not in response.text  # the body is never echoed


def test_an_invoice_id_the_snapshot_holds_under_another_customer_is_refused(client, bundle):
    invoice = {**_one(bundle), "customer_id": "NEWCUST"}
    response = client.post("/v1/score", json={"invoices": [invoice]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert "invoices[0].customer_id" in error
    assert bundle.invoices.iloc[0]["customer_id"] not in error


def test_a_customer_entry_without_its_invoices_is_named_in_the_warnings(client, bundle):
    invoice = _one(bundle)
    body = {
        "invoices": [invoice],
        "customers": [
            {"customer_id": invoice["customer_id"], "last_contact_date": None},
            {"customer_id": "NOBODY-SENT", "hold": {"until": "2030-01-01"}},
        ],
    }
    answer = client.post("/v1/score", json=body).json()
    assert any("customers[1]" in w and "not used" in w for w in answer["warnings"])
    assert not any("customers[0]" in w for w in answer["warnings"])


def test_a_payment_plan_short_of_the_open_amount_is_named_and_the_invoice_dunned(client, bundle):
    invoice = _one(bundle)
    as_of = bundle.as_of.date()
    invoice["payment_plan"] = {
        "agreed_on": as_of.isoformat(),
        "instalments": [{"due_date": (as_of + timedelta(days=20)).isoformat(), "amount": 0.5}],
    }
    answer = client.post("/v1/score", json={"invoices": [invoice], "as_of": as_of.isoformat()})
    body = answer.json()
    assert any("invoices[0].payment_plan" in w for w in body["warnings"])
    action = body["invoices"][0]["next_action"]
    assert action["state_reason"] != "payment_plan"
    assert action["amount_due"] == invoice["open_amount"]


def test_the_worklist_says_how_old_its_plan_is_and_what_it_lacks(client, bundle):
    later = bundle.as_of.date() + timedelta(days=30)
    body = client.post("/v1/worklist", json={"day": later.isoformat()}).json()
    assert body["snapshot_as_of"] == bundle.as_of.date().isoformat()
    assert body["snapshot_age_days"] == 30 and body["stale"] is True
    assert any("reported" in w for w in body["warnings"])
    assert any("30 days old" in w for w in body["warnings"])


def test_reminders_reported_move_the_scores_as_the_ledger_would(
    client, trained, sample_dataset, bundle, tmp_path
):
    """Online = batch for reported state: a reminder the snapshot cannot know yet (sent on its
    as-of day) counts in the features as it would once the ledger has it."""
    from dataclasses import replace

    import pandas as pd

    from payrisk.data.loading import write_dataset
    from payrisk.features.history import known_at
    from pipelines.scoring import score as batch_score
    from tests.conftest import project_catalog
    from tests.helpers import table

    snapshot_day = bundle.as_of
    tomorrow = (snapshot_day + pd.Timedelta(days=1)).date().isoformat()
    overdue = bundle.invoices.loc[bundle.invoices["due_date"] < snapshot_day]
    row = overdue.iloc[0]
    invoice = invoice_payload(overdue.iloc[[0]])[0]
    reminder = {"sent_date": snapshot_day.date().isoformat(), "channel": "phone", "step": 2}

    def online(reminders: list[dict]) -> dict:
        body = {"invoices": [{**invoice, "reminders": reminders}], "as_of": tomorrow}
        response = client.post("/v1/score", json=body)
        assert response.status_code == 200, response.text
        return response.json()["invoices"][0]

    # The ledger as the snapshot knew it, plus that reminder, scored the next day in batch.
    known = known_at(sample_dataset, snapshot_day)
    added = table(
        "reminders",
        [{"invoice_id": row.invoice_id, "sent_date": reminder["sent_date"], "channel": "phone",
          "step": "2"}],
    )  # fmt: skip
    ledger = replace(known, reminders=pd.concat([known.reminders, added], ignore_index=True))
    write_dataset(ledger, tmp_path / "ledger")
    portfolio, _, _ = batch_score(
        project_catalog(trained), tmp_path / "ledger", tmp_path / "scores.csv", as_of=tomorrow
    )
    batch = portfolio.invoices.set_index("invoice_id").loc[row.invoice_id]

    with_reminder, without = online([reminder]), online([])
    for name in ("late_probability", "default_probability"):
        assert with_reminder[name] == pytest.approx(round(batch[name], 6), abs=1e-6)
    assert with_reminder["default_probability"] != without["default_probability"]


def _refused(client, invoice: dict, field: str) -> None:
    response = client.post("/v1/score", json={"invoices": [invoice]})
    assert response.status_code == 400, response.text
    assert field in response.text


def test_dunning_state_outside_the_invoices_life_or_amount_is_refused(client, bundle):
    """Issue 26, Medium 5: dates before the invoice exists, amounts beyond what it asks for."""
    invoice = _one(bundle)
    issued = invoice["issue_date"]
    early = "1990-06-01"
    _refused(client, {**invoice, "promise": {"made_on": early, "promised_date": issued}},
             "promise.made_on is before issue_date")  # fmt: skip
    _refused(
        client,
        {**invoice, "reminders": [{"sent_date": early, "channel": "email"}]},
        "reminders[0].sent_date is before issue_date",
    )
    _refused(
        client,
        {**invoice, "payment_plan": {"instalments": [{"due_date": early, "amount": 1.0}]}},
        "payment_plan.instalments[0].due_date is before issue_date",
    )
    promise = {"made_on": issued, "promised_date": issued, "amount": invoice["amount"] + 1}
    _refused(client, {**invoice, "promise": promise}, "promise.amount exceeds")
    plan = {"instalments": [{"due_date": issued, "amount": invoice["amount"] * 2}]}
    _refused(client, {**invoice, "payment_plan": plan}, "instalments total more")


def test_a_token_promise_does_not_stop_dunning_and_is_named(client, bundle):
    overdue = bundle.invoices.loc[bundle.invoices["due_date"] < bundle.as_of]
    invoice = invoice_payload(overdue.iloc[[0]])[0]
    as_of = bundle.as_of.date()
    promise = {
        "made_on": as_of.isoformat(),
        "promised_date": (as_of + timedelta(days=40)).isoformat(),
        "amount": 0.01,
    }
    body = {"invoices": [{**invoice, "promise": promise}], "as_of": as_of.isoformat()}
    answer = client.post("/v1/score", json=body).json()
    assert any("invoices[0].promise" in w and "min_share" in w for w in answer["warnings"])
    action = answer["invoices"][0]["next_action"]
    assert action["state_reason"] not in ("promise", "promise_check_in")
    assert action["action_date"] < promise["promised_date"]


def test_a_promise_to_pay_early_that_slips_does_not_dun_before_the_due_date(client, bundle):
    """Made on 10-25 for 10-28 on an invoice due 11-19: not broken before it is due."""
    as_of = bundle.as_of.date()
    invoice = {
        "invoice_id": "EARLY-1",
        "customer_id": "EARLY-CUST",
        "issue_date": (as_of - timedelta(days=10)).isoformat(),
        "due_date": (as_of + timedelta(days=25)).isoformat(),
        "amount": 900.0,
        "promise": {
            "made_on": (as_of - timedelta(days=8)).isoformat(),
            "promised_date": (as_of - timedelta(days=5)).isoformat(),
        },
    }
    answer = client.post("/v1/score", json={"invoices": [invoice], "as_of": as_of.isoformat()})
    action = answer.json()["invoices"][0]["next_action"]
    assert action["state_reason"] != "broken_promise"
    assert action["step"] in (None, 1)


def test_an_invoice_the_snapshot_knows_as_settled_is_named_in_the_warnings(
    client, bundle, sample_dataset
):
    """Issue 26, Low 11: a fully paid invoice sent again was scored as open with no word."""
    invoices = sample_dataset.invoices
    settled = invoices.loc[
        (invoices["issue_date"] < bundle.as_of - pd.Timedelta(days=200))
        & ~invoices["invoice_id"].isin(bundle.invoices["invoice_id"])
    ].iloc[0]
    invoice = {
        "invoice_id": settled.invoice_id,
        "customer_id": settled.customer_id,
        "issue_date": settled.issue_date.date().isoformat(),
        "due_date": settled.due_date.date().isoformat(),
        "amount": float(settled.amount),
    }
    answer = client.post("/v1/score", json={"invoices": [invoice]}).json()
    assert any("invoices[0]" in w and "settled" in w for w in answer["warnings"])
    fresh = client.post("/v1/score", json={"invoices": [_one(bundle)]}).json()
    assert not any("settled" in w for w in fresh["warnings"])
