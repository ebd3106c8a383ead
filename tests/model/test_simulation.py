"""The policy simulator: deterministic, common random numbers (a policy's play differs from
another's only by what it does), and the choosing policies keep the escalation rules in play."""

from __future__ import annotations

import numpy as np
import pytest

from payrisk.core.days import NEVER, next_business_day
from payrisk.data.contract import CHANNELS
from payrisk.data.generator import generate_world
from payrisk.data.world import (
    NO_CHANNEL,
    PHONE,
    PROMISE_KEPT_PROBABILITY,
    PROMISE_LEAD_DAYS,
    PROMISE_PROBABILITY,
    Actions,
    play,
)
from payrisk.policy.config import load_dunning_config
from payrisk.policy.dunning import code_of
from payrisk.policy.learned import KEY_ACCOUNT_MAX_LEVEL, LEVEL
from payrisk.simulation.compare import compare_policies, make_policy, period_of
from payrisk.simulation.metrics import METRICS, gap_closed, markdown_table

DUNNING = load_dunning_config()
FOLLOW_UP = 150


@pytest.fixture(scope="module")
def world():
    return generate_world(250, 2.0, seed=3, future_days=120)


@pytest.fixture(scope="module")
def past(world):
    return world.play_logged(world.end_day)


def _play(world, past, name):
    period = period_of(world, FOLLOW_UP)
    policy = make_policy(name, world, period, None, None, DUNNING, refresh_days=28)
    return play(world.invoices, policy, period.start, period.horizon, state=past.copy()), period


def test_the_same_seed_gives_the_same_world_and_plays(world, past) -> None:
    again = generate_world(250, 2.0, seed=3, future_days=120)
    np.testing.assert_array_equal(again.invoices.natural_day, world.invoices.natural_day)
    np.testing.assert_array_equal(again.invoices.response_draw, world.invoices.response_draw)
    first, _ = _play(world, past, "oracle")
    second, _ = _play(again, again.play_logged(again.end_day), "oracle")
    np.testing.assert_array_equal(first.paid_day, second.paid_day)
    for name, values in first.reminders().items():
        np.testing.assert_array_equal(values, second.reminders()[name], err_msg=name)


def test_a_policy_that_never_reminds_leaves_the_natural_payment_days(world, past) -> None:
    state, period = _play(world, past, "none")
    rows = period.rows
    np.testing.assert_array_equal(state.paid_day[rows], world.invoices.natural_day[rows])
    # The past is the same whatever the period's policy is.
    logged, _ = _play(world, past, "random")
    settled = past.paid_day < period.start
    np.testing.assert_array_equal(state.paid_day[settled], logged.paid_day[settled])


def test_the_random_policy_replays_the_log(world) -> None:
    """From the same past, the period played by `random` is the log continued: same draws."""
    period = period_of(world, FOLLOW_UP)
    whole = world.play_logged(period.horizon)
    state, _ = _play(world, world.play_logged(world.end_day), "random")
    np.testing.assert_array_equal(state.paid_day, whole.paid_day)


def test_the_oracle_keeps_the_escalation_rules_and_the_contact_gap(world, past) -> None:
    state, period = _play(world, past, "oracle")
    log = state.reminders()
    mine = log["row"] >= period.first_row
    rows, day, channel = log["row"][mine], log["day"][mine], log["channel"][mine]
    assert len(rows) > 200
    level = np.array([LEVEL[c] for c in CHANNELS])[channel]
    order = np.lexsort((day, rows))
    rows, day, level = rows[order], day[order], level[order]
    first = np.r_[True, rows[1:] != rows[:-1]]
    # The hardest earlier reminder of the same invoice.
    hardest = np.zeros(len(rows), dtype=int)
    for i in range(1, len(rows)):
        hardest[i] = 0 if first[i] else max(hardest[i - 1], level[i - 1])
    assert (level <= hardest + 1).all()  # friendly before firm, formal notice never first
    invoices = world.invoices
    assert (level[day < invoices.due_day[rows]] == 1).all()  # only courtesy before due
    assert (level[invoices.key_account[rows]] <= KEY_ACCOUNT_MAX_LEVEL).all()
    assert (day < invoices.dispute_day[rows]).all()
    # No two contacts of a customer closer than the gap (same-day contacts are one bundle).
    gap = DUNNING.contact.min_days_between_contacts
    customer = invoices.customer[rows]
    days = np.unique(np.column_stack([customer, day]), axis=0)
    same = days[1:, 0] == days[:-1, 0]
    assert (np.diff(days[:, 1])[same] >= gap).all()


def test_the_comparison_is_deterministic_and_orders_the_bounds(world, past) -> None:
    names = ("none", "random", "oracle")
    first, _ = compare_policies(world, past, None, None, DUNNING, FOLLOW_UP, names)
    second, _ = compare_policies(world, past, None, None, DUNNING, FOLLOW_UP, names)
    assert first == second
    assert set(first["oracle"]) == set(METRICS)
    days_late = {name: first[name]["amount_weighted_days_late"] for name in names}
    assert days_late["oracle"] < days_late["random"] < days_late["none"]
    assert first["none"]["contact_cost"] == 0 and first["none"]["contacts_per_invoice"] == 0
    assert gap_closed({**first, "learned": first["oracle"]}) == pytest.approx(1.0)
    table = markdown_table(first)
    assert table.count("\n") == len(names) + 1 and "| oracle |" in table


def test_channel_names_become_the_worlds_channel_codes() -> None:
    names = np.array([*CHANNELS, None, ""], dtype=object)
    expected = [*range(len(CHANNELS)), NO_CHANNEL, NO_CHANNEL]
    # The world's channel codes are the contract's channel order: dunning.code_of reads them.
    for many in (1, 100):  # a request's dict probe and a portfolio's vectorised lookup
        np.testing.assert_array_equal(code_of(np.tile(names, many), CHANNELS), expected * many)
    assert code_of(np.array([], dtype=object), CHANNELS).dtype == np.int64


@pytest.mark.slow
def test_a_whole_simulation_trains_payrisk_and_plays_every_policy(tmp_path, monkeypatch) -> None:
    """`payrisk simulate` end to end with a trained scorer and channel-effect models: the rules
    and the learned policy read features through the scorer (a change of the feature API broke
    this once while the tests above, which need no scorer, passed); its MLflow run lands in
    payrisk's experiment, nothing in the working directory's ./mlruns."""
    import mlflow

    from payrisk.core.config import load_train_config
    from pipelines.catalog import Catalog
    from pipelines.simulation import log_simulation, simulate_world

    small = generate_world(200, 2.0, seed=3, future_days=60)
    report = simulate_world(small, load_train_config(), DUNNING, follow_up_days=60)
    policies = report["policies"]
    assert set(policies) == {"none", "random", "rules", "learned", "oracle", "service"}
    assert all(set(values) == set(METRICS) for values in policies.values())
    assert report["effects"] is not None  # the learned policy had effect models to decide with
    for name in ("rules", "learned"):
        assert policies[name]["contacts_per_invoice"] > 0
    assert policies["learned"] != policies["rules"]  # not the rules table under another name
    assert policies["none"]["contacts_per_invoice"] == 0 and policies["none"]["contact_cost"] == 0
    for name, values in policies.items():
        for share in ("late_share", "default_share", "cash_collected_share_by_due_plus_30"):
            assert 0 <= values[share] <= 1, (name, share)
        assert values["default_share"] <= values["late_share"], name  # a default is late
        assert (values["contact_cost"] > 0) == (values["contacts_per_invoice"] > 0), name
    late = {name: values["amount_weighted_days_late"] for name, values in policies.items()}
    assert late["oracle"] < late["none"]  # true responses: contacts that help
    assert late["rules"] < late["none"]  # the world's reminders do bring payments forward
    assert set(report["timings"]) == {"generate_seconds", "train_seconds", "play_seconds"}

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    catalog = Catalog()
    log_simulation(catalog, {**report, "world": {"customers": 200, "years": 2.0, "seed": 3}})
    experiment = mlflow.get_experiment_by_name(catalog.train_config.registry.experiment)
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    assert [run.data.tags["kind"] for run in runs] == ["simulation"]
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.slow
def test_the_service_played_in_the_world_keeps_the_ladder_and_never_repeats_a_step(
    world, past, trained
) -> None:
    """The service's own planner (what /v1/score runs), asked every week as a dunning system
    asks it with what was sent reported: no agency before a formal notice, no notice first, each
    step sent once, no two contact days of a customer closer than the gap."""
    from tests.conftest import project_catalog

    scorer = project_catalog(trained).load_scorer(None).scorer
    period = period_of(world, FOLLOW_UP)
    policy = make_policy("service", world, period, scorer, scorer.effects, DUNNING, 28)
    state = play(world.invoices, policy, period.start, period.horizon, state=past.with_promises())
    log = state.reminders()
    mine = log["row"] >= period.first_row
    rows, day, channel, step = (log[k][mine] for k in ("row", "day", "channel", "step"))
    assert len(rows) > 100
    names = np.asarray(CHANNELS, dtype=object)[channel]
    order = np.lexsort((day, rows))
    for invoice in np.unique(rows):
        sent = order[rows[order] == invoice]
        sequence = list(names[sent])
        if "agency" in sequence:
            assert "formal_notice" in sequence[: sequence.index("agency")], sequence
        if "formal_notice" in sequence:
            assert sequence.index("formal_notice") > 0, sequence
        steps = list(step[sent])
        assert steps == sorted(set(steps)), steps
    # The promises its calls brought are kept to: while one is open (the invoice's latest),
    # only its courtesy nudge and check-in call, before its day (configs/dunning.yaml promises).
    made, promised = state.promise_made[rows], state.promise_day[rows]
    assert (made != NEVER).sum() > 10, "calls brought promises"
    during = (made != NEVER) & (day > made) & (day <= promised)
    nudges = {getattr(DUNNING.promises.courtesy_channel, "value", "email"), "phone"}
    assert set(names[during]) <= nudges and (day[during] < promised[during]).all()
    assert np.bincount(rows[during]).max(initial=0) <= 2
    gap = DUNNING.contact.min_days_between_contacts
    customer = world.invoices.customer[rows]
    days = np.unique(np.column_stack([customer, day]), axis=0)
    same = days[1:, 0] == days[:-1, 0]
    assert (np.diff(days[:, 1])[same] >= gap).all()


class _CallEveryone:
    """Calls every open invoice of the period on `day`, then again on `again` (common draws)."""

    def __init__(self, rows: np.ndarray, day: int, again: int) -> None:
        self.rows, self.day, self.again = rows, day, again

    def __call__(self, state, start: int, end: int) -> Actions:
        for when in (self.day, self.again):
            if start <= when < end:
                rows = self.rows[state.paid_day[self.rows] > when]
                n = len(rows)
                return Actions(
                    rows, np.full(n, when), np.full(n, PHONE), np.ones(n, dtype=np.int64)
                )
        return Actions.none()


def test_calls_bring_promises_kept_or_broken_by_archetype_and_reminders_wait_for_them(
    world, past
) -> None:
    period = period_of(world, FOLLOW_UP)
    inv = world.invoices
    day = int(next_business_day(np.array([period.start + 35]))[0])
    again = day + 3  # inside every promise's lead (at least 5 days)
    rows = period.rows[(inv.issue_day[period.rows] < day) & (past.paid_day[period.rows] > day)]
    policy = _CallEveryone(rows, day, again)
    state = play(inv, policy, period.start, period.horizon, state=past.with_promises())
    draw = inv.promise_draw[rows, past.sent_count[rows]]  # the first call's promise draws
    archetype = inv.archetype[rows]
    made = state.promise_made[rows] == day
    # As often as the archetype says, a few days ahead (a weekend moves it to a working day).
    assert (draw[made, 0] < PROMISE_PROBABILITY[archetype[made]]).all()
    low, high = PROMISE_LEAD_DAYS
    lead = state.promise_day[rows][made] - day
    assert ((lead >= low) & (lead <= high + 3)).all()
    kept = made & (draw[:, 2] < PROMISE_KEPT_PROBABILITY[archetype])
    kept &= state.promise_day[rows] < inv.failure_day[rows]
    # The second call (inside the promise) moves nothing: a kept promise pays on its day, a
    # broken one on the natural day.
    np.testing.assert_array_equal(
        state.paid_day[rows][kept],
        np.minimum(state.promise_day[rows][kept], inv.natural_day[rows][kept]),
    )
    broken = made & ~kept
    np.testing.assert_array_equal(state.paid_day[rows][broken], inv.natural_day[rows][broken])
    assert kept.sum() > 5 and broken.sum() > 0
    # The history is played without promises: the same past whatever the world can do.
    np.testing.assert_array_equal(past.paid_day, world.play_logged(world.end_day).paid_day)
