"""Your own features: declared columns of the customers or invoices table, point in time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.core.config import (
    ConfigError,
    DeclaredFeature,
    FeatureSettings,
    TargetSettings,
    load_train_config,
)
from payrisk.features.declared import DeclaredFeatureError
from payrisk.features.definitions import FeatureSet, invoice_features
from payrisk.features.history import build_history
from payrisk.features.snapshot import load_history, save_history
from tests.code.test_features import features_at
from tests.helpers import dataset, day

DECLARED = (
    DeclaredFeature(column="sector", table="customers", kind="categorical"),
    DeclaredFeature(
        column="rating", table="customers", kind="numeric", known_from="rating_date", name="score"
    ),
    DeclaredFeature(column="sales_channel", table="invoices", kind="categorical", known_at="issue"),
)
SETTINGS = FeatureSettings(declared=DECLARED)
FEATURES = FeatureSet.of(DECLARED)


def ledger(**customer_changes: str):
    customer = {"customer_id": "C1", "sector": "construction", "rating": "7.5"}
    customer |= {"rating_date": "2024-03-01", **customer_changes}
    invoices = [
        {
            "invoice_id": f"I{k}",
            "customer_id": "C1",
            "issue_date": issue,
            "due_date": due,
            "sales_channel": channel,
        }
        for k, (issue, due, channel) in enumerate(
            [("2024-01-01", "2024-01-31", "web"), ("2024-04-01", "2024-05-01", "")]
        )
    ]
    return dataset(invoices=invoices, customers=[customer])


def features(data, invoice_id: str, when: str, as_of: str = "2024-06-01", **extra) -> pd.Series:
    return features_at(data, invoice_id, when, as_of, SETTINGS, FEATURES, **extra)


def test_declared_features_come_after_the_built_in_ones():
    assert FEATURES.columns[-3:] == ("sector", "score", "sales_channel")
    assert set(FEATURES.categorical) >= {"sector", "sales_channel"}
    assert "score" not in FEATURES.categorical


def test_values_are_known_from_their_date_never_before():
    before = features(ledger(), "I0", "2024-01-15")
    assert before["sector"] == "construction"  # no date: a customer attribute, always known
    assert np.isnan(before["score"])  # rated on 2024-03-01: unknown in January
    assert before["sales_channel"] == "web"  # the invoice's own value, known from its issue
    assert np.isnan(features(ledger(), "I0", "2024-03-01")["score"])  # not on the day itself
    assert features(ledger(), "I0", "2024-03-02")["score"] == 7.5
    assert features(ledger(), "I1", "2024-04-10")["sales_channel"] == "unknown"  # empty cell


def test_a_value_dated_after_the_history_is_not_in_it():
    # Built on 2024-02-01, the history cannot know a rating of 2024-03-01, even when asked later.
    late = features(ledger(), "I0", "2024-04-10", as_of="2024-02-01")
    assert np.isnan(late["score"])


def test_the_service_snapshot_keeps_declared_values(tmp_path):
    history = build_history(ledger(), day("2024-06-01"), TargetSettings(), SETTINGS)
    save_history(history.compact(), tmp_path / "history.npz")
    loaded, _ = load_history(tmp_path / "history.npz")
    queries = pd.DataFrame(
        {
            "invoice_id": ["I0", "I1", "NEW"],
            "customer_id": ["C1", "C1", "C1"],
            "issue_date": [day("2024-01-01"), day("2024-04-01"), day("2024-06-01")],
            "due_date": [day("2024-01-31"), day("2024-05-01"), day("2024-07-01")],
            "amount": [100.0, 100.0, 50.0],
            "snapshot_date": [day("2024-06-05")] * 3,
        }
    )
    pd.testing.assert_frame_equal(
        invoice_features(history, queries, FEATURES), invoice_features(loaded, queries, FEATURES)
    )


def test_a_missing_column_is_named():
    data = ledger()
    data.customers.drop(columns=["rating_date"], inplace=True)
    with pytest.raises(DeclaredFeatureError, match=r"features.declared\[1\].*'rating_date'"):
        build_history(data, day("2024-06-01"), TargetSettings(), SETTINGS)


def test_a_number_that_is_not_one_is_refused_with_the_customer_id_not_the_value():
    with pytest.raises(DeclaredFeatureError) as error:
        build_history(ledger(rating="AAA+"), day("2024-06-01"), TargetSettings(), SETTINGS)
    message = str(error.value)
    assert "customers.rating" in message and "customer_id C1" in message
    assert "AAA+" not in message


def test_a_declared_name_cannot_shadow_a_built_in_feature():
    with pytest.raises(ConfigError, match="late_share"):
        FeatureSet.of((DeclaredFeature(column="x", table="customers", kind="numeric",
                                        name="late_share"),))  # fmt: skip
    with pytest.raises(ValueError, match="declared twice"):
        FeatureSettings(declared=(DECLARED[0], DECLARED[0]))


def test_an_undated_invoice_column_is_refused_naming_it_and_saying_why(tmp_path):
    """A dispute flag known only later, kept from an export and declared as a feature, read
    back to the issue date would be pure leakage (README: undated flags are never features)."""
    config = tmp_path / "train.yaml"
    config.write_text(
        "features:\n  declared:\n    - {column: litige, table: invoices, kind: categorical}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_train_config(config)
    message = str(error.value)
    assert "invoices.litige has no date" in message
    assert "teach the model the future" in message
    assert "known_from" in message and "known_at: issue" in message
    # Said to be known at issue (or dated), it is accepted.
    for when in ("known_at: issue", "known_from: litige_date"):
        config.write_text(
            "features:\n"
            "  declared:\n"
            f"    - {{column: litige, table: invoices, kind: categorical, {when}}}\n"
        )
        assert load_train_config(config).features.declared[0].column == "litige"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"table": "invoices", "known_at": "issue", "known_from": "d"}, "not both"),
        ({"table": "customers", "known_at": "issue"}, "known_at: issue is for invoice columns"),
    ],
)
def test_known_at_is_for_undated_invoice_columns_only(fields, words):
    with pytest.raises(ValueError, match=words):
        DeclaredFeature(column="x", kind="numeric", **fields)


@pytest.mark.parametrize("column", ["disputed", "paid_date"])
def test_a_contract_column_cannot_be_declared(column):
    """The contract's own columns are read point in time by the built-in features, or never
    (an undated dispute flag): declared, they would be read back to the issue date."""
    spec = DeclaredFeature(column=column, table="invoices", kind="categorical", known_at="issue")
    with pytest.raises(DeclaredFeatureError, match=f"invoices.{column} is a contract column"):
        build_history(
            ledger(), day("2024-06-01"), TargetSettings(), FeatureSettings(declared=(spec,))
        )
