"""The registry gate: which model becomes champion, decided on data neither model learned from.

A policy, not plumbing: the pipeline loads the current champion and hands it here with the
candidate and its holdout; this module measures both on the same snapshots and decides.

The metric judged is the headline: computed per snapshot age (at issue, on the due date...) and
averaged over the ages (`training.age_headline`); pooled over ages, age alone separates late
payers and a model would be judged on what it did not learn.

Two rules keep it from being fooled: a metric that is not defined for both (a holdout without
a single default has no default ROC AUC) is never compared, the next defined one is and the
reason says which; and a champion that cannot be measured on snapshots neither model saw stays
champion (only one this payrisk cannot load or score, and so cannot serve, gives way).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from payrisk.core.config import TargetSettings, TrainConfig
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.models.training import (
    AGE_GROUPS,
    HEADLINE,
    MODEL,
    Evaluation,
    Examples,
    age_headline,
    evaluate,
)

log = logging.getLogger("payrisk.train")

CHAMPION = "champion"
CHALLENGER = "challenger"
MIN_GATE_EXAMPLES = 200  # fewer unseen holdout snapshots than this say nothing about who is better
GATE_METRICS = ("default_roc_auc", "late_roc_auc", "default_pr_auc", "late_pr_auc")


@dataclass(frozen=True)
class GateInputs:
    """The two values the registry gate compares, measured on the same snapshots."""

    champion_version: str | None
    champion_value: float | None
    new_value: float
    basis: str  # which snapshots, or why the champion could not be measured
    champion_usable: bool = True  # False: this payrisk cannot load or score it, nor serve it
    comparable: bool = True  # False: the two predict different things (target definitions)
    metric: str | None = None  # the metric judged when it is not the configured one
    behind_baseline: str | None = None  # the new model is worse than a baseline beyond noise


@dataclass(frozen=True)
class GateDecision:
    alias: str
    metric: str
    new_value: float
    champion_version: str | None
    champion_value: float | None
    reason: str

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def gate_metric(evaluation: Evaluation, config: TrainConfig) -> float:
    """The configured metric's headline: per snapshot age, averaged over the ages."""
    return _value(evaluation.headline, config.registry.gate_metric)


def behind_baselines(evaluation: Evaluation) -> str | None:
    """Where the new model is worse on its holdout than its best baseline beyond noise (the
    historical rate, the logistic regression), at any snapshot age, in words; None when it is
    not."""
    checks = {f" {AGE_GROUPS.get(g, g)}": c for g, c in evaluation.group_checks.items()}
    behind = [
        f"{target} {row['metric']}{group}: {row['model']:.4f} vs {row['best_baseline']} "
        f"{row['baseline']:.4f} (noise {row['noise']:.4f})"
        for group, per_target in checks.items()
        for target, rows in per_target.items()
        for row in rows
        if row.get("worse_beyond_noise")
    ]
    return "; ".join(behind) or None


def metric_order(configured: str) -> list[str]:
    """The configured metric, then the same metric of the other targets, then the rest."""
    kind = configured.partition("_")[2]
    first = [configured, *(m for m in GATE_METRICS if m.endswith(f"_{kind}") and m != configured)]
    return [*first, *(m for m in GATE_METRICS if m not in first)]


def _value(metrics: dict, name: str) -> float:
    """`{target}_{metric}` of the model in `{target: {model: {metric: value}}}` (a headline);
    NaN if absent."""
    target, _, metric = name.partition("_")
    try:
        return float(metrics[target][MODEL][metric])
    except (KeyError, TypeError, ValueError):
        return float("nan")


@dataclass(frozen=True)
class Judged:
    """The metric both models are compared on, its two values, and the metrics passed over."""

    metric: str | None
    champion_value: float | None
    new_value: float
    undefined: tuple[str, ...]

    def words(self, configured: str) -> str:
        """Why this metric and not the configured one; empty when it is the configured one."""
        if self.metric == configured:
            return ""
        skipped = ", ".join(self.undefined)
        if self.metric is None:
            return f"no gate metric is defined for both models ({skipped} undefined)"
        return f"judged on {self.metric} ({skipped} undefined for one model or both)"


def judge(champion: dict | None, candidate: dict, configured: str) -> Judged:
    """The first metric of `metric_order(configured)` defined (finite) for both models.

    With no champion, the first defined for the candidate (what the registry shows)."""
    undefined = []
    for name in metric_order(configured):
        new = _value(candidate, name)
        old = _value(champion, name) if champion is not None else 0.0
        if np.isfinite(new) and np.isfinite(old):
            return Judged(name, None if champion is None else old, new, tuple(undefined))
        undefined.append(name)
    return Judged(None, None, float("nan"), tuple(undefined))


TARGET_WORDS = {
    "late_after_days": "late = paid more than {} days after the due date",
    "default_after_days": "default = unpaid {} days after the due date",
    "payment_quantiles": "payment-date quantiles {}",
}


def target_difference(champion: TargetSettings, candidate: TargetSettings) -> str | None:
    """How the two models' targets differ, in words; None when they predict the same things."""
    differences = []
    for name, words in TARGET_WORDS.items():
        mine, theirs = getattr(candidate, name), getattr(champion, name, None)
        if theirs is not None and tuple(_as_list(theirs)) != tuple(_as_list(mine)):
            differences.append(
                f"{words.format(_shown(theirs))} for the champion, "
                f"{words.format(_shown(mine))} for this model"
            )
    return "; ".join(differences) or None


def _as_list(value: object) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def _shown(value: object) -> str:
    return ", ".join(f"{v:g}" for v in _as_list(value))


def gate_inputs(
    champion: PaymentRiskScorer | None,
    champion_version: str | None,
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
    data and holdout (same snapshots) its own pre-refit holdout figures (from its model card) face
    the candidate's; otherwise both are measured on the holdout snapshots after the champion's
    training ended, and when there are too few of them nothing is measured and the champion
    stays. `champion` is None with a version when the registry has one that cannot be loaded.
    """
    inputs = _gate_inputs(
        champion, champion_version, candidate, candidate_evaluation, holdout, metadata, config
    )
    return replace(inputs, behind_baseline=behind_baselines(candidate_evaluation))


def _gate_inputs(
    champion: PaymentRiskScorer | None,
    champion_version: str | None,
    candidate: PaymentRiskScorer,
    candidate_evaluation: Evaluation,
    holdout: Examples,
    metadata: dict,
    config: TrainConfig,
) -> GateInputs:
    configured = config.registry.gate_metric
    if champion_version is None:
        alone = judge(None, candidate_evaluation.headline, configured)
        return GateInputs(None, None, alone.new_value, "no champion yet", metric=alone.metric)
    if champion is None:
        return GateInputs(
            champion_version,
            None,
            gate_metric(candidate_evaluation, config),
            "the champion cannot be loaded by this payrisk (nor served by it)",
            champion_usable=False,
        )
    differ = target_difference(getattr(champion, "targets", config.targets), config.targets)
    if differ:
        return GateInputs(
            champion_version,
            None,
            gate_metric(candidate_evaluation, config),
            f"not compared: the two models predict different things ({differ}), so their "
            f"{configured} figures cannot be compared; the champion stays. "
            f"To serve this model anyway, give it the '{CHAMPION}' alias in the MLflow UI "
            "(Models, the version, Aliases)",
            comparable=False,
        )
    try:
        seen_until = pd.Timestamp(champion.metadata["trained_until"])
        if seen_until <= pd.Timestamp(metadata["holdout"][0]):
            measured = evaluate(champion, holdout, config).headline
            return _measured(
                champion_version, measured, candidate_evaluation.headline, "whole holdout", config
            )
        if all(
            champion.metadata.get(k) == metadata.get(k)
            for k in ("holdout", "data_fingerprint", "holdout_snapshots")
        ):
            return _measured(
                champion_version,
                age_headline(champion.metadata.get("holdout_by_group", {})),
                candidate_evaluation.headline,
                "same holdout, both before refit",
                config,
            )
        unseen = (holdout.queries["snapshot_date"] > seen_until).to_numpy()
        if unseen.sum() < MIN_GATE_EXAMPLES:
            after = (seen_until + pd.Timedelta(days=1)).date()
            return GateInputs(
                champion_version,
                None,
                gate_metric(candidate_evaluation, config),
                f"not measured: the champion was trained through {seen_until.date()} and only "
                f"{unseen.sum()} holdout snapshots are new to it ({MIN_GATE_EXAMPLES} needed), "
                "so the two cannot be compared on data neither saw; the champion stays. Train "
                f"again once {MIN_GATE_EXAMPLES} labelled snapshots dated from {after} fall in "
                "the holdout, or give this model the "
                f"'{CHAMPION}' alias in the MLflow UI after measuring it yourself",
            )
        rows = holdout.subset(unseen)
        return _measured(
            champion_version,
            evaluate(champion, rows, config).headline,
            evaluate(candidate, rows, config).headline,
            f"{len(rows):,} holdout snapshots after {seen_until.date()}",
            config,
        )
    except (KeyError, AttributeError, ValueError) as error:
        log.warning("champion v%s cannot be evaluated: %s", champion_version, type(error).__name__)
        return GateInputs(
            champion_version,
            None,
            gate_metric(candidate_evaluation, config),
            "the champion cannot score with the current feature code (nor be served by it)",
            champion_usable=False,
        )


def _measured(
    version: str, champion: dict, candidate: dict, basis: str, config: TrainConfig
) -> GateInputs:
    """Both models' metrics on the same snapshots, reduced to the one metric judged."""
    configured = config.registry.gate_metric
    judged = judge(champion, candidate, configured)
    why = judged.words(configured)
    if judged.metric is None:
        return GateInputs(
            version, None, judged.new_value, f"not measured on {basis}: {why}; the champion stays"
        )
    ages = ", ".join(AGE_GROUPS[g] for g in candidate[judged.metric.partition("_")[0]]["ages"])
    basis = f"{basis}, {HEADLINE} ({ages})"
    return GateInputs(
        version,
        judged.champion_value,
        judged.new_value,
        f"{basis}; {why}" if why else basis,
        metric=judged.metric,
    )


def decide(inputs: GateInputs, metric: str, min_improvement: float) -> GateDecision:
    """Champion only if there is none, or the new model beats it by more than
    `min_improvement` on the same snapshots.

    A champion that cannot be measured stays: a takeover without a measured comparison is how a
    leaky model or one trained on other data would win. Only a champion this payrisk cannot load
    or score (so cannot serve either) gives way unmeasured. A new model worse than one of its
    baselines beyond noise never replaces a champion.
    """
    new_value, champion, champion_value, basis = (
        inputs.new_value,
        inputs.champion_version,
        inputs.champion_value,
        inputs.basis,
    )
    metric = inputs.metric or metric
    on = f" on {basis}" if basis and champion_value is not None else ""
    behind = inputs.behind_baseline
    lacks = f"worse than a baseline beyond noise on its holdout ({behind})" if behind else ""
    if champion is None:  # something must serve; the reason (and the run's flags) say what it lacks
        return GateDecision(
            CHAMPION,
            metric,
            new_value,
            None,
            None,
            "no champion yet" + (f", but {lacks}" if behind else ""),
        )
    if not inputs.comparable:
        return GateDecision(CHALLENGER, metric, new_value, champion, None, basis)
    if champion_value is None:
        return GateDecision(
            CHALLENGER if inputs.champion_usable else CHAMPION,
            metric,
            new_value,
            champion,
            None,
            (basis or "the current champion cannot be measured") + (f"; {lacks}" if behind else ""),
        )
    if new_value <= champion_value + min_improvement:
        return GateDecision(
            CHALLENGER,
            metric,
            new_value,
            champion,
            champion_value,
            f"does not beat champion on {metric} ({new_value:.4f} vs {champion_value:.4f}, "
            f"margin required {min_improvement:g}){on}" + (f"; also {lacks}" if behind else ""),
        )
    beats = f"beats champion on {metric} by {new_value - champion_value:.4f} " + (
        f"(margin required {min_improvement:g}){on}"
    )
    if behind:
        return GateDecision(
            CHALLENGER,
            metric,
            new_value,
            champion,
            champion_value,
            f"{beats}, but {lacks}: a model that does not beat its baselines never replaces "
            "the champion",
        )
    return GateDecision(CHAMPION, metric, new_value, champion, champion_value, beats)
