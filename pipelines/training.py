"""`payrisk train`: validate, build examples, fit, evaluate, backtest, track, register, gate."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from payrisk.core.config import TrainConfig, load_train_config
from payrisk.core.storage import write_json
from payrisk.data.loading import read_tables, to_dataset
from payrisk.data.receivables import as_timestamp, default_as_of
from payrisk.data.validation import validate_tables
from payrisk.models.evaluation import (
    calibration_figure,
    calibration_table,
    importance_figure,
    precision_recall_figure,
    roc_figure,
)
from payrisk.models.scorer import SCORE_COLUMNS, PaymentRiskScorer, PayriskModel
from payrisk.models.training import (
    CLASSIFICATION_TARGETS,
    Evaluation,
    Examples,
    InsufficientHistoryError,
    Window,
    backtest_cutoffs,
    beats_baselines,
    comparison,
    evaluate,
    fit_baselines,
    fit_scorer,
    split_windows,
    window_examples,
)
from payrisk.scaleout.dask import Cluster, ComputeOverrides, compute_session, snapshot_features
from pipelines import tracking

log = logging.getLogger("payrisk.train")


def holdout_importance(scorer: PaymentRiskScorer, holdout: Examples) -> dict[str, pd.Series]:
    """Mean |SHAP| of each feature on (up to 5,000 of) the holdout rows of each target."""
    importance = {}
    for target in CLASSIFICATION_TARGETS:
        sample = holdout.features.loc[holdout.known(target)].head(5000)
        if len(sample):
            contributions = scorer.contributions(sample, target).drop(columns="bias")
            importance[target] = contributions.abs().mean().sort_values(ascending=False)
    return importance


def _log_figures(evaluation, importance: dict[str, pd.Series], config: TrainConfig) -> None:
    for target in CLASSIFICATION_TARGETS:
        frame = evaluation.predictions[target]
        y = frame["y"].to_numpy()
        scores = {name: frame[name].to_numpy() for name in frame.columns if name != "y"}
        if len(np.unique(y)) < 2:
            continue
        figures = {
            f"plots/{target}_roc.png": roc_figure(y, scores, f"{target}: ROC (holdout)"),
            f"plots/{target}_precision_recall.png": precision_recall_figure(
                y, scores, f"{target}: precision-recall (holdout)"
            ),
            f"plots/{target}_calibration.png": calibration_figure(
                {
                    n: calibration_table(y, p, config.evaluation.calibration_bins)
                    for n, p in scores.items()
                },
                f"{target}: reliability (holdout)",
            ),
        }
        figures[f"plots/{target}_feature_importance.png"] = importance_figure(
            importance[target], f"{target}: mean |SHAP| on holdout"
        )
        mlflow.log_dict(importance[target].round(6).to_dict(), f"importance/{target}.json")
        for path, figure in figures.items():
            mlflow.log_figure(figure, path)
            plt.close(figure)
        mlflow.log_dict(
            {
                n: calibration_table(y, p, config.evaluation.calibration_bins).to_dict("list")
                for n, p in scores.items()
            },
            f"calibration/{target}.json",
        )


def model_card(evaluation, importance: dict[str, pd.Series], config: TrainConfig) -> dict:
    """What the model page shows, carried by the registered scorer itself: holdout metrics
    against the baselines, reliability curves and the top features of each target."""
    card: dict = {
        "holdout_metrics": evaluation.metrics,
        "comparison": comparison(evaluation),
        "calibration": {},
        "top_features": {t: v.head(15).round(6).to_dict() for t, v in importance.items()},
    }
    for target in CLASSIFICATION_TARGETS:
        frame = evaluation.predictions[target]
        if frame["y"].nunique() == 2:
            card["calibration"][target] = calibration_table(
                frame["y"].to_numpy(),
                frame["lightgbm"].to_numpy(),
                config.evaluation.calibration_bins,
            ).to_dict("list")
    return card


MIN_GATE_EXAMPLES = 200  # fewer unseen holdout snapshots than this say nothing about who is better


@dataclass(frozen=True)
class GateInputs:
    """The two values the registry gate compares, measured on the same snapshots."""

    champion_version: str | None
    champion_value: float | None
    new_value: float
    basis: str  # which snapshots, or why the champion could not be measured
    newer: bool = True  # the candidate saw data at least as recent as the champion's


def _metric(evaluation: Evaluation, config: TrainConfig) -> float:
    target, _, metric = config.registry.gate_metric.partition("_")
    return float(evaluation.metrics[target]["lightgbm"][metric])


def gate_inputs(
    model_name: str,
    candidate: PaymentRiskScorer,
    candidate_evaluation: Evaluation,
    holdout: Examples,
    metadata: dict,
    config: TrainConfig,
) -> GateInputs:
    """Champion and candidate on snapshots neither has learned from.

    A champion refitted on the full history has seen part or all of today's holdout: scored
    there it looks better than it is and no new model could ever replace it. So the champion is
    measured on the whole holdout only if it was trained before the holdout starts; on the same
    data and holdout its own pre-refit holdout figure (from its model card) faces the candidate's;
    otherwise both are measured on the holdout snapshots after the champion's training ended.
    """
    new_value = _metric(candidate_evaluation, config)
    version = tracking.champion_version(model_name)
    if version is None:
        return GateInputs(None, None, new_value, "no champion yet")
    try:
        champion = mlflow.pyfunc.load_model(f"models:/{model_name}@{tracking.CHAMPION}")
        scorer = champion.unwrap_python_model().scorer
        seen_until = pd.Timestamp(scorer.metadata["trained_until"])
        if seen_until <= pd.Timestamp(metadata["holdout"][0]):
            value = _metric(evaluate(scorer, holdout, config), config)
            return GateInputs(version, value, new_value, "whole holdout")
        if all(scorer.metadata.get(k) == metadata[k] for k in ("holdout", "data_fingerprint")):
            target, _, metric = config.registry.gate_metric.partition("_")
            value = float(scorer.metadata["holdout_metrics"][target]["lightgbm"][metric])
            return GateInputs(version, value, new_value, "same holdout, both before refit")
        unseen = (holdout.queries["snapshot_date"] > seen_until).to_numpy()
        if unseen.sum() < MIN_GATE_EXAMPLES:
            newer = metadata["as_of"] >= str(scorer.metadata.get("as_of", ""))
            return GateInputs(
                version,
                None,
                new_value,
                f"the champion was trained through {seen_until.date()}: only {unseen.sum()} "
                "holdout snapshots are new to it, so "
                + (
                    "the model trained on newer data takes over unmeasured"
                    if newer
                    else "it stays (the new model was trained on older data)"
                ),
                newer,
            )
        rows = holdout.subset(unseen)
        value = _metric(evaluate(scorer, rows, config), config)
        new_value = _metric(evaluate(candidate, rows, config), config)
        return GateInputs(
            version, value, new_value, f"{len(rows):,} holdout snapshots after {seen_until.date()}"
        )
    except (MlflowException, KeyError, AttributeError, ValueError, OSError) as error:
        log.warning("champion v%s cannot be evaluated: %s", version, type(error).__name__)
        return GateInputs(
            version, None, new_value, "the champion cannot score with the current feature code"
        )


def train(
    data_dir: str | Path,
    as_of: str | None = None,
    config_path: str | Path | None = None,
    report_json: str | Path | None = None,
    compute: ComputeOverrides | None = None,
) -> dict:
    """Train, evaluate and register a scorer; return the run report.

    `compute` overrides the config's `compute` section (local, or Dask: features over customer
    partitions and LightGBM's Dask estimators; see `payrisk.scaleout`).
    """
    config = load_train_config(config_path)
    settings = (compute or ComputeOverrides()).apply(config.compute)
    with compute_session(settings) as cluster:
        return _train(data_dir, as_of, config, report_json, cluster)


def _train(
    data_dir: str | Path,
    as_of: str | None,
    config: TrainConfig,
    report_json: str | Path | None,
    cluster: Cluster | None,
) -> dict:
    tables = read_tables(data_dir)
    validation = validate_tables(tables)
    validation.raise_for_failures()
    dataset = to_dataset(tables)
    when = as_timestamp(as_of) if as_of else default_as_of(dataset)
    queries, features = snapshot_features(dataset, when, config, cluster)
    everything = Examples(queries, features, pd.DataFrame(index=queries.index))
    train_window, holdout_window = split_windows(when, config)
    train_examples = window_examples(everything, dataset.invoices, train_window, config)
    holdout = window_examples(everything, dataset.invoices, holdout_window, config)
    if len(train_examples) == 0 or len(holdout) == 0:
        raise InsufficientHistoryError(
            f"not enough history before {when.date()}: training ends {train_window.end.date()}, "
            f"holdout [{holdout_window.start.date()}, {holdout_window.end.date()}) "
            "(shorten evaluation.holdout_days / label_maturity_days or add history)"
        )

    metadata = {
        "as_of": when.date().isoformat(),
        "trained_until": train_window.end.date().isoformat(),
        "holdout": [
            holdout_window.start.date().isoformat(),
            holdout_window.end.date().isoformat(),
        ],
        "data_start": dataset.invoices["issue_date"].min().date().isoformat(),
        "data_fingerprint": tracking.data_fingerprint(data_dir),
        **tracking.code_version(),
    }
    scorer = fit_scorer(train_examples, config, metadata)
    baselines = fit_baselines(train_examples, config)
    holdout_evaluation = evaluate(scorer, holdout, config, baselines)

    backtest = []
    for fold_train, fold_test in backtest_cutoffs(when, config):
        fold_train_examples = window_examples(everything, dataset.invoices, fold_train, config)
        fold_test_examples = window_examples(everything, dataset.invoices, fold_test, config)
        try:
            fold_scorer = fit_scorer(fold_train_examples, config)
        except ValueError as error:  # too little history at an early cut-off
            backtest.append({"cutoff": fold_train.end.date().isoformat(), "skipped": str(error)})
            continue
        fold_eval = evaluate(fold_scorer, fold_test_examples, config)
        backtest.append(
            {
                "cutoff": fold_train.end.date().isoformat(),
                "test_end": fold_test.end.date().isoformat(),
                "late_roc_auc": fold_eval.metrics["late"]["lightgbm"]["roc_auc"],
                "default_roc_auc": fold_eval.metrics["default"]["lightgbm"]["roc_auc"],
                "payment_mae_days": fold_eval.metrics["payment"]["lightgbm"]["mae_days"],
            }
        )

    registered = scorer
    if config.registry.refit_on_full_history:
        full = window_examples(everything, dataset.invoices, Window(None, when, when), config)
        registered = fit_scorer(
            full, config, {**metadata, "trained_until": when.date().isoformat()}
        )
    importance = holdout_importance(scorer, holdout)
    registered.metadata.update(model_card(holdout_evaluation, importance, config))

    tracking.setup(config.registry.experiment)
    model_name = config.registry.model_name
    gate = gate_inputs(model_name, scorer, holdout_evaluation, holdout, metadata, config)
    new_value, champion_value = gate.new_value, gate.champion_value
    decision = tracking.decide(
        config.registry.gate_metric,
        new_value,
        gate.champion_version,
        champion_value,
        config.registry.min_improvement,
        gate.basis,
        gate.newer,
    )

    report = {
        "as_of": metadata["as_of"],
        "windows": {
            "train_snapshots_before": train_window.end.date().isoformat(),
            "holdout": [
                holdout_window.start.date().isoformat(),
                holdout_window.end.date().isoformat(),
            ],
            "train_examples": len(train_examples),
            "holdout_examples": len(holdout),
        },
        "validation": {"success": validation.success, "rows": validation.checked},
        "holdout": holdout_evaluation.metrics,
        "comparison": comparison(holdout_evaluation),
        "beats_baselines": beats_baselines(holdout_evaluation),
        "backtest": backtest,
        "data_fingerprint": metadata["data_fingerprint"],
        "code_version": tracking.code_version(),
        "compute": {
            "backend": "local" if cluster is None else "dask",
            "workers": 1 if cluster is None else cluster.workers,
            "partitions": 1 if cluster is None else cluster.partitions,
        },
    }

    signature_input = everything.features.head(50)
    signature = infer_signature(
        signature_input, registered.predict(signature_input)[list(SCORE_COLUMNS)]
    )
    with mlflow.start_run(run_name=f"train-{metadata['as_of']}") as run:
        mlflow.log_params(
            {
                "as_of": metadata["as_of"],
                "seed": config.seed,
                "late_after_days": config.targets.late_after_days,
                "default_after_days": config.targets.default_after_days,
                "n_estimators": config.models.lightgbm.n_estimators,
                "learning_rate": config.models.lightgbm.learning_rate,
                "num_leaves": config.models.lightgbm.num_leaves,
                "holdout_days": config.evaluation.holdout_days,
                "label_maturity_days": config.evaluation.label_maturity_days,
                "refit_on_full_history": config.registry.refit_on_full_history,
                "compute_backend": report["compute"]["backend"],
            }
        )
        mlflow.set_tags(
            {
                "data_fingerprint": metadata["data_fingerprint"],
                "git_commit": metadata["git_commit"],
                "git_dirty": metadata["git_dirty"],
                "payrisk_version": metadata["package"],
            }
        )
        mlflow.log_dict(config.model_dump(mode="json"), "config/train.json")
        mlflow.log_dict(
            {"success": validation.success, "rows": validation.checked}, "validation.json"
        )
        mlflow.log_metrics(holdout_evaluation.flat("holdout_"))
        mlflow.log_metric("gate_new_value", new_value)
        if champion_value is not None:
            mlflow.log_metric("gate_champion_value", champion_value)
        for fold, values in enumerate(backtest):
            mlflow.log_metrics({k: v for k, v in values.items() if isinstance(v, float)}, step=fold)
        _log_figures(holdout_evaluation, importance, config)
        model_info = mlflow.pyfunc.log_model(
            name="scorer",
            python_model=PayriskModel(registered),
            signature=signature,
            input_example=signature_input.head(3),
            registered_model_name=model_name,
        )
        version = str(model_info.registered_model_version)
        # Local copy, then the alias, then the local pointer: a run killed in between leaves at
        # most an unused copy, never a champion the service cannot find when the registry is down.
        tracking.save_local_copy(
            model_name,
            version,
            PayriskModel(registered),
            signature=signature,
            input_example=signature_input.head(3),
        )
        tracking.set_alias(model_name, version, decision.alias)
        if decision.alias == tracking.CHAMPION:
            tracking.point_local_champion(model_name, version)
        report["registry"] = {"model_name": model_name, "version": version, **decision.as_dict()}
        report["run_id"] = run.info.run_id
        mlflow.log_dict(report["registry"], "registry_decision.json")
        mlflow.log_dict(report, "report.json")
    if report_json:
        write_json(report_json, report)
    return report


def render_report(report: dict) -> str:
    lines = [
        f"Trained on data as of {report['as_of']}: "
        f"{report['windows']['train_examples']:,} training "
        f"snapshots, {report['windows']['holdout_examples']:,} in the holdout "
        f"{report['windows']['holdout'][0]} .. {report['windows']['holdout'][1]}",
        "Holdout (LightGBM vs baselines):",
    ]
    for target in CLASSIFICATION_TARGETS:
        for model, values in report["holdout"][target].items():
            lines.append(
                f"  {target:<8} {model:<16} ROC AUC {values['roc_auc']:.3f}"
                f"  PR AUC {values['pr_auc']:.3f}"
                f"  Brier {values['brier']:.4f}  log loss {values['log_loss']:.4f}"
                f"  calib. err {values['calibration_error']:.4f}"
            )
    payment = report["holdout"]["payment"]
    lines.append(
        f"  payment  lightgbm         MAE {payment['lightgbm']['mae_days']:.1f} days, "
        f"interval coverage {payment['lightgbm'].get('interval_coverage', float('nan')):.0%}"
    )
    if "average_delay" in payment:
        lines.append(
            f"  payment  average_delay    MAE {payment['average_delay']['mae_days']:.1f} days "
            f"(baseline / model = {payment['lightgbm']['baseline_mae_ratio']:.2f}x)"
        )
    lines.append(f"Beats baselines: {report['beats_baselines']}")
    registry = report.get("registry", {})
    if registry:
        lines.append(
            f"Registered {registry['model_name']} v{registry['version']} as {registry['alias']}: "
            f"{registry['reason']}"
        )
    return "\n".join(lines)
