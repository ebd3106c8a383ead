"""Off-policy evaluation against the simulator's truth: on a generated reminder history, the
doubly-robust estimate of each policy's value (share of decisions followed by payment within the
window) has the world's true value inside its interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.core.config import TrainConfig
from payrisk.core.days import to_days
from payrisk.data.contract import CHANNELS
from payrisk.data.generator import generate_world
from payrisk.data.world import (
    FATIGUE_WINDOW_DAYS,
    NO_CHANNEL,
    batch_start_of,
    true_paid_within,
)
from payrisk.features.history import build_history
from payrisk.models.effects import NO_CONTACT, effect_examples, fit_effect_models
from payrisk.policy.config import load_dunning_config
from payrisk.policy.offpolicy import FOLLOW_LOG, evaluate_policies, policy_case

pytestmark = pytest.mark.slow


def _recent_at(state, world, customer_rows: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The customer's reminders in the fatigue window before the start of the play batch that
    holds `day` (what the world used when it answered)."""
    log = state.reminders()
    batch_start = batch_start_of(day)
    log_customer = world.invoices.customer[log["row"]]
    order = np.lexsort((log["day"], log_customer))
    keys = log_customer[order].astype("int64") * 10**7 + log["day"][order]
    high = np.searchsorted(keys, customer_rows * 10**7 + batch_start, side="left")
    low = np.searchsorted(
        keys, customer_rows * 10**7 + batch_start - FATIGUE_WINDOW_DAYS, side="left"
    )
    return high - low


def test_doubly_robust_estimates_cover_the_true_values() -> None:
    world = generate_world(1200, 3.0, seed=5)
    state = world.play_logged(world.end_day)
    dataset = world.dataset(state, world.end_day)
    config = TrainConfig()
    settings = config.effects.model_copy(update={"response_days": (7,)})
    as_of = pd.Timestamp(np.datetime64(world.end_day + 1, "D"))
    cutoff = as_of - pd.Timedelta(days=270)
    history = build_history(dataset, as_of, config.targets, config.features)
    everything = effect_examples(
        dataset.invoices, dataset.reminders, history, as_of - pd.Timedelta(days=30), as_of,
        settings,
    )  # fmt: skip
    day = everything.units["snapshot_date"]
    train = everything.subset((day < cutoff).to_numpy())
    # The model learns what was known at the cut-off; it is evaluated on what came after.
    train.outcomes[7][:] = np.where(
        to_days(train.units["snapshot_date"]) + 7 < to_days(pd.Series([cutoff]))[0],
        train.outcomes[7],
        np.nan,
    )
    holdout = everything.subset((day >= cutoff).to_numpy())
    model = fit_effect_models(train.features, train.units, train.outcomes, settings, 3).for_days(7)
    dunning = load_dunning_config()
    case = policy_case(model, holdout, dataset.reminders, None, dunning, settings, 3)
    report = evaluate_policies(case.decisions, case.policies, settings.min_propensity, 300, 3)

    units = holdout.units.iloc[case.rows].reset_index(drop=True)
    rows = world.invoice_ids.reset_index(drop=True).pipe(pd.Index).get_indexer(units["invoice_id"])
    unit_day = to_days(units["snapshot_date"])
    recent = _recent_at(state, world, world.invoices.customer[rows], unit_day)
    channel_code = {NO_CONTACT: NO_CHANNEL, **{c: i for i, c in enumerate(CHANNELS)}}
    logged_code = np.array([channel_code[case.arms[a]] for a in case.decisions.arm])
    assert (report["policies"]["learned"]["no_overlap_share"]) < 0.05
    for name, action in case.policies.items():
        code = np.where(
            action == FOLLOW_LOG,
            logged_code,
            np.array([channel_code[case.arms[max(a, 0)]] for a in action]),
        )
        truth = true_paid_within(world.invoices, rows, unit_day, code, recent, 7).mean()
        estimate = report["policies"][name]["dr"]
        assert estimate["low"] <= truth <= estimate["high"], (name, truth, estimate)
    # The learned policy is worth more than the log and than never reminding, truly.
    values = {name: report["policies"][name]["dr"]["value"] for name in case.policies}
    assert values["learned"] > values["logged"] > values["no_contact"]
