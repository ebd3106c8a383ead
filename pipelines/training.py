"""`payrisk train`: validate, build examples, fit, evaluate, backtest, track, register, gate.

Each step below is one named function of one level; `train` only chains them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from payrisk.core import progress
from payrisk.core.config import TrainConfig
from payrisk.core.storage import write_json
from payrisk.data.loading import Dataset, read_tables, to_dataset
from payrisk.data.receivables import as_timestamp, default_as_of
from payrisk.data.validation import ValidationReport, validate_tables
from payrisk.features.history import build_history
from payrisk.models.effects import (
    EffectExamples,
    EffectModels,
    EffectsNotLearnableError,
    effect_examples,
    fit_effect_models,
    unit_outcomes,
)
from payrisk.models.evaluation import (
    calibration_figure,
    calibration_table,
    importance_figure,
    precision_recall_figure,
    roc_figure,
)
from payrisk.models.gate import CHAMPION, GateDecision, decide, gate_inputs
from payrisk.models.monitoring import REFERENCE_KEY, fit_reference
from payrisk.models.scorer import SCORE_COLUMNS, PaymentRiskScorer, PayriskModel
from payrisk.models.training import (
    AGE_GROUPS,
    CLASSIFICATION_TARGETS,
    HEADLINE,
    MODEL,
    SEGMENTS,
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
from payrisk.policy.config import DunningConfig
from payrisk.policy.offpolicy import evaluate_learned_policy, render_evaluation
from payrisk.scaleout.dask import Cluster, ComputeOverrides, compute_session, snapshot_features
from pipelines import tracking
from pipelines.catalog import Catalog

GROUP_LABELS = {**AGE_GROUPS, **SEGMENTS}
RATE_BASELINES = ("logistic", "historical_rate")  # the console's column order


def holdout_importance(scorer: PaymentRiskScorer, holdout: Examples) -> dict[str, pd.Series]:
    """Mean |contribution| of each feature on (up to 5,000 of) the holdout rows of each target
    (TreeSHAP for LightGBM, weight x deviation for the logistic regression)."""
    importance = {}
    for target in CLASSIFICATION_TARGETS:
        sample = holdout.features.loc[holdout.known(target), list(scorer.feature_columns)]
        sample = sample.head(5000)
        if len(sample):
            contributions = scorer.contributions(sample, target).drop(columns="bias")
            importance[target] = contributions.abs().mean().sort_values(ascending=False)
    return importance


def _log_figures(evaluation, importance: dict[str, pd.Series], config: TrainConfig) -> None:
    for target in CLASSIFICATION_TARGETS:
        frame = evaluation.predictions[target]
        y = frame["y"].to_numpy()
        scores = {name: frame[name].to_numpy() for name in frame.columns if name != "y"}
        if len(np.unique(y)) < 2 or target not in importance:
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


def _log_policy_evaluation(evaluation: dict) -> None:
    """The holdout off-policy estimates as metrics, the table and the whole report."""
    for name, values in evaluation["policies"].items():
        for estimator in ("ips", "dr"):
            mlflow.log_metric(f"policy_{name}_{estimator}_value", values[estimator]["value"])
        mlflow.log_metric(f"policy_{name}_cost_per_decision", values["cost_per_decision"])
    mlflow.log_dict(evaluation, "policy/evaluation.json")
    mlflow.log_text(render_evaluation(evaluation), "policy/evaluation.md")


def model_card(
    evaluation: Evaluation,
    importance: dict[str, pd.Series],
    models: dict,
    config: TrainConfig,
) -> dict:
    """What the model page shows, carried by the registered scorer itself: which model answers
    each target (and which could not be learned), holdout metrics against the baselines overall
    and by snapshot age and customer segment, reliability curves and the top features."""
    card: dict = {
        "models": models,
        "holdout_metrics": evaluation.metrics,
        "holdout_by_group": evaluation.groups,
        # The gate's and the README's figure: per snapshot age, averaged over the ages.
        "headline": evaluation.headline,
        "headline_is": HEADLINE,
        # What the model page flags: the checks at issue, where the decision is taken (every
        # age is in baseline_checks_by_group).
        "baseline_checks": evaluation.group_checks.get("at_issue", {}),
        "baseline_checks_by_group": evaluation.group_checks,
        "comparison": comparison(evaluation),
        "calibration": {},
        "top_features": {t: v.head(15).round(6).to_dict() for t, v in importance.items()},
        "declared_features": [d.model_dump() for d in config.features.declared],
        "default_after_days": config.targets.default_after_days,
    }
    for target in CLASSIFICATION_TARGETS:
        frame = evaluation.predictions[target]
        if frame["y"].nunique() == 2:
            card["calibration"][target] = calibration_table(
                frame["y"].to_numpy(),
                frame[MODEL].to_numpy(),
                config.evaluation.calibration_bins,
            ).to_dict("list")
    return card


def not_learnable(models: dict) -> dict[str, str]:
    """Targets answered by their calibrated prior because they could not be learned, and why."""
    return {
        target: summary["not_learnable"]
        for target, summary in models.items()
        if summary.get("not_learnable")
    }


def flags(evaluation: Evaluation, models: dict, effects: EffectTraining | None = None) -> list[str]:
    """What a data scientist must read before trusting the run, in plain words."""
    out = [
        f"{target}: not learnable ({why}); "
        + (
            "dates from the life table (the share paid in each band of days past due)"
            if target == "payment"
            else "scored with its calibrated prior (the customer's own rate, shrunk towards "
            "the population's)"
        )
        for target, why in not_learnable(models).items()
    ]
    checks = {f" {AGE_GROUPS.get(g, g)}": c for g, c in evaluation.group_checks.items()}
    for group, per_target in checks.items():
        for target, rows in per_target.items():
            for row in rows:
                if row["worse_beyond_noise"]:
                    out.append(
                        f"{target}: the registered model is worse than the "
                        f"{row['best_baseline']} baseline on the holdout {row['metric']}{group} "
                        f"({row['model']:.3f} vs {row['baseline']:.3f}; noise {row['noise']:.3f})"
                    )
    if effects is not None and effects.not_learnable is not None:
        out.append(
            f"channel effects: not learnable from this history ({effects.not_learnable}); "
            "the dunning rules decide alone"
        )
    return out


@dataclass(frozen=True)
class TrainingData:
    """The validated data, its as-of date, and every snapshot split into the two windows."""

    dataset: Dataset
    validation: ValidationReport
    as_of: pd.Timestamp
    everything: Examples  # all snapshots with their features (labels per window below)
    train: Examples
    holdout: Examples
    train_window: Window
    holdout_window: Window


def load_training_data(
    data_dir: str | Path, as_of: str | None, config: TrainConfig, cluster: Cluster | None
) -> TrainingData:
    """Read and validate the data, build every snapshot's features, split by time."""
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
    return TrainingData(
        dataset, validation, when, everything, train_examples, holdout, train_window, holdout_window
    )


def run_metadata(data: TrainingData, data_dir: str | Path) -> dict:
    """What identifies the run: dates, windows, data fingerprint and code version."""
    return {
        "as_of": data.as_of.date().isoformat(),
        "trained_until": data.train_window.end.date().isoformat(),
        "holdout": [
            data.holdout_window.start.date().isoformat(),
            data.holdout_window.end.date().isoformat(),
        ],
        # Same window and data but other snapshot settings are other snapshots: the gate
        # compares pre-refit figures only when this count matches too.
        "holdout_snapshots": len(data.holdout),
        "data_start": data.dataset.invoices["issue_date"].min().date().isoformat(),
        # The service refuses other currencies unless the policy converts them.
        "currencies": sorted(data.dataset.invoices["currency"].dropna().astype(str).unique()),
        "data_fingerprint": tracking.data_fingerprint(data_dir),
        **tracking.code_version(),
    }


def rolling_backtest(data: TrainingData, config: TrainConfig) -> list[dict]:
    """The same fit and evaluation at earlier cut-offs."""
    backtest = []
    invoices = data.dataset.invoices
    cutoffs = backtest_cutoffs(data.as_of, config)
    with progress.step("folds", total=len(cutoffs)) as folds:
        for fold_train, fold_test in cutoffs:
            backtest.append(_backtest_fold(data, config, invoices, fold_train, fold_test))
            folds.advance()
    return backtest


def _backtest_fold(
    data: TrainingData, config: TrainConfig, invoices: pd.DataFrame, fold_train: Window,
    fold_test: Window,
) -> dict:  # fmt: skip
    """One fold of the rolling backtest: fit before the cut-off, evaluate after it."""
    fold_train_examples = window_examples(data.everything, invoices, fold_train, config)
    fold_test_examples = window_examples(data.everything, invoices, fold_test, config)
    if len(fold_train_examples) == 0 or len(fold_test_examples) == 0:
        return {"cutoff": fold_train.end.date().isoformat(), "skipped": "no snapshot"}
    fold_scorer = fit_scorer(fold_train_examples, config)
    fold_eval = evaluate(fold_scorer, fold_test_examples, config, by_group=False)
    return {
        "cutoff": fold_train.end.date().isoformat(),
        "test_end": fold_test.end.date().isoformat(),
        "late_roc_auc": fold_eval.metrics["late"][MODEL]["roc_auc"],
        "default_roc_auc": fold_eval.metrics["default"][MODEL]["roc_auc"],
        "payment_mae_days": fold_eval.metrics["payment"][MODEL]["mae_days"],
    }


def scorer_to_register(
    data: TrainingData, scorer: PaymentRiskScorer, metadata: dict, config: TrainConfig
) -> PaymentRiskScorer:
    """The evaluated scorer, or the same model families refitted on the whole history (the
    choice between candidates is not made again: what serves is what the holdout measured)."""
    if not config.registry.refit_on_full_history:
        return scorer
    full = window_examples(
        data.everything, data.dataset.invoices, Window(None, data.as_of, data.as_of), config
    )
    summary = scorer.model_summary()
    families = {target: summary[target]["model"] for target in ("late", "default_given_late")}
    return fit_scorer(
        full, config, {**metadata, "trained_until": data.as_of.date().isoformat()}, families
    )


@dataclass(frozen=True)
class EffectTraining:
    """The channel-effect models to register and their holdout policy evaluation; or, for a
    history too small to compare channels, why not (the dunning rules then decide alone)."""

    models: EffectModels | None
    evaluation: dict | None
    not_learnable: str | None = None


def censored_at(examples: EffectExamples, invoices: pd.DataFrame, when: pd.Timestamp):
    """The same decision units with outcomes as known at `when` (the training cut-off)."""
    outcomes = {
        days: unit_outcomes(examples.units, invoices, when, days) for days in examples.outcomes
    }
    return EffectExamples(examples.units, examples.features, outcomes)


def effect_split(
    dataset: Dataset, as_of: pd.Timestamp, config: TrainConfig
) -> tuple[EffectExamples, EffectExamples, EffectExamples]:
    """Every decision unit before the holdout's end (outcomes known at `as_of`), and the risk
    models' time split of them: training units before the cut-off with outcomes as known then,
    holdout units after it."""
    train_window, holdout_window = split_windows(as_of, config)
    invoices, reminders = dataset.invoices, dataset.reminders
    history = build_history(dataset, as_of, config.targets, config.features)
    everything = effect_examples(
        invoices, reminders, history, holdout_window.end, as_of, config.effects
    )
    day = everything.units["snapshot_date"]
    cutoff = train_window.end
    train = censored_at(everything.subset((day < cutoff).to_numpy()), invoices, cutoff)
    return everything, train, everything.subset((day >= cutoff).to_numpy())


def train_effects(
    data: TrainingData,
    scorer: PaymentRiskScorer,
    config: TrainConfig,
    dunning: DunningConfig,
) -> EffectTraining | None:
    """Channel effects with the risk models' time split: fitted on decisions before the holdout
    cut-off (outcomes known then), the learned policy evaluated off-policy on the holdout's
    decisions, then refitted on every decision for the registered version (when the risk models
    are). None when effects are disabled."""
    settings = config.effects
    if not settings.enabled:
        return None
    everything, train, holdout = effect_split(data.dataset, data.as_of, config)
    try:
        fitted = fit_effect_models(
            train.features, train.units, train.outcomes, settings, config.seed
        )
        default = scorer.predict_arrays(holdout.features)["default_probability"]
        evaluation = evaluate_learned_policy(
            fitted.for_days(dunning.policy.response_days),
            holdout,
            data.dataset.reminders,
            default,
            dunning,
            settings,
            config.seed,
        )
        if config.registry.refit_on_full_history:
            fitted = fit_effect_models(
                everything.features, everything.units, everything.outcomes, settings, config.seed
            )
    except EffectsNotLearnableError as why:  # too few reminders to train or to evaluate on
        return EffectTraining(None, None, str(why))
    return EffectTraining(fitted, evaluation)


def gate_against_champion(
    catalog: Catalog,
    scorer: PaymentRiskScorer,
    evaluation: Evaluation,
    holdout: Examples,
    metadata: dict,
    config: TrainConfig,
) -> GateDecision:
    version, champion = catalog.load_champion_for_gate()
    inputs = gate_inputs(champion, version, scorer, evaluation, holdout, metadata, config)
    return decide(inputs, config.registry.gate_metric, config.registry.min_improvement)


def run_report(
    data: TrainingData,
    evaluation: Evaluation,
    backtest: list[dict],
    metadata: dict,
    cluster: Cluster | None,
    models: dict,
    registered: PaymentRiskScorer,
    effects: EffectTraining | None,
) -> dict:
    """What the console, report.json and the MLflow run say: `models` are the evaluated ones,
    `registered_models` what serves (after a refit), and the channel effects' evaluation or why
    they could not be learned."""
    report = {
        "models": models,
        "not_learnable": not_learnable(models),
        "flags": flags(evaluation, models, effects),
        "as_of": metadata["as_of"],
        "windows": {
            "train_snapshots_before": data.train_window.end.date().isoformat(),
            "holdout": metadata["holdout"],
            "train_examples": len(data.train),
            "holdout_examples": len(data.holdout),
        },
        "validation": {"success": data.validation.success, "rows": data.validation.checked},
        "holdout": evaluation.metrics,
        "holdout_by_group": evaluation.groups,
        "headline": evaluation.headline,
        "baseline_checks_by_group": evaluation.group_checks,
        "comparison": comparison(evaluation),
        "beats_baselines": beats_baselines(evaluation),
        "backtest": backtest,
        "data_fingerprint": metadata["data_fingerprint"],
        "code_version": {k: metadata[k] for k in ("package", "git_commit", "git_dirty")},
        "compute": {
            "backend": "local" if cluster is None else "dask",
            "workers": 1 if cluster is None else cluster.workers,
            "partitions": 1 if cluster is None else cluster.partitions,
        },
        "registered_models": registered.metadata["registered_models"],
    }
    if effects is not None and effects.models is not None:
        report["policy_evaluation"] = effects.evaluation
    elif effects is not None:
        report["effects_not_learnable"] = effects.not_learnable
    return report


def card_registered(
    registered: PaymentRiskScorer,
    models: dict,
    evaluation: Evaluation,
    importance: dict[str, pd.Series],
    effects: EffectTraining | None,
    everything: Examples,
    config: TrainConfig,
) -> None:
    """What the registered scorer carries for the model page. What was evaluated is the
    pre-refit scorer (`models`); what serves is the refitted one (it may have learned a target
    the evaluated one could not): the card says both. The channel effects ride along."""
    registered.metadata.update(model_card(evaluation, importance, models, config))
    registered.metadata["registered_models"] = registered.model_summary()
    # What `payrisk monitor` compares today's snapshots with: the bins and shares of the features
    # and scores of what this model learned from last (see payrisk.models.monitoring).
    registered.metadata[REFERENCE_KEY] = fit_reference(
        registered,
        everything,
        pd.Timestamp(registered.metadata["trained_until"]),
        config.snapshots,
        config.monitoring,
    )
    if effects is not None and effects.models is not None:
        registered.effects = effects.models
        registered.metadata["effects"] = effects.models.summary()
        registered.metadata["policy_evaluation"] = effects.evaluation


def log_run_and_register(
    catalog: Catalog,
    report: dict,
    registered: PaymentRiskScorer,
    decision: GateDecision,
    evaluation: Evaluation,
    importance: dict[str, pd.Series],
    data: TrainingData,
    metadata: dict,
    config: TrainConfig,
) -> dict:
    """One MLflow run (params, tags, config, metrics, plots, model), then the registry: local
    copy first, then the alias, then the local pointer, so a run killed in between leaves at
    most an unused copy, never a champion the service cannot find when the registry is down."""
    experiment_id = tracking.setup(catalog.tracking_uri, config.registry.experiment)
    model_name = catalog.model_name
    signature_input = data.everything.features.head(50)
    signature = infer_signature(
        signature_input, registered.predict(signature_input)[list(SCORE_COLUMNS)]
    )
    # The whole resolved config, flattened, so that runs compare setting by setting.
    params = {
        **tracking.flatten(config.model_dump(mode="json")),
        "as_of": metadata["as_of"],
        "compute_backend": report["compute"]["backend"],
    }
    name = tracking.run_name(metadata["as_of"], tracking.previous_params(experiment_id), params)
    with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
        tracking.log_params(params)
        mlflow.set_tags(
            {
                "data_fingerprint": metadata["data_fingerprint"],
                "git_commit": metadata["git_commit"],
                "git_dirty": metadata["git_dirty"],
                "payrisk_version": metadata["package"],
                **{f"model_{t}": m["model"] for t, m in report["models"].items()},
                "not_learnable": ", ".join(report["not_learnable"]) or "none",
                "flags": " | ".join(report["flags"]) or "none",
            }
        )
        mlflow.log_dict(report["models"], "models.json")
        mlflow.log_dict(report["holdout_by_group"], "holdout_by_group.json")
        mlflow.log_dict(config.model_dump(mode="json"), "config/train.json")
        mlflow.log_dict(report["validation"], "validation.json")
        mlflow.log_metrics(evaluation.flat("holdout_"))
        mlflow.log_metrics(
            {
                f"headline_{target}_{model}_{metric}": value
                for target, per_model in report["headline"].items()
                for model, values in per_model.items()
                if model != "ages"
                for metric, value in values.items()
                if np.isfinite(value)
            }
        )
        if np.isfinite(decision.new_value):
            mlflow.log_metric("gate_new_value", decision.new_value)
        if decision.champion_value is not None:
            mlflow.log_metric("gate_champion_value", decision.champion_value)
        for fold, values in enumerate(report["backtest"]):  # named apart from the holdout's
            mlflow.log_metrics(
                {f"backtest_{k}": v for k, v in values.items() if isinstance(v, float)}, step=fold
            )
        _log_figures(evaluation, importance, config)
        if "policy_evaluation" in report:
            _log_policy_evaluation(report["policy_evaluation"])
        model_info = mlflow.pyfunc.log_model(
            name="scorer",
            python_model=PayriskModel(registered),
            signature=signature,
            input_example=signature_input.head(3),
            registered_model_name=model_name,
            pip_requirements=tracking.model_requirements(),
        )
        version = str(model_info.registered_model_version)
        catalog.save_local_copy(
            version,
            PayriskModel(registered),
            signature=signature,
            input_example=signature_input.head(3),
            pip_requirements=tracking.model_requirements(),
        )
        tracking.set_alias(model_name, version, decision.alias)
        tracking.describe_version(model_name, version, decision.as_dict())
        if decision.alias == CHAMPION:
            catalog.point_local_champion(version)
        registry = {"model_name": model_name, "version": version, **decision.as_dict()}
        report = {**report, "registry": registry, "run_id": run.info.run_id}
        mlflow.log_dict(registry, "registry_decision.json")
        mlflow.log_dict(report, "report.json")
    return report


def train(
    catalog: Catalog,
    data_dir: str | Path,
    as_of: str | None = None,
    report_json: str | Path | None = None,
    compute: ComputeOverrides | None = None,
) -> dict:
    """Train, evaluate and register a scorer; return the run report.

    `compute` overrides the config's `compute` section (local, or Dask: features over customer
    partitions and LightGBM's Dask estimators; see `payrisk.scaleout`).
    """
    config = catalog.train_config
    settings = (compute or ComputeOverrides()).apply(
        config.compute, catalog.settings.dask_scheduler_address
    )
    catalog.check_registry()  # a store that cannot be one stops the run now, not after the fit
    with progress.steps("train", 10) as stage:
        with compute_session(settings) as cluster:
            with stage("read, validate, build every snapshot's features"):
                data = load_training_data(data_dir, as_of, config, cluster)
                metadata = run_metadata(data, data_dir)
            with stage(f"fit on {len(data.train):,} snapshots"):
                scorer = fit_scorer(data.train, config, metadata)
            with stage(f"evaluate on {len(data.holdout):,} holdout snapshots"):
                baselines = fit_baselines(data.train, config)
                evaluation = evaluate(scorer, data.holdout, config, baselines)
            with stage("rolling backtest"):
                backtest = rolling_backtest(data, config)
            with stage("fit the model to register"):
                registered = scorer_to_register(data, scorer, metadata, config)
            with stage("channel effects"):
                effects = train_effects(data, scorer, config, catalog.dunning_config)
            with stage("feature importance"):
                importance = holdout_importance(scorer, data.holdout)
                models = scorer.model_summary()
                card_registered(
                    registered, models, evaluation, importance, effects, data.everything, config
                )
            with stage("registry gate"):
                decision = gate_against_champion(
                    catalog, scorer, evaluation, data.holdout, metadata, config
                )
            with stage("report"):
                report = run_report(
                    data, evaluation, backtest, metadata, cluster, models, registered, effects
                )
        with stage("log to MLflow and register"):
            report = log_run_and_register(
                catalog, report, registered, decision, evaluation, importance, data, metadata,
                config,
            )  # fmt: skip
    if report_json:
        write_json(report_json, report)
    return report


def _cell(value: float | None, digits: int = 3) -> str:
    return "   -  " if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def render_report(report: dict) -> str:
    """The console summary: models chosen, holdout against the baselines overall and by snapshot
    age and segment, flags, and the registry's decision."""
    lines = [
        f"Trained on data as of {report['as_of']}: "
        f"{report['windows']['train_examples']:,} training "
        f"snapshots, {report['windows']['holdout_examples']:,} in the holdout "
        f"{report['windows']['holdout'][0]} .. {report['windows']['holdout'][1]}",
        "Models (chosen on the latest training slice, never on the holdout):",
    ]
    for target, summary in report["models"].items():
        if not summary["learnable"]:
            fallback = "life table" if target == "payment" else "calibrated prior"
            lines.append(f"  {target:<19} {fallback}: NOT LEARNABLE, {summary['not_learnable']}")
            continue
        if target == "payment":
            lines.append(
                f"  {target:<19} discrete-time hazard ({summary['bands']} bands of days past "
                f"due, {summary['snapshots']:,} snapshots), interval levels "
                f"{summary['interval_levels'][0]:.2f}-{summary['interval_levels'][1]:.2f}"
            )
            continue
        judged = ", ".join(
            f"{name} {values['log_loss']:.3f}"
            for name, values in summary["candidates"].items()
            if values.get("eligible") and "log_loss" in values
        )
        line = f"  {target:<19} {summary['model']:<9} (log loss on the slice: {judged})"
        served = report.get("registered_models", {}).get(target, {}).get("model")
        if served is not None and served != summary["model"]:  # the refit chose again
            line += f"; refitted on the whole history for serving: {served}"
        lines.append(line)
    header = (
        f"  {'snapshots':<24}{'n':>6}  {'late ROC AUC':^22}  {'default ROC AUC':^22}  "
        f"{'payment MAE (days)':^19}  cover"
    )
    lines += [
        "Holdout: model / logistic / historical rate; payment: model / due date + average delay",
        header,
    ]

    def row(label: str, metrics: dict) -> str:
        cells = []
        for target in CLASSIFICATION_TARGETS:
            per = metrics.get(target, {})
            cells.append(
                " ".join(
                    _cell(per.get(m, {}).get("roc_auc"))
                    for m in (MODEL, "logistic", "historical_rate")
                )
            )
        payment = metrics.get("payment", {})
        n = payment.get(MODEL, {}).get("n") or max(
            (metrics.get(t, {}).get(MODEL, {}).get("n") or 0 for t in CLASSIFICATION_TARGETS),
            default=0,
        )
        pay = (
            f"{_cell(payment.get(MODEL, {}).get('mae_days'), 1):>6} / "
            f"{_cell(payment.get('average_delay', {}).get('mae_days'), 1):>6}"
        )
        coverage = payment.get(MODEL, {}).get("interval_coverage")
        cover = "  -" if coverage is None or not np.isfinite(coverage) else f"{coverage:.0%}"
        return f"  {label:<24}{int(n):>6}  {cells[0]:^22}  {cells[1]:^22}  {pay:^19}  {cover}"

    for group, metrics in report.get("holdout_by_group", {}).items():
        lines.append(row(GROUP_LABELS.get(group, group), metrics))
    lines.append(row("all ages pooled", report["holdout"]))
    payment = report["holdout"]["payment"]
    ratio = payment.get(MODEL, {}).get("baseline_mae_ratio", float("nan"))
    if "average_delay" in payment and np.isfinite(ratio):
        lines.append(
            f"  payment date: the model's error is {ratio:.2f}x smaller than due date + the "
            "customer's average delay"
            if ratio >= 1
            else f"  payment date: the model's error is {1 / ratio:.2f}x LARGER than due date + "
            "the customer's average delay"
        )
    headline = report.get("headline", {})
    lines.append(
        f"Headline ({HEADLINE}): "
        + "; ".join(
            f"{target} ROC AUC {_cell(per[MODEL]['roc_auc'])}, log loss "
            f"{_cell(per[MODEL]['log_loss'])} ("
            + ", ".join(GROUP_LABELS[g] for g in per["ages"])
            + ")"
            for target, per in headline.items()
        )
    )
    lines.append(
        "Beats both baselines: "
        + "; ".join(
            f"{GROUP_LABELS[group]} "
            + ", ".join(f"{target} {'yes' if ahead else 'NO'}" for target, ahead in verdict.items())
            for group, verdict in report["beats_baselines"].items()
        )
    )
    for flag in report.get("flags", []):
        lines.append(f"WARNING: {flag}")
    if "policy_evaluation" in report:
        lines.append("Dunning policy on the holdout's decisions:")
        lines.append(render_evaluation(report["policy_evaluation"]))
    registry = report.get("registry", {})
    if registry:
        lines.append(
            f"Registered {registry['model_name']} v{registry['version']} as {registry['alias']}: "
            f"{registry['reason']}"
        )
    return "\n".join(lines)
