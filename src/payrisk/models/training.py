"""Training steps: examples, fitting, holdout evaluation and the rolling backtest (no I/O).

Time-based throughout. With E the data's as-of date, M the label maturity and H the holdout length:
- training snapshots are dated before T = E - M - H, with labels as known at T;
- holdout snapshots are dated in [T, E - M), with labels as known at E;
- backtest folds repeat this at earlier cut-offs.
Nothing dated after a cut-off reaches the models trained at it: features are point-in-time (see
`payrisk.features`) and labels are censored at the cut-off (see `payrisk.labels`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from payrisk.core.config import TrainConfig
from payrisk.models.evaluation import classification_metrics, payment_metrics
from payrisk.models.labels import mature_only, outcome_labels
from payrisk.models.estimators import (
    AverageDelayBaseline,
    CalibratedLGBMClassifier,
    HistoricalRateBaseline,
    QuantileLGBMRegressor,
    logistic_baseline,
)
from payrisk.models.scorer import PaymentRiskScorer

CLASSIFICATION_TARGETS: tuple[str, ...] = ("late", "default")


class InsufficientHistoryError(ValueError):
    """The data is too short for the configured training and holdout windows."""


BASELINE_RATE_FEATURE = {"late": "late_share", "default": "default_share"}


@dataclass(frozen=True)
class Examples:
    """Snapshots with their features and labels (NaN where unknown), sorted by snapshot date."""

    queries: pd.DataFrame
    features: pd.DataFrame
    labels: pd.DataFrame

    def __len__(self) -> int:
        return len(self.queries)

    def known(self, target: str) -> np.ndarray:
        return self.labels[target].notna().to_numpy()

    def subset(self, mask: np.ndarray) -> Examples:
        return Examples(
            self.queries.loc[mask].reset_index(drop=True),
            self.features.loc[mask].reset_index(drop=True),
            self.labels.loc[mask].reset_index(drop=True),
        )


@dataclass(frozen=True)
class Window:
    """Snapshots dated in [start, end), labelled with what was known at `labels_known_at`."""

    start: pd.Timestamp | None
    end: pd.Timestamp
    labels_known_at: pd.Timestamp


def split_windows(as_of: pd.Timestamp, config: TrainConfig) -> tuple[Window, Window]:
    evaluation = config.evaluation
    holdout_end = as_of - pd.Timedelta(days=evaluation.label_maturity_days)
    cutoff = holdout_end - pd.Timedelta(days=evaluation.holdout_days)
    return Window(None, cutoff, cutoff), Window(cutoff, holdout_end, as_of)


def window_examples(
    everything: Examples, invoices: pd.DataFrame, window: Window, config: TrainConfig
) -> Examples:
    """The snapshots of `everything` dated in the window, labelled as known at its label date.

    Features are computed once for all snapshots (they are point-in-time, so the same whatever
    the window); only the labels depend on the window's cut-off.
    """
    dates = everything.queries["snapshot_date"]
    mask = (dates < window.end).to_numpy()
    if window.start is not None:
        mask = mask & (dates >= window.start).to_numpy()
    queries = everything.queries.loc[mask].reset_index(drop=True)
    labels = outcome_labels(queries, invoices, window.labels_known_at, config.targets)
    labels = mature_only(labels, queries, window.labels_known_at, config.targets)
    return Examples(queries, everything.features.loc[mask].reset_index(drop=True), labels)


def _lightgbm_params(config: TrainConfig, target: str) -> tuple[dict, int]:
    """LightGBM keyword arguments for a target, and its early-stopping patience."""
    params = config.models.lightgbm_for(target).model_dump()
    return params, params.pop("early_stopping_rounds")


def fit_scorer(
    train: Examples, config: TrainConfig, metadata: dict | None = None
) -> PaymentRiskScorer:
    """Fit the late, default and payment-date models on the known labels of `train`."""
    models = config.models
    classifiers = {}
    for target in CLASSIFICATION_TARGETS:
        known = train.known(target)
        params, patience = _lightgbm_params(config, target)
        classifiers[target] = CalibratedLGBMClassifier(
            lightgbm_params=params,
            early_stopping_rounds=patience,
            balance_classes=models.balance_classes,
            calibration=models.calibration,
            calibration_fraction=models.calibration_fraction,
            monotone_increasing=models.monotone_increasing,
            random_state=config.seed,
        ).fit(train.features.loc[known], train.labels.loc[known, target].to_numpy())
    known = train.known("days_to_payment")
    params, patience = _lightgbm_params(config, "payment")
    payment = QuantileLGBMRegressor(
        quantiles=config.targets.payment_quantiles,
        lightgbm_params=params,
        early_stopping_rounds=patience,
        validation_fraction=models.calibration_fraction,
        random_state=config.seed,
    ).fit(train.features.loc[known], train.labels.loc[known, "days_to_payment"].to_numpy())
    return PaymentRiskScorer(
        targets=config.targets,
        feature_settings=config.features,
        late_model=classifiers["late"],
        default_model=classifiers["default"],
        payment_model=payment,
        metadata=dict(metadata or {}),
    )


@dataclass
class Baselines:
    rate: dict[str, HistoricalRateBaseline] = field(default_factory=dict)
    logistic: dict[str, object] = field(default_factory=dict)
    payment: AverageDelayBaseline | None = None


def fit_baselines(train: Examples, config: TrainConfig) -> Baselines:
    baselines = Baselines()
    for target in CLASSIFICATION_TARGETS:
        known = train.known(target)
        x, y = train.features.loc[known], train.labels.loc[known, target].to_numpy()
        baselines.rate[target] = HistoricalRateBaseline(BASELINE_RATE_FEATURE[target]).fit(x, y)
        baselines.logistic[target] = logistic_baseline(
            x, config.models.logistic_c, config.seed
        ).fit(x, y)
    known = train.known("days_to_payment")
    baselines.payment = AverageDelayBaseline().fit(
        train.features.loc[known], train.labels.loc[known, "days_to_payment"].to_numpy()
    )
    return baselines


@dataclass
class Evaluation:
    """Holdout metrics per target and model, and the predictions behind the plots."""

    metrics: dict[str, dict[str, dict[str, float]]]
    predictions: dict[str, pd.DataFrame]

    def flat(self, prefix: str = "") -> dict[str, float]:
        """`{target}_{model}_{metric}` for MLflow."""
        return {
            f"{prefix}{target}_{model}_{name}": value
            for target, per_model in self.metrics.items()
            for model, values in per_model.items()
            for name, value in values.items()
            if np.isfinite(value)
        }


def evaluate(
    scorer: PaymentRiskScorer,
    holdout: Examples,
    config: TrainConfig,
    baselines: Baselines | None = None,
) -> Evaluation:
    """Score the holdout with the scorer (and baselines) and compute every metric."""
    evaluation = config.evaluation
    scores = scorer.predict(holdout.features)
    amount = holdout.queries["amount"].to_numpy(dtype="float64")
    metrics: dict[str, dict[str, dict[str, float]]] = {}
    predictions: dict[str, pd.DataFrame] = {}
    for target in CLASSIFICATION_TARGETS:
        known = holdout.known(target)
        y = holdout.labels.loc[known, target].to_numpy().astype("int64")
        x = holdout.features.loc[known]
        candidates = {"lightgbm": scores.loc[known, f"{target}_probability"].to_numpy()}
        if baselines is not None:
            candidates["historical_rate"] = baselines.rate[target].predict_proba(x)[:, 1]
            candidates["logistic"] = baselines.logistic[target].predict_proba(x)[:, 1]
        metrics[target] = {
            name: classification_metrics(
                y, p, amount[known], evaluation.top_shares, evaluation.calibration_bins
            )
            for name, p in candidates.items()
        }
        predictions[target] = pd.DataFrame({"y": y, **candidates})
    known = holdout.known("days_to_payment")
    days = holdout.labels.loc[known, "days_to_payment"].to_numpy()
    payment = {
        "lightgbm": payment_metrics(
            days,
            scores.loc[known, "days_to_payment"].to_numpy(),
            scores.loc[known, "days_to_payment_low"].to_numpy(),
            scores.loc[known, "days_to_payment_high"].to_numpy(),
        )
    }
    if baselines is not None and baselines.payment is not None:
        baseline_days = baselines.payment.predict(holdout.features.loc[known])
        payment["average_delay"] = payment_metrics(days, baseline_days)
        payment["lightgbm"]["baseline_mae_ratio"] = (
            payment["average_delay"]["mae_days"] / payment["lightgbm"]["mae_days"]
            if payment["lightgbm"]["mae_days"] > 0
            else float("nan")
        )
    metrics["payment"] = payment
    predictions["payment"] = pd.DataFrame(
        {"days": days, "lightgbm": scores.loc[known, "days_to_payment"].to_numpy()}
    )
    return Evaluation(metrics, predictions)


def comparison(evaluation: Evaluation) -> dict[str, dict[str, float]]:
    """How far LightGBM is ahead of each baseline, per target: what the run report states."""
    out: dict[str, dict[str, float]] = {}
    for target in CLASSIFICATION_TARGETS:
        per_model = evaluation.metrics[target]
        ours = per_model["lightgbm"]
        for baseline in ("historical_rate", "logistic"):
            if baseline not in per_model:
                continue
            theirs = per_model[baseline]
            out.setdefault(target, {}).update(
                {
                    f"roc_auc_gain_vs_{baseline}": ours["roc_auc"] - theirs["roc_auc"],
                    f"pr_auc_gain_vs_{baseline}": ours["pr_auc"] - theirs["pr_auc"],
                    f"log_loss_reduction_vs_{baseline}": theirs["log_loss"] - ours["log_loss"],
                }
            )
    payment = evaluation.metrics["payment"]["lightgbm"]
    if "baseline_mae_ratio" in payment:
        out["payment"] = {"baseline_mae_over_model_mae": payment["baseline_mae_ratio"]}
    return out


def beats_baselines(evaluation: Evaluation) -> dict[str, bool]:
    """LightGBM ahead of both baselines on ROC AUC and log loss (and on MAE for the date)."""
    verdict = {}
    for target, gains in comparison(evaluation).items():
        verdict[target] = all(v > 0 for k, v in gains.items() if "gain" in k or "reduction" in k)
        if target == "payment":
            verdict[target] = gains["baseline_mae_over_model_mae"] > 1
    return verdict


def backtest_cutoffs(as_of: pd.Timestamp, config: TrainConfig) -> list[tuple[Window, Window]]:
    """Earlier train/test splits, each test window `backtest_step_days` long and fully matured."""
    evaluation = config.evaluation
    train_window, _ = split_windows(as_of, config)
    folds = []
    for fold in range(1, evaluation.backtest_folds + 1):
        cutoff = train_window.end - pd.Timedelta(days=evaluation.backtest_step_days * fold)
        test_end = cutoff + pd.Timedelta(days=evaluation.backtest_step_days)
        labels_at = min(as_of, test_end + pd.Timedelta(days=evaluation.label_maturity_days))
        folds.append((Window(None, cutoff, cutoff), Window(cutoff, test_end, labels_at)))
    return folds
