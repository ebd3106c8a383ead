"""The synthetic history: realistic rates, a causal dunning effect, determinism and the contract.

Later models are only as good as the signal in this data, and every other test suite trains on it,
so the generator is held to French late-payment figures and to the rules a real ledger obeys.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from payrisk.data.contract import TABLES
from payrisk.data.generator import (
    AGENCY_MIN_AMOUNT,
    ARCHETYPES,
    DUNNING_STEPS,
    KEY_ACCOUNT_EXCLUDED,
    GroundTruth,
    customers_for_invoices,
    generate_history,
)
from payrisk.data.loading import Dataset, empty_table, read_tables, to_dataset, write_dataset

END_DATE = date(2026, 10, 31)
END = pd.Timestamp(END_DATE)
DEFAULT_DAYS_PAST_DUE = 90  # an open invoice this late counts as a default (a common cut)


@pytest.fixture(scope="module")
def history() -> tuple[Dataset, GroundTruth]:
    return generate_history(1500, 3.0, seed=2024, end_date=END_DATE, return_truth=True)


@pytest.fixture(scope="module")
def dataset(history: tuple[Dataset, GroundTruth]) -> Dataset:
    return history[0]


@pytest.fixture(scope="module")
def truth(history: tuple[Dataset, GroundTruth]) -> GroundTruth:
    return history[1]


@pytest.fixture(scope="module")
def invoices_with_truth(dataset: Dataset, truth: GroundTruth) -> pd.DataFrame:
    """Invoices joined with their hidden parameters and their customer's archetype."""
    return dataset.invoices.merge(truth.invoices, on="invoice_id", validate="one_to_one").merge(
        truth.customers[["customer_id", "archetype"]], on="customer_id", validate="many_to_one"
    )


@pytest.fixture(scope="module")
def reminders_with_outcome(dataset: Dataset, invoices_with_truth: pd.DataFrame) -> pd.DataFrame:
    """Each reminder with the days until the invoice was paid, actually and without dunning."""
    columns = ["invoice_id", "paid_date", "natural_paid_date", "archetype", "due_date"]
    frame = dataset.reminders.merge(invoices_with_truth[columns], on="invoice_id")
    frame["paid_within_7_days"] = (frame["paid_date"] - frame["sent_date"]).dt.days <= 7
    frame["naturally_paid_within_7_days"] = (
        frame["natural_paid_date"] - frame["sent_date"]
    ).dt.days <= 7
    return frame


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.days


# --- Rates (French late-payment figures) ----------------------------------------------------------
def test_late_share_and_mean_days_past_due_match_france(dataset: Dataset) -> None:
    paid = dataset.invoices.dropna(subset=["paid_date"])
    days_past_due = _days(paid["paid_date"], paid["due_date"])
    assert 0.35 <= (days_past_due > 0).mean() <= 0.55
    assert 10.0 <= days_past_due.mean() <= 15.0


def test_default_share_is_a_few_percent(dataset: Dataset) -> None:
    invoices = dataset.invoices
    long_overdue = invoices["paid_date"].isna() & (
        _days(pd.Series(END, index=invoices.index), invoices["due_date"]) > DEFAULT_DAYS_PAST_DUE
    )
    defaulted = invoices["written_off_date"].notna() | long_overdue
    assert 0.015 <= defaulted.mean() <= 0.06
    assert invoices["written_off_date"].notna().sum() > 0.5 * defaulted.sum()


def test_dispute_share_and_disputers(invoices_with_truth: pd.DataFrame) -> None:
    assert 0.01 <= invoices_with_truth["disputed"].mean() <= 0.06
    by_archetype = invoices_with_truth.groupby("archetype")["disputed"].mean()
    assert 0.18 <= by_archetype["disputer"] <= 0.32
    others = by_archetype.drop("disputer")
    assert (others < 0.04).all()


def test_archetypes_behave_differently(invoices_with_truth: pd.DataFrame) -> None:
    paid = invoices_with_truth.dropna(subset=["paid_date"])
    mean_delay = _days(paid["paid_date"], paid["due_date"]).groupby(paid["archetype"]).mean()
    assert set(mean_delay.index) == set(ARCHETYPES)
    assert mean_delay["punctual"] < 0 < mean_delay["forgetful"] < mean_delay["slow"]
    defaulting = invoices_with_truth.groupby("archetype")["defaulting"].mean()
    assert defaulting.idxmax() == "deteriorating"
    assert defaulting["deteriorating"] > 5 * defaulting["punctual"]


def test_seasonal_payers_are_later_in_cash_squeeze_months(
    invoices_with_truth: pd.DataFrame,
) -> None:
    seasonal = invoices_with_truth[
        (invoices_with_truth["archetype"] == "seasonal") & invoices_with_truth["paid_date"].notna()
    ]
    squeezed = seasonal["due_date"].dt.month.isin([7, 8, 12])  # SQUEEZE_MONTHS
    delay = _days(seasonal["paid_date"], seasonal["due_date"])
    assert delay[squeezed].mean() > delay[~squeezed].mean() + 10


def test_deteriorating_customers_pay_later_as_failure_nears(
    invoices_with_truth: pd.DataFrame, truth: GroundTruth
) -> None:
    failing = truth.customers.loc[truth.customers["failure_date"] <= END, ["customer_id"]]
    frame = invoices_with_truth[
        (invoices_with_truth["archetype"] == "deteriorating")
        & invoices_with_truth["customer_id"].isin(failing["customer_id"])
        & invoices_with_truth["paid_date"].notna()
    ].merge(truth.customers[["customer_id", "failure_date"]], on="customer_id")
    days_before_failure = _days(frame["failure_date"], frame["due_date"])
    delay = _days(frame["paid_date"], frame["due_date"])
    near, far = delay[days_before_failure < 180], delay[days_before_failure > 400]
    assert len(near) > 30 and len(far) > 30
    assert near.mean() > far.mean() + 20


# --- Dunning: the causal effect ------------------------------------------------------------------
def test_reminder_makes_forgetful_customers_pay_hazard_jump(
    dataset: Dataset, invoices_with_truth: pd.DataFrame
) -> None:
    """Daily payment hazard of overdue invoices: much higher in the week after a reminder.

    A hazard (payments per invoice-day at risk) compares like with like: an invoice is at risk on
    a day only while unpaid, whether or not it gets a reminder later.
    """
    forgetful = invoices_with_truth[
        (invoices_with_truth["archetype"] == "forgetful")
        & ~invoices_with_truth["disputed"]
        & (invoices_with_truth["due_date"] <= END - pd.Timedelta(days=45))
    ].set_index("invoice_id")
    paid_day = _days(forgetful["paid_date"], forgetful["due_date"]).fillna(10**6).to_numpy()
    reminders = dataset.reminders[dataset.reminders["invoice_id"].isin(forgetful.index)]
    sent = reminders.pivot(index="invoice_id", columns="step", values="sent_date")
    sent_day = sent.reindex(forgetful.index).sub(forgetful["due_date"], axis=0)
    sent_day = sent_day.apply(lambda column: column.dt.days).to_numpy(dtype="float64")

    days_past_due = np.arange(1, 41)
    at_risk = paid_day[:, None] >= days_past_due[None, :]
    paid_that_day = paid_day[:, None] == days_past_due[None, :]
    reminded_last_week = np.zeros_like(at_risk)
    for step in range(sent_day.shape[1]):
        days_since = days_past_due[None, :] - sent_day[:, step][:, None]
        reminded_last_week |= (days_since >= 1) & (days_since <= 7)

    hazard_after = paid_that_day[at_risk & reminded_last_week].mean()
    hazard_otherwise = paid_that_day[at_risk & ~reminded_last_week].mean()
    assert (at_risk & reminded_last_week).sum() > 1000
    assert hazard_after > 3 * hazard_otherwise


def test_first_reminder_after_due_is_causal_for_forgetful(
    reminders_with_outcome: pd.DataFrame,
) -> None:
    """Paid within a week of the reminder, against the same invoices without any dunning."""
    step1 = reminders_with_outcome[
        (reminders_with_outcome["step"] == 2) & (reminders_with_outcome["archetype"] == "forgetful")
    ]
    assert len(step1) > 500
    with_reminder = step1["paid_within_7_days"].mean()
    without_reminder = step1["naturally_paid_within_7_days"].mean()
    assert with_reminder > 0.6
    assert with_reminder > 5 * without_reminder


def test_channels_have_different_effects(reminders_with_outcome: pd.DataFrame) -> None:
    """Channels are drawn at random, so a difference in response is a causal one."""

    def response(archetype: str, step: int) -> pd.Series:
        rows = reminders_with_outcome[
            (reminders_with_outcome["archetype"] == archetype)
            & (reminders_with_outcome["step"] == step)
        ]
        return rows.groupby("channel")["paid_within_7_days"].mean()

    forgetful_step1 = response("forgetful", 2)
    assert forgetful_step1["sms"] > forgetful_step1["email"] + 0.12
    slow_step2 = response("slow", 3)
    assert slow_step2["phone"] > slow_step2["email"] + 0.12
    slow_step4 = response("slow", 5)
    assert slow_step4["formal_notice"] > slow_step4["letter"] + 0.12
    # The same e-mail works on the forgetful, hardly on slow or failing payers.
    email_step1 = {archetype: response(archetype, 2)["email"] for archetype in ARCHETYPES[1:5]}
    assert email_step1["forgetful"] > 0.5
    assert max(email_step1["slow"], email_step1["deteriorating"]) < 0.2


def test_channel_sets_and_scenario_rules(dataset: Dataset) -> None:
    reminders = dataset.reminders.merge(
        dataset.invoices[["invoice_id", "customer_id", "amount", "due_date"]], on="invoice_id"
    ).merge(dataset.customers[["customer_id", "key_account"]], on="customer_id")
    for step in DUNNING_STEPS:
        rows = reminders[reminders["step"] == step.step]
        assert len(rows) > 0
        assert set(rows["channel"]) == {c.value for c in step.channels}
        after_due = _days(rows["sent_date"], rows["due_date"])
        assert after_due.between(step.after_due_days[0], step.after_due_days[1] + 2).all()
    assert (reminders.loc[reminders["channel"] == "agency", "amount"] >= AGENCY_MIN_AMOUNT).all()
    excluded = [c.value for c in KEY_ACCOUNT_EXCLUDED]
    assert not reminders.loc[reminders["key_account"], "channel"].isin(excluded).any()
    assert (reminders["sent_date"].dt.dayofweek < 5).all()  # sent on working days
    assert not reminders.duplicated(["invoice_id", "step"]).any()
    # Steps come in order (a step may be skipped: no contact was drawn for it).
    ordered = reminders.sort_values(["invoice_id", "sent_date"])
    assert (ordered.groupby("invoice_id")["step"].diff().dropna() > 0).all()


# --- Determinism ----------------------------------------------------------------------------------
def _assert_same(left: Dataset, right: Dataset) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(left.table(name), right.table(name))


def test_same_seed_gives_identical_frames() -> None:
    first, first_truth = generate_history(300, 2.0, seed=7, return_truth=True)
    second, second_truth = generate_history(300, 2.0, seed=7, return_truth=True)
    _assert_same(first, second)
    pd.testing.assert_frame_equal(first_truth.customers, second_truth.customers)
    pd.testing.assert_frame_equal(first_truth.invoices, second_truth.invoices)
    _assert_same(first, generate_history(300, 2.0, seed=7))  # truth drawn at no cost to the data


def test_different_seed_gives_different_history() -> None:
    first = generate_history(300, 2.0, seed=7)
    second = generate_history(300, 2.0, seed=8)
    for name in TABLES:
        assert not first.table(name).equals(second.table(name)), name


def test_does_not_touch_global_random_state() -> None:
    np.random.seed(0)
    expected = np.random.random()
    np.random.seed(0)
    generate_history(50, 1.0, seed=1)
    assert np.random.random() == expected


# --- Contract consistency -------------------------------------------------------------------------
def test_tables_have_contract_columns_and_types(dataset: Dataset) -> None:
    for name, table in TABLES.items():
        frame = dataset.table(name)
        assert list(frame.columns[: len(table.columns)]) == table.column_names, name
        expected = empty_table(table).dtypes
        pd.testing.assert_series_equal(frame[table.column_names].dtypes, expected, obj=name)
    assert list(dataset.customers.columns) == [*TABLES["customers"].column_names, "name"]
    for name, column in (("invoices", "invoice_id"), ("customers", "customer_id")):
        assert dataset.table(name)[column].is_unique
    assert dataset.invoices["invoice_id"].str.fullmatch(r"INV\d{7}").all()
    assert dataset.customers["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert (dataset.invoices["currency"] == "EUR").all()


def test_money_is_positive_and_in_cents(dataset: Dataset) -> None:
    for frame in (dataset.invoices, dataset.payments):
        amount = frame["amount"]
        assert (amount > 0).all()
        assert np.allclose(amount, amount.round(2), rtol=0, atol=1e-9)
    assert (dataset.customers["credit_limit"] > 0).all()


def test_dates_are_midnight_and_not_after_end(dataset: Dataset) -> None:
    dated = {
        "invoices": ["issue_date", "paid_date", "written_off_date"],
        "payments": ["payment_date"],
        "reminders": ["sent_date"],
        "customers": ["created_date"],
    }
    for name, columns in dated.items():
        for column in columns:
            values = dataset.table(name)[column].dropna()
            assert (values <= END).all(), (name, column)
            assert (values == values.dt.normalize()).all(), (name, column)
    assert (dataset.invoices["due_date"] == dataset.invoices["due_date"].dt.normalize()).all()


def test_invoice_dates_are_ordered(dataset: Dataset) -> None:
    invoices = dataset.invoices
    terms = _days(invoices["due_date"], invoices["issue_date"])
    assert terms.between(30, 76).all()  # 30 days, 60 days, or 45 days end of month
    paid = invoices.dropna(subset=["paid_date"])
    assert (paid["paid_date"] >= paid["issue_date"]).all()
    assert invoices["paid_date"].isna().any()  # open invoices at the end
    assert not (invoices["paid_date"].notna() & invoices["written_off_date"].notna()).any()
    written_off = invoices.dropna(subset=["written_off_date"])
    assert _days(written_off["written_off_date"], written_off["due_date"]).between(120, 242).all()


def test_invoices_belong_to_customers_active_then(dataset: Dataset) -> None:
    joined = dataset.invoices.merge(
        dataset.customers, on="customer_id", how="left", validate="many_to_one"
    )
    assert joined["created_date"].notna().all()
    assert (joined["issue_date"] >= joined["created_date"]).all()


def test_payments_add_up(dataset: Dataset) -> None:
    invoices = dataset.invoices.set_index("invoice_id")
    payments = dataset.payments
    assert payments["invoice_id"].isin(invoices.index).all()
    per_invoice = payments.groupby("invoice_id").agg(
        total=("amount", "sum"), last=("payment_date", "max"), first=("payment_date", "min")
    )
    joined = per_invoice.join(invoices)
    assert (joined["total"] <= joined["amount"] + 1e-6).all()
    assert (joined["first"] >= joined["issue_date"]).all()
    paid = joined[joined["paid_date"].notna()]
    assert np.allclose(paid["total"], paid["amount"], rtol=0, atol=1e-6)
    assert (paid["last"] == paid["paid_date"]).all()
    # Every paid invoice has its payments; open and defaulted ones may have partial payments.
    assert invoices["paid_date"].notna().sum() == len(paid)
    unpaid = joined[joined["paid_date"].isna()]
    assert len(unpaid) > 0 and (unpaid["total"] < unpaid["amount"] - 1e-6).all()
    written_off = joined[joined["written_off_date"].notna()]
    assert len(written_off) > 0 and (written_off["last"] < written_off["written_off_date"]).all()
    instalments = payments["invoice_id"].value_counts()
    assert 0.02 <= (instalments > 1).mean() <= 0.2
    assert instalments.max() <= 3


def test_reminders_fall_between_issue_and_payment(dataset: Dataset, truth: GroundTruth) -> None:
    reminders = dataset.reminders.merge(
        dataset.invoices[["invoice_id", "issue_date", "paid_date", "written_off_date"]],
        on="invoice_id",
        validate="many_to_one",
    ).merge(truth.invoices[["invoice_id", "dispute_date"]], on="invoice_id")
    assert (reminders["sent_date"] > reminders["issue_date"]).all()
    paid = reminders.dropna(subset=["paid_date"])
    assert (paid["sent_date"] < paid["paid_date"]).all()
    written_off = reminders.dropna(subset=["written_off_date"])
    assert (written_off["sent_date"] < written_off["written_off_date"]).all()
    disputed = reminders.dropna(subset=["dispute_date"])
    assert (disputed["sent_date"] < disputed["dispute_date"]).all()


def test_disputed_flag_matches_truth(dataset: Dataset, truth: GroundTruth) -> None:
    disputed_by = truth.invoices["dispute_date"].where(truth.invoices["dispute_date"] <= END)
    assert (dataset.invoices["disputed"] == disputed_by.notna()).all()


def test_disputes_are_dated_as_the_truth_and_resolved_after_they_are_raised(
    dataset: Dataset, truth: GroundTruth
) -> None:
    invoices = dataset.invoices
    raised = truth.invoices["dispute_date"].where(truth.invoices["dispute_date"] <= END)
    pd.testing.assert_series_equal(invoices["dispute_date"], raised, check_names=False)
    resolved = invoices.dropna(subset=["dispute_resolved_date"])
    assert len(resolved) > 0.8 * invoices["dispute_date"].notna().sum()
    assert (resolved["dispute_resolved_date"] >= resolved["dispute_date"]).all()
    assert (resolved["dispute_resolved_date"] <= END).all()
    # Payment waits for the resolution (the undisputed part aside).
    paid = resolved.dropna(subset=["paid_date"])
    assert (paid["paid_date"] >= paid["dispute_resolved_date"]).mean() > 0.95


def test_customers_table(dataset: Dataset) -> None:
    customers = dataset.customers
    assert len(customers) == 1500
    country = customers["country"].value_counts(normalize=True)
    assert country.index[0] == "FR" and 0.6 < country["FR"] < 0.85
    assert {"DE", "ES", "IT", "BE", "NL"} <= set(country.index)
    assert customers["industry"].nunique() >= 4
    assert 0.02 <= customers["key_account"].mean() <= 0.09
    assert (customers["created_date"] > END - pd.Timedelta(days=90)).any()  # some new customers
    assert customers["name"].notna().all() and customers["name"].nunique() > 0.5 * len(customers)
    # Key accounts buy larger amounts.
    amounts = dataset.invoices.merge(customers, on="customer_id").groupby("key_account")["amount"]
    assert amounts.median()[True] > 2 * amounts.median()[False]


def test_end_date_cuts_the_history() -> None:
    end = date(2024, 3, 15)
    history = generate_history(200, 1.5, seed=3, end_date=end)
    assert history.invoices["issue_date"].max() <= pd.Timestamp(end)
    assert history.invoices["issue_date"].min() >= pd.Timestamp(end) - pd.Timedelta(days=550)
    assert history.reminders["sent_date"].max() <= pd.Timestamp(end)
    assert history.payments["payment_date"].max() <= pd.Timestamp(end)


def test_customers_for_invoices_hits_the_target() -> None:
    n_customers = customers_for_invoices(30_000, 2.0)
    produced = len(generate_history(n_customers, 2.0, seed=5).invoices)
    assert abs(produced - 30_000) < 0.1 * 30_000


@pytest.mark.parametrize(("n_customers", "years"), [(0, 1.0), (10, 0.0), (10, -1.0)])
def test_rejects_nonsense_sizes(n_customers: int, years: float) -> None:
    with pytest.raises(ValueError):
        generate_history(n_customers, years, seed=1)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_written_sample_reads_back_identical(tmp_path: Path, fmt: str) -> None:
    history = generate_history(200, 2.0, seed=11)
    write_dataset(history, tmp_path, fmt=fmt)
    _assert_same(to_dataset(read_tables(tmp_path)), history)


def test_written_sample_passes_validation(tmp_path: Path) -> None:
    """The sample passes every rule, and the same check fails once one amount is made
    negative (so a validation that checks nothing cannot pass it)."""
    from payrisk.data.validation import validate_tables

    history = generate_history(200, 2.0, seed=11)
    write_dataset(history, tmp_path)
    report = validate_tables(read_tables(tmp_path))
    report.raise_for_failures()
    assert report.success and report.rules_run > 10
    assert report.checked["invoices"] == len(history.invoices)
    path = tmp_path / "invoices.csv"
    invoices = pd.read_csv(path, dtype=str, keep_default_na=False)
    invoices.loc[3, "amount"] = "-5.00"
    invoices.to_csv(path, index=False)
    broken = validate_tables(read_tables(tmp_path))
    assert not broken.success
    failed = {(f.table, f.column, f.failing_rows) for f in broken.failures}
    assert ("invoices", "amount", 1) in failed  # its payments now exceed it too
    assert {column for _, column, _ in failed} == {"amount"}
