"""Off-policy evaluation: what a dunning policy would have achieved on a real reminder history.

A ledger has no simulator. From its decision units (payrisk.models.effects: each reminder sent
and each moment without one, with its outcome: paid within the window) the value of a policy pi,
the share of decisions followed by payment within the window had pi decided, is estimated with

- inverse propensity scoring (IPS): mean of 1[A = pi(x)] / e(A | x) * Y;
- doubly robust (DR): mean of mu_pi(x) + 1[A = pi(x)] / e(A | x) * (Y - mu_A(x)),

with cross-fitted propensities e and outcomes mu (no unit predicted by a model that saw its
customer), propensities clipped below, and 95% intervals from a bootstrap over customers (a
customer's decisions are not independent). A policy may follow the logged policy on some units
(the learned policy's fallback): there its weight is 1. The overlap diagnostic says on how many
units the policy takes an action the log almost never took there (propensity under the clip):
where that share is large, no estimate can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from payrisk.core.config import EffectSettings
from payrisk.models.effects import (
    NO_CONTACT,
    ChannelEffects,
    EffectExamples,
    cross_fitted_nuisances,
    hardest_level_before,
    overlap_report,
)
from payrisk.policy.config import DunningConfig
from payrisk.policy.ladder import LEVEL
from payrisk.policy.learned import POLICY_LEARNED, decide

FOLLOW_LOG = -1  # a unit where the evaluated policy does what the logged policy did
Z_95 = 1.96


@dataclass(frozen=True)
class LoggedDecisions:
    """Decision units as the estimators read them."""

    arm: np.ndarray  # index of the arm taken (0: no contact)
    y: np.ndarray  # 1/0 outcome
    customer: np.ndarray  # customer ids (the bootstrap's clusters)
    propensity: np.ndarray  # units x arms, cross-fitted
    outcome: np.ndarray  # units x arms, cross-fitted
    cost: np.ndarray  # units x arms: what each arm would have cost there

    def __len__(self) -> int:
        return len(self.arm)


def _contributions(
    decisions: LoggedDecisions, action: np.ndarray, clip: float
) -> dict[str, np.ndarray]:
    """Per unit: the IPS and DR terms of a deterministic policy (FOLLOW_LOG: the logged arm),
    its cost, whether it contacts, and whether it lacks overlap there."""
    rows = np.arange(len(decisions))
    follow = action == FOLLOW_LOG
    chosen = np.where(follow, decisions.arm, action)
    e_taken = np.clip(decisions.propensity[rows, decisions.arm], clip, None)
    match = decisions.arm == chosen
    weight = np.where(follow, 1.0, match / e_taken)
    mu_taken = decisions.outcome[rows, decisions.arm]
    mu_chosen = np.where(follow, mu_taken, decisions.outcome[rows, chosen])
    return {
        "ips": weight * decisions.y,
        "dr": mu_chosen + weight * (decisions.y - mu_taken),
        "cost": decisions.cost[rows, chosen],
        "contact": (chosen > 0).astype("float64"),
        "no_overlap": (~follow & (decisions.propensity[rows, chosen] < clip)).astype("float64"),
    }


def _cluster_bootstrap(
    values: dict[str, np.ndarray], customer: np.ndarray, draws: int, seed: int
) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of each mean, resampling customers with replacement."""
    codes, unique = pd.factorize(pd.Series(customer, dtype=object))
    counts = np.bincount(codes, minlength=len(unique)).astype("float64")
    sums = {
        name: np.bincount(codes, weights=v, minlength=len(unique)) for name, v in values.items()
    }
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(unique), np.full(len(unique), 1.0 / len(unique)), size=draws)
    total = weights @ counts
    out = {}
    for name, per_customer in sums.items():
        means = (weights @ per_customer) / total
        out[name] = (float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))
    return out


def evaluate_policies(
    decisions: LoggedDecisions,
    policies: dict[str, np.ndarray],
    clip: float,
    draws: int = 200,
    seed: int = 0,
) -> dict:
    """IPS and DR estimates of each policy's value (share of decisions followed by payment
    within the window), its cost per decision and contact share, with bootstrap intervals, and
    the logged policy's observed value. `policies`: name -> arm index per unit (FOLLOW_LOG)."""
    report: dict = {
        "units": len(decisions),
        "customers": int(pd.Series(decisions.customer).nunique()),
        "min_propensity": clip,
        "logged": {
            "observed_value": round(float(decisions.y.mean()), 4),
            "cost_per_decision": round(
                float(decisions.cost[np.arange(len(decisions)), decisions.arm].mean()), 4
            ),
            "contact_share": round(float((decisions.arm > 0).mean()), 4),
        },
        "policies": {},
    }
    for name, action in policies.items():
        terms = _contributions(decisions, np.asarray(action, dtype="int64"), clip)
        intervals = _cluster_bootstrap(
            {"ips": terms["ips"], "dr": terms["dr"]}, decisions.customer, draws, seed
        )
        report["policies"][name] = {
            estimator: {
                "value": round(float(terms[estimator].mean()), 4),
                "low": round(intervals[estimator][0], 4),
                "high": round(intervals[estimator][1], 4),
            }
            for estimator in ("ips", "dr")
        } | {
            "cost_per_decision": round(float(terms["cost"].mean()), 4),
            "contact_share": round(float(terms["contact"].mean()), 4),
            "no_overlap_share": round(float(terms["no_overlap"].mean()), 4),
            "follows_log_share": round(float((np.asarray(action) == FOLLOW_LOG).mean()), 4),
        }
    return report


def render_evaluation(report: dict) -> str:
    """The evaluation as a markdown table."""
    lines = [
        f"Off-policy evaluation on {report['units']:,} decisions of {report['customers']:,} "
        f"customers (propensities clipped at {report['min_propensity']}); value = share of "
        "decisions followed by full payment within the window.",
        "",
        "| policy | IPS (95% interval) | DR (95% interval) | cost per decision | contacts |"
        " no overlap |",
        "|---|---|---|---|---|---|",
    ]
    logged = report["logged"]
    lines.append(
        f"| logged (observed) | {logged['observed_value']:.3f} | {logged['observed_value']:.3f} "
        f"| {logged['cost_per_decision']:.2f} | {logged['contact_share']:.0%} | - |"
    )
    for name, values in report["policies"].items():
        ips, dr = values["ips"], values["dr"]
        lines.append(
            f"| {name} | {ips['value']:.3f} ({ips['low']:.3f}-{ips['high']:.3f}) "
            f"| {dr['value']:.3f} ({dr['low']:.3f}-{dr['high']:.3f}) "
            f"| {values['cost_per_decision']:.2f} | {values['contact_share']:.0%} "
            f"| {values['no_overlap_share']:.1%} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class PolicyCase:
    """What the estimators need for the policies compared on a set of decision units."""

    rows: np.ndarray  # positions of the evaluated units among the examples
    arms: tuple[str, ...]
    decisions: LoggedDecisions
    policies: dict[str, np.ndarray]  # name -> arm index per unit (FOLLOW_LOG)
    days_past_due: np.ndarray


def policy_case(
    model: ChannelEffects,
    examples: EffectExamples,
    reminders: pd.DataFrame,
    default_probability: np.ndarray | None,
    dunning: DunningConfig,
    settings: EffectSettings,
    seed: int,
) -> PolicyCase:
    """The learned policy of `model`, the logged one and never contacting, on `examples`, with
    nuisances cross-fitted on the examples themselves. Where the learned policy falls back to
    the rules it is taken to do what the log did (weight 1)."""
    nuisances = cross_fitted_nuisances(examples, model.response_days, settings, seed)
    rows, arms = nuisances["rows"], tuple(nuisances["arms"])
    features = {name: np.asarray(values)[rows] for name, values in examples.features.items()}
    units = examples.units.iloc[rows].reset_index(drop=True)
    amount = units["amount"].to_numpy(dtype="float64")
    choice = decide(
        model.response(features),
        features,
        amount,
        hardest_level_before(units, reminders, LEVEL),
        None if default_probability is None else np.asarray(default_probability)[rows],
        np.zeros(len(rows), dtype=bool),
        dunning,
    )
    arm_of = {name: i for i, name in enumerate(arms)}
    chosen = [NO_CONTACT if c is None else c for c in choice.channel]
    learned = np.array([arm_of.get(c, FOLLOW_LOG) for c in chosen], dtype="int64")
    learned = np.where(choice.policy == POLICY_LEARNED, learned, FOLLOW_LOG)
    cost = np.column_stack(
        [
            np.zeros(len(rows)) if arm == NO_CONTACT else dunning.costs.of(arm, amount)
            for arm in arms
        ]
    )
    decisions = LoggedDecisions(
        arm=nuisances["arm"],
        y=nuisances["y"],
        customer=units["customer_id"].to_numpy(dtype=object),
        propensity=nuisances["propensity"],
        outcome=nuisances["outcome"],
        cost=cost,
    )
    policies = {
        "learned": learned,
        "logged": np.full(len(rows), FOLLOW_LOG, dtype="int64"),
        "no_contact": np.zeros(len(rows), dtype="int64"),
    }
    return PolicyCase(rows, arms, decisions, policies, np.asarray(features["days_past_due"]))


def evaluate_learned_policy(
    model: ChannelEffects,
    examples: EffectExamples,
    reminders: pd.DataFrame,
    default_probability: np.ndarray | None,
    dunning: DunningConfig,
    settings: EffectSettings,
    seed: int,
    draws: int = 200,
) -> dict:
    """Off-policy estimates of the learned, logged and no-contact policies on `examples`
    (decisions the model did not learn from), with the overlap diagnostic."""
    case = policy_case(model, examples, reminders, default_probability, dunning, settings, seed)
    report = evaluate_policies(case.decisions, case.policies, settings.min_propensity, draws, seed)
    report["response_days"] = model.response_days
    report["overlap"] = overlap_report(
        case.decisions.propensity, case.arms, case.days_past_due, settings.min_propensity
    )
    return report
