"""The training run: report, MLflow records, registry aliases and the champion gate."""

from __future__ import annotations

import json

import mlflow
import pytest
from mlflow import MlflowClient

from pipelines import tracking
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


def test_first_model_is_champion_with_a_local_copy(trained):
    registry = trained.report["registry"]
    assert registry["alias"] == tracking.CHAMPION
    assert registry["reason"] == "no champion yet"
    local = trained.workdir / "models" / registry["model_name"] / f"version-{registry['version']}"
    assert (local / "model" / "MLmodel").is_file()


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
    report = train(trained.data_dir, config_path=weak)
    decision = report["registry"]
    assert decision["alias"] == tracking.CHALLENGER
    assert decision["champion_version"] == trained.report["registry"]["version"]
    assert decision["new_value"] < decision["champion_value"]
    mlflow.set_tracking_uri(trained.env["MLFLOW_TRACKING_URI"])
    name = decision["model_name"]
    assert tracking.champion_version(name) == trained.report["registry"]["version"]
    challenger = MlflowClient().get_model_version_by_alias(name, tracking.CHALLENGER)
    assert str(challenger.version) == decision["version"]


@pytest.mark.parametrize(
    ("champion", "champion_value", "new_value", "expected"),
    [
        (None, None, 0.7, tracking.CHAMPION),
        ("3", 0.80, 0.81, tracking.CHAMPION),
        ("3", 0.80, 0.80, tracking.CHALLENGER),
        ("3", 0.80, 0.75, tracking.CHALLENGER),
        ("3", None, 0.75, tracking.CHAMPION),  # champion unusable with today's features
    ],
)
def test_gate_decision(champion, champion_value, new_value, expected):
    decision = tracking.decide("default_roc_auc", new_value, champion, champion_value, 0.0)
    assert decision.alias == expected
