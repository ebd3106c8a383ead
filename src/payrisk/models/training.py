"""Training steps: examples, fitting, holdout evaluation and the rolling backtest (no I/O).

Time-based throughout. With E the data's as-of date, M the label maturity and H the holdout length:
- training snapshots are dated before T = E - M - H, with labels as known at T;
- holdout snapshots are dated in [T, E - M), with labels as known at E;
- backtest folds repeat this at earlier cut-offs.
Nothing dated after a cut-off reaches the models trained at it: features are point-in-time (see
`payrisk.features`) and labels are censored at the cut-off (see `payrisk.labels`). Which model
answers each target is chosen inside the training window (`TargetClassifier`), never on the
holdout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from payrisk.core.config import TrainConfig
from payrisk.features.definitions import FeatureSet
from payrisk.models.estimators import (
    AverageDelayBaseline,
    ConstantBaseline,
    CustomerRatePrior,
    HistoricalRateBaseline,
    TargetClassifier,
    logistic_baseline,
    sized_lightgbm,
    time_split,
)
from payrisk.models.evaluation import classification_metrics, paired_bootstrap, payment_metrics
from payrisk.models.labels import TIMING, mature_only, outcome_labels
from payrisk.models.payment import PaymentHazard
from payrisk.models.scorer import PaymentRiskScorer

CLASSIFICATION_TARGETS: tuple[str, ...] = ("late", "default")
MODEL = "model"  # the registered scorer's name in metrics, beside the baselines'
BASELINES: tuple[str, ...] = ("historical_rate", "logistic")
PAYMENT_BASELINE = "average_delay"

# Snapshot ages of the evaluation: how good the score is when the decision is taken.
AGE_GROUPS: dict[str, str] = {
    "at_issue": "at issue",
    "at_due": "on the due date",
    "past_due_1_15": "1-15 days past due",
    "past_due_16_30": "16-30 days past due",
    "past_due_31_60": "31-60 days past due",
    "past_due_over_60": "over 60 days past due",
}
SEGMENTS: dict[str, str] = {
    "new_customer": "new customers",
    "known_customer": "known customers",
}
GROUP_CLASSIFICATION_METRICS = ("n", "positive_rate", "roc_auc", "pr_auc", "log_loss", "brier")
GROUP_PAYMENT_METRICS = ("n", "mae_days", "interval_coverage")
MIN_GROUP_ROWS = 30  # fewer labelled snapshots in a group say nothing


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


# --- Fitting --------------------------------------------------------------------------------------


def _lightgbm_params(config: TrainConfig, target: str, examples: int) -> tuple[dict, int]:
    """LightGBM keyword arguments for a target sized to its examples, and its patience."""
    params = config.models.lightgbm_for(target).model_dump()
    patience = params.pop("early_stopping_rounds")
    return sized_lightgbm(params, examples, config.models.reference_examples), patience


PRIORS = {
    "late": CustomerRatePrior("late_share", "settled_invoices"),
    # Defaults among late payments: the customer's defaults over its late invoices; with no late
    # payment at all there is nothing to default either.
    "default": CustomerRatePrior(
        "default_share", "settled_invoices", base_rate_feature="late_share", empty_rate=0.0
    ),
}


def fit_classifier(
    train: Examples,
    label: str,
    target: str,
    config: TrainConfig,
    features: FeatureSet,
    family: str | None = None,
) -> TargetClassifier:
    """The classifier of one target on the rows where its label is known: the best of the
    configured candidates, or only `family` (the one chosen when the model was evaluated)."""
    models = config.models
    known = train.known(label)
    fit_rows, _ = time_split(int(known.sum()), models.calibration_fraction)
    params, patience = _lightgbm_params(config, target, fit_rows.stop)
    return TargetClassifier(
        lightgbm_params=params,
        early_stopping_rounds=patience,
        balance_classes=models.balance_classes,
        calibration=models.calibration,
        calibration_fraction=models.calibration_fraction,
        monotone_increasing=models.monotone_increasing,
        categorical=features.categorical,
        candidates=models.candidates if family is None else (family,),
        logistic_c=models.logistic_c,
        prior=PRIORS[target],
        min_class_examples=models.min_class_examples,
        random_state=config.seed,
    ).fit(
        train.features.loc[known, list(features.columns)],
        train.labels.loc[known, label].to_numpy(),
    )


def fit_scorer(
    train: Examples,
    config: TrainConfig,
    metadata: dict | None = None,
    families: Mapping[str, str] | None = None,
) -> PaymentRiskScorer:
    """Fit P(late), P(default | late) and the payment-date distribution on `train`.

    `families` ({"late": "lightgbm", ...}) fixes each classifier's model family instead of
    choosing again: a refit for serving keeps the family that was evaluated on the holdout."""
    features = FeatureSet.of(config.features.declared)
    families = families or {}
    late = fit_classifier(train, "late", "late", config, features, families.get("late"))
    default_given_late = fit_classifier(
        train,
        "default_given_late",
        "default",
        config,
        features,
        families.get("default_given_late"),
    )
    params, patience = _lightgbm_params(config, "payment", len(train))
    payment = PaymentHazard(
        lightgbm_params=params,
        early_stopping_rounds=patience,
        validation_fraction=config.models.calibration_fraction,
        late_after_days=config.targets.late_after_days,
        default_after_days=config.targets.default_after_days,
        horizon_days=config.models.payment_horizon_days,
        max_snapshots=config.models.payment_max_snapshots,
        categorical=features.categorical,
        min_payments=config.models.min_class_examples,
        random_state=config.seed,
    ).fit(train.features[list(features.columns)], train.labels[list(TIMING)])
    scorer = PaymentRiskScorer(
        targets=config.targets,
        feature_settings=config.features,
        late_model=late,
        default_model=default_given_late,
        payment_model=payment,
        metadata=dict(metadata or {}),
    )
    scorer.interval_levels = calibrate_interval(scorer, train, config)
    return scorer


def calibrate_interval(
    scorer: PaymentRiskScorer, train: Examples, config: TrainConfig
) -> tuple[float, float]:
    """Levels of the interval's ends so that it holds its share of payments on the latest slice.

    The interval is read off the payment distribution at levels 0.5 -/+ h; h is chosen on the
    latest `calibration_fraction` of the paid training snapshots (time the models fitted least
    on) so that the interval covers what it claims (0.8 for the 10%-90% quantiles), and is kept
    symmetric so that the central date stays inside.
    """
    low, central, high = config.targets.payment_quantiles
    claimed = high - low
    known = np.flatnonzero(train.known("days_to_payment"))
    latest = known[time_split(len(known), config.models.calibration_fraction)[1]]
    if len(latest) < MIN_GROUP_ROWS:
        return (low, high)
    features = {name: train.features[name].to_numpy()[latest] for name in scorer.feature_columns}
    _, _, cumulative = scorer.distribution(features)
    days = train.labels["days_to_payment"].to_numpy()[latest]
    half_widths = np.linspace(0.02, min(central, 1 - central) - 1e-3, 60)
    coverage = []
    for h in half_widths:
        lo, hi = scorer.payment_days(
            cumulative, features["days_past_due"], (central - h, central + h)
        )
        coverage.append(np.mean((days >= lo) & (days <= hi)))
    best = half_widths[int(np.argmin(np.abs(np.asarray(coverage) - claimed)))]
    return (float(central - best), float(central + best))


@dataclass
class Baselines:
    rate: dict[str, object] = field(default_factory=dict)
    logistic: dict[str, object] = field(default_factory=dict)
    payment: AverageDelayBaseline | None = None


def fit_baselines(train: Examples, config: TrainConfig) -> Baselines:
    features = FeatureSet.of(config.features.declared)
    baselines = Baselines()
    for target in CLASSIFICATION_TARGETS:
        known = train.known(target)
        x = train.features.loc[known, list(features.columns)]
        y = train.labels.loc[known, target].to_numpy()
        baselines.rate[target] = HistoricalRateBaseline(BASELINE_RATE_FEATURE[target]).fit(x, y)
        if len(np.unique(y)) < 2:  # nothing to regress: the training rate
            baselines.logistic[target] = ConstantBaseline().fit(x, y)
        else:
            baselines.logistic[target] = logistic_baseline(
                x, config.models.logistic_c, config.seed, features.categorical
            ).fit(x, y)
    known = train.known("days_to_payment")
    baselines.payment = AverageDelayBaseline().fit(
        train.features.loc[known], train.labels.loc[known, "days_to_payment"].to_numpy()
    )
    return baselines


# --- Evaluation -----------------------------------------------------------------------------------


def age_groups(queries: pd.DataFrame) -> np.ndarray:
    """Each snapshot's age group (AGE_GROUPS keys)."""
    days_past_due = (queries["snapshot_date"] - queries["due_date"]).dt.days.to_numpy()
    at_issue = (queries["snapshot_date"] == queries["issue_date"]).to_numpy() & (days_past_due < 0)
    names = list(AGE_GROUPS)
    return np.select(
        [at_issue, days_past_due <= 0, days_past_due <= 15, days_past_due <= 30,
         days_past_due <= 60],
        names[:5],
        names[5],
    )  # fmt: skip


def segments(features: pd.DataFrame) -> np.ndarray:
    """new_customer where nothing of the customer was settled at the snapshot, else known."""
    new = features["is_new_customer"].to_numpy(dtype="float64") > 0
    return np.where(new, "new_customer", "known_customer")


HEADLINE_METRICS = ("roc_auc", "pr_auc", "log_loss")
HEADLINE = "mean over snapshot ages"  # how the headline and the gate's figure are made


def age_headline(groups: Mapping[str, dict]) -> dict[str, dict]:
    """Per target and model, each metric averaged over the snapshot ages (AGE_GROUPS) where
    the model's ROC AUC is defined, each age counting once; `ages` lists them.

    The headline, the gate's figure and what the README reports. Pooled over ages, age alone
    separates late payers (an invoice unpaid on its due date is late 9 times in 10), so the
    pooled AUC is above every age's own and rewards nothing the model learned."""
    out: dict[str, dict] = {}
    for target in CLASSIFICATION_TARGETS:
        per_age = {g: groups[g][target] for g in AGE_GROUPS if target in groups.get(g, {})}
        ages = [
            g
            for g, per in per_age.items()
            if np.isfinite(per.get(MODEL, {}).get("roc_auc", np.nan))
        ]
        if not ages:
            continue
        out[target] = {"ages": ages}
        for name in per_age[ages[0]]:
            out[target][name] = {
                metric: float(np.mean([per_age[g].get(name, {}).get(metric, np.nan) for g in ages]))
                for metric in HEADLINE_METRICS
            }
    return out


@dataclass
class Evaluation:
    """Holdout metrics per target and model (pooled, per age group and per customer segment),
    the headline (per-age metrics averaged over the ages), the checks against the baselines
    per age group, and the predictions behind the plots."""

    metrics: dict[str, dict[str, dict[str, float]]]
    predictions: dict[str, pd.DataFrame]
    groups: dict[str, dict[str, dict[str, dict[str, float]]]] = field(default_factory=dict)
    # The checks against the baselines per age group ({"at_issue": {target: rows}}): pooled,
    # the easy ages can hide a model that is worse than a baseline where the decision matters
    # most, at issue.
    group_checks: dict[str, dict[str, list[dict]]] = field(default_factory=dict)

    @property
    def headline(self) -> dict[str, dict]:
        return age_headline(self.groups)

    def flat(self, prefix: str = "") -> dict[str, float]:
        """`{target}_{model}_{metric}` and `{group}_{target}_{model}_{metric}` for MLflow."""
        out = {
            f"{prefix}{target}_{model}_{name}": value
            for target, per_model in self.metrics.items()
            for model, values in per_model.items()
            for name, value in values.items()
            if np.isfinite(value)
        }
        for group, per_target in self.groups.items():
            for target, per_model in per_target.items():
                for model, values in per_model.items():
                    for name, value in values.items():
                        if np.isfinite(value):
                            out[f"{prefix}{group}_{target}_{model}_{name}"] = value
        return out


def _classification_block(
    y: np.ndarray,
    candidates: dict[str, np.ndarray],
    amount: np.ndarray,
    config: TrainConfig,
    keep: tuple[str, ...] | None = None,
) -> dict[str, dict[str, float]]:
    evaluation = config.evaluation
    out = {}
    for name, p in candidates.items():
        values = classification_metrics(
            y, p, amount, evaluation.top_shares, evaluation.calibration_bins
        )
        out[name] = values if keep is None else {k: values[k] for k in keep}
    return out


def _payment_block(
    days: np.ndarray, model: dict[str, np.ndarray], baseline: np.ndarray | None
) -> dict[str, dict[str, float]]:
    out = {MODEL: payment_metrics(days, model["central"], model["low"], model["high"])}
    if baseline is not None:
        out[PAYMENT_BASELINE] = payment_metrics(days, baseline)
        mae = out[MODEL]["mae_days"]
        out[MODEL]["baseline_mae_ratio"] = (
            out[PAYMENT_BASELINE]["mae_days"] / mae if mae > 0 else float("nan")
        )
    return out


def evaluate(
    scorer: PaymentRiskScorer,
    holdout: Examples,
    config: TrainConfig,
    baselines: Baselines | None = None,
    by_group: bool = True,
) -> Evaluation:
    """Score the holdout with the scorer (and baselines) and compute every metric, overall and
    per snapshot age and customer segment."""
    features = holdout.features[list(scorer.feature_columns)]
    scores = scorer.predict(features)
    amount = holdout.queries["amount"].to_numpy(dtype="float64")
    predicted: dict[str, dict[str, np.ndarray]] = {}
    for target in CLASSIFICATION_TARGETS:
        predicted[target] = {MODEL: scores[f"{target}_probability"].to_numpy()}
        if baselines is not None:
            predicted[target]["historical_rate"] = baselines.rate[target].predict_proba(features)[
                :, 1
            ]
            predicted[target]["logistic"] = baselines.logistic[target].predict_proba(features)[:, 1]
    payment_model = {
        "central": scores["days_to_payment"].to_numpy(),
        "low": scores["days_to_payment_low"].to_numpy(),
        "high": scores["days_to_payment_high"].to_numpy(),
    }
    payment_baseline = (
        baselines.payment.predict(features)
        if baselines is not None and baselines.payment is not None
        else None
    )

    def block(rows: np.ndarray, keep_cls=None, keep_pay=None) -> dict:
        out = {}
        for target in CLASSIFICATION_TARGETS:
            known = rows & holdout.known(target)
            if keep_cls is not None and known.sum() < MIN_GROUP_ROWS:
                continue  # e.g. no late label once past due: it is already decided
            y = holdout.labels.loc[known, target].to_numpy().astype("int64")
            candidates = {name: p[known] for name, p in predicted[target].items()}
            out[target] = _classification_block(y, candidates, amount[known], config, keep_cls)
        known = rows & holdout.known("days_to_payment")
        if keep_pay is not None and known.sum() < MIN_GROUP_ROWS:
            return out
        days = holdout.labels.loc[known, "days_to_payment"].to_numpy()
        payment = _payment_block(
            days,
            {k: v[known] for k, v in payment_model.items()},
            None if payment_baseline is None else payment_baseline[known],
        )
        if keep_pay is not None:
            payment = {
                m: {k: v for k, v in values.items() if k in keep_pay}
                for m, values in payment.items()
            }
        out["payment"] = payment
        return out

    everything = np.ones(len(holdout), dtype=bool)
    metrics = block(everything)
    predictions = {}
    for target in CLASSIFICATION_TARGETS:
        known = holdout.known(target)
        predictions[target] = pd.DataFrame(
            {
                "y": holdout.labels.loc[known, target].to_numpy().astype("int64"),
                **{name: p[known] for name, p in predicted[target].items()},
            }
        )
    known = holdout.known("days_to_payment")
    predictions["payment"] = pd.DataFrame(
        {
            "days": holdout.labels.loc[known, "days_to_payment"].to_numpy(),
            MODEL: payment_model["central"][known],
        }
    )
    groups: dict[str, dict] = {}
    group_checks: dict[str, dict[str, list[dict]]] = {}
    if by_group:
        ages = age_groups(holdout.queries)
        for name, labels in (("age", ages), ("segment", segments(features))):
            for group in AGE_GROUPS if name == "age" else SEGMENTS:
                rows = labels == group
                if rows.sum() >= MIN_GROUP_ROWS:
                    groups[group] = block(rows, GROUP_CLASSIFICATION_METRICS, GROUP_PAYMENT_METRICS)
                if name == "age" and baselines is not None and rows.sum() >= MIN_GROUP_ROWS:
                    checked = baseline_checks(
                        holdout.subset(rows),
                        {t: {n: p[rows] for n, p in per.items()} for t, per in predicted.items()},
                        config.seed,
                    )
                    if checked:
                        group_checks[group] = checked
    return Evaluation(metrics, predictions, groups, group_checks)


def baseline_checks(
    holdout: Examples, predicted: dict[str, dict[str, np.ndarray]], seed: int
) -> dict[str, list[dict]]:
    """Is the model worse on the holdout than its best baseline by more than noise?

    Noise is the spread of the difference over a bootstrap of customers (a customer's snapshots
    move together); "worse beyond noise" means worse by more than two standard deviations.
    """
    customers = holdout.queries["customer_id"].to_numpy()
    out: dict[str, list[dict]] = {}
    for target in CLASSIFICATION_TARGETS:
        known = holdout.known(target)
        y = holdout.labels.loc[known, target].to_numpy().astype("int64")
        if len(np.unique(y)) < 2:
            continue
        rows = []
        for metric, higher_is_better in (("roc_auc", True), ("log_loss", False)):
            values = {
                name: classification_metrics(y, p[known], np.ones(known.sum()))[metric]
                for name, p in predicted[target].items()
            }
            baselines = {k: v for k, v in values.items() if k != MODEL}
            if not baselines:
                continue
            pick = max if higher_is_better else min
            best = pick(baselines, key=baselines.get)
            difference, spread = paired_bootstrap(
                y,
                predicted[target][MODEL][known],
                predicted[target][best][known],
                customers[known],
                metric,
                seed=seed,
            )
            gain = difference if higher_is_better else -difference
            rows.append(
                {
                    "metric": metric,
                    "model": values[MODEL],
                    "best_baseline": best,
                    "baseline": values[best],
                    "gain": gain,
                    "noise": spread,
                    "worse_beyond_noise": bool(gain < -2 * spread),
                }
            )
        out[target] = rows
    return out


def comparison(evaluation: Evaluation) -> dict[str, dict[str, float]]:
    """How far the model is ahead of each baseline, per target, on the headline (per-age
    metrics averaged over the ages): what the run report states."""
    out: dict[str, dict[str, float]] = {}
    headline = evaluation.headline
    for target in CLASSIFICATION_TARGETS:
        per_model = headline.get(target, {})
        if MODEL not in per_model:
            continue
        ours = per_model[MODEL]
        for baseline in BASELINES:
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
    payment = evaluation.metrics["payment"][MODEL]
    if "baseline_mae_ratio" in payment:
        out["payment"] = {"baseline_mae_over_model_mae": payment["baseline_mae_ratio"]}
    return out


def _ahead(metrics: dict[str, dict[str, dict[str, float]]]) -> dict[str, bool]:
    verdict = {}
    for target in CLASSIFICATION_TARGETS:
        per_model = metrics.get(target, {})
        if MODEL not in per_model or not any(b in per_model for b in BASELINES):
            continue
        ours = per_model[MODEL]
        verdict[target] = all(
            ours["roc_auc"] > per_model[b]["roc_auc"]
            and ours["log_loss"] < per_model[b]["log_loss"]
            for b in BASELINES
            if b in per_model
        )
    payment = metrics.get("payment", {})
    if PAYMENT_BASELINE in payment:
        verdict["payment"] = payment[MODEL]["mae_days"] < payment[PAYMENT_BASELINE]["mae_days"]
    return verdict


def beats_baselines(evaluation: Evaluation) -> dict[str, dict[str, bool]]:
    """Per snapshot age, the model ahead of both baselines on ROC AUC and log loss (and on MAE
    for the payment date)."""
    return {
        group: verdict
        for group in AGE_GROUPS
        if (verdict := _ahead(evaluation.groups.get(group, {})))
    }


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
