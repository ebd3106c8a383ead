"""Reported reminders the snapshot lacks, counted in the features as the history would (issue 25):
worked by hand on three invoices of two customers."""

from __future__ import annotations

import numpy as np

from payrisk.features.reported import ReportedReminders, with_reported


def test_reminders_are_gathered_per_invoice():
    reported = ReportedReminders.of_events(
        3,
        np.array([0, 2, 0]),
        np.array([100, 104, 103]),
        np.array(["email", "formal_notice", "phone"], dtype=object),
        np.array([1.0, np.nan, 2.0]),
    )
    assert reported.count.tolist() == [2, 0, 1]
    assert reported.hard.tolist() == [0, 0, 1]
    assert reported.last_day[[0, 2]].tolist() == [103, 104]
    assert reported.last_channel.tolist() == ["phone", None, "formal_notice"]
    assert reported.top_step[0] == 2 and np.isnan(reported.top_step[1:]).all()


def test_they_count_in_the_invoice_and_its_customer_features():
    reported = ReportedReminders.of_events(
        3, np.array([0]), np.array([95]), np.array(["phone"], dtype=object), np.array([3.0])
    )
    features = {
        "reminders_sent": np.array([1.0, 0.0, 2.0]),
        "last_reminder_step": np.array([1.0, np.nan, 2.0]),
        "days_since_last_reminder": np.array([20.0, np.nan, 3.0]),
        "last_reminder_channel": np.array(["email", "none", "sms"], dtype=object),
        "reminders_received": np.array([3.0, 3.0, 2.0]),
        "hard_reminders_received": np.array([0.0, 0.0, 0.0]),
        "days_since_customer_contact": np.array([20.0, 20.0, 3.0]),
    }
    # Invoices 0 and 1 are one customer's, invoice 2 another's; today is day 100.
    out = with_reported(features, reported, np.array([0, 0, 1]), 100)
    assert out["reminders_sent"].tolist() == [2.0, 0.0, 2.0]
    assert out["last_reminder_step"][0] == 3.0
    assert out["days_since_last_reminder"][0] == 5.0
    assert out["last_reminder_channel"].tolist() == ["phone", "none", "sms"]
    assert out["reminders_received"].tolist() == [4.0, 4.0, 2.0]
    assert out["days_since_customer_contact"].tolist() == [5.0, 5.0, 3.0]
