"""Feature values worked out by hand on a four-invoice history, and the day-boundary rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.core.config import FeatureSettings, TargetSettings
from payrisk.features.definitions import BUILT_IN, FEATURE_COLUMNS, FeatureSet, invoice_features
from payrisk.features.history import build_history
from tests.helpers import dataset, day

TARGETS = TargetSettings()
SETTINGS = FeatureSettings()


@pytest.fixture
def history_data():
    return dataset(
        invoices=[
            {
                "invoice_id": "I1",
                "customer_id": "C1",
                "issue_date": "2024-01-01",
                "due_date": "2024-01-31",
                "amount": "100",
                "paid_date": "2024-02-10",
            },
            {
                "invoice_id": "I2",
                "customer_id": "C1",
                "issue_date": "2024-02-01",
                "due_date": "2024-03-02",
                "amount": "200",
                "paid_date": "2024-02-25",
            },
            {
                "invoice_id": "I3",
                "customer_id": "C1",
                "issue_date": "2024-03-01",
                "due_date": "2024-03-31",
                "amount": "300",
            },
            {
                "invoice_id": "I4",
                "customer_id": "C1",
                "issue_date": "2024-05-01",
                "due_date": "2024-05-31",
                "amount": "400",
            },
        ],
        reminders=[
            {"invoice_id": "I3", "sent_date": "2024-04-05", "channel": "email", "step": "1"},
            {"invoice_id": "I3", "sent_date": "2024-04-20", "channel": "phone", "step": "2"},
        ],
        customers=[
            {
                "customer_id": "C1",
                "country": "FR",
                "credit_limit": "1000",
                "created_date": "2023-12-01",
            }
        ],
    )


def features_at(
    data,
    invoice_id: str,
    when: str,
    as_of: str = "2024-06-01",
    settings: FeatureSettings = SETTINGS,
    features: FeatureSet = BUILT_IN,
    **extra,
) -> pd.Series:
    """One invoice's features at `when` (its snapshot day) from the history known at `as_of`;
    `extra` adds query columns (e.g. `disputed`)."""
    history = build_history(data, day(as_of), TARGETS, settings)
    invoice = data.invoices.set_index("invoice_id").loc[invoice_id]
    query = pd.DataFrame(
        [
            {
                "invoice_id": invoice_id,
                "customer_id": invoice["customer_id"],
                "issue_date": invoice["issue_date"],
                "due_date": invoice["due_date"],
                "amount": invoice["amount"],
                "snapshot_date": day(when),
                **extra,
            }
        ]
    )
    return invoice_features(history, query, features).iloc[0]


def test_settled_history_is_summarised(history_data):
    f = features_at(history_data, "I4", "2024-05-01")
    assert f["settled_invoices"] == 2
    assert f["late_share"] == 0.5
    assert f["late_share_amount_weighted"] == pytest.approx(100 / 300)
    assert f["mean_days_late"] == pytest.approx((10 - 6) / 2)
    assert f["max_days_late"] == 10
    assert f["days_since_last_settlement"] == (day("2024-05-01") - day("2024-02-25")).days
    assert f["is_new_customer"] == 0


def test_open_and_past_due_balances_exclude_the_invoice_itself(history_data):
    f = features_at(history_data, "I4", "2024-05-01")
    assert f["open_invoices"] == 1  # I3; I4 is the one being scored
    assert f["open_amount"] == 300
    assert f["past_due_amount"] == 300
    assert f["past_due_31_60_amount"] == 300  # I3 is 31 days past due on 2024-05-01
    assert f["past_due_1_30_amount"] == 0
    assert f["invoices_issued"] == 3
    assert f["amount_vs_customer_mean"] == pytest.approx(400 / 200)
    assert f["credit_utilisation"] == pytest.approx((300 + 400) / 1000)
    assert f["customer_tenure_days"] == (day("2024-05-01") - day("2023-12-01")).days

    own = features_at(history_data, "I3", "2024-05-01")
    assert own["open_invoices"] == 0 and own["past_due_amount"] == 0
    assert own["days_past_due"] == 31


def test_an_invoice_unknown_to_the_history_keeps_every_other_invoice(history_data):
    f = features_at(history_data, "I3", "2024-05-01", in_history=False)
    assert f["open_invoices"] == 1
    assert f["past_due_amount"] == 300


def test_an_event_dated_t_is_not_known_at_t(history_data):
    # I1 was paid on 2024-02-10: unknown at the start of that day, known the day after.
    assert features_at(history_data, "I2", "2024-02-10")["settled_invoices"] == 0
    assert features_at(history_data, "I2", "2024-02-11")["settled_invoices"] == 1
    on_day = features_at(history_data, "I3", "2024-04-20")
    after = features_at(history_data, "I3", "2024-04-21")
    assert (on_day["reminders_sent"], on_day["last_reminder_channel"]) == (1, "email")
    assert on_day["days_since_last_reminder"] == 15
    assert (after["reminders_sent"], after["last_reminder_channel"]) == (2, "phone")
    assert after["last_reminder_step"] == 2


def test_a_new_customer_is_flagged_and_has_no_history(history_data):
    f = features_at(history_data, "I1", "2024-01-01")
    assert f["is_new_customer"] == 1
    assert f["settled_invoices"] == 0
    assert np.isnan(f["late_share"]) and np.isnan(f["mean_days_late"])


def test_the_compact_serving_snapshot_answers_like_the_full_history(history_data):
    history = build_history(history_data, day("2024-04-10"), TARGETS, SETTINGS)
    invoices = history_data.invoices.iloc[:3]
    queries = invoices[["invoice_id", "customer_id", "issue_date", "due_date", "amount"]].copy()
    frames = []
    for when in ("2024-04-10", "2024-04-25", "2024-07-01"):
        frames.append(queries.assign(snapshot_date=day(when)))
    queries = pd.concat(frames, ignore_index=True)
    full = invoice_features(history, queries)
    compact = history.compact()
    assert compact.n_events < history.n_events
    pd.testing.assert_frame_equal(full, invoice_features(compact, queries))
    assert list(full.columns) == list(FEATURE_COLUMNS)


def test_partial_payments_lower_the_open_and_past_due_balances(history_data):
    """I3 (300, due 2024-03-31) is paid 120 on 2024-04-10: 10 days past due, so before it
    crosses 30 days. Every balance then holds its 180 still open, as `open_invoices` says."""
    from payrisk.data.loading import Dataset
    from payrisk.data.receivables import open_invoices

    payment = {"invoice_id": "I3", "payment_date": "2024-04-10", "amount": "120"}
    paid = Dataset(
        invoices=history_data.invoices,
        payments=dataset(invoices=[], payments=[payment]).payments,
        customers=history_data.customers,
        reminders=history_data.reminders,
    )
    before = features_at(paid, "I4", "2024-04-10", in_history=False)
    assert before["open_amount"] == 300 and before["past_due_1_30_amount"] == 300
    f = features_at(paid, "I4", "2024-05-01")
    assert f["open_amount"] == 180 and f["open_invoices"] == 1
    assert f["past_due_amount"] == 180 and f["past_due_31_60_amount"] == 180
    assert f["past_due_1_30_amount"] == 0
    assert f["credit_utilisation"] == pytest.approx((180 + 400) / 1000)
    expected = open_invoices(paid, day("2024-05-01")).set_index("invoice_id")["open_amount"]
    assert expected["I3"] == f["open_amount"]
    # The invoice itself, part paid, is still taken out of its customer's "other" balances.
    own = features_at(paid, "I3", "2024-05-01")
    assert own["open_amount"] == 0 and own["past_due_amount"] == 0
    assert features_at(paid, "I3", "2024-05-01")["open_invoices"] == 0


@pytest.fixture
def dispute_data():
    """I1 disputed on 01-20, resolved on 02-19; I2 disputed on 02-10, still open; I3 flagged
    disputed without a date (cannot be placed in time); I4 is the invoice scored."""
    rows = [
        ("I1", "2024-01-01", "2024-01-31", "2024-02-25", "2024-01-20", "2024-02-19", "true"),
        ("I2", "2024-02-01", "2024-03-02", "", "2024-02-10", "", "true"),
        ("I3", "2024-03-01", "2024-03-31", "", "", "", "true"),
        ("I4", "2024-04-01", "2024-05-01", "", "", "", "false"),
    ]
    return dataset(
        invoices=[
            {
                "invoice_id": invoice_id,
                "customer_id": "C1",
                "issue_date": issue,
                "due_date": due,
                "paid_date": paid,
                "dispute_date": raised,
                "dispute_resolved_date": resolved,
                "disputed": flag,
            }
            for invoice_id, issue, due, paid, raised, resolved, flag in rows
        ]
    )


def test_dated_disputes_become_features_undated_flags_do_not(dispute_data):
    f = features_at(dispute_data, "I4", "2024-04-10")
    assert f["open_dispute"] == 0
    assert f["customer_open_disputes"] == 1  # I2; I1 was resolved, I3 has no date
    assert f["dispute_rate"] == pytest.approx(2 / 3)  # I1 and I2 of the 3 earlier invoices
    assert f["mean_days_to_end_dispute"] == 30  # I1: 01-20 to 02-19

    own = features_at(dispute_data, "I2", "2024-02-15")
    assert own["open_dispute"] == 1 and own["days_since_dispute"] == 5
    assert own["customer_open_disputes"] == 1  # I1, open until 02-19
    assert own["dispute_rate"] == 1.0  # I1, the only other invoice then
    assert np.isnan(own["mean_days_to_end_dispute"])  # none ended yet


def test_a_dispute_is_known_the_day_after_it_is_raised_and_ends_when_resolved(dispute_data):
    assert features_at(dispute_data, "I2", "2024-02-10")["open_dispute"] == 0
    assert features_at(dispute_data, "I2", "2024-02-11")["open_dispute"] == 1
    assert features_at(dispute_data, "I1", "2024-02-19")["open_dispute"] == 1
    resolved = features_at(dispute_data, "I1", "2024-02-20")
    assert resolved["open_dispute"] == 0 and np.isnan(resolved["days_since_dispute"])


def test_an_invoice_unknown_to_the_history_is_disputed_as_the_caller_says(dispute_data):
    told = features_at(dispute_data, "I4", "2024-04-10", in_history=False, disputed=True)
    assert told["open_dispute"] == 1
    # ...but an invoice the history holds is read from its dated history, not the flag.
    known = features_at(dispute_data, "I3", "2024-04-10", disputed=True)
    assert known["open_dispute"] == 0


def test_a_stream_answers_with_the_state_after_the_last_event_strictly_before_the_day() -> None:
    """Two customers' running counts: a query on an event's day sees the state before it; one
    after the stream's very first event sees that event only."""
    from payrisk.features.streams import Lookup, build_stream

    stream = build_stream(
        np.array([1, 0, 0, 1, 1]), np.array([12, 10, 20, 30, 5]), {"n": np.ones(5)}
    )
    entity = np.array([0, 0, 0, 0, 1, 1, 1, 2])
    day = np.array([10, 11, 20, 21, 12, 13, 31, 50])
    counts = Lookup(stream, entity, day)("n", missing=-1.0)
    assert counts.tolist() == [-1.0, 1.0, 1.0, 2.0, 1.0, 2.0, 3.0, -1.0]
    # What the service keeps: answers from day 20 on are the same, the query on day 20 itself
    # (which sees the event of day 10, not the one of day 20) included.
    compact = stream.compact(20)
    later = day >= 20
    assert len(compact) == 4  # customer 1's event of day 5 is superseded by day 12's
    np.testing.assert_array_equal(
        Lookup(compact, entity[later], day[later])("n", missing=-1.0), counts[later]
    )


def test_a_rolling_median_runs_over_each_customers_own_last_events() -> None:
    """A window of 3 events, per customer, from the first event on (one event: its own value)."""
    from payrisk.features.streams import build_stream

    entity = np.array([1, 0, 0, 1, 0, 0])
    days = np.array([1, 2, 3, 4, 5, 6])
    values = np.array([7.0, 10.0, 20.0, 9.0, 60.0, 0.0])
    stream = build_stream(entity, days, {}, rolling_median={"m": (values, 3)})
    # Sorted by (customer, day): customer 0 on days 2, 3, 5, 6; then customer 1 on days 1, 4.
    assert stream.state["m"].tolist() == [10.0, 15.0, 20.0, 20.0, 7.0, 8.0]
