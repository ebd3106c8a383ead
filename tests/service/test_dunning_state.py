"""Closing the loop with the dunning system (issue 16): what it reports - reminders sent, promises,
payment plans, holds, direct debit, disputes - shapes the next action; the same request gets the
same answer; penalties come computed; the batch and the service agree; bad state gets a 4xx."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from payrisk.policy.config import load_dunning_config
from payrisk.policy.state import NO_DAY, SENT_FIELDS, STATE_COLUMNS, DunningState
from payrisk.serving.engine import request_state
from payrisk.serving.schemas import ScoreRequest
from tests.conftest import VALID_INVOICE
from tests.helpers import interest_by_hand, invoice_payload

POLICY = load_dunning_config()
GAP = POLICY.contact.min_days_between_contacts


def _iso(value) -> str:
    return pd.Timestamp(value).date().isoformat()


def working_day(value: date, offset: int = 0) -> date:
    """The working day `offset` working days from `value` (rolled forward first)."""
    day = np.busday_offset(
        np.datetime64(value, "D"), offset, roll="forward", busdaycal=POLICY.calendar.business_days
    )
    return day.astype(object)


def _plain(bundle) -> pd.DataFrame:
    """Open invoices the snapshot knows no dunning state of, alone at their customer (so a
    sibling's contact cannot move theirs), not disputed."""
    invoices = bundle.invoices
    stateless = np.ones(len(invoices), dtype=bool)
    for name, column in STATE_COLUMNS.items():
        if name in SENT_FIELDS:  # what was sent (by channel): the ledger's, not state
            continue
        values = invoices[column]
        stateless &= (values.isna() | (values == 0)).to_numpy()
    alone = invoices["customer_id"].map(invoices["customer_id"].value_counts()) == 1
    return invoices.loc[stateless & alone & ~invoices["disputed"]]


def score(client, invoices, **body) -> dict:
    """The answer as of the snapshot's day unless `as_of` is given (what batch scored)."""
    body.setdefault("as_of", snapshot_day(client))
    response = client.post("/v1/score", json={"invoices": invoices, **body})
    assert response.status_code == 200, response.text
    return response.json()


def snapshot_day(client) -> str:
    return client.post("/v1/status").json()["snapshot_as_of"]


def action_of(answer: dict, invoice_id: str | None = None) -> dict:
    for invoice in answer["invoices"]:
        if invoice_id is None or invoice["invoice_id"] == invoice_id:
            return invoice["next_action"]
    raise AssertionError(invoice_id)


def reminded_today(bundle) -> pd.Series:
    """A plain invoice whose next action is the rules' reminder on the snapshot's first working
    day (the learned policy's timing moves with the day asked about; the rules' does not)."""
    today = working_day(bundle.as_of.date())
    plain = _plain(bundle)
    due = plain.loc[
        (plain["action"] == "remind")
        & (plain["policy"] == "rules")
        & (plain["action_date"].dt.date == today)
    ]
    assert len(due), "the sample has reminders due on its first working day"
    return due.iloc[0]


def test_a_reported_reminder_is_not_sent_again_the_next_day(client, bundle):
    row = reminded_today(bundle)
    today = working_day(bundle.as_of.date())
    tomorrow = working_day(today + timedelta(days=1))
    (invoice,) = invoice_payload(row.to_frame().T)
    # Not reported, and the snapshot does not know it: the step is still due, tomorrow.
    unknown = action_of(score(client, [invoice], as_of=tomorrow.isoformat()))
    assert unknown["action"] == "remind" and unknown["action_date"] == tomorrow.isoformat()
    assert unknown["step"] == row["step"]
    # Reported: the step counts as sent and the customer was contacted today.
    sent = {"sent_date": today.isoformat(), "channel": row["channel"], "step": int(row["step"])}
    known = action_of(score(client, [{**invoice, "reminders": [sent]}], as_of=tomorrow.isoformat()))
    assert known["action_date"] >= (today + timedelta(days=GAP)).isoformat()
    assert known["action"] != "remind" or known["step"] == row["step"] + 1
    # A contact of the customer reported without any invoice reminder counts for the gap too.
    contact = score(
        client,
        [invoice],
        as_of=tomorrow.isoformat(),
        customers=[{"customer_id": row["customer_id"], "last_contact_date": today.isoformat()}],
    )
    assert action_of(contact)["action_date"] >= (today + timedelta(days=GAP)).isoformat()


def test_one_contact_per_customer_at_the_highest_step_with_reported_reminders(client, bundle):
    """Two invoices of a customer, one reported at a higher step: the customer's next contact
    covers both on one day, at the higher step's channel; a third invoice, due later, is a
    contact of its own at least the gap after it."""
    row = reminded_today(bundle)
    today = working_day(bundle.as_of.date())
    (first,) = invoice_payload(row.to_frame().T)
    second = {**first, "invoice_id": "TWIN-1"}
    reported = [
        {"sent_date": (today - timedelta(days=30 + k)).isoformat(), "channel": "email"}
        for k in range(3)
    ]
    due_later = today + timedelta(days=40)
    third = {
        **first,
        "invoice_id": "LATER-1",
        "issue_date": today.isoformat(),
        "due_date": due_later.isoformat(),
        "open_amount": first["amount"],
    }
    answer = score(
        client, [first, {**second, "reminders": reported}, third], as_of=today.isoformat()
    )
    (plan,) = answer["customers"]
    steps = {i["invoice_id"]: i["next_action"] for i in answer["invoices"]}
    assert steps["TWIN-1"]["step"] == 4  # three reminders reported: the fourth step is next
    assert steps[first["invoice_id"]]["step"] == row["step"] < 4
    contacts = plan["contacts"]
    assert len(contacts) >= 2, contacts  # the later invoice is a contact of its own
    days = [date.fromisoformat(c["action_date"]) for c in contacts]
    assert days == sorted(days) and len(days) == len(set(days))  # one contact a day
    for earlier, later in itertools.pairwise(days):
        assert later - earlier >= timedelta(days=GAP)
    first_contact = contacts[0]
    # One voice a day (the ladder): a formal notice never shares a day with a plain reminder.
    notice = ("formal_notice", "agency")
    same_rung = (steps["TWIN-1"]["channel"] in notice) == (
        steps[first["invoice_id"]]["channel"] in notice
    )
    together = [first["invoice_id"], "TWIN-1"] if same_rung else ["TWIN-1"]
    assert sorted(first_contact["invoice_ids"]) == sorted(together)
    assert first_contact["step"] == 4
    assert first_contact["channel"] == steps["TWIN-1"]["channel"]
    assert any("LATER-1" in c["invoice_ids"] for c in contacts[1:])


def test_a_hold_sends_nothing_until_it_ends_and_keeps_its_reason_private(client, bundle, caplog):
    row = reminded_today(bundle)
    today = working_day(bundle.as_of.date())
    (invoice,) = invoice_payload(row.to_frame().T)
    until = today + timedelta(days=12)
    secret = "Mme Martin en arrêt maladie"
    for body in (
        {"invoices": [{**invoice, "hold": {"until": until.isoformat(), "reason": secret}}]},
        {
            "invoices": [invoice],
            "customers": [
                {
                    "customer_id": row["customer_id"],
                    "hold": {"until": until.isoformat(), "reason": secret},
                }
            ],
        },
    ):
        response = client.post("/v1/score", json={**body, "as_of": today.isoformat()})
        assert response.status_code == 200
        assert secret not in response.text
        action = action_of(response.json())
        assert action["state_reason"] == "hold"
        assert action["action_date"] == working_day(until + timedelta(days=1)).isoformat()
    assert secret not in caplog.text


def test_a_customers_state_covers_its_invoices_the_request_did_not_send(client, bundle):
    """A customer with several open invoices, one sent: its hold, last contact and direct debit
    apply to the snapshot's other invoices of it too."""
    counts = bundle.invoices["customer_id"].value_counts()
    customer = counts.index[counts >= 3][0]
    invoices = bundle.invoices.loc[bundle.invoices["customer_id"] == customer]
    payload = invoice_payload(invoices.head(1))
    today = working_day(bundle.as_of.date())
    until = today + timedelta(days=20)
    held = score(
        client,
        payload,
        as_of=today.isoformat(),
        customers=[{"customer_id": customer, "hold": {"until": until.isoformat()}}],
    )
    (plan,) = held["customers"]
    assert plan["invoices_from_snapshot"] and plan["contacts"]
    assert all(c["action_date"] > until.isoformat() for c in plan["contacts"])
    debit = score(
        client,
        payload,
        as_of=today.isoformat(),
        customers=[{"customer_id": customer, "direct_debit": True}],
    )
    assert debit["customers"][0]["contacts"] == []  # no reminder for any of its invoices


def test_a_customers_reported_state_reaches_each_of_its_planned_invoices_and_no_other():
    """The engine's merge, row by row: a customer's hold, last contact and direct debit land on
    every planned invoice of it (sent or from the snapshot), its hold only extends an invoice's
    own longer one, and another customer's invoices keep their own."""
    request = ScoreRequest(
        invoices=[
            {
                **VALID_INVOICE,
                "invoice_id": "A",
                "customer_id": "C1",
                "hold": {"until": "2026-11-20"},
            },
            {**VALID_INVOICE, "invoice_id": "B", "customer_id": "C2"},
        ],
        customers=[
            {"customer_id": "C2", "direct_debit": True},
            {
                "customer_id": "C1",
                "last_contact_date": "2026-11-02",
                "hold": {"until": "2026-11-10"},
            },
        ],
    )
    planned = np.array(["C1", "C2", "C1", "C1", "C2"], dtype=object)  # sent, then the snapshot's
    state = request_state(request, planned, date(2026, 11, 3))

    def day(text: str) -> int:
        return date.fromisoformat(text).toordinal() - date(1970, 1, 1).toordinal()

    held, contact = day("2026-11-10"), day("2026-11-02")
    assert state.hold_until_day.tolist() == [day("2026-11-20"), NO_DAY, held, held, NO_DAY]
    assert state.customer_contact_day.tolist() == [contact, NO_DAY, contact, contact, NO_DAY]
    np.testing.assert_array_equal(state.direct_debit, [np.nan, 1.0, np.nan, np.nan, 1.0])


def test_reminders_reported_on_a_plan_the_snapshot_knows_count_towards_its_instalment():
    """A request that reports reminders but not the plan (the snapshot has it): those sent
    since the current instalment's start count too, not the snapshot's count alone."""
    from dataclasses import replace

    from payrisk.serving.engine import reminders_under_stored_plans, request_state
    from payrisk.serving.schemas import ScoreRequest

    def day(text: str) -> int:
        return date.fromisoformat(text).toordinal() - date(1970, 1, 1).toordinal()

    reminders = [
        {"sent_date": d, "channel": "email"} for d in ("2026-09-20", "2026-10-12", "2026-10-28")
    ]
    request = ScoreRequest(
        invoices=[
            {
                **VALID_INVOICE,
                "invoice_id": "A",
                "issue_date": "2026-09-01",
                "reminders": reminders,
            },
            {**VALID_INVOICE, "invoice_id": "B"},  # nothing reported: the snapshot's count
        ],
        as_of="2026-11-03",
    )
    reported = request_state(request, np.array(["C1", "C1"], dtype=object), date(2026, 11, 3))
    stored = replace(
        DunningState.empty(2),
        plan_due_day=np.full(2, day("2026-11-15")),
        plan_since_day=np.full(2, day("2026-10-01")),
        plan_reminders=np.array([1.0, 1.0]),
    )
    merged = reminders_under_stored_plans(request, reported, reported.over(stored))
    assert merged.plan_reminders.tolist() == [2.0, 1.0]  # two of A's three since Oct 1


def test_a_promise_waits_for_its_date_with_a_nudge_or_a_check_in_before_it(client, bundle):
    row = reminded_today(bundle)
    today = working_day(bundle.as_of.date())
    (invoice,) = invoice_payload(row.to_frame().T)
    promised = working_day(today + timedelta(days=14))
    promise = {"made_on": today.isoformat(), "promised_date": promised.isoformat()}
    answer = score(client, [{**invoice, "promise": promise}], as_of=today.isoformat())
    scored = answer["invoices"][0]
    action = scored["next_action"]
    assert 0 < scored["promise_kept_probability"] < 1 and scored["promise_reason"]
    assert action["action_date"] < promised.isoformat()
    if scored["promise_kept_probability"] < POLICY.promises.check_in_below:
        assert action["template"] == "promise_check_in" and action["channel"] == "phone"
        assert action["action_date"] == working_day(promised, -3).isoformat()
    else:
        assert action["template"] == "promise_courtesy" and action["channel"] == "email"
        assert action["action_date"] == working_day(promised, -1).isoformat()
    # The day before the promised date, nothing more until after it.
    eve = working_day(promised, -1)
    later = action_of(
        score(
            client, [{**invoice, "promise": promise}], as_of=(eve + timedelta(days=1)).isoformat()
        )
    )
    assert later["action_date"] > promised.isoformat()
    assert later["state_reason"] == "promise"


def test_a_broken_promise_moves_one_step_firmer_at_once(client, bundle):
    plain = _plain(bundle)
    today = working_day(bundle.as_of.date())
    rows = plain.loc[
        (plain["action"] == "remind") & (plain["step"] >= 2) & (plain["policy"] == "rules")
    ]
    row = rows.iloc[0]
    (invoice,) = invoice_payload(row.to_frame().T)
    before = action_of(score(client, [invoice], as_of=today.isoformat()))
    promise = {
        "made_on": (today - timedelta(days=20)).isoformat(),
        "promised_date": (today - timedelta(days=2)).isoformat(),
    }
    broken = action_of(score(client, [{**invoice, "promise": promise}], as_of=today.isoformat()))
    assert broken["state_reason"] == "broken_promise"
    if broken["action"] in ("remind", "escalate"):
        assert broken["step"] == before["step"] + 1
    assert broken["action_date"] <= before["action_date"]
    assert broken["action_date"] == today.isoformat() or before["action_date"] > today.isoformat()


def test_a_payment_plan_is_dunned_per_instalment(client, bundle):
    row = reminded_today(bundle)
    today = working_day(bundle.as_of.date())
    (invoice,) = invoice_payload(row.to_frame().T)
    left = invoice["open_amount"]
    third = round(left / 3, 2)
    first_due = today + timedelta(days=20)
    plan = {
        "agreed_on": today.isoformat(),
        "instalments": [
            {"due_date": (first_due + timedelta(days=30 * k)).isoformat(), "amount": amount}
            for k, amount in enumerate([third, third, round(left - 2 * third, 2)])
        ],
    }
    scored = score(client, [{**invoice, "payment_plan": plan}], as_of=today.isoformat())
    action = scored["invoices"][0]["next_action"]
    assert action["state_reason"] == "payment_plan"
    assert action["amount_due"] == pytest.approx(third)
    assert action["action_date"] >= (first_due - timedelta(days=7)).isoformat()
    # Half the first instalment paid since: the rest of it is what the next contact asks for.
    paid = {**invoice, "open_amount": round(left - third / 2, 2), "payment_plan": plan}
    action = action_of(score(client, [paid], as_of=today.isoformat()))
    assert action["amount_due"] == pytest.approx(round(third - third / 2, 2), abs=0.011)
    # The first instalment missed: dunned on it, from its due date.
    late = action_of(
        score(
            client,
            [{**invoice, "payment_plan": plan}],
            as_of=(first_due + timedelta(days=10)).isoformat(),
        )
    )
    assert late["action"] == "remind" and late["amount_due"] == pytest.approx(third)


def test_direct_debit_gets_no_reminder_unless_a_collection_failed(client, bundle):
    row = reminded_today(bundle)
    today = working_day(bundle.as_of.date())
    (invoice,) = invoice_payload(row.to_frame().T)
    debit = {"customer_id": row["customer_id"], "direct_debit": True}
    quiet = action_of(score(client, [invoice], customers=[debit], as_of=today.isoformat()))
    assert quiet["action"] == "direct_debit" and quiet["channel"] is None
    failed = {**debit, "direct_debit_failed_date": today.isoformat()}
    loud = action_of(score(client, [invoice], customers=[failed], as_of=today.isoformat()))
    assert loud["action"] == "remind"


def test_the_worklist_leaves_direct_debit_out(client, bundle):
    assert (bundle.invoices["action"] == "direct_debit").any()
    listed = client.post("/v1/worklist", json={"day": "2100-01-01", "page_size": 500}).json()
    assert listed["total"] > 0
    assert all(item["action"] != "direct_debit" for item in listed["items"])


def test_an_open_dispute_with_its_date_leaves_dunning(client, bundle):
    row = reminded_today(bundle)
    (invoice,) = invoice_payload(row.to_frame().T)
    today = working_day(bundle.as_of.date())
    answer = score(
        client, [{**invoice, "dispute_date": today.isoformat()}], as_of=today.isoformat()
    )
    action = action_of(answer)
    assert action["action"] == "dispute_resolution" and action["state_reason"] == "dispute"


def test_the_same_request_gets_the_same_answer_and_its_id_back(client, bundle):
    row = reminded_today(bundle)
    (invoice,) = invoice_payload(row.to_frame().T)
    today = working_day(bundle.as_of.date())
    body = {
        "invoices": [
            {
                **invoice,
                "promise": {
                    "made_on": today.isoformat(),
                    "promised_date": (today + timedelta(days=9)).isoformat(),
                },
            }
        ],
        "as_of": today.isoformat(),
    }
    first = client.post("/v1/score", json={**body, "request_id": "run-42"}).json()
    second = client.post("/v1/score", json={**body, "request_id": "run-42"}).json()
    assert first == second and first["request_id"] == "run-42"
    anonymous = [client.post("/v1/score", json=body).json() for _ in range(2)]
    assert anonymous[0] == anonymous[1]
    assert anonymous[0]["request_id"].startswith("sha256-")
    other = client.post(
        "/v1/score", json={**body, "as_of": (today + timedelta(days=1)).isoformat()}
    )
    assert other.json()["request_id"] != anonymous[0]["request_id"]


def test_steps_that_mention_penalties_carry_them_to_the_cent(client, bundle):
    letters = bundle.invoices.loc[
        bundle.invoices["template"].isin(POLICY.penalties.templates)
        & bundle.invoices["action"].isin(["remind", "escalate"])
    ]
    assert len(letters)
    row = letters.iloc[0]
    (invoice,) = invoice_payload(row.to_frame().T)
    scored = score(client, [invoice])["invoices"][0]
    action = scored["next_action"]
    penalties = action["penalties"]
    day = date.fromisoformat(action["action_date"])
    due = row["due_date"].date()
    # Day by day in decimals, at the configured rate (8.28%), on the open amount to the cent.
    expected = float(
        interest_by_hand(f"{row['open_amount']:.2f}", str(POLICY.penalties.annual_rate), due, day)
    )
    assert expected > 0
    assert penalties["days_late"] == (day - due).days > 0
    assert penalties["interest"] == expected
    assert penalties["indemnity"] == 40.0 and penalties["currency"] == "EUR"
    assert penalties["total"] == pytest.approx(expected + 40.0, abs=1e-9)
    # The batch carries the same amounts for the same step.
    assert row["penalty_total"] == pytest.approx(penalties["total"], abs=1e-9)
    # A friendly reminder carries none (the sample has some: this always runs).
    friendly = bundle.invoices.loc[
        (bundle.invoices["template"] == "friendly_reminder")
        & (bundle.invoices["due_date"] < bundle.invoices["action_date"])
    ]
    assert len(friendly)
    (one,) = invoice_payload(friendly.head(1))
    quiet = score(client, [one])["invoices"][0]["next_action"]
    assert quiet["template"] == "friendly_reminder" and quiet["penalties"] is None


def _state_payload(row: pd.Series) -> tuple[dict, list[dict]]:
    """An invoice's dunning state as the request would send it, from the bundle's columns."""
    invoice: dict = {}
    customer: dict = {"customer_id": row["customer_id"]}
    if pd.notna(row["state_promise_date"]):
        invoice["promise"] = {
            "made_on": _iso(row["state_promise_made_date"]),
            "promised_date": _iso(row["state_promise_date"]),
        }
    if pd.notna(row["state_hold_until_date"]):
        invoice["hold"] = {"until": _iso(row["state_hold_until_date"])}
    if pd.notna(row["state_direct_debit"]):
        customer["direct_debit"] = bool(row["state_direct_debit"])
    return invoice, [customer] if len(customer) > 1 else []


COMPARED = ("action", "action_date", "step", "channel", "state_reason")


@pytest.mark.parametrize("kind", ["promise", "hold_until", "plan_due", "direct_debit"])
def test_online_equals_batch_for_the_snapshots_dunning_state(client, bundle, kind):
    """Invoices the batch planned with a promise, a hold, a plan or direct debit from the
    contract tables: the service, told nothing, plans them the same from the snapshot; told the
    same state in the request, the same again."""
    column = STATE_COLUMNS[f"{kind}_day" if kind != "direct_debit" else "direct_debit"]
    invoices = bundle.invoices
    with_state = invoices.loc[invoices[column].notna() & (invoices[column] != 0)]
    assert len(with_state), f"the sample has invoices with a {kind}"
    for _, row in with_state.head(3).iterrows():
        siblings = invoices.loc[invoices["customer_id"] == row["customer_id"]]
        payload = invoice_payload(siblings)
        answer = score(client, payload)
        batch = siblings.set_index("invoice_id")
        for scored in answer["invoices"]:
            expected = batch.loc[scored["invoice_id"]]
            action = scored["next_action"]
            assert action["action"] == expected["action"]
            assert action["action_date"] == _iso(expected["action_date"])
            assert action["state_reason"] == (
                None if pd.isna(expected["state_reason"]) else expected["state_reason"]
            )
            assert action["amount_due"] == pytest.approx(expected["amount_due"], abs=0.005)
        if kind in ("promise", "hold_until", "direct_debit"):
            extra, customers = _state_payload(row)
            told = [
                {**item, **extra} if item["invoice_id"] == row["invoice_id"] else item
                for item in payload
            ]
            again = score(client, told, customers=customers)
            assert [i["next_action"] for i in again["invoices"]] == [
                i["next_action"] for i in answer["invoices"]
            ]


@pytest.mark.parametrize(
    ("invoice", "body", "location"),
    [
        ({"reminders": [{"sent_date": "2026-11-02"}]}, {}, "channel"),
        ({"reminders": [{"sent_date": "2026-11-02", "channel": "pigeon"}]}, {}, "channel"),
        ({"reminders": [{"sent_date": "2026-11-02", "channel": "email", "step": 0}]}, {}, "step"),
        ({"reminders": [{"sent_date": 20261102, "channel": "email"}]}, {}, "sent_date"),
        ({"reminders": "email"}, {}, "reminders"),
        ({"reminders": [{"sent_date": "2026-11-02", "channel": "email"}] * 101}, {}, "reminders"),
        ({"promise": {"made_on": "2026-11-02"}}, {}, "promised_date"),
        ({"promise": {"made_on": "2026-11-02", "promised_date": "2026-10-01"}}, {}, "promise"),
        (
            {"promise": {"made_on": "2026-11-02", "promised_date": "2026-12-01", "amount": -5}},
            {},
            "amount",
        ),
        (
            {"promise": {"made_on": "2026-11-02", "promised_date": "2026-12-01", "amount": "5"}},
            {},
            "amount",
        ),
        ({"payment_plan": {"instalments": []}}, {}, "instalments"),
        (
            {"payment_plan": {"instalments": [{"due_date": "2026-12-01", "amount": 0}]}},
            {},
            "amount",
        ),
        (
            {
                "payment_plan": {
                    "instalments": [
                        {"due_date": "2026-12-01", "amount": 5},
                        {"due_date": "2026-11-01", "amount": 5},
                    ]
                }
            },
            {},
            "payment_plan",
        ),
        ({"hold": {"reason": "x"}}, {}, "until"),
        ({"hold": {"until": "2026-12-01", "reason": "x" * 501}}, {}, "reason"),
        ({"hold": {"until": "2201-01-01"}}, {}, "until"),
        ({"dispute_date": "yesterday"}, {}, "dispute_date"),
        ({}, {"request_id": "a\nb"}, "request_id"),
        ({}, {"customers": [{"customer_id": "C1", "direct_debit": "yes"}]}, "direct_debit"),
        ({}, {"customers": [{"customer_id": "C1", "hold": {"until": "x"}}]}, "until"),
        ({}, {"customers": [{"customer_id": "C1"}, {"customer_id": "C1"}]}, "customers"),
        ({}, {"customers": [{"customer_id": "C1", "mood": "angry"}]}, "mood"),
        (
            {},
            {"customers": [{"customer_id": "C1", "last_contact_date": "2026-13-01"}]},
            "last_contact_date",
        ),
        (
            {},
            {"customers": [{"customer_id": "C1", "direct_debit_failed_date": 5}]},
            "direct_debit_failed_date",
        ),
        ({}, {"customers": [{"customer_id": "\u0000"}]}, "customer_id"),
        ({"promise": {"made_on": "1899-12-31", "promised_date": "2026-12-01"}}, {}, "made_on"),
        (
            {
                "payment_plan": {
                    "agreed_on": "2026-12-02",
                    "instalments": [{"due_date": "2026-12-01", "amount": 5}],
                }
            },
            {},
            "payment_plan",
        ),
        (
            {"payment_plan": {"instalments": [{"due_date": "2026-12-01", "amount": 5}] * 121}},
            {},
            "instalments",
        ),
        ({"reminders": [{"sent_date": "2026-11-02", "channel": "email", "extra": 1}]}, {}, "extra"),
    ],
)
def test_hostile_dunning_state_gets_a_400_naming_the_field(client, invoice, body, location):
    response = client.post("/v1/score", json={"invoices": [{**VALID_INVOICE, **invoice}], **body})
    assert response.status_code == 400, response.text
    where = [[str(part) for part in item["loc"]] for item in response.json()["detail"]]
    assert any(location in loc for loc in where), where


@pytest.mark.parametrize(
    ("invoice", "customer", "field"),
    [
        (
            {"reminders": [{"sent_date": "2099-01-01", "channel": "email"}]},
            None,
            "invoices[0].reminders[0].sent_date",
        ),
        (
            {"promise": {"made_on": "2099-01-01", "promised_date": "2099-02-01"}},
            None,
            "invoices[0].promise.made_on",
        ),
        ({"dispute_date": "2099-01-01"}, None, "invoices[0].dispute_date"),
        (
            {},
            {"customer_id": "C000001", "last_contact_date": "2099-01-01"},
            "customers[0].last_contact_date",
        ),
    ],
)
def test_reports_from_the_future_get_a_422_naming_the_field(client, invoice, customer, field):
    body = {"invoices": [{**VALID_INVOICE, **invoice}]}
    if customer:
        body["customers"] = [customer]
    response = client.post("/v1/score", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]


def test_the_spec_documents_the_dunning_state_with_examples(client):
    spec = client.get("/docs.json").json()
    text = str(spec)
    for name in ("ReminderIn", "PromiseIn", "PaymentPlanIn", "HoldIn", "CustomerStateIn"):
        assert name in spec["components"]["schemas"], name
    assert "promised_date" in text and "request_id" in text
    invoice = spec["components"]["schemas"]["InvoiceIn"]
    assert "promise" in str(invoice.get("example") or invoice.get("examples"))
