"""Which channel works for whom: channel effects (uplift) learned from the reminder history.

Decision units. Each reminder sent is a treatment (its channel) on the day it was sent; each
moment of `decision_offsets` (days relative to due) at which an invoice was open and got no
reminder within `control_window_days` is a "no contact" unit. A unit's context is the invoice's
point-in-time features at that day (the risk features plus the customer's own response history by
channel, `EFFECT_FEATURE_COLUMNS`); its outcome is whether the invoice was paid in full within
`response_days` after it, censored as the risk labels are (unknown until the window has passed).
Disputed invoices are left out: their payment follows the dispute, not the reminders.

The estimator is a doubly-robust learner (DR-learner, Kennedy 2020) on LightGBM, cross-fitted by
customer: a multinomial propensity model e_a(x) of the channel used, an outcome model mu_a(x) of
the payment with the channel as an input, the DR pseudo-outcome
phi_a = mu_a(x) + 1[A = a] / e_a(x) * (Y - mu_a(x)), and per channel a final regression of
phi_c - phi_none on x: the conditional effect tau_c(x) of sending c rather than nothing. Real logs
are not randomised: where a channel's estimated propensity in a context is below `min_propensity`
there is no overlap, and no effect is claimed there (NaN). Intervals: customers are grouped by
their estimated effect and each group's mean pseudo-outcome gives a 90% interval of the effect of
customers like this one.

Plain LightGBM boosters (no causal library at scoring time): the service predicts with them per
request like the risk models. The README says why this is not econml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from payrisk.core.config import EffectSettings
from payrisk.core.days import NEVER, next_business_day, to_days
from payrisk.data.contract import CHANNELS
from payrisk.data.receivables import settled_date
from payrisk.features.definitions import (
    BUILT_IN,
    CATEGORICAL_FEATURES,
    EFFECT_FEATURE_COLUMNS,
    RESPONSE_FEATURES,
    feature_arrays,
)
from payrisk.features.history import History
from payrisk.models.encoding import Columns, MatrixLayout

NO_CONTACT = "none"
ARMS: tuple[str, ...] = (NO_CONTACT, *CHANNELS)
Z_90 = 1.645
# Moments of the dunning cycle (days past due): a channel never used at a moment in the history
# has no overlap there, whatever a smooth propensity model says.
MOMENTS: tuple[tuple[str, float, float], ...] = (
    ("before_due", -np.inf, 0),
    ("1_14_days_past_due", 0, 15),
    ("15_29_days_past_due", 15, 30),
    ("30_59_days_past_due", 30, 60),
    ("60_plus_days_past_due", 60, np.inf),
)


def moment_of(days_past_due: np.ndarray) -> np.ndarray:
    """Index into MOMENTS of each days-past-due value."""
    edges = np.array([m[2] for m in MOMENTS[:-1]])
    return np.searchsorted(edges, np.asarray(days_past_due, dtype="float64"), side="right")


UNIT_COLUMNS = (
    "invoice_id", "customer_id", "issue_date", "due_date", "amount", "snapshot_date", "arm",
)  # fmt: skip


# --- Decision units, their context and their outcome --------------------------------------------
def decision_units(
    invoices: pd.DataFrame,
    reminders: pd.DataFrame,
    before: pd.Timestamp,
    settings: EffectSettings,
) -> pd.DataFrame:
    """Every decision dated before `before`: reminders sent (arm = channel) and moments without a
    reminder (arm = none), each on an invoice open at the end of that day and not disputed.

    Columns UNIT_COLUMNS; `snapshot_date` is the decision day (features are taken at it: what was
    known at its start). Sorted by day, invoice and arm.
    """
    cutoff = int(to_days(pd.Series([before]))[0])
    kept = invoices.loc[~invoices["disputed"].fillna(False).to_numpy(dtype=bool)]
    index = pd.Index(kept["invoice_id"].astype("str"))
    issue, due = to_days(kept["issue_date"]), to_days(kept["due_date"])
    settle = to_days(settled_date(kept))

    position = index.get_indexer(reminders["invoice_id"].astype("str"))
    sent_day = to_days(reminders["sent_date"])
    ok = (position >= 0) & (sent_day < cutoff)
    position, sent_day = position[ok], sent_day[ok]
    channel = reminders["channel"].to_numpy(dtype=object)[ok]
    treated_open = settle[position] > sent_day
    position, sent_day, channel = (
        position[treated_open],
        sent_day[treated_open],
        channel[treated_open],
    )

    # Each invoice's reminders sorted by (invoice, day): a moment is a control if none is near it.
    origin = int(sent_day.min()) if len(sent_day) else 0
    order = np.lexsort((sent_day, position))
    keys = _keys(position[order], sent_day[order], origin)
    controls_rows, controls_day = [], []
    for offset in settings.decision_offsets:
        moment = next_business_day(due + offset)
        is_open = (issue <= moment) & (settle > moment) & (moment < cutoff)
        rows = np.flatnonzero(is_open)
        window = settings.control_window_days
        low = _keys(rows, moment[rows] - window, origin)
        high = _keys(rows, moment[rows] + window, origin)
        near = np.searchsorted(keys, high, side="right") - np.searchsorted(keys, low, side="left")
        rows = rows[near == 0]
        controls_rows.append(rows)
        controls_day.append(moment[rows])
    rows = np.concatenate([position, *controls_rows])
    days = np.concatenate([sent_day, *controls_day])
    arm = np.concatenate(
        [channel.astype(object), np.full(len(rows) - len(position), NO_CONTACT, dtype=object)]
    )
    units = pd.DataFrame(
        {
            "invoice_id": kept["invoice_id"].to_numpy(dtype=object)[rows],
            "customer_id": kept["customer_id"].to_numpy(dtype=object)[rows],
            "issue_date": kept["issue_date"].to_numpy()[rows],
            "due_date": kept["due_date"].to_numpy()[rows],
            "amount": kept["amount"].to_numpy(dtype="float64")[rows],
            "snapshot_date": days.astype("datetime64[D]").astype("datetime64[ns]"),
            "arm": arm,
        }
    )
    units = units.drop_duplicates(["invoice_id", "snapshot_date", "arm"])
    return units.sort_values(["snapshot_date", "invoice_id", "arm"], kind="stable").reset_index(
        drop=True
    )


def _keys(rows: np.ndarray, days: np.ndarray, origin: int) -> np.ndarray:
    """(invoice row, day) as one sortable integer."""
    return rows.astype("int64") * 10_000_000 + (days - origin + 1_000_000)


def unit_outcomes(
    units: pd.DataFrame, invoices: pd.DataFrame, known_before: pd.Timestamp, days: int
) -> np.ndarray:
    """Paid in full within `days` after each unit's day (1/0), NaN while not yet known at
    `known_before`: censored as the risk labels are (payments on or after it are unknown)."""
    position = pd.Index(invoices["invoice_id"].astype("str")).get_indexer(
        units["invoice_id"].astype("str")
    )
    if (position < 0).any():
        raise ValueError("decision units refer to invoices that are not in the invoice table")
    cutoff = int(to_days(pd.Series([known_before]))[0])
    paid = to_days(invoices["paid_date"])[position]
    paid = np.where(paid < cutoff, paid, NEVER)
    day = to_days(units["snapshot_date"])
    window_end = day + days
    in_time = paid <= window_end
    known = in_time | (window_end < cutoff)
    return np.where(known, in_time.astype("float64"), np.nan)


def unit_features(history: History, units: pd.DataFrame) -> dict[str, np.ndarray]:
    """EFFECT_FEATURE_COLUMNS of each unit at its day, from a point-in-time history."""
    return feature_arrays(
        history,
        invoice_ids=units["invoice_id"].to_numpy(dtype=object),
        customer_ids=units["customer_id"].to_numpy(dtype=object),
        issue_day=to_days(units["issue_date"]),
        due_day=to_days(units["due_date"]),
        amount=units["amount"].to_numpy(dtype="float64"),
        snapshot_day=to_days(units["snapshot_date"]),
        in_history=units["in_history"].to_numpy(dtype=bool) if "in_history" in units else None,
        features=BUILT_IN.with_features(RESPONSE_FEATURES),
    )


def hardest_level_before(
    units: pd.DataFrame, reminders: pd.DataFrame, levels: Mapping[str, int]
) -> np.ndarray:
    """Per unit, the escalation level of the hardest reminder its invoice got before the unit's
    day (0: none): what the escalation rules read."""
    invoice_ids = pd.Index(pd.unique(units["invoice_id"].astype("str")))
    position = invoice_ids.get_indexer(reminders["invoice_id"].astype("str"))
    known = position >= 0
    day = to_days(reminders["sent_date"])[known]
    level = np.array([levels.get(c, 0) for c in reminders["channel"].to_numpy(dtype=object)])
    position, level = position[known], level[known]
    order = np.lexsort((day, position))
    position, day, level = position[order], day[order], level[order]
    running = pd.Series(level).groupby(position).cummax().to_numpy() if len(level) else level
    origin = int(day.min()) if len(day) else 0
    keys = _keys(position, day, origin)
    unit_position = invoice_ids.get_indexer(units["invoice_id"].astype("str"))
    unit_keys = _keys(unit_position, to_days(units["snapshot_date"]), origin)
    at = np.searchsorted(keys, unit_keys, side="left") - 1  # last reminder strictly before
    found = at >= 0
    same = np.zeros(len(units), dtype=bool)
    same[found] = position[at[found]] == unit_position[found]
    return np.where(same, running[np.maximum(at, 0)], 0).astype("int64")


@dataclass(frozen=True)
class EffectExamples:
    """Decision units with their features and their outcome per response window."""

    units: pd.DataFrame
    features: dict[str, np.ndarray]
    outcomes: dict[int, np.ndarray]

    def __len__(self) -> int:
        return len(self.units)

    def subset(self, mask: np.ndarray) -> EffectExamples:
        return EffectExamples(
            self.units.loc[mask].reset_index(drop=True),
            {name: values[mask] for name, values in self.features.items()},
            {days: values[mask] for days, values in self.outcomes.items()},
        )


def effect_examples(
    invoices: pd.DataFrame,
    reminders: pd.DataFrame,
    history: History,
    before: pd.Timestamp,
    known_before: pd.Timestamp,
    settings: EffectSettings,
) -> EffectExamples:
    """Decision units dated before `before`, features from `history` (point in time at each
    unit's day), outcomes as known at `known_before`."""
    units = decision_units(invoices, reminders, before, settings)
    outcomes = {
        days: unit_outcomes(units, invoices, known_before, days) for days in settings.response_days
    }
    return EffectExamples(units, unit_features(history, units), outcomes)


# --- The estimator -------------------------------------------------------------------------------
def _params(settings: EffectSettings, seed: int, **overrides: float | int | str) -> dict:
    return {
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.num_leaves,
        "min_data_in_leaf": settings.min_child_samples,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "num_threads": settings.n_jobs,
        "max_bin": 63,
        "seed": seed,
        "verbosity": -1,
        **overrides,
    }


def _categorical_positions(columns: tuple[str, ...]) -> list[int]:
    return [i for i, name in enumerate(columns) if name in CATEGORICAL_FEATURES]


def _with_arm(matrix: np.ndarray, arm: np.ndarray | int) -> np.ndarray:
    """The context matrix with the arm code as a last column (the outcome model's input)."""
    codes = np.broadcast_to(np.asarray(arm, dtype="float64"), (len(matrix),))
    return np.column_stack([matrix, codes])


@dataclass
class ChannelEffects:
    """Fitted channel effects for one response window: P(paid within `response_days`) under no
    contact and each channel, with the overlap rule and per-group intervals.

    `arms` are "none" and the channels seen often enough; `final` has a model of tau_c(x) per
    channel; `groups[c]` holds the edges of the estimated-effect groups and each group's 90%
    interval of its mean effect (a customer's interval has that width around its own estimate);
    `overlap` is the diagnostic report.
    """

    response_days: int
    arms: tuple[str, ...]
    layout: MatrixLayout
    propensity: list[lgb.Booster]  # the cross-fitting folds' models, averaged
    outcome: list[lgb.Booster]
    final: dict[str, lgb.Booster]
    groups: dict[str, dict[str, list[float]]]
    overlap: dict
    min_propensity: float
    n_units: int
    metadata: dict = field(default_factory=dict)
    support: np.ndarray | None = None  # moments x arms: units of each arm at each moment
    min_support: int = 0

    @property
    def channels(self) -> tuple[str, ...]:
        return self.arms[1:]

    def matrix(self, features: Columns) -> np.ndarray:
        return self.layout.matrix(features)

    def propensities(self, matrix: np.ndarray) -> np.ndarray:
        """Rows x arms: the logged policy's chance of each arm in each context."""
        out = np.mean([model.predict(matrix) for model in self.propensity], axis=0)
        return out.reshape(len(matrix), len(self.arms))

    def outcome_of(self, matrix: np.ndarray, arm: int) -> np.ndarray:
        return np.mean([model.predict(_with_arm(matrix, arm)) for model in self.outcome], axis=0)

    def effects(self, matrix: np.ndarray, propensity: np.ndarray | None = None) -> np.ndarray:
        """Rows x channels: tau_c(x), NaN where the channel has no overlap in that context."""
        propensity = self.propensities(matrix) if propensity is None else propensity
        tau = np.column_stack([self.final[c].predict(matrix) for c in self.channels])
        return np.where(self.supported(matrix, propensity), tau, np.nan)

    def supported(self, matrix: np.ndarray, propensity: np.ndarray) -> np.ndarray:
        """Rows x channels: overlap with no contact in that context (estimated propensities
        above the clip, and both used at that moment of the cycle in the history)."""
        ok = (propensity[:, 1:] >= self.min_propensity) & (
            propensity[:, [0]] >= self.min_propensity
        )
        if self.support is not None:
            moment = moment_of(matrix[:, self.layout.columns.index("days_past_due")])
            used = self.support[moment] >= self.min_support
            ok &= used[:, 1:] & used[:, [0]]
        return ok

    def intervals(self, channel: str, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A 90% interval around each estimate, as wide as that of the group it falls in.

        The group's interval is about its mean pseudo-outcome, which can sit away from this
        customer's own estimate: an interval that did not contain the estimate shown beside it
        (an SMS at 93% "between 94% and 100%") would contradict it, so it is re-centred."""
        group = self.groups[channel]
        where = np.clip(np.searchsorted(group["edges"], tau, side="right") - 1, 0, None)
        where = np.minimum(where, len(group["low"]) - 1)
        spread = (np.asarray(group["high"]) - np.asarray(group["low"]))[where] / 2.0
        return tau - spread, tau + spread  # NaN where the effect is not estimated

    def response(self, features: Columns) -> dict[str, np.ndarray]:
        """Per arm, P(paid within the window) if it is used now (none: the baseline), with the
        effects' intervals: what the policy weighs and the customer page shows."""
        matrix = self.matrix(features)
        propensity = self.propensities(matrix)
        base = np.clip(self.outcome_of(matrix, 0), 0.0, 1.0)
        tau = self.effects(matrix, propensity)
        out = {NO_CONTACT: base}
        for j, channel in enumerate(self.channels):
            low, high = self.intervals(channel, tau[:, j])
            out[channel] = np.clip(base + tau[:, j], 0.0, 1.0)
            out[f"{channel}_effect"] = tau[:, j]
            out[f"{channel}_low"] = np.clip(base + low, 0.0, 1.0)
            out[f"{channel}_high"] = np.clip(base + high, 0.0, 1.0)
        return out


def _customer_folds(customer_ids: np.ndarray, folds: int, seed: int) -> np.ndarray:
    codes, unique = pd.factorize(pd.Series(customer_ids, dtype=object))
    assignment = np.random.default_rng(seed).integers(0, folds, size=len(unique))
    return assignment[codes]


def _fit_propensity(
    matrix: np.ndarray, arm: np.ndarray, n_arms: int, settings: EffectSettings, seed: int, cats
) -> lgb.Booster:
    params = _params(
        settings, seed, objective="multiclass", num_class=n_arms, num_leaves=7,
        min_data_in_leaf=max(settings.min_child_samples, 200), learning_rate=0.2,
    )  # fmt: skip
    data = lgb.Dataset(matrix, arm, categorical_feature=cats, free_raw_data=True)
    return lgb.train(params, data, num_boost_round=max(settings.n_estimators // 5, 20))


def _fit_outcome(
    matrix: np.ndarray, arm: np.ndarray, y: np.ndarray, settings: EffectSettings, seed: int, cats
) -> lgb.Booster:
    params = _params(settings, seed, objective="binary")
    data = lgb.Dataset(
        _with_arm(matrix, arm), y, categorical_feature=[*cats, matrix.shape[1]], free_raw_data=True
    )
    return lgb.train(params, data, num_boost_round=settings.n_estimators)


def cross_fit_propensity(
    matrix: np.ndarray,
    arm: np.ndarray,
    groups: np.ndarray,
    n_arms: int,
    settings: EffectSettings,
    seed: int,
    cats: list[int],
) -> tuple[np.ndarray, list[lgb.Booster]]:
    """Out-of-fold propensities (rows x arms; no unit is predicted by a model that saw its own
    customer) and the fold models."""
    propensity = np.zeros((len(arm), n_arms))
    models = []
    for fold in range(settings.folds):
        test = groups == fold
        model = _fit_propensity(matrix[~test], arm[~test], n_arms, settings, seed + fold, cats)
        propensity[test] = model.predict(matrix[test]).reshape(test.sum(), n_arms)
        models.append(model)
    return propensity, models


def cross_fit_outcome(
    matrix: np.ndarray,
    arm: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    n_arms: int,
    settings: EffectSettings,
    seed: int,
    cats: list[int],
) -> tuple[np.ndarray, list[lgb.Booster]]:
    """Out-of-fold outcomes under every arm (rows x arms) and the fold models."""
    outcome = np.zeros((len(arm), n_arms))
    models = []
    for fold in range(settings.folds):
        test = groups == fold
        model = _fit_outcome(matrix[~test], arm[~test], y[~test], settings, seed + fold, cats)
        for a in range(n_arms):
            outcome[test, a] = model.predict(_with_arm(matrix[test], a))
        models.append(model)
    return outcome, models


def pseudo_outcomes(
    arm: np.ndarray, y: np.ndarray, propensity: np.ndarray, outcome: np.ndarray, clip: float
) -> np.ndarray:
    """DR pseudo-outcomes phi_a (rows x arms), propensities clipped below at `clip`."""
    n_arms = propensity.shape[1]
    taken = arm[:, None] == np.arange(n_arms)[None, :]
    weight = taken / np.clip(propensity, clip, None)
    return outcome + weight * (y[:, None] - outcome)


def overlap_report(
    propensity: np.ndarray,
    arms: tuple[str, ...],
    days_past_due: np.ndarray,
    clip: float,
    used: np.ndarray | None = None,
) -> dict:
    """Share of contexts where each channel has (almost) no chance of being used (or was never
    used at that moment, `used` rows x arms), overall and by moment of the dunning cycle: where
    no effect can be claimed."""
    moment = moment_of(days_past_due)
    report: dict = {"min_propensity": clip, "units": len(propensity), "no_overlap_share": {}}
    for j, name in enumerate(arms):
        missing = propensity[:, j] < clip
        if used is not None:
            missing |= ~used[:, j]
        report["no_overlap_share"][name] = {
            "all": round(float(missing.mean()), 4) if len(missing) else None,
            **{
                label: round(float(missing[moment == m].mean()), 4) if (moment == m).any() else None
                for m, (label, _, _) in enumerate(MOMENTS)
            },
        }
    return report


def support_counts(days_past_due: np.ndarray, arm: np.ndarray, n_arms: int) -> np.ndarray:
    """Moments x arms: how many units of each arm the history has at each moment."""
    counts = np.zeros((len(MOMENTS), n_arms), dtype="int64")
    np.add.at(counts, (moment_of(days_past_due), arm), 1)
    return counts


class EffectsNotLearnableError(ValueError):
    """The history has too few reminders (or too few without one) to compare channels."""


@dataclass(frozen=True)
class _Design:
    """The decision units as the estimators read them: matrix, arm codes, folds."""

    arms: tuple[str, ...]
    layout: MatrixLayout
    rows: np.ndarray  # positions of the modelled units among all units
    matrix: np.ndarray
    arm: np.ndarray
    groups: np.ndarray
    cats: list[int]


def _design(
    features: Columns, arm_names: np.ndarray, customer_ids: np.ndarray, settings: EffectSettings,
    seed: int,
) -> _Design:  # fmt: skip
    arm_names = np.asarray(arm_names, dtype=object)
    counts = pd.Series(arm_names).value_counts()
    arms = tuple(a for a in ARMS if counts.get(a, 0) >= settings.min_units or a == NO_CONTACT)
    if counts.get(NO_CONTACT, 0) < settings.min_units or len(arms) < 2:
        raise EffectsNotLearnableError(
            f"too few decision units to learn channel effects ({dict(counts)}); "
            f"need {settings.min_units} without contact and with at least one channel"
        )
    rows = np.flatnonzero(np.isin(arm_names, arms))
    columns = EFFECT_FEATURE_COLUMNS
    categories = {
        name: sorted(pd.unique(np.asarray(features[name], dtype=object)[rows].astype("str")))
        for name in CATEGORICAL_FEATURES
    }
    layout = MatrixLayout.of(columns, categories)
    matrix = layout.matrix({name: np.asarray(features[name])[rows] for name in columns})
    groups = _customer_folds(np.asarray(customer_ids, dtype=object)[rows], settings.folds, seed)
    arm = pd.Index(arms).get_indexer(arm_names[rows])
    return _Design(arms, layout, rows, matrix, arm, groups, _categorical_positions(columns))


def fit_effect_models(
    features: Mapping[str, np.ndarray],
    units: pd.DataFrame,
    outcomes: Mapping[int, np.ndarray],
    settings: EffectSettings,
    seed: int,
) -> EffectModels:
    """The DR-learner of every response window on decision units (`outcomes`: per window, one
    value per unit, NaN while unknown). The propensity model is shared by the windows."""
    design = _design(
        features, units["arm"].to_numpy(dtype=object),
        units["customer_id"].to_numpy(dtype=object), settings, seed,
    )  # fmt: skip
    n_arms = len(design.arms)
    propensity, propensity_models = cross_fit_propensity(
        design.matrix, design.arm, design.groups, n_arms, settings, seed, design.cats
    )
    days_past_due = design.matrix[:, EFFECT_FEATURE_COLUMNS.index("days_past_due")]
    support = support_counts(days_past_due, design.arm, n_arms)
    min_support = max(settings.min_units // 10, 10)
    overlap = overlap_report(
        propensity, design.arms, days_past_due, settings.min_propensity,
        support[moment_of(days_past_due)] >= min_support,
    )  # fmt: skip
    overlap["units_by_moment"] = {
        label: dict(zip(design.arms, map(int, support[m]), strict=True))
        for m, (label, _, _) in enumerate(MOMENTS)
    }
    by_days = {}
    for days, y in outcomes.items():
        y = np.asarray(y, dtype="float64")[design.rows]
        known = ~np.isnan(y)
        matrix, arm = design.matrix[known], design.arm[known]
        outcome, outcome_models = cross_fit_outcome(
            matrix, arm, y[known], design.groups[known], n_arms, settings, seed, design.cats
        )
        phi = pseudo_outcomes(arm, y[known], propensity[known], outcome, settings.min_propensity)
        used = support[moment_of(days_past_due[known])] >= min_support
        final, groups = _fit_final(matrix, phi, propensity[known], used, design, settings, seed)
        by_days[days] = ChannelEffects(
            response_days=days,
            arms=design.arms,
            layout=design.layout,
            propensity=propensity_models,
            outcome=outcome_models,
            final=final,
            groups=groups,
            overlap=overlap,
            min_propensity=settings.min_propensity,
            n_units=int(known.sum()),
            support=support,
            min_support=min_support,
            metadata={
                "units_by_arm": {a: int((arm == i).sum()) for i, a in enumerate(design.arms)},
                "paid_within_window_by_arm": {
                    a: round(float(y[known][arm == i].mean()), 4)
                    for i, a in enumerate(design.arms)
                    if (arm == i).any()
                },
            },
        )
    return EffectModels(by_days)


def cross_fitted_nuisances(
    examples: EffectExamples, days: int, settings: EffectSettings, seed: int
) -> dict[str, np.ndarray]:
    """Propensities and outcomes (units x arms) cross-fitted by customer on `examples` themselves,
    for off-policy estimates on them: rows (positions among the examples), arm, y, and both."""
    design = _design(
        examples.features, examples.units["arm"].to_numpy(dtype=object),
        examples.units["customer_id"].to_numpy(dtype=object), settings, seed,
    )  # fmt: skip
    y = np.asarray(examples.outcomes[days], dtype="float64")[design.rows]
    known = ~np.isnan(y)
    n_arms = len(design.arms)
    propensity, _ = cross_fit_propensity(
        design.matrix[known], design.arm[known], design.groups[known], n_arms, settings, seed,
        design.cats,
    )  # fmt: skip
    outcome, _ = cross_fit_outcome(
        design.matrix[known], design.arm[known], y[known], design.groups[known], n_arms, settings,
        seed, design.cats,
    )  # fmt: skip
    return {
        "rows": design.rows[known],
        "arms": np.asarray(design.arms, dtype=object),
        "arm": design.arm[known],
        "y": y[known],
        "propensity": propensity,
        "outcome": outcome,
    }


def _fit_final(
    matrix: np.ndarray,
    phi: np.ndarray,
    propensity: np.ndarray,
    used: np.ndarray,
    design: _Design,
    settings: EffectSettings,
    seed: int,
) -> tuple[dict[str, lgb.Booster], dict[str, dict[str, list[float]]]]:
    """Per channel, the regression of phi_c - phi_none on the context where both have overlap,
    and the groups' intervals."""
    params = _params(
        settings, seed, objective="regression", num_leaves=settings.final_num_leaves,
        min_data_in_leaf=settings.final_min_child_samples, learning_rate=0.05,
    )  # fmt: skip
    final, groups = {}, {}
    for j, channel in enumerate(design.arms[1:], start=1):
        supported = (
            (propensity[:, j] >= settings.min_propensity)
            & (propensity[:, 0] >= settings.min_propensity)
            & used[:, j]
            & used[:, 0]
        )
        target = phi[supported, j] - phi[supported, 0]
        data = lgb.Dataset(matrix[supported], target, categorical_feature=design.cats)
        model = lgb.train(params, data, num_boost_round=settings.final_n_estimators)
        final[channel] = model
        groups[channel] = _group_intervals(
            model.predict(matrix[supported]), target, settings.interval_bins
        )
    return final, groups


def _group_intervals(estimate: np.ndarray, target: np.ndarray, bins: int) -> dict[str, list]:
    """Groups of units by estimated effect (quantiles), each with the 90% normal interval of its
    mean pseudo-outcome: the effect of customers like this one, whose width is the uncertainty a
    customer's own estimate is given (`ChannelEffects.intervals`)."""
    edges = (
        np.unique(np.quantile(estimate, np.linspace(0, 1, bins + 1)[:-1]))
        if len(estimate)
        else np.zeros(1)
    )
    where = np.clip(np.searchsorted(edges, estimate, side="right") - 1, 0, len(edges) - 1)
    low, high = [], []
    for g in range(len(edges)):
        values = target[where == g]
        center = float(values.mean()) if len(values) else 0.0
        spread = Z_90 * float(values.std(ddof=1)) / np.sqrt(len(values)) if len(values) > 1 else 1.0
        low.append(center - spread)
        high.append(center + spread)
    return {"edges": edges.tolist(), "low": low, "high": high}


@dataclass
class EffectModels:
    """The channel-effect models of every response window, shipped with the risk scorer."""

    by_days: dict[int, ChannelEffects]

    def for_days(self, days: int) -> ChannelEffects:
        """The model of `days`, else of the nearest window."""
        if days in self.by_days:
            return self.by_days[days]
        return self.by_days[min(self.by_days, key=lambda d: abs(d - days))]

    def summary(self) -> dict:
        return {
            str(days): {
                "arms": list(model.arms),
                "units": model.n_units,
                **model.metadata,
                "overlap": model.overlap,
            }
            for days, model in self.by_days.items()
        }
