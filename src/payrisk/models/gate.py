"""The registry gate: which model becomes champion, decided on data neither model learned from.

A policy, not plumbing: the pipeline loads the current champion and hands it here with the
candidate and its holdout; this module measures both on the same snapshots and decides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from payrisk.core.config import TargetSettings, TrainConfig
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.models.training import MODEL, Evaluation, Examples, evaluate

log = logging.getLogger("payrisk.train")

CHAMPION = "champion"
CHALLENGER = "challenger"
MIN_GATE_EXAMPLES = 200  # fewer unseen holdout snapshots than this say nothing about who is better


@dataclass(frozen=True)
class GateInputs:
    """The two values the registry gate compares, measured on the same snapshots."""

    champion_version: str | None
    champion_value: float | None
    new_value: float
    basis: str  # which snapshots, or why the champion could not be measured
    newer: bool = True  # the candidate saw data at least as recent as the champion's
    comparable: bool = True  # False: the two predict different things (target definitions)


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
    target, _, metric = config.registry.gate_metric.partition("_")
    return float(evaluation.metrics[target][MODEL][metric])


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
    data and holdout its own pre-refit holdout figure (from its model card) faces the candidate's;
    otherwise both are measured on the holdout snapshots after the champion's training ended.
    `champion` is None with a version when the registry has one that cannot be loaded.
    """
    new_value = gate_metric(candidate_evaluation, config)
    if champion_version is None:
        return GateInputs(None, None, new_value, "no champion yet")
    if champion is None:
        return GateInputs(
            champion_version, None, new_value, "the champion cannot be loaded by this payrisk"
        )
    differ = target_difference(getattr(champion, "targets", config.targets), config.targets)
    if differ:
        return GateInputs(
            champion_version,
            None,
            new_value,
            f"not compared: the two models predict different things ({differ}), so their "
            f"{config.registry.gate_metric} figures cannot be compared; the champion stays. "
            f"To serve this model anyway, give it the '{CHAMPION}' alias in the MLflow UI "
            "(Models, the version, Aliases)",
            comparable=False,
        )
    try:
        seen_until = pd.Timestamp(champion.metadata["trained_until"])
        if seen_until <= pd.Timestamp(metadata["holdout"][0]):
            value = gate_metric(evaluate(champion, holdout, config, by_group=False), config)
            return GateInputs(champion_version, value, new_value, "whole holdout")
        if all(champion.metadata.get(k) == metadata[k] for k in ("holdout", "data_fingerprint")):
            target, _, metric = config.registry.gate_metric.partition("_")
            value = float(champion.metadata["holdout_metrics"][target][MODEL][metric])
            return GateInputs(champion_version, value, new_value, "same holdout, both before refit")
        unseen = (holdout.queries["snapshot_date"] > seen_until).to_numpy()
        if unseen.sum() < MIN_GATE_EXAMPLES:
            newer = metadata["as_of"] >= str(champion.metadata.get("as_of", ""))
            return GateInputs(
                champion_version,
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
        value = gate_metric(evaluate(champion, rows, config, by_group=False), config)
        new_value = gate_metric(evaluate(candidate, rows, config, by_group=False), config)
        return GateInputs(
            champion_version,
            value,
            new_value,
            f"{len(rows):,} holdout snapshots after {seen_until.date()}",
        )
    except (KeyError, AttributeError, ValueError) as error:
        log.warning("champion v%s cannot be evaluated: %s", champion_version, type(error).__name__)
        return GateInputs(
            champion_version,
            None,
            new_value,
            "the champion cannot score with the current feature code",
        )


def decide(inputs: GateInputs, metric: str, min_improvement: float) -> GateDecision:
    """Champion only if there is none, or the new model beats it on the same snapshots.

    An unmeasurable champion gives way only to a model trained on data at least as recent.
    """
    new_value, champion, champion_value, basis = (
        inputs.new_value,
        inputs.champion_version,
        inputs.champion_value,
        inputs.basis,
    )
    on = f" on {basis}" if basis and champion_value is not None else ""
    if champion is None:
        return GateDecision(CHAMPION, metric, new_value, None, None, "no champion yet")
    if not inputs.comparable:
        return GateDecision(CHALLENGER, metric, new_value, champion, None, basis)
    if champion_value is None:
        return GateDecision(
            CHAMPION if inputs.newer else CHALLENGER,
            metric,
            new_value,
            champion,
            None,
            basis or "the current champion cannot be measured",
        )
    if new_value > champion_value + min_improvement:
        return GateDecision(
            CHAMPION,
            metric,
            new_value,
            champion,
            champion_value,
            f"beats champion by {new_value - champion_value:.4f}{on}",
        )
    return GateDecision(
        CHALLENGER,
        metric,
        new_value,
        champion,
        champion_value,
        f"does not beat champion ({new_value:.4f} vs {champion_value:.4f}, "
        f"margin required {min_improvement}){on}",
    )
