"""The training run: report, MLflow records, registry aliases and the champion gate."""

from __future__ import annotations

import json
import shutil

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from payrisk.models.gate import CHALLENGER, CHAMPION, GateInputs, decide
from pipelines.catalog import Catalog
from pipelines.training import train

TARGETS = ("late", "default")


def test_report_has_every_holdout_metric_against_both_baselines(trained):
    holdout = trained.report["holdout"]
    for target in TARGETS:
        assert set(holdout[target]) == {"lightgbm", "historical_rate", "logistic"}
        for metrics in holdout[target].values():
            for name in (
                "roc_auc",
                "pr_auc",
                "brier",
                "log_loss",
                "calibration_error",
                "capture_top_10pct",
                "capture_top_20pct",
            ):
                assert 0 <= metrics[name] <= 10, name
    payment = holdout["payment"]
    assert payment["lightgbm"]["mae_days"] > 0
    assert 0.5 < payment["lightgbm"]["interval_coverage"] <= 1
    assert payment["lightgbm"]["baseline_mae_ratio"] == pytest.approx(
        payment["average_delay"]["mae_days"] / payment["lightgbm"]["mae_days"]
    )
    assert trained.report["backtest"], "rolling backtest folds missing"
    on_disk = json.loads((trained.workdir / "report.json").read_text())
    assert on_disk["registry"]["version"] == trained.report["registry"]["version"]


def test_lightgbm_beats_both_baselines_on_the_sample(trained):
    assert trained.report["beats_baselines"] == {"late": True, "default": True, "payment": True}


def test_the_run_records_data_code_config_metrics_plots_and_model(trained):
    mlflow.set_tracking_uri(trained.env["MLFLOW_TRACKING_URI"])
    run = MlflowClient().get_run(trained.report["run_id"])
    assert run.data.tags["data_fingerprint"] == trained.report["data_fingerprint"]
    assert "git_commit" in run.data.tags
    assert run.data.params["seed"] == "7"
    assert run.data.metrics["holdout_default_lightgbm_roc_auc"] > 0.5
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "plots")}
    for target in TARGETS:
        for plot in ("roc", "precision_recall", "calibration", "feature_importance"):
            assert f"plots/{target}_{plot}.png" in artifacts
    top = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert {"config", "validation.json", "registry_decision.json", "report.json"} <= top


def test_the_run_lands_in_the_configured_experiment_with_the_whole_config(trained):
    """Not in "Default" with artifacts in ./mlruns: in the config's experiment, its artifacts
    beside the tracking database, every setting of the resolved config a parameter."""
    from payrisk.core.config import load_train_config
    from pipelines.tracking import flatten

    mlflow.set_tracking_uri(trained.env["MLFLOW_TRACKING_URI"])
    client = MlflowClient()
    run = client.get_run(trained.report["run_id"])
    config = load_train_config(trained.config_path)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == config.registry.experiment == "payrisk"
    assert run.info.artifact_uri.startswith((trained.workdir / "mlartifacts").as_uri())
    assert not client.search_runs(["0"])  # nothing in the Default experiment
    expected = flatten(config.model_dump(mode="json"))
    assert len(expected) > 40
    for key, value in expected.items():
        assert run.data.params[key] == value, key
    assert run.data.params["models.per_target.default.num_leaves"] == "7"
    assert run.data.params["targets.default_after_days"] == "90"
    assert run.info.run_name == f"{trained.report['as_of']} first run"


def test_the_model_version_carries_the_gate_decision(trained):
    mlflow.set_tracking_uri(trained.env["MLFLOW_TRACKING_URI"])
    registry = trained.report["registry"]
    version = MlflowClient().get_model_version(registry["model_name"], registry["version"])
    assert version.tags["gate_decision"] == CHAMPION
    assert version.tags["gate_metric"] == "default_roc_auc"
    assert float(version.tags["gate_new_value"]) == pytest.approx(registry["new_value"], abs=1e-6)
    assert version.tags["gate_champion_value"] == "not measured"
    assert "no champion yet" in version.description and "default_roc_auc" in version.description


def test_first_model_is_champion_with_a_local_copy(trained):
    registry = trained.report["registry"]
    assert registry["alias"] == CHAMPION
    assert registry["reason"] == "no champion yet"
    local = trained.workdir / "models" / registry["model_name"] / f"version-{registry['version']}"
    assert (local / "model" / "MLmodel").is_file()


@pytest.mark.slow  # a second training run
def test_a_weaker_model_becomes_challenger_and_the_champion_stays(trained, project_env, tmp_path):
    weak = tmp_path / "weak.yaml"
    weak.write_text(
        "seed: 7\n"
        "models:\n"
        "  lightgbm: {n_estimators: 10, num_leaves: 2, learning_rate: 0.01,"
        " early_stopping_rounds: 5}\n"
        "  monotone_increasing: []\n"
        "evaluation: {backtest_folds: 0}\n"
        "registry: {refit_on_full_history: false}\n"
    )
    report = train(Catalog(train_config_path=weak), trained.data_dir)
    decision = report["registry"]
    assert decision["alias"] == CHALLENGER
    assert decision["champion_version"] == trained.report["registry"]["version"]
    assert decision["new_value"] < decision["champion_value"]
    # The champion was refitted on the whole history, this holdout included: the gate must use
    # its pre-refit holdout figure, not score it on snapshots it learned from.
    assert "same holdout, both before refit" in decision["reason"]
    assert decision["champion_value"] == pytest.approx(
        trained.report["holdout"]["default"]["lightgbm"]["roc_auc"]
    )
    mlflow.set_tracking_uri(trained.env["MLFLOW_TRACKING_URI"])
    name = decision["model_name"]
    assert Catalog().champion_version() == trained.report["registry"]["version"]
    challenger = MlflowClient().get_model_version_by_alias(name, CHALLENGER)
    assert str(challenger.version) == decision["version"]
    # The version says why, with both values; the run name says what changed.
    assert challenger.tags["gate_decision"] == CHALLENGER
    assert float(challenger.tags["gate_champion_value"]) == pytest.approx(
        decision["champion_value"], abs=1e-6
    )
    assert "does not beat champion" in challenger.description
    run_name = MlflowClient().get_run(report["run_id"]).info.run_name
    # The first three changed settings in name order, then how many more.
    assert "lightgbm.learning_rate 0.08→0.01" in run_name and "+4 more" in run_name


@pytest.mark.slow  # a second training run
def test_a_retrain_on_older_data_never_faces_the_champion_on_what_it_learned(
    trained, tmp_path, monkeypatch
):
    """The champion (refitted through the as-of date) has seen every snapshot of an earlier
    holdout: it cannot be measured there, and a model on older data does not replace it."""
    shutil.copy2(trained.workdir / "mlflow.db", tmp_path / "mlflow.db")
    shutil.copytree(trained.workdir / "models", tmp_path / "models")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("PAYRISK_MODELS_DIR", str(tmp_path / "models"))
    earlier = (pd.Timestamp(trained.report["as_of"]) - pd.Timedelta(days=120)).date()
    weak = tmp_path / "weak.yaml"
    weak.write_text(
        "seed: 7\n"
        "models:\n"
        "  lightgbm: {n_estimators: 30}\n"
        "evaluation: {backtest_folds: 0}\n"
        "registry: {refit_on_full_history: false}\n"
    )
    decision = train(Catalog(train_config_path=weak), trained.data_dir, as_of=str(earlier))[
        "registry"
    ]
    assert decision["champion_version"] == trained.report["registry"]["version"]
    assert decision["champion_value"] is None
    assert f"trained through {trained.report['as_of']}" in decision["reason"]
    assert decision["alias"] == CHALLENGER
    assert Catalog().champion_version() == decision["champion_version"]


@pytest.mark.parametrize(
    ("champion", "champion_value", "new_value", "expected"),
    [
        (None, None, 0.7, CHAMPION),
        ("3", 0.80, 0.81, CHAMPION),
        ("3", 0.80, 0.80, CHALLENGER),
        ("3", 0.80, 0.75, CHALLENGER),
        ("3", None, 0.75, CHAMPION),  # champion unusable with today's features
    ],
)
def test_gate_decision(champion, champion_value, new_value, expected):
    inputs = GateInputs(champion, champion_value, new_value, "whole holdout")
    decision = decide(inputs, "default_roc_auc", 0.0)
    assert decision.alias == expected


def test_models_trained_on_different_target_definitions_are_not_compared():
    """A 60-day default and a 90-day default are different questions: the gate refuses to
    compare their AUCs, says why, and leaves the champion in place."""
    from types import SimpleNamespace

    from payrisk.core.config import TargetSettings, load_train_config
    from payrisk.models.gate import gate_inputs
    from payrisk.models.training import Evaluation

    config = load_train_config()  # the shipped one: default = unpaid 90 days after due
    champion = SimpleNamespace(targets=TargetSettings(default_after_days=60), metadata={})
    evaluation = Evaluation({"default": {"lightgbm": {"roc_auc": 0.99}}}, predictions={})
    inputs = gate_inputs(champion, "3", champion, evaluation, None, {}, config)
    assert inputs.comparable is False
    decision = decide(inputs, "default_roc_auc", 0.0)
    assert decision.alias == CHALLENGER and decision.champion_value is None
    assert "not compared" in decision.reason
    assert "unpaid 60 days" in decision.reason and "unpaid 90 days" in decision.reason


def test_an_unmeasurable_champion_gives_way_only_to_newer_data():
    older = decide(GateInputs("3", None, 0.9, "not measurable", newer=False), "default_roc_auc", 0)
    newer = decide(GateInputs("3", None, 0.6, "not measurable", newer=True), "default_roc_auc", 0)
    assert (older.alias, newer.alias) == (CHALLENGER, CHAMPION)
    assert older.reason == "not measurable"
