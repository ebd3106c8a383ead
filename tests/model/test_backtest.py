"""`payrisk backtest --at issue`: every invoice of a period scored at issue by the model of its
time, the predictions written and their metrics computed on the outcomes known since."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from payrisk.cli import app
from pipelines.backtest import steps


def test_a_period_is_cut_into_steps_the_last_one_shorter():
    start, end = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-03-12")
    assert steps(start, end, 30) == [
        (pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-31")),
        (pd.Timestamp("2026-01-31"), pd.Timestamp("2026-03-02")),
        (pd.Timestamp("2026-03-02"), pd.Timestamp("2026-03-12")),
    ]


@pytest.mark.slow  # fits one scorer per step
def test_every_invoice_of_the_period_is_scored_at_issue_by_the_model_of_its_time(
    project_env, sample_dataset, tmp_path
):
    out = tmp_path / "backtest.csv"
    start, end = "2026-03-01", "2026-04-15"
    result = CliRunner().invoke(
        app,
        ["backtest", "--data", str(project_env.data_dir), "--out", str(out), "--at", "issue",
         "--start", start, "--end", end, "--config", str(project_env.config_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out, parse_dates=["issue_date", "model_trained_until"])
    issued = sample_dataset.invoices["issue_date"]
    expected = sample_dataset.invoices.loc[(issued >= start) & (issued < end), "invoice_id"]
    assert sorted(predictions["invoice_id"]) == sorted(expected)
    # 45 days in steps of the config's 120: one model, trained through the period's start.
    assert (predictions["model_trained_until"] == pd.Timestamp(start)).all()
    assert predictions["late_probability"].between(0, 1).all()
    assert (predictions["default_probability"] <= predictions["late_probability"]).all()
    report = json.loads((tmp_path / "backtest.metrics.json").read_text())
    late = predictions.dropna(subset=["actual_late"])
    assert report["overall"]["late"]["n"] == len(late) > 100
    assert report["overall"]["late"]["roc_auc"] == pytest.approx(
        roc_auc_score(late["actual_late"], late["late_probability"])
    )
    assert report["overall"]["late"]["roc_auc"] > 0.7


def test_a_period_outside_the_data_is_refused_with_its_dates(project_env, tmp_path):
    result = CliRunner().invoke(
        app,
        ["backtest", "--data", str(project_env.data_dir), "--out", str(tmp_path / "b.csv"),
         "--start", "2030-01-01", "--end", "2030-02-01", "--config",
         str(project_env.config_path)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "backtest period [2030-01-01, 2030-02-01)" in result.output
    assert "Traceback" not in result.output
    wrong = CliRunner().invoke(app, ["backtest", "--data", "x", "--at", "due"])
    assert wrong.exit_code == 2 and "only 'issue' is built" in wrong.output
