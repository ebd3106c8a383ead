"""Any ledger trains: a target the history cannot teach is reported as not learnable and answered
by its calibrated prior, in the console, the JSON report, MLflow, the model card, the service and
the pages; training never ends in a traceback on valid data."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from payrisk.data.generator import generate_history
from payrisk.data.loading import Dataset, load_dataset, write_dataset
from pipelines.catalog import Catalog
from pipelines.training import render_report, train
from tests.conftest import API_KEY

pytestmark = pytest.mark.slow  # a training run per ledger

QUICK = {
    "seed": 3,
    "models": {"lightgbm": {"n_estimators": 80, "learning_rate": 0.1}},
    "evaluation": {"backtest_folds": 0},
}


def all_paid(dataset: Dataset, days_late: np.ndarray) -> Dataset:
    """Every invoice paid `days_late` after its due date (never before issue, never after the
    history's end), nothing written off; partial payments dropped with the old dates."""
    invoices = dataset.invoices.copy()
    end = invoices["issue_date"].max()
    paid = invoices["due_date"] + pd.to_timedelta(days_late, unit="D")
    paid = paid.clip(lower=invoices["issue_date"], upper=end)
    invoices["paid_date"] = paid
    invoices["written_off_date"] = pd.NaT
    resolved = invoices["dispute_resolved_date"]
    invoices["dispute_resolved_date"] = resolved.where(resolved <= paid)
    raised = invoices["dispute_date"]
    keep = raised.isna() | (raised <= paid)
    invoices["dispute_date"] = raised.where(keep)
    invoices["dispute_resolved_date"] = invoices["dispute_resolved_date"].where(keep)
    reminders = dataset.reminders.merge(invoices[["invoice_id", "paid_date"]], on="invoice_id")
    reminders = reminders.loc[reminders["sent_date"] < reminders["paid_date"]]
    return Dataset(
        invoices=invoices,
        customers=dataset.customers,
        reminders=reminders.drop(columns="paid_date").reset_index(drop=True),
    )


def ledger(kind: str) -> Dataset:
    base = generate_history(40, 3.0, seed=21)
    rng = np.random.default_rng(4)
    if kind == "no defaults":  # late payers, but everyone pays within 60 days
        return all_paid(base, rng.integers(-5, 60, len(base.invoices)))
    if kind == "no late payments":
        return all_paid(base, rng.integers(-10, 1, len(base.invoices)))
    if kind == "a single customer":
        busiest = base.invoices["customer_id"].value_counts().index[0]
        keep = base.invoices["customer_id"] == busiest
        ids = base.invoices.loc[keep, "invoice_id"]
        return Dataset(
            invoices=base.invoices.loc[keep].reset_index(drop=True),
            payments=base.payments.loc[base.payments["invoice_id"].isin(ids)],
            customers=base.customers.loc[base.customers["customer_id"] == busiest],
            reminders=base.reminders.loc[base.reminders["invoice_id"].isin(ids)],
        )
    # a few dozen invoices
    small = generate_history(3, 3.0, seed=8)
    keep = small.invoices.sample(36, random_state=1).sort_values("invoice_id")
    ids = keep["invoice_id"]
    return Dataset(
        invoices=keep.reset_index(drop=True),
        payments=small.payments.loc[small.payments["invoice_id"].isin(ids)],
        customers=small.customers,
        reminders=small.reminders.loc[small.reminders["invoice_id"].isin(ids)],
    )


def train_on(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, Path]:
    data = tmp_path / "data"
    write_dataset(ledger(kind), data)
    load_dataset(data)  # valid data: the contract's validation passes
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(QUICK))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("PAYRISK_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("PAYRISK_SNAPSHOT", str(tmp_path / "models" / "snapshot" / "h.npz"))
    monkeypatch.setenv("PAYRISK_API_KEYS", API_KEY)
    report = train(Catalog(train_config_path=config), data, report_json=tmp_path / "r.json")
    return report, data


def scorer_effects_absent(tmp_path: Path) -> bool:
    """The registered scorer carries no channel effects (the rules decide alone)."""
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    return Catalog().load_scorer().scorer.effects is None


EXPECTED = {  # targets the history cannot teach (at least these)
    "no defaults": {"default_given_late"},
    "no late payments": {"late", "default_given_late"},
    "a single customer": set(),
    "a few dozen invoices": {"late", "default_given_late"},
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_every_ledger_trains_and_says_what_it_could_not_learn(kind, tmp_path, monkeypatch):
    report, _ = train_on(kind, tmp_path, monkeypatch)
    unlearnable = set(report["not_learnable"])
    assert EXPECTED[kind] <= unlearnable
    for target in unlearnable:
        fallback = "life table" if target == "payment" else "prior"
        assert report["models"][target]["model"] == fallback
        assert any(target in flag and "not learnable" in flag for flag in report["flags"])
    if "effects_not_learnable" in report:  # too few reminders to compare channels: said so
        assert scorer_effects_absent(tmp_path)
        assert any("channel effects" in flag for flag in report["flags"])
    if kind == "a few dozen invoices":
        assert "effects_not_learnable" in report
    console = render_report(report)
    for target in unlearnable:
        assert "NOT LEARNABLE" in console and target in console
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = MlflowClient().get_run(report["run_id"])
    assert set(filter(None, run.data.tags["not_learnable"].split(", "))) == unlearnable or (
        not unlearnable and run.data.tags["not_learnable"] == "none"
    )
    scorer = Catalog().load_scorer().scorer
    card_unlearnable = {
        t for t, m in scorer.metadata["models"].items() if not m.get("learnable", True)
    }
    assert card_unlearnable == unlearnable
    dataset = load_dataset(tmp_path / "data")
    as_of = dataset.invoices["issue_date"].max()
    queries = dataset.invoices.assign(snapshot_date=as_of)
    queries = queries.loc[queries["issue_date"] < as_of]
    scores = scorer.score(scorer.build_history(dataset, as_of), queries)
    assert scores[["late_probability", "default_probability"]].notna().all().all()
    assert (scores["default_probability"] <= scores["late_probability"]).all()
    if "late" in unlearnable and kind == "no late payments":
        due_later = (queries["due_date"] >= as_of).to_numpy()
        assert scores.loc[due_later, "late_probability"].max() < 0.05


def test_a_ledger_without_defaults_serves_and_the_service_and_pages_say_so(tmp_path, monkeypatch):
    """The engine and pages the service mounts, on this project's champion and snapshot (the
    BentoML service module reads its settings once per process, for the session's project)."""
    from starlette.testclient import TestClient

    from payrisk.serving.engine import ScoringEngine, SnapshotHolder
    from payrisk.serving.schemas import InvoiceIn, ScoreRequest
    from payrisk.web.app import create_app
    from pipelines.scoring import write_snapshot

    _report, data = train_on("no defaults", tmp_path, monkeypatch)
    catalog = Catalog()
    write_snapshot(catalog, data)
    loaded = catalog.load_scorer()
    engine = ScoringEngine(
        loaded.scorer,
        loaded.version,
        loaded.source,
        SnapshotHolder(catalog.snapshot_path),
        catalog.dunning_config,
    )
    models = {m.target: m for m in engine.status().models}
    assert models["default_given_late"].learnable is False
    assert models["default_given_late"].model == "prior"
    assert "positive" in models["default_given_late"].note
    assert models["late"].learnable is True
    customer = str(pd.read_csv(data / "invoices.csv")["customer_id"].iloc[0])
    invoice = InvoiceIn(
        invoice_id="NEW-1",
        customer_id=customer,
        issue_date=engine.snapshot.as_of,
        due_date=engine.snapshot.as_of + pd.Timedelta(days=30),
        amount=900.0,
    )
    scored = engine.score(ScoreRequest(invoices=[invoice])).invoices[0]
    assert 0 < scored.default_probability <= scored.late_probability <= 1
    assert scored.expected_payment_date_low <= scored.expected_payment_date
    app = create_app(lambda: engine, lambda card: None)
    with TestClient(app) as client:
        page = client.get("/model", headers={"Accept-Language": "en"}).text
        french = client.get("/model", headers={"Accept-Language": "fr"}).text
    assert "not learnable" in page and "calibrated prior" in page
    assert "Default, given late" in page
    assert "impossible à apprendre" in french and "a priori calibré" in french


def test_on_a_ledger_without_defaults_the_gate_judges_a_defined_metric(tmp_path, monkeypatch):
    """No default at all: default ROC AUC is NaN for every model. The first model says which
    metric it was registered on; a retrain faces the champion on late ROC AUC, with both values
    and the reason naming the metric passed over (it said 'nan vs nan' and kept the champion
    forever)."""
    report, data = train_on("no defaults", tmp_path, monkeypatch)
    assert report["registry"]["metric"] == "late_roc_auc"
    assert np.isfinite(report["registry"]["new_value"])
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump({**QUICK, "seed": 4}))
    decision = train(Catalog(train_config_path=again), data)["registry"]
    assert decision["metric"] == "late_roc_auc"
    assert "same holdout, both before refit" in decision["reason"]
    assert "judged on late_roc_auc (default_roc_auc undefined" in decision["reason"]
    assert decision["champion_value"] == pytest.approx(  # per age, averaged: the headline
        report["headline"]["late"]["model"]["roc_auc"]
    )
    beats = decision["new_value"] > decision["champion_value"]
    behind = "worse than a baseline" in decision["reason"]
    assert decision["alias"] == ("champion" if beats and not behind else "challenger")
