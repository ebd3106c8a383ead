"""Reasons: one fact per feature family, what lowers the risk too, never an unknown value or
calendar trivia, in French and English."""

from __future__ import annotations

import numpy as np
import pytest

from payrisk.core.i18n import Formats, negotiate
from payrisk.features.definitions import FEATURE_BY_NAME, FEATURES, Family
from payrisk.policy.reasons import LOWERS, PHRASES, RAISES, describe, reason_lists, rephrase

NAMES = (
    "late_share",
    "late_share_recent",
    "late_share_long_run_weighted",
    "mean_days_late",
    "issue_weekday",
    "issue_month",
    "country",
    "days_since_last_reminder",
    "past_due_amount",
    "days_past_due",
    "reminders_received",
)


def features(**overrides) -> dict[str, np.ndarray]:
    values = {
        "late_share": 0.85,
        "late_share_recent": 0.9,
        "late_share_long_run_weighted": 0.87,
        "mean_days_late": 21.0,
        "issue_weekday": 4.0,
        "issue_month": 10.0,
        "country": "unknown",
        "days_since_last_reminder": np.nan,
        "past_due_amount": 17536.0,
        "days_past_due": -12.0,
        "reminders_received": 0.0,
    }
    values.update(overrides)
    return {k: np.array([v], dtype=object if isinstance(v, str) else "float64") for k, v in
            values.items()}  # fmt: skip


def contributions(**weights: float) -> np.ndarray:
    return np.array([[weights.get(name, 0.0) for name in NAMES]])


def test_one_reason_per_family_and_what_lowers_the_risk():
    matrix = contributions(
        late_share=0.9, late_share_recent=0.8, late_share_long_run_weighted=0.7,
        mean_days_late=0.2, past_due_amount=0.5, days_past_due=-0.6, reminders_received=-0.1,
    )  # fmt: skip
    (entries,) = reason_lists(matrix, NAMES, features(), Formats("en"))
    raising = [e for e in entries if e["direction"] == RAISES]
    lowering = [e for e in entries if e["direction"] == LOWERS]
    families = [e["family"] for e in entries]
    assert len(families) == len(set(families))  # one fact each
    assert [e["feature"] for e in raising] == ["late_share", "past_due_amount"]
    # The payment record's weight is its family's: 0.9 + 0.8 + 0.7 + 0.2.
    assert raising[0]["contribution"] == pytest.approx(2.6)
    assert raising[0]["text"] == "paid 85% of past invoices late"
    assert [e["feature"] for e in lowering] == ["days_past_due", "reminders_received"]
    assert lowering[0]["text"] == "due in 12 days" and lowering[1]["text"] == "never reminded"


def test_unknown_values_and_calendar_trivia_are_never_reasons():
    matrix = contributions(
        issue_weekday=3.0, issue_month=2.0, country=1.5, days_since_last_reminder=1.2,
        mean_days_late=0.3,
    )  # fmt: skip
    (entries,) = reason_lists(matrix, NAMES, features(), Formats("en"))
    assert [e["feature"] for e in entries] == ["mean_days_late"]
    for entry in entries:
        assert "unknown" not in entry["text"] and "issued on a" not in entry["text"]
    known = features(country="ES")
    (entries,) = reason_lists(contributions(country=1.5), NAMES, known, Formats("en"))
    assert entries[0]["text"] == "based in Spain"


def test_small_contributions_are_not_reasons():
    (entries,) = reason_lists(contributions(late_share=0.001), NAMES, features(), Formats("en"))
    assert entries == []


def test_reasons_read_in_french_and_english():
    matrix = contributions(past_due_amount=0.5, mean_days_late=0.4, days_past_due=-0.6)
    (english,) = reason_lists(matrix, NAMES, features(), Formats("en"))
    (french,) = reason_lists(matrix, NAMES, features(), Formats("fr"))
    assert [e["feature"] for e in english] == [e["feature"] for e in french]
    assert english[0]["text"] == "€17,536 already past due"
    assert french[0]["text"] == "17\u202f536\u00a0€ déjà échus"
    assert french[1]["text"] == "paie en moyenne 21 jours après l'échéance"
    assert rephrase(english, Formats("fr")) == french


def test_every_reason_family_feature_has_a_phrase_in_both_languages():
    told = [f for f in FEATURES if f.family is not Family.CALENDAR]
    assert {f.name for f in told} <= set(PHRASES)
    for feature in told:
        value = "FR" if feature.categorical else 3.0
        if feature.name == "last_reminder_channel":
            value = "phone"
        english, french = (
            describe(feature.name, value, Formats("en")),
            describe(feature.name, value, Formats("fr")),
        )
        assert (english and french and english != french) or feature.name == "industry"
        assert "_" not in english and "_" not in french  # no raw codes


def test_delays_are_never_negative_days_late():
    f = Formats("en")
    assert describe("mean_days_late", -4.0, f) == "pays on average 4 days before the due date"
    assert describe("max_days_late", -3.0, f) == "worst delay so far: 3 days early"
    assert describe("days_past_due", -1.0, f) == "due in 1 day"
    assert FEATURE_BY_NAME["days_past_due"].family is Family.INVOICE


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"),
        ("en-GB,en;q=0.9", "en"),
        ("de-DE, en;q=0.5", "en"),
        ("de-DE", "fr"),  # nothing we speak: the configured default
        ("en;q=0.2, fr;q=0.8", "fr"),
        ("", "fr"),
        ("*", "fr"),
    ],
)
def test_the_browsers_language_chooses_the_pages(header, language):
    assert negotiate(header, "fr") == language


def test_amounts_and_dates_as_people_write_them():
    from datetime import date

    fr, en = Formats("fr"), Formats("en")
    assert fr.money(1234.5) == "1\u202f234,50\u00a0€" and en.money(1234.5) == "€1,234.50"
    assert fr.money(-0.0001) == "0,00\u00a0€" and en.money(-1e-12) == "€0.00"  # never -0.00
    assert fr.day(date(2026, 11, 12)) == "12 nov. 2026" and en.day(date(2026, 11, 12)) == (
        "12 Nov 2026"
    )
    assert fr.pct(0.456) == "46\u00a0%" and en.pct(0.456) == "46%"


def test_a_rows_reasons_do_not_depend_on_the_batch_it_comes_in():
    """The choice is vectorised over the rows: each row of a batch gets what it gets alone."""
    rng = np.random.default_rng(7)
    rows = 40
    matrix = rng.normal(0.0, 0.5, (rows, len(NAMES)))
    matrix[rng.random(matrix.shape) < 0.3] = 0.0  # rows with few reasons
    matrix[::5] = 0.0  # and rows with none
    batch = {name: np.repeat(values, rows) for name, values in features().items()}
    batch["past_due_amount"] = rng.uniform(0, 50_000, rows).round(2)
    batch["days_past_due"] = rng.integers(-30, 90, rows).astype("float64")
    batch["country"] = np.array(["ES", "unknown"] * (rows // 2), dtype=object)
    together = reason_lists(matrix, NAMES, batch, Formats("fr"))
    assert len(together) == rows and any(together) and not all(together)
    for row in range(rows):
        alone = {name: values[row : row + 1] for name, values in batch.items()}
        assert together[row] == reason_lists(matrix[row : row + 1], NAMES, alone, Formats("fr"))[0]


def test_a_customer_without_history_is_not_praised_for_never_being_reminded():
    """A prospect has no reminders because it never had anything to pay: no reason of it."""
    matrix = contributions(reminders_received=-0.8, past_due_amount=0.3)
    (new,) = reason_lists(matrix, NAMES, features(is_new_customer=1.0), Formats("en"))
    assert [e["feature"] for e in new] == ["past_due_amount"]
    (known,) = reason_lists(matrix, NAMES, features(is_new_customer=0.0), Formats("en"))
    assert [e["text"] for e in known if e["direction"] == LOWERS] == ["never reminded"]
    reminded = features(is_new_customer=1.0, reminders_received=2.0)  # its first invoices were
    (entries,) = reason_lists(matrix, NAMES, reminded, Formats("en"))
    assert "reminders_received" in [e["feature"] for e in entries]
