"""The registry gate's branches, on a hand-made holdout and scorers with fixed scores.

Every expected AUC is worked by hand on a four-row pattern (counted pairs, written in the
comments), never by the metric code under test; the pattern is repeated to reach the gate's
minimum of unseen snapshots, which leaves the share of correctly ordered pairs unchanged. The
snapshots are taken at issue (one age group) unless a test says otherwise: the gate's metric is
per age, averaged over the ages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from payrisk.core.config import load_train_config
from payrisk.models.gate import (
    CHALLENGER,
    CHAMPION,
    MIN_GATE_EXAMPLES,
    GateInputs,
    decide,
    gate_inputs,
    metric_order,
)
from payrisk.models.training import MIN_GROUP_ROWS, Evaluation, Examples, evaluate

HOLDOUT = ["2024-01-01", "2024-07-01"]
LATE = [1, 0, 1, 0]  # the pattern's labels
# Positives score 0.9 and 0.3, negatives 0.8 and 0.1: 3 of the 4 (positive, negative) pairs are
# ordered right (0.3 < 0.8 is not): AUC 0.75.
FAIR = [0.9, 0.8, 0.3, 0.1]
# 0.9 and 0.6 above 0.2 and 0.1: all 4 pairs right, AUC 1.0.
PERFECT = [0.9, 0.2, 0.6, 0.1]
# 0.2 and 0.1 below 0.9 and 0.6: no pair right, AUC 0.0.
BACKWARDS = [0.2, 0.9, 0.1, 0.6]
AGE_REPEATS = MIN_GROUP_ROWS // 4 + 1  # an age group with fewer snapshots is not measured


def holdout(dates: list[str], repeats: int, defaults: bool, days_to_due: int = 30) -> Examples:
    """`repeats` copies of the four-row pattern on each date, each an invoice issued that day
    and due `days_to_due` later (0: seen on its due date); no default at all unless asked."""
    n = 4 * repeats * len(dates)
    snapshot = np.repeat(pd.to_datetime(dates), 4 * repeats)
    late = np.tile(LATE, n // 4)
    default = late if defaults else np.zeros(n, dtype="int64")
    issue = snapshot - pd.Timedelta(days=30 - days_to_due)
    queries = pd.DataFrame(
        {
            "snapshot_date": snapshot,
            "issue_date": issue,
            "due_date": issue + pd.Timedelta(days=30),
            "amount": np.full(n, 1000.0),
            "customer_id": [f"C{i % 7}" for i in range(n)],
        }
    )
    labels = pd.DataFrame(
        {"late": late, "default": default, "days_to_payment": np.full(n, 30.0)}
    ).astype("float64")
    features = pd.DataFrame(
        {
            "date_index": np.repeat(np.arange(len(dates)), 4 * repeats),
            "position": np.arange(n) % 4,
            "is_new_customer": np.zeros(n),
        }
    )
    return Examples(queries, features, labels)


def at_issue(card: dict) -> dict:
    """A model card's holdout figures, all measured at issue."""
    return {"holdout_by_group": {"at_issue": card}}


class FixedScorer:
    """Scores `scores[date][position in the pattern]`, as a scorer's `predict` returns them."""

    def __init__(self, scores: dict[str, list[float]], dates: list[str], metadata: dict) -> None:
        self.targets = load_train_config().targets
        self.feature_columns: tuple[str, ...] = ("date_index", "position", "is_new_customer")
        self.metadata = metadata
        self._scores, self._dates = scores, dates

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        pairs = zip(features["date_index"], features["position"], strict=True)
        p = np.array([self._scores[self._dates[d]][i] for d, i in pairs])
        days = np.full(len(p), 30.0)
        return pd.DataFrame(
            {
                "late_probability": p,
                "default_probability": p,
                "days_to_payment": days,
                "days_to_payment_low": days - 5,
                "days_to_payment_high": days + 5,
            }
        )


def metadata(**overrides) -> dict:
    return {
        "as_of": "2024-11-01",
        "trained_until": "2024-01-01",
        "holdout": HOLDOUT,
        "data_fingerprint": "abc",
        "holdout_snapshots": 0,
        **overrides,
    }


def measure(champion, candidate, examples: Examples, meta: dict, min_improvement: float = 0.0):
    config = load_train_config()
    evaluation = evaluate(candidate, examples, config)
    inputs = gate_inputs(champion, "3", candidate, evaluation, examples, meta, config)
    return inputs, decide(inputs, config.registry.gate_metric, min_improvement)


def test_the_gate_judges_each_snapshot_age_not_the_pool():
    """At issue half the invoices are late, on the due date three in four. A champion that only
    knows the age (0.1 at issue, 0.9 on the due date) ranks nothing within an age (AUC 0.5
    each), yet pooled it scores 9.5 of 15 pairs (0.633: 2 ties of 4 at 0.1, 6 wins, 1.5 of 3
    ties at 0.9). The candidate ranks within each age (0.75 at issue; on the due date 2 of its
    3 late invoices above the on-time one, 0.667) but scores the due date low: pooled only 7
    of 15 (0.467). Per age it is ahead, 0.708 vs 0.5, and takes over; pooled it would not."""
    issued = holdout(["2024-03-01"], AGE_REPEATS, True)
    due = holdout(["2024-03-02"], AGE_REPEATS, True, days_to_due=0)
    labels = pd.concat(
        [issued.labels, due.labels.assign(late=np.tile([1.0, 1, 1, 0], AGE_REPEATS))],
        ignore_index=True,
    )
    labels["default"] = labels["late"]
    examples = Examples(
        pd.concat([issued.queries, due.queries], ignore_index=True),
        pd.concat([issued.features, due.features.assign(date_index=1)], ignore_index=True),
        labels,
    )
    dates = ["2024-03-01", "2024-03-02"]
    champion = FixedScorer(
        {dates[0]: [0.1] * 4, dates[1]: [0.9] * 4}, dates, metadata(trained_until="2023-12-01")
    )
    candidate = FixedScorer({dates[0]: FAIR, dates[1]: [0.09, 0.08, 0.03, 0.05]}, dates, {})
    inputs, decision = measure(champion, candidate, examples, metadata())
    assert inputs.champion_value == pytest.approx(0.5)
    assert inputs.new_value == pytest.approx((0.75 + 2 / 3) / 2)
    assert decision.alias == CHAMPION
    assert "mean over snapshot ages (at issue, on the due date)" in decision.reason


def test_metrics_are_tried_in_order_configured_first_then_the_same_kind():
    assert metric_order("default_roc_auc") == [
        "default_roc_auc",
        "late_roc_auc",
        "default_pr_auc",
        "late_pr_auc",
    ]
    assert metric_order("late_pr_auc")[:2] == ["late_pr_auc", "default_pr_auc"]


@pytest.mark.parametrize(
    ("candidate_scores", "alias", "new_value"),
    [(PERFECT, CHAMPION, 1.0), (BACKWARDS, CHALLENGER, 0.0)],
)
def test_without_a_default_the_gate_judges_late_auc_and_says_so(candidate_scores, alias, new_value):
    """No default in the holdout: default ROC AUC is undefined for both. It must neither block
    a better model forever ('nan vs nan') nor let a worse one through."""
    dates = ["2024-03-01"]
    examples = holdout(dates, repeats=AGE_REPEATS, defaults=False)
    champion = FixedScorer({dates[0]: FAIR}, dates, metadata(trained_until="2023-12-01"))
    candidate = FixedScorer({dates[0]: candidate_scores}, dates, metadata())
    inputs, decision = measure(champion, candidate, examples, metadata())
    assert (inputs.champion_value, inputs.new_value) == (pytest.approx(0.75), new_value)
    assert decision.alias == alias
    assert decision.metric == "late_roc_auc"
    assert "whole holdout" in decision.reason
    assert "judged on late_roc_auc (default_roc_auc undefined" in decision.reason


def test_with_no_metric_defined_for_both_nothing_is_measured_and_the_champion_stays():
    """Same holdout before refit, but neither target has both classes on it."""
    config = load_train_config()
    nan = {"roc_auc": float("nan"), "pr_auc": float("nan")}
    metrics = {"late": {"model": nan}, "default": {"model": nan}}
    meta = metadata(trained_until="2024-10-01")
    champion = FixedScorer({}, [], {**meta, **at_issue(metrics)})
    evaluation = Evaluation({}, predictions={}, groups={"at_issue": metrics})
    inputs = gate_inputs(champion, "3", champion, evaluation, None, meta, config)
    decision = decide(inputs, config.registry.gate_metric, 0.0)
    assert decision.alias == CHALLENGER and decision.champion_value is None
    assert "no gate metric is defined for both models" in decision.reason


def test_same_holdout_before_refit_compares_the_card_on_a_defined_metric():
    """Same data, window and snapshots: the champion's pre-refit figures face the candidate's;
    its default AUC is NaN on its card, so late AUC is compared."""
    dates = ["2024-03-01"]
    examples = holdout(dates, repeats=AGE_REPEATS, defaults=False)
    card = {"late": {"model": {"roc_auc": 0.9}}, "default": {"model": {"roc_auc": float("nan")}}}
    meta = metadata(trained_until="2024-11-01", holdout_snapshots=4)
    champion = FixedScorer({dates[0]: FAIR}, dates, {**meta, **at_issue(card)})
    candidate = FixedScorer({dates[0]: FAIR}, dates, meta)
    inputs, decision = measure(champion, candidate, examples, meta)
    assert (inputs.champion_value, inputs.new_value) == (0.9, pytest.approx(0.75))
    assert decision.alias == CHALLENGER
    assert "same holdout, both before refit" in decision.reason


def test_other_snapshots_in_the_same_window_are_not_the_same_holdout():
    """Same dates and data but another snapshot count (other snapshot settings): the champion's
    card was measured on other snapshots and cannot face this candidate's figures."""
    dates = ["2024-03-01"]
    examples = holdout(dates, repeats=AGE_REPEATS, defaults=True)
    card = {"late": {"model": {"roc_auc": 0.5}}, "default": {"model": {"roc_auc": 0.5}}}
    champion_meta = metadata(trained_until="2024-11-01", holdout_snapshots=999)
    champion = FixedScorer({dates[0]: FAIR}, dates, {**champion_meta, **at_issue(card)})
    candidate = FixedScorer({dates[0]: PERFECT}, dates, metadata(holdout_snapshots=4))
    meta = metadata(holdout_snapshots=4)
    inputs, decision = measure(champion, candidate, examples, meta)
    assert inputs.champion_value is None
    assert decision.alias == CHALLENGER


@pytest.mark.parametrize("champion_as_of", ["2024-11-01", "2024-10-01"])
def test_a_champion_that_cannot_be_measured_is_never_replaced_unmeasured(champion_as_of):
    """Refitted through a date after the holdout ends, the champion has seen every holdout
    snapshot: with the same as-of date (or an earlier one) and another holdout window, the
    candidate (here perfect on the holdout, as a leaky one would be) still does not take over."""
    dates = ["2024-03-01"]
    examples = holdout(dates, repeats=AGE_REPEATS, defaults=True)
    champion_meta = metadata(
        trained_until="2024-11-01", as_of=champion_as_of, holdout=["2023-12-01", "2024-06-01"]
    )
    champion = FixedScorer({dates[0]: FAIR}, dates, champion_meta)
    candidate = FixedScorer({dates[0]: PERFECT}, dates, metadata())
    inputs, decision = measure(champion, candidate, examples, metadata())
    assert inputs.champion_value is None
    assert decision.alias == CHALLENGER
    assert "only 0 holdout snapshots are new to it" in decision.reason
    assert f"{MIN_GATE_EXAMPLES} labelled snapshots dated from 2024-11-02" in decision.reason


def test_both_are_remeasured_on_the_snapshots_the_champion_never_saw():
    """The champion was trained through April: on the March snapshots it would look perfect and
    the candidate backwards; on the May snapshots (new to both) the candidate is perfect, the
    champion fair. Only May counts, for both."""
    dates = ["2024-03-01", "2024-05-01"]
    repeats = MIN_GATE_EXAMPLES // 4
    examples = holdout(dates, repeats=repeats, defaults=True)
    champion_meta = metadata(trained_until="2024-04-01", holdout=["2023-12-01", "2024-06-01"])
    champion = FixedScorer({dates[0]: PERFECT, dates[1]: FAIR}, dates, champion_meta)
    candidate = FixedScorer({dates[0]: BACKWARDS, dates[1]: PERFECT}, dates, metadata())
    inputs, decision = measure(champion, candidate, examples, metadata())
    assert (inputs.champion_value, inputs.new_value) == (pytest.approx(0.75), 1.0)
    assert decision.alias == CHAMPION and decision.metric == "default_roc_auc"
    assert f"{MIN_GATE_EXAMPLES:,} holdout snapshots after 2024-04-01" in decision.reason


def test_a_champion_that_cannot_score_today_gives_way_and_the_reason_says_why():
    """A feature the champion needs is gone from today's feature code: the service could not
    serve it either, so the candidate takes over, saying why."""
    dates = ["2024-03-01"]
    examples = holdout(dates, repeats=AGE_REPEATS, defaults=True)
    champion = FixedScorer({dates[0]: FAIR}, dates, metadata(trained_until="2023-12-01"))
    champion.feature_columns = ("row", "a_feature_removed_since")
    candidate = FixedScorer({dates[0]: BACKWARDS}, dates, metadata())
    inputs, decision = measure(champion, candidate, examples, metadata())
    assert inputs.champion_usable is False and inputs.champion_value is None
    assert decision.alias == CHAMPION
    assert "cannot score with the current feature code" in decision.reason


@pytest.mark.parametrize(
    ("new_value", "expected"),
    [(0.815, CHALLENGER), (0.825, CHAMPION)],
)
def test_the_required_margin_is_honoured(new_value, expected):
    """0.80 + 0.02 = 0.82: 0.815 beats the champion but not by the margin, 0.825 does."""
    inputs = GateInputs("3", 0.80, new_value, "whole holdout")
    decision = decide(inputs, "default_roc_auc", 0.02)
    assert decision.alias == expected
    assert "margin required 0.02" in decision.reason


def test_a_model_behind_its_baseline_beyond_noise_never_replaces_the_champion():
    """Ahead of the champion but worse than the logistic baseline by more than twice the
    bootstrap noise: it stays challenger, the reason names the baseline and both values. With
    no champion it serves (something must), and the reason says what it lacks."""
    config = load_train_config()
    behind = {
        "metric": "roc_auc",
        "model": 0.80,
        "best_baseline": "logistic",
        "baseline": 0.85,
        "gain": -0.05,
        "noise": 0.01,
        "worse_beyond_noise": True,
    }
    level = {**behind, "model": 0.845, "gain": -0.005, "worse_beyond_noise": False}
    card = {"late": {"model": {"roc_auc": 0.7}}, "default": {"model": {"roc_auc": 0.7}}}
    meta = metadata(trained_until="2024-11-01", holdout_snapshots=4)
    champion = FixedScorer({}, [], {**meta, **at_issue(card)})
    metrics = {"late": {"model": {"roc_auc": 0.8}}, "default": {"model": {"roc_auc": 0.8}}}
    decisions = {}
    for name, row in (("behind", behind), ("level", level)):
        evaluation = Evaluation(
            {},
            predictions={},
            groups={"at_issue": metrics},
            group_checks={"at_issue": {"late": [row]}},
        )
        for version in ("3", None):
            inputs = gate_inputs(champion, version, champion, evaluation, None, meta, config)
            decisions[name, version] = decide(inputs, config.registry.gate_metric, 0.0)
    assert decisions["behind", "3"].alias == CHALLENGER
    assert "late roc_auc at issue: 0.8000 vs logistic 0.8500 (noise 0.0100)" in (
        decisions["behind", "3"].reason
    )
    assert decisions["level", "3"].alias == CHAMPION  # within noise of the baseline, ahead of v3
    assert decisions["behind", None].alias == CHAMPION
    assert "worse than a baseline beyond noise" in decisions["behind", None].reason
    assert decisions["level", None].reason == "no champion yet"


def test_a_model_behind_both_champion_and_baseline_is_told_both():
    inputs = GateInputs("3", 0.80, 0.75, "whole holdout", behind_baseline="late roc_auc: ...")
    decision = decide(inputs, "default_roc_auc", 0.0)
    assert decision.alias == CHALLENGER
    assert decision.reason.startswith("does not beat champion on default_roc_auc (0.7500 vs 0.8000")
    assert decision.reason.endswith("also worse than a baseline beyond noise on its holdout "
                                    "(late roc_auc: ...)")  # fmt: skip


def test_the_headline_averages_the_ages_where_the_auc_is_defined_and_ignores_segments():
    """Late: (0.8 + 0.6) / 2 at issue and on the due date; 15-30 days past due has no late AUC
    (one class) and the segment row is no age. Default: defined nowhere, so no headline."""
    from payrisk.models.training import age_headline

    nan = float("nan")

    def row(auc, loss):
        return {"model": {"roc_auc": auc, "pr_auc": auc, "log_loss": loss, "n": 50.0}}

    groups = {
        "at_issue": {"late": row(0.8, 0.4), "default": row(nan, 0.1)},
        "at_due": {"late": row(0.6, 0.6)},
        "past_due_16_30": {"late": row(nan, 0.9)},
        "known_customer": {"late": row(0.99, 0.01)},
    }
    headline = age_headline(groups)
    assert set(headline) == {"late"}
    assert headline["late"]["ages"] == ["at_issue", "at_due"]
    assert headline["late"]["model"]["roc_auc"] == pytest.approx(0.7)
    assert headline["late"]["model"]["log_loss"] == pytest.approx(0.5)


@pytest.mark.parametrize(("champion_value", "margin"), [(0.80, 0.0), (0.50, 0.25)])
def test_a_tie_at_the_margin_does_not_replace_the_champion(champion_value, margin):
    """0.80 + 0 and 0.50 + 0.25 (exact in binary) are both 0.75 or 0.80 on the dot: a new
    model exactly at the required margin does not beat it by more."""
    new_value = champion_value + margin
    inputs = GateInputs("3", champion_value, new_value, "whole holdout")
    assert decide(inputs, "default_roc_auc", margin).alias == CHALLENGER


def test_a_champion_this_payrisk_cannot_load_gives_way_unmeasured():
    """The registry has a version 3 this payrisk cannot load (`champion` None): it cannot be
    served either, so the candidate takes over without a comparison, and the reason says so."""
    config = load_train_config()
    dates = ["2024-03-01"]
    examples = holdout(dates, repeats=AGE_REPEATS, defaults=True)
    candidate = FixedScorer({dates[0]: FAIR}, dates, metadata())
    evaluation = evaluate(candidate, examples, config)
    inputs = gate_inputs(None, "3", candidate, evaluation, examples, metadata(), config)
    assert inputs.champion_usable is False and inputs.champion_value is None
    decision = decide(inputs, config.registry.gate_metric, 0.0)
    assert decision.alias == CHAMPION and decision.champion_version == "3"
    assert "cannot be loaded by this payrisk" in decision.reason


def test_a_champion_predicting_another_target_is_not_compared_and_stays():
    """The champion's default is unpaid 60 days after the due date, this model's the configured
    one: the two are not comparable, the champion stays and the reason names both definitions."""
    config = load_train_config()
    dates = ["2024-03-01"]
    examples = holdout(dates, repeats=AGE_REPEATS, defaults=True)
    champion = FixedScorer({dates[0]: FAIR}, dates, metadata(trained_until="2023-12-01"))
    days = config.targets.default_after_days
    other = days + 30
    champion.targets = champion.targets.model_copy(update={"default_after_days": other})
    candidate = FixedScorer({dates[0]: PERFECT}, dates, metadata())
    inputs, decision = measure(champion, candidate, examples, metadata())
    assert inputs.comparable is False and inputs.champion_value is None
    assert inputs.champion_usable is True
    assert decision.alias == CHALLENGER
    assert f"default = unpaid {other} days after the due date for the champion" in decision.reason
    assert f"default = unpaid {days} days after the due date for this model" in decision.reason


def test_a_champion_trained_up_to_the_holdouts_first_day_is_measured_on_the_whole_holdout():
    """Trained through 2024-01-01, the holdout's first day (as a model trained before its own
    holdout is): it saw none of the holdout, so both are measured on all of it, where the
    candidate is perfect (1.0) and the champion fair (0.75)."""
    dates = ["2024-03-01"]
    examples = holdout(dates, repeats=AGE_REPEATS, defaults=True)
    champion = FixedScorer({dates[0]: FAIR}, dates, metadata(trained_until=HOLDOUT[0]))
    candidate = FixedScorer({dates[0]: PERFECT}, dates, metadata(holdout_snapshots=4))
    inputs, decision = measure(champion, candidate, examples, metadata(holdout_snapshots=4))
    assert (inputs.champion_value, inputs.new_value) == (pytest.approx(0.75), 1.0)
    assert decision.alias == CHAMPION
    assert "whole holdout" in decision.reason


def test_snapshots_on_the_champions_last_training_day_count_as_seen():
    """Trained through 2024-04-01: the snapshots of that very day are the champion's (perfect
    there, the candidate backwards) and left out; on May's, new to both, the candidate is
    perfect (1.0), the champion fair (0.75)."""
    dates = ["2024-04-01", "2024-05-01"]
    repeats = MIN_GATE_EXAMPLES // 4
    examples = holdout(dates, repeats=repeats, defaults=True)
    champion_meta = metadata(trained_until="2024-04-01", holdout=["2023-12-01", "2024-06-01"])
    champion = FixedScorer({dates[0]: PERFECT, dates[1]: FAIR}, dates, champion_meta)
    candidate = FixedScorer({dates[0]: BACKWARDS, dates[1]: PERFECT}, dates, metadata())
    inputs, decision = measure(champion, candidate, examples, metadata())
    assert (inputs.champion_value, inputs.new_value) == (pytest.approx(0.75), 1.0)
    assert f"{MIN_GATE_EXAMPLES:,} holdout snapshots after 2024-04-01" in decision.reason


def test_a_new_champion_is_told_by_how_much_it_won():
    """0.85 against 0.80: ahead by 0.05, over the required 0.02."""
    decision = decide(GateInputs("3", 0.80, 0.85, "whole holdout"), "default_roc_auc", 0.02)
    assert decision.alias == CHAMPION
    assert decision.reason == (
        "beats champion on default_roc_auc by 0.0500 (margin required 0.02) on whole holdout"
    )
