"""A declared feature is learned, changes scores and is given as a reason, in batch and online."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from payrisk.core.config import TrainConfig
from payrisk.core.days import to_days
from payrisk.data.generator import generate_history
from payrisk.data.loading import Dataset, load_dataset, write_dataset
from payrisk.models.training import fit_scorer
from payrisk.policy.config import load_dunning_config
from payrisk.policy.planning import score_invoices
from payrisk.serving.engine import ScoringEngine, SnapshotHolder
from payrisk.serving.errors import RefusedRequestError
from payrisk.serving.schemas import InvoiceIn, ScoreRequest
from pipelines.training import load_training_data

pytestmark = pytest.mark.slow  # a training run

RISKY = ("slow", "deteriorating")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    """A ledger whose customers' sector tells the risky archetypes, two customers without
    history (one per sector), and a scorer that declares the sector and an invoice channel."""
    base, truth = generate_history(150, 3.0, seed=13, return_truth=True)
    archetype = base.customers["customer_id"].map(
        truth.customers.set_index("customer_id")["archetype"]
    )
    rng = np.random.default_rng(0)
    customers = base.customers.assign(
        sector=np.where(
            archetype.isin(RISKY),
            "construction",
            rng.choice(["retail", "services"], len(archetype)),
        )
    )
    newcomers = pd.DataFrame(
        {"customer_id": ["NEW-C", "NEW-R"], "sector": ["construction", "retail"]}
    )
    customers = pd.concat([customers, newcomers], ignore_index=True)
    invoices = base.invoices.assign(sales_channel=rng.choice(["web", "phone"], len(base.invoices)))
    folder = tmp_path_factory.mktemp("declared")
    write_dataset(
        Dataset(invoices=invoices, payments=base.payments, customers=customers,
                reminders=base.reminders),
        folder / "data",
    )  # fmt: skip
    config = TrainConfig.model_validate(
        yaml.safe_load(
            """
            seed: 5
            features:
              declared:
                - {column: sector, table: customers, kind: categorical}
                - {column: sales_channel, table: invoices, kind: categorical, name: channel,
                   known_at: issue}
            models:
              lightgbm: {n_estimators: 150, learning_rate: 0.1}
              candidates: [lightgbm]
            evaluation: {backtest_folds: 0}
            """
        )
    )
    data = load_training_data(folder / "data", None, config, None)
    return load_dataset(folder / "data"), fit_scorer(data.train, config)


def new_customer_invoices(as_of: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": ["N1", "N2"],
            "customer_id": ["NEW-C", "NEW-R"],
            "issue_date": [as_of, as_of],
            "due_date": [as_of + pd.Timedelta(days=30)] * 2,
            "amount": [2000.0, 2000.0],
            "snapshot_date": [as_of, as_of],
            "in_history": [False, False],
        }
    )


def test_the_declared_sector_changes_scores_and_is_a_reason(project):
    dataset, scorer = project
    assert scorer.feature_columns[-2:] == ("sector", "channel")
    as_of = dataset.invoices["issue_date"].max() + pd.Timedelta(days=1)
    history = scorer.build_history(dataset, as_of)
    scored = score_invoices(scorer, history, new_customer_invoices(as_of))
    construction, retail = scored["late_probability"]
    assert construction > retail + 0.05
    reasons = [r["text"] for r in scored["reasons"].iloc[0]]
    assert "sector: construction" in reasons


def test_the_service_takes_declared_invoice_features_and_refuses_unknown_ones(project):
    dataset, scorer = project
    as_of = dataset.invoices["issue_date"].max() + pd.Timedelta(days=1)
    history = scorer.build_history(dataset, as_of).compact()
    engine = ScoringEngine(
        scorer, "test", "memory", SnapshotHolder(None, history), load_dunning_config()
    )
    invoice = {
        "invoice_id": "N1",
        "customer_id": "NEW-C",
        "issue_date": as_of.date(),
        "due_date": (as_of + pd.Timedelta(days=30)).date(),
        "amount": 2000.0,
    }
    online = engine.score(
        ScoreRequest(invoices=[InvoiceIn(**invoice, attributes={"channel": "web"})])
    ).invoices[0]
    query = new_customer_invoices(as_of).head(1)
    features = scorer.feature_arrays(
        history,
        invoice_ids=query["invoice_id"].to_numpy(dtype=object),
        customer_ids=query["customer_id"].to_numpy(dtype=object),
        issue_day=to_days(query["issue_date"]),
        due_day=to_days(query["due_date"]),
        amount=query["amount"].to_numpy(),
        snapshot_day=to_days(query["snapshot_date"]),
        in_history=np.array([False]),
        attributes={"channel": np.array(["web"], dtype=object)},
    )
    assert (features["sector"][0], features["channel"][0]) == ("construction", "web")
    expected = scorer.predict_arrays(features)["late_probability"][0]
    assert online.late_probability == pytest.approx(round(expected, 6))
    with pytest.raises(RefusedRequestError, match=r"attributes.segment is not an invoice feature"):
        engine.score(ScoreRequest(invoices=[InvoiceIn(**invoice, attributes={"segment": "x"})]))


def test_a_declared_column_missing_from_the_data_stops_training_with_its_name(
    project, tmp_path: Path
):
    from payrisk.features.declared import DeclaredFeatureError

    dataset, _ = project
    write_dataset(
        Dataset(invoices=dataset.invoices.drop(columns="sales_channel"),
                customers=dataset.customers),
        tmp_path,
    )  # fmt: skip
    config = TrainConfig.model_validate(
        {"features": {"declared": [{"column": "sales_channel", "table": "invoices",
                                     "kind": "categorical", "known_at": "issue"}]}}
    )  # fmt: skip
    with pytest.raises(DeclaredFeatureError, match="invoices table has no column 'sales_channel'"):
        load_training_data(tmp_path, None, config, None)
