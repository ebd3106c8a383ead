"""Channel-effect examples are point in time: the response history by channel, the decision units
and their outcomes use nothing a dunning system could not have known at the decision."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.core.config import EffectSettings, FeatureSettings, TargetSettings
from payrisk.data.loading import Dataset
from payrisk.features.history import build_history
from payrisk.models.effects import decision_units, unit_features, unit_outcomes

D = pd.Timestamp


def _ledger() -> Dataset:
    """One customer: INV1 reminded by SMS and paid 3 days later; INV2 reminded by e-mail and
    paid 20 days later; INV3 disputed; INV4 still open."""
    invoices = pd.DataFrame(
        {
            "invoice_id": ["INV1", "INV2", "INV3", "INV4"],
            "customer_id": ["C1"] * 4,
            "issue_date": [D("2026-01-02"), D("2026-02-02"), D("2026-02-02"), D("2026-04-01")],
            "due_date": [D("2026-02-02"), D("2026-03-04"), D("2026-03-04"), D("2026-05-01")],
            "amount": [100.0, 200.0, 300.0, 400.0],
            "currency": ["EUR"] * 4,
            "paid_date": [D("2026-02-12"), D("2026-03-29"), pd.NaT, pd.NaT],
            "disputed": [False, False, True, False],
            "written_off_date": [pd.NaT] * 4,
        }
    )
    reminders = pd.DataFrame(
        {
            "invoice_id": ["INV1", "INV2", "INV3"],
            "sent_date": [D("2026-02-09"), D("2026-03-09"), D("2026-03-09")],
            "channel": ["sms", "email", "phone"],
            "step": pd.Series([1, 1, 1], dtype="Int64"),
        }
    )
    payments = pd.DataFrame(
        {
            "invoice_id": ["INV1", "INV2"],
            "payment_date": [D("2026-02-12"), D("2026-03-29")],
            "amount": [100.0, 200.0],
        }
    )
    customers = pd.DataFrame({"customer_id": ["C1"]})
    return Dataset(invoices=invoices, payments=payments, customers=customers, reminders=reminders)


def _response_features(dataset: Dataset, as_of: str, at: str) -> dict[str, float]:
    history = build_history(dataset, D(as_of), TargetSettings(), FeatureSettings(response_days=7))
    query = pd.DataFrame(
        {
            "invoice_id": ["INV4"],
            "customer_id": ["C1"],
            "issue_date": [D("2026-04-01")],
            "due_date": [D("2026-05-01")],
            "amount": [400.0],
            "snapshot_date": [D(at)],
        }
    )
    features = unit_features(history, query)
    return {
        name: float(values[0])
        for name, values in features.items()
        if "answered" in name or "response_rate" in name
    }


def test_a_reminders_answer_counts_only_once_its_window_has_passed() -> None:
    dataset = _ledger()
    # The SMS of 9 Feb was answered (paid 12 Feb); its window ends 16 Feb.
    before = _response_features(dataset, "2026-06-01", "2026-02-16")
    assert before["reminders_answered_sms"] == 0
    after = _response_features(dataset, "2026-06-01", "2026-02-17")
    assert after["reminders_answered_sms"] == 1 and after["response_rate_sms"] == 1.0
    # The e-mail of 9 Mar was not answered within 7 days (paid 29 Mar).
    later = _response_features(dataset, "2026-06-01", "2026-03-20")
    assert later["reminders_answered_email"] == 1 and later["response_rate_email"] == 0.0
    assert np.isnan(later["response_rate_letter"])  # never tried: no rate, not a zero


def test_response_history_is_the_same_from_a_later_snapshot() -> None:
    """Features at t from a history built at t equal those from a history built much later."""
    dataset = _ledger()
    for at in ("2026-02-10", "2026-02-17", "2026-03-10", "2026-03-17", "2026-04-15"):
        assert _response_features(dataset, at, at) == pytest.approx(
            _response_features(dataset, "2026-12-31", at), nan_ok=True
        ), at


def test_an_unanswered_reminder_whose_window_is_still_open_is_not_counted() -> None:
    dataset = _ledger()
    # Built on 12 Mar: the e-mail of 9 Mar has no answer yet and its window is open.
    features = _response_features(dataset, "2026-03-12", "2026-03-25")
    assert features["reminders_answered_email"] == 0


def test_decision_units_are_reminders_and_quiet_moments_of_open_undisputed_invoices() -> None:
    dataset = _ledger()
    settings = EffectSettings(decision_offsets=(-4, 5, 15), control_window_days=3)
    units = decision_units(dataset.invoices, dataset.reminders, D("2026-06-01"), settings)
    assert "INV3" not in set(units["invoice_id"])  # disputed: the dispute decides, not reminders
    treated = units.loc[units["arm"] != "none"]
    assert sorted(treated["arm"]) == ["email", "sms"]
    controls = units.loc[units["arm"] == "none"]
    # INV1 due 2 Feb: -4 -> 29 Jan (open, quiet); +5 -> 9 Feb has the SMS (not a control);
    # +15 -> paid on 12 Feb, closed.
    inv1 = controls.loc[controls["invoice_id"] == "INV1", "snapshot_date"]
    assert list(inv1) == [D("2026-01-29")]
    # Every unit is open at the end of its day.
    paid = units["invoice_id"].map(dataset.invoices.set_index("invoice_id")["paid_date"])
    assert (paid.isna() | (paid > units["snapshot_date"])).all()
    # Nothing dated on or after the cut-off.
    cut = decision_units(dataset.invoices, dataset.reminders, D("2026-03-09"), settings)
    assert (cut["snapshot_date"] < D("2026-03-09")).all()


def test_outcomes_are_censored_until_known() -> None:
    dataset = _ledger()
    units = pd.DataFrame(
        {
            "invoice_id": ["INV1", "INV2", "INV4", "INV4"],
            "snapshot_date": [D("2026-02-09"), D("2026-03-09"), D("2026-05-06"), D("2026-05-06")],
        }
    )
    known_later = unit_outcomes(units, dataset.invoices, D("2026-06-01"), 7)
    np.testing.assert_array_equal(known_later, [1.0, 0.0, 0.0, 0.0])
    # Known on 10 Feb? INV1 paid on 12 Feb is not known yet, and its window is open: unknown.
    early = unit_outcomes(units.head(1), dataset.invoices, D("2026-02-10"), 7)
    assert np.isnan(early[0])
    # Known on 13 Feb: the payment of the 12th is known, so the answer is, before the window ends.
    assert unit_outcomes(units.head(1), dataset.invoices, D("2026-02-13"), 7)[0] == 1.0
    # INV4 on 10 May: the window ends 13 May, still open and unpaid: unknown.
    assert np.isnan(unit_outcomes(units.tail(1), dataset.invoices, D("2026-05-10"), 7)[0])
