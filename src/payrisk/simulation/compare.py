"""Play each policy over the simulated period of a world, from the same past, and measure it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from payrisk.data.generator import World
from payrisk.data.world import PlayState, play
from payrisk.models.effects import EffectModels
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.policy.config import DunningConfig
from payrisk.simulation.metrics import policy_metrics
from payrisk.simulation.policies import (
    POLICIES,
    ChoosingPolicy,
    DunningView,
    NoReminders,
    PeriodPolicy,
    RulesPolicy,
    ServicePolicy,
)


@dataclass(frozen=True)
class Period:
    """The simulated period: invoices issued after the history's end, followed up to `horizon`."""

    first_row: int
    rows: np.ndarray
    start: int
    horizon: int


def period_of(world: World, follow_up_days: int) -> Period:
    rows = np.flatnonzero(world.invoices.issue_day > world.end_day)
    first = int(rows[0]) if len(rows) else len(world.invoices)
    return Period(first, rows, world.end_day + 1, world.last_issue_day + follow_up_days)


def make_policy(
    name: str,
    world: World,
    period: Period,
    scorer: PaymentRiskScorer,
    effects: EffectModels | None,
    dunning: DunningConfig,
    refresh_days: int,
):
    """The policy `name` for the period's invoices (the logged one for the history's)."""
    view = DunningView(world, scorer, refresh_days)
    rules = RulesPolicy(view, dunning, period.first_row)
    chosen = {
        "none": lambda: NoReminders(),
        "random": lambda: world.logged_policy(),
        "rules": lambda: rules,
        "learned": lambda: ChoosingPolicy(view, dunning, period.first_row, effects, rules),
        "oracle": lambda: ChoosingPolicy(view, dunning, period.first_row, None, None),
        "service": lambda: ServicePolicy(view, dunning, period.first_row, effects),
    }[name]()
    if name == "learned" and effects is None:
        chosen = rules  # a scorer without effect models: the rules decide everything
    return PeriodPolicy(chosen, world.logged_policy(), period.first_row)


def compare_policies(
    world: World,
    past: PlayState,
    scorer: PaymentRiskScorer,
    effects: EffectModels | None,
    dunning: DunningConfig,
    follow_up_days: int,
    policies: tuple[str, ...] = POLICIES,
    refresh_days: int = 28,
    promises: bool = True,
) -> tuple[dict[str, dict[str, float]], dict[str, PlayState]]:
    """Each policy played once from the same `past` (the logged play up to the history's end);
    with `promises`, the world answers calls with promises from the period on (kept or broken
    by archetype)."""
    period = period_of(world, follow_up_days)
    results, states = {}, {}
    for name in policies:
        policy = make_policy(name, world, period, scorer, effects, dunning, refresh_days)
        start = past.with_promises() if promises else past.copy()
        state = play(world.invoices, policy, period.start, period.horizon, state=start)
        results[name] = policy_metrics(state, period.rows, period.horizon, dunning.costs)
        states[name] = state
    return results, states
