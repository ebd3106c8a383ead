"""Monitoring after deployment: PSI worked by hand, and the verdict on generated ledgers whose
drift is known (none; amounts x3 and a new country; customers paying 45 days later)."""

from __future__ import annotations

import json
from dataclasses import replace

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from payrisk.cli import app
from payrisk.core.config import load_train_config
from payrisk.core.days import NEVER, day_number
from payrisk.data.generator import generate_world
from payrisk.data.receivables import default_as_of
from payrisk.models.monitoring import (
    OTHER,
    REFERENCE_KEY,
    DriftReference,
    MonitoringDataError,
    monitor,
    psi,
)
from tests.conftest import SAMPLE_CUSTOMERS, SAMPLE_SEED, SAMPLE_YEARS

SETTINGS = load_train_config().monitoring
SNAPSHOTS = load_train_config().snapshots


# --- PSI and the reference's bins -----------------------------------------------------------------


def test_psi_worked_by_hand():
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5) = 0.25 ln 2 + 0.25 ln 1.5
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * np.log(2) + 0.25 * np.log(1.5))
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    # An empty bin counts as 1e-4, not 0: finite, and large when a share appears there.
    assert psi([1.0, 0.0], [0.5, 0.5]) == pytest.approx(
        -0.5 * np.log(0.5) + (0.5 - 1e-4) * np.log(0.5 / 1e-4)
    )


def test_a_mass_at_one_value_and_missing_values_have_bins_of_their_own():
    # 8 zeros and 2 ones: the deciles are 0 up to the 70th, then 0.2 and 1, so the bins are
    # (-inf, 0], (0, 0.2], (0.2, 1], (1, inf) and missing.
    reference = DriftReference(bins=10).fit(pd.DataFrame({"x": [0.0] * 8 + [1.0] * 2}))
    assert reference.edges_["x"] == pytest.approx([0.0, 0.2, 1.0])
    assert reference.expected_["x"] == pytest.approx([0.8, 0.0, 0.2, 0.0, 0.0])
    now = pd.DataFrame({"x": [0.0, 0.0, 5.0, np.nan]})
    assert reference.share("x", now["x"]) == pytest.approx([0.5, 0.0, 0.0, 0.25, 0.25])
    assert reference.largest_change("x", now)["bin"] in ("(1, inf]", "missing")


def test_a_category_never_seen_in_training_lands_in_the_other_bin_and_drives_the_psi():
    reference = DriftReference(bins=10, categorical=("country",)).fit(
        pd.DataFrame({"country": ["FR"] * 60 + ["DE"] * 40})
    )
    same = pd.DataFrame({"country": ["FR"] * 6 + ["DE"] * 4})
    new = pd.DataFrame({"country": ["FR"] * 5 + ["DE"] * 3 + ["ZZ"] * 2})
    assert reference.psi(same)["country"] == pytest.approx(0.0)
    assert reference.psi(new)["country"] > 0.25
    change = reference.largest_change("country", new)
    assert change == {"bin": OTHER, "reference_share": 0.0, "current_share": 0.2}


def test_sampling_noise_grows_when_the_rows_come_from_few_customers():
    """The same 2,000 values, from 2,000 customers or from 10 customers of 200 alike values
    each: resampling whole customers moves the shares far more in the second case, and so does
    the PSI that sampling alone gives."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": np.sort(rng.normal(size=2000))})
    reference = DriftReference(bins=10).fit(frame)
    many = reference.noise(frame, np.arange(2000), seed=0)["x"]
    few = reference.noise(frame, np.repeat(np.arange(10), 200), seed=0)["x"]
    assert 0 < many < 0.02 < few


def test_the_reference_survives_its_json_round_trip():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"amount": rng.lognormal(7, 1, 500), "country": rng.choice(["FR", "DE", None], 500)}
    )
    reference = DriftReference(bins=10, categorical=("country",)).fit(frame)
    stored = DriftReference.from_dict(json.loads(json.dumps(reference.to_dict())))
    shifted = frame.assign(amount=frame["amount"] * 3)
    assert stored.psi(shifted).to_dict() == pytest.approx(reference.psi(shifted).to_dict())
    assert reference.psi(shifted)["amount"] > 0.25  # x3 moves most rows up by about a decile


def test_a_ledger_with_nothing_recent_takes_its_latest_snapshots_as_reference():
    """Every snapshot two years before the training end: none in the last `reference_days`, so
    all of them are the reference, and the window says from when."""
    from types import SimpleNamespace

    from payrisk.models.monitoring import fit_reference
    from payrisk.models.training import Examples

    dates = pd.to_datetime(["2022-01-03", "2022-02-01", "2022-03-01"]).repeat(20)
    features = pd.DataFrame({"x": np.arange(60.0), "country": ["FR", "DE", "FR"] * 20})
    scorer = SimpleNamespace(
        feature_columns=("x", "country"),
        feature_set=SimpleNamespace(categorical=("country",)),
        predict=lambda f: pd.DataFrame(
            {"late_probability": f["x"] / 100, "default_probability": f["x"] / 200}
        ),
    )
    examples = Examples(pd.DataFrame({"snapshot_date": dates}), features, pd.DataFrame())
    stored = fit_reference(scorer, examples, pd.Timestamp("2024-03-01"), SNAPSHOTS, SETTINGS)
    assert stored["window"] == ["2022-01-03", "2024-03-01"]
    assert stored["features"]["rows"] == 60
    assert stored["features"]["categories"]["country"] == ["FR", "DE"]


# --- The verdict on generated ledgers ---------------------------------------------------------


def shifted(dataset, as_of: pd.Timestamp, days: int = 90):
    """Invoices issued in the last `days` three times larger (their payments too), and a third of
    the customers moved to a country training never saw."""
    recent = dataset.invoices["issue_date"] >= as_of - pd.Timedelta(days=days)
    invoices = dataset.invoices.copy()
    invoices.loc[recent, "amount"] *= 3
    payments = dataset.payments.copy()
    payments.loc[payments["invoice_id"].isin(invoices.loc[recent, "invoice_id"]), "amount"] *= 3
    customers = dataset.customers.copy()
    customers.loc[customers.index % 3 == 0, "country"] = "ZZ"
    return replace(dataset, invoices=invoices, payments=payments, customers=customers)


def test_the_champion_on_the_data_it_was_trained_on_is_ok(scorer, sample_dataset):
    as_of = default_as_of(sample_dataset)
    report = monitor(scorer, sample_dataset, as_of, SETTINGS, SNAPSHOTS, seed=0)
    assert report["verdict"] == "ok", report["reasons"]
    assert report["reasons"] == []
    assert report["reference"]["source"] == "stored with the model at training"
    judged = [row for row in report["features"] if row["status"] != "not judged"]
    assert {row["feature"] for row in judged} >= {"log_amount", "country", "late_share"}
    # What reaches a threshold on this small sample (300 customers) is within sampling noise.
    assert all(
        row["psi"] <= row["noise"] for row in judged if row["psi"] >= SETTINGS.feature_psi[0]
    )
    assert "not yet measurable" in report["performance"]["note"]  # trained through as-of


def test_amounts_x3_and_a_new_country_ask_for_a_retrain(scorer, sample_dataset):
    as_of = default_as_of(sample_dataset)
    report = monitor(scorer, shifted(sample_dataset, as_of), as_of, SETTINGS, SNAPSHOTS, seed=0)
    assert report["verdict"] == "retrain"
    psi_of = {row["feature"]: row for row in report["features"]}
    assert psi_of["log_amount"]["status"] in ("watch", "retrain")
    assert psi_of["country"]["status"] == "retrain"
    assert psi_of["country"]["largest_change"]["bin"] == OTHER
    reasons = " ".join(report["reasons"])
    assert "feature log_amount" in reasons and "feature country" in reasons
    assert "(other or new) makes" in reasons
    unjudged = psi_of["issue_month"]
    assert unjudged["status"] == "not judged" and "issue_month" not in reasons


def later_payers(delay_days: int, from_day: int):
    """The test sample's world, its customers paying invoices issued from `from_day` on
    `delay_days` later (0: the same ledger)."""
    world = generate_world(SAMPLE_CUSTOMERS, SAMPLE_YEARS, SAMPLE_SEED)
    natural = world.invoices.natural_day
    later = (world.invoices.issue_day >= from_day) & (natural != NEVER)
    invoices = replace(world.invoices, natural_day=np.where(later, natural + delay_days, natural))
    world = replace(world, invoices=invoices)
    return world.dataset(world.play_logged(world.end_day), world.end_day)


def as_if_trained_until(scorer, day: pd.Timestamp):
    """The champion, as if trained through `day` and carrying no reference (one is recomputed)."""
    metadata = {k: v for k, v in scorer.metadata.items() if k != REFERENCE_KEY}
    return replace(scorer, metadata={**metadata, "trained_until": day.date().isoformat()})


def test_customers_paying_later_show_in_the_realised_accuracy(scorer, sample_dataset):
    as_of = default_as_of(sample_dataset)
    cutoff = as_of - pd.Timedelta(days=240)
    older = as_if_trained_until(scorer, cutoff)
    start = day_number(cutoff.date())

    same = monitor(older, later_payers(0, start), as_of, SETTINGS, SNAPSHOTS, seed=0)
    assert same["reference"]["source"].startswith("recomputed from this data")
    at_issue = same["performance"]["by_age"]["at_issue"]["late"]
    assert at_issue["n"] >= SETTINGS.min_rows
    assert not [r for r in same["reasons"] if "matured" in r], same["reasons"]

    late = monitor(older, later_payers(45, start), as_of, SETTINGS, SNAPSHOTS, seed=0)
    assert late["verdict"] == "retrain"
    realised = late["performance"]["by_age"]["at_issue"]["late"]
    assert realised["observed_rate"] - realised["mean_predicted"] >= SETTINGS.calibration_gap[1]
    assert realised["observed_rate"] > at_issue["observed_rate"] + 0.2
    assert any(r.startswith("late at issue:") for r in late["reasons"])


def test_too_few_recent_snapshots_are_not_judged_and_the_verdict_says_so(scorer, sample_dataset):
    as_of = default_as_of(sample_dataset)
    strict = SETTINGS.model_copy(update={"min_rows": 1_000_000})
    report = monitor(scorer, sample_dataset, as_of, strict, SNAPSHOTS, seed=0)
    assert report["verdict"] == "watch" and report["features"] == []
    assert report["reasons"][0].startswith("only ") and "drift not judged" in report["reasons"][0]


def test_no_snapshot_in_the_window_is_refused_with_the_dates(scorer, sample_dataset):
    long_after = default_as_of(sample_dataset) + pd.Timedelta(days=3000)
    with pytest.raises(MonitoringDataError, match="nothing scored there"):
        monitor(scorer, sample_dataset, long_after, SETTINGS, SNAPSHOTS, seed=0)


# --- The command and the pipeline -----------------------------------------------------------


def test_payrisk_monitor_writes_the_report_and_logs_it(project_env, tmp_path):
    out = tmp_path / "monitoring.json"
    result = CliRunner().invoke(
        app, ["monitor", "--data", str(project_env.data_dir), "--out", str(out),
              "--config", str(project_env.config_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "VERDICT: OK" in result.output
    report = json.loads(out.read_text())
    assert report["verdict"] == "ok" and report["model"]["source"] == "registry"
    mlflow.set_tracking_uri(project_env.env["MLFLOW_TRACKING_URI"])
    client = mlflow.MlflowClient()
    run = client.get_run(report["mlflow_run_id"])
    assert run.data.tags["verdict"] == "ok"
    assert run.data.tags["training_run_id"] == project_env.report["run_id"]
    assert run.data.metrics["verdict_level"] == 0.0
    assert "feature_psi_log_amount" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "monitoring.json" in artifacts
    version = client.get_model_version(report["model"]["name"], report["model"]["version"])
    assert version.tags["monitoring_verdict"] == "ok"


def test_without_a_champion_or_without_invoices_the_command_says_so(
    tmp_path, monkeypatch, project_env
):
    data = tmp_path / "empty"
    data.mkdir()
    (data / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount,currency\n"
    )
    empty = CliRunner().invoke(
        app, ["monitor", "--data", str(data), "--out", str(tmp_path / "m.json")]
    )
    assert empty.exit_code == 1, empty.output
    assert "no invoice, nothing to monitor" in empty.output and "Traceback" not in empty.output

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'other.db'}")
    monkeypatch.setenv("PAYRISK_MODELS_DIR", str(tmp_path / "models"))
    none = CliRunner().invoke(
        app, ["monitor", "--data", str(project_env.data_dir), "--out", str(tmp_path / "m.json")]
    )
    assert none.exit_code == 2, none.output
    assert "no champion model" in none.output and "Traceback" not in none.output
    assert not (tmp_path / "m.json").exists()
