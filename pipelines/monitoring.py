"""`payrisk monitor`: load the champion and the data, measure drift and realised accuracy
(`payrisk.models.monitoring`), write the report atomically and log it to MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from payrisk.core.storage import write_json
from payrisk.data.loading import Dataset, load_dataset
from payrisk.data.receivables import as_timestamp, default_as_of
from payrisk.models.monitoring import VERDICTS, MonitoringDataError, monitor
from pipelines import tracking
from pipelines.catalog import Catalog, LoadedScorer


def run_monitoring(
    catalog: Catalog,
    data_dir: str | Path,
    as_of: str | None = None,
    out: str | Path | None = None,
    model_uri: str | None = None,
) -> dict:
    """The monitoring report of the served model (the champion, or `model_uri`) on `data_dir` at
    `as_of` (default: the day after its latest event): logged as a run of the monitoring
    experiment (unless the registry is unusable and the local copy serves) and written to `out`
    (JSON, atomically)."""
    loaded = catalog.load_scorer(model_uri)
    dataset = load_dataset(data_dir)
    return monitor_dataset(catalog, dataset, loaded, Path(data_dir).name, as_of, out)


def monitor_dataset(
    catalog: Catalog,
    dataset: Dataset,
    loaded: LoadedScorer,
    data_name: str,
    as_of: str | pd.Timestamp | None = None,
    out: str | Path | None = None,
) -> dict:
    """`run_monitoring` on a ledger already read and validated and a model already loaded
    (the nightly run has both from its validate and score steps)."""
    config = catalog.train_config
    if dataset.invoices.empty:
        raise MonitoringDataError(f"{data_name}: no invoice, nothing to monitor")
    when = as_timestamp(as_of) if as_of is not None else default_as_of(dataset)
    measured = monitor(
        loaded.scorer, dataset, when, config.monitoring, config.snapshots, config.seed
    )
    report = {
        "model": {
            "name": catalog.model_name,
            "version": loaded.version,
            "source": loaded.source,
            "trained_until": measured.pop("trained_until"),
        },
        "data_dir": data_name,
        **measured,
    }
    if loaded.source == "local copy":  # the registry is unusable: nowhere to log
        report["mlflow_not_logged"] = loaded.problem
    else:
        report["mlflow_run_id"] = log_monitoring(catalog, report, loaded)
    if out is not None:
        write_json(out, report)
    return report


def monitoring_metrics(report: dict) -> dict[str, float]:
    """The report's figures as MLflow metrics (finite ones)."""
    metrics = {"verdict_level": float(VERDICTS.index(report["verdict"]))}
    metrics |= {f"feature_psi_{row['feature']}": row["psi"] for row in report["features"]}
    metrics |= {f"score_psi_{row['score']}": row["psi"] for row in report["scores"]}
    for group, per_target in report["performance"]["by_age"].items():
        for target, values in per_target.items():
            for name, value in values.items():
                metrics[f"realised_{group}_{target}_{name}"] = value
    return {
        k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and np.isfinite(v)
    }


def log_monitoring(catalog: Catalog, report: dict, loaded: LoadedScorer) -> str:
    """One run of the monitoring experiment (metrics, the report as an artifact, tags naming the
    model and its training run); the model version is tagged with the latest verdict, so that the
    registry's page shows it. Returns the run id."""
    experiment_id = tracking.setup(catalog.tracking_uri, catalog.train_config.monitoring.experiment)
    model = report["model"]
    training_run = None
    if loaded.source == "registry":
        client = catalog.client()
        try:
            training_run = client.get_model_version(model["name"], model["version"]).run_id
        except MlflowException:
            training_run = None
    tags = {
        "model_name": model["name"],
        "model_version": model["version"],
        "model_source": model["source"],
        "verdict": report["verdict"],
        "data_dir": report["data_dir"],
    }
    if training_run:
        tags["training_run_id"] = training_run
    name = f"monitor {report['as_of']} v{model['version']}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
        mlflow.set_tags(tags)
        mlflow.log_metrics(monitoring_metrics(report))
        mlflow.log_dict(report, "monitoring.json")
    if loaded.source == "registry":
        client = catalog.client()
        for key, value in (
            ("monitoring_verdict", report["verdict"]),
            ("monitoring_as_of", report["as_of"]),
            ("monitoring_run_id", run.info.run_id),
        ):
            client.set_model_version_tag(model["name"], model["version"], key, value)
    return run.info.run_id


def render_monitoring(report: dict, top: int = 5) -> str:
    """The console summary: verdict and reasons, the largest drifts, the realised accuracy."""
    model = report["model"]
    current, reference = report["current"], report["reference"]
    lines = [
        f"Monitoring {model['name']} v{model['version']} ({model['source']}, trained through "
        f"{model['trained_until']}) on {report['data_dir']} as of {report['as_of']}",
        f"  now: {current['snapshots']:,} snapshots {current['window'][0]} .. "
        f"{current['window'][1]}; reference: {reference['snapshots']:,} training snapshots "
        f"{reference['window'][0]} .. {reference['window'][1]} ({reference['source']})",
        f"VERDICT: {report['verdict'].upper()}",
    ]
    lines += [f"  - {reason}" for reason in report["reasons"]]
    if report["features"]:
        lines.append(
            "  largest feature PSI: "
            + ", ".join(
                f"{row['feature']} {row['psi']:.3f}"
                + (" (not judged)" if row["status"] == "not judged" else "")
                for row in report["features"][:top]
            )
        )
        lines.append(
            "  score PSI: "
            + ", ".join(f"{row['score']} {row['psi']:.3f}" for row in report["scores"])
        )
    lines.append(f"  realised accuracy: {report['performance']['note']}")
    for group, per_target in report["performance"]["by_age"].items():
        for target, values in per_target.items():
            if target == "payment":
                lines.append(
                    f"    {group:<18} payment  n {int(values['n']):>6}  MAE "
                    f"{values['mae_days']:.1f} days, interval coverage "
                    f"{values['interval_coverage']:.0%} (claims {values['claimed_coverage']:.0%})"
                )
                continue
            auc = values.get("roc_auc", float("nan"))
            before = values.get("holdout_roc_auc", float("nan"))
            lines.append(
                f"    {group:<18} {target:<8} n {values['n']:>6}  ROC AUC {auc:.3f} "
                f"(holdout {before:.3f}), observed {values['observed_rate']:.1%} vs predicted "
                f"{values['mean_predicted']:.1%}"
            )
    if "mlflow_run_id" in report:
        lines.append(f"Logged to MLflow run {report['mlflow_run_id']}")
    else:
        lines.append(f"Not logged to MLflow: {report['mlflow_not_logged']}")
    return "\n".join(lines)
