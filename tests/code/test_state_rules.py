"""The dunning state's rules read one invoice at a time, each at its boundary day (issue 32: the
mutation runner's `state` target). Expected values are worked by hand from the rules in
`payrisk.policy.state`'s docstring, never from the code's output."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from payrisk.policy.dunning import NO_CONTACT
from payrisk.policy.state import (
    NO_DAY,
    DunningState,
    amount_due,
    latest_day,
    promise_kept_probability,
    scenario_inputs,
)

TODAY = 20_400


def _state(n: int = 1, **fields) -> DunningState:
    """`n` invoices, nothing known but `fields` (lists of n values)."""
    base = DunningState.empty(n)
    values = {}
    for name, given in fields.items():
        dtype = getattr(base, name).dtype
        values[name] = np.array(given, dtype=dtype)
    return replace(base, **values)


def test_a_hold_holds_through_its_last_day_and_not_the_day_after():
    state = _state(3, hold_until_day=[TODAY, TODAY - 1, NO_DAY])
    assert state.held(TODAY).tolist() == [True, False, False]


def test_a_promise_is_open_through_its_day_and_broken_the_day_after():
    state = _state(3, promise_day=[TODAY, TODAY - 1, NO_DAY])
    assert state.open_promise(TODAY).tolist() == [True, False, False]
    # Broken: the date has passed and no reminder came after it (none was ever sent here).
    no_reminder = np.full(3, NO_CONTACT)
    assert state.broken_promise(TODAY, no_reminder).tolist() == [False, True, False]


def test_a_reminder_after_the_promised_day_answers_the_broken_promise_one_on_it_does_not():
    state = _state(3, promise_day=[TODAY - 5] * 3)
    last_reminder = np.array([TODAY - 4, TODAY - 5, TODAY - 6])
    assert state.broken_promise(TODAY, last_reminder).tolist() == [False, True, True]


def test_a_promise_to_pay_early_that_slips_is_broken_only_once_the_invoice_is_past_due():
    state = _state(3, promise_day=[TODAY - 5] * 3)
    no_reminder = np.full(3, NO_CONTACT)
    due = np.array([TODAY - 1, TODAY, TODAY + 3])
    assert state.broken_promise(TODAY, no_reminder, due).tolist() == [True, False, False]


def test_a_plan_is_on_track_through_its_instalments_due_day():
    state = _state(3, plan_due_day=[TODAY, TODAY - 1, NO_DAY])
    assert state.on_plan().tolist() == [True, True, False]
    assert state.on_track(TODAY).tolist() == [True, False, False]


def test_an_open_promise_is_on_track_a_broken_one_is_not():
    state = _state(2, promise_day=[TODAY, TODAY - 1])
    assert state.on_track(TODAY).tolist() == [True, False]


def test_the_pause_ends_with_the_later_of_a_hold_and_an_open_promise():
    state = _state(
        5,
        hold_until_day=[TODAY + 3, TODAY + 3, NO_DAY, TODAY - 1, NO_DAY],
        promise_day=[TODAY + 7, TODAY + 1, TODAY + 2, TODAY - 2, NO_DAY],
    )
    # Nothing pausing: the day before today (a contact may go today).
    expected = [TODAY + 7, TODAY + 3, TODAY + 2, TODAY - 1, TODAY - 1]
    assert state.paused_until(TODAY).tolist() == expected


def test_direct_debit_collects_until_a_collection_fails():
    state = _state(
        4,
        direct_debit=[1.0, 1.0, 0.0, np.nan],
        debit_failed_day=[NO_DAY, TODAY - 3, NO_DAY, NO_DAY],
    )
    assert state.collected_by_debit().tolist() == [True, False, False, False]


def test_a_dispute_counts_from_the_day_it_is_raised():
    state = _state(3, dispute_day=[TODAY, TODAY + 1, NO_DAY])
    assert state.disputed(TODAY).tolist() == [True, False, False]


def test_each_rule_alone_takes_the_invoice_from_the_learned_policy():
    no_reminder = np.full(8, NO_CONTACT)
    state = _state(
        8,
        hold_until_day=[TODAY, NO_DAY, NO_DAY, NO_DAY, NO_DAY, NO_DAY, NO_DAY, NO_DAY],
        promise_day=[NO_DAY, TODAY, TODAY - 1, NO_DAY, NO_DAY, NO_DAY, NO_DAY, NO_DAY],
        plan_due_day=[NO_DAY, NO_DAY, NO_DAY, TODAY - 30, NO_DAY, NO_DAY, NO_DAY, NO_DAY],
        direct_debit=[np.nan, np.nan, np.nan, np.nan, 1.0, np.nan, np.nan, 0.0],
        dispute_day=[NO_DAY, NO_DAY, NO_DAY, NO_DAY, NO_DAY, TODAY, NO_DAY, NO_DAY],
    )
    # hold, open promise, broken promise, plan, direct debit, dispute: decided; nothing known,
    # and a customer who said "no direct debit": the learned policy's.
    expected = [True, True, True, True, True, True, False, False]
    assert state.decides(TODAY, no_reminder).tolist() == expected


def test_the_later_of_two_days_either_unknown():
    first = np.array([5, NO_DAY, 9, NO_DAY, 3])
    second = np.array([NO_DAY, 7, 4, NO_DAY, 8])
    assert latest_day(first, second).tolist() == [5, 7, 9, NO_DAY, 8]


def test_anything_known_but_what_was_sent_or_a_plain_no_to_direct_debit_counts_as_state():
    state = _state(
        5,
        hold_until_day=[TODAY, NO_DAY, NO_DAY, NO_DAY, NO_DAY],
        promise_amount=[np.nan, 50.0, np.nan, np.nan, np.nan],
        direct_debit=[np.nan, np.nan, 0.0, 1.0, np.nan],
        top_level_sent=[np.nan, np.nan, np.nan, np.nan, 3.0],
    )
    assert state.given().tolist() == [True, True, False, True, False]
    assert state.any()
    assert not _state(2, top_level_sent=[2.0, 3.0], direct_debit=[0.0, 0.0]).any()


def test_a_request_state_replaces_the_snapshots_field_by_field_plans_and_promises_whole():
    mine = _state(
        3,
        hold_until_day=[TODAY + 2, NO_DAY, NO_DAY],
        plan_due_day=[TODAY + 10, NO_DAY, NO_DAY],
        plan_amount=[100.0, 400.0, np.nan],  # without its due day: not a plan the request sends
        promise_day=[NO_DAY, TODAY + 4, NO_DAY],
        top_level_sent=[1.0, np.nan, 4.0],
        notice_day=[NO_DAY, TODAY - 2, TODAY - 9],
    )
    base = _state(
        3,
        hold_until_day=[TODAY + 9, TODAY + 9, NO_DAY],
        plan_due_day=[TODAY + 20, TODAY + 20, NO_DAY],
        plan_amount=[300.0, 300.0, np.nan],
        promise_day=[TODAY + 1, NO_DAY, NO_DAY],
        promise_amount=[80.0, 80.0, np.nan],
        top_level_sent=[3.0, 2.0, 2.0],
        notice_day=[TODAY - 5, NO_DAY, TODAY - 1],
    )
    merged = mine.over(base)
    assert merged.hold_until_day.tolist() == [TODAY + 2, TODAY + 9, NO_DAY]
    assert merged.plan_due_day.tolist() == [TODAY + 10, TODAY + 20, NO_DAY]
    assert merged.plan_amount[:2].tolist() == [100.0, 300.0] and np.isnan(merged.plan_amount[2])
    # The request's promise has no amount: its promise replaces the snapshot's whole.
    assert merged.promise_day.tolist() == [TODAY + 1, TODAY + 4, NO_DAY]
    assert merged.promise_amount[0] == 80.0 and np.isnan(merged.promise_amount[1])
    # What was sent: the harder level, the later day, whoever said it.
    assert merged.top_level_sent.tolist() == [3.0, 2.0, 4.0]
    assert merged.notice_day.tolist() == [TODAY - 5, TODAY - 2, TODAY - 1]


@pytest.mark.parametrize(
    ("kept", "resolved", "expected"),
    [
        # 4 promises of prior strength at the portfolio's 0.75: (3 + 3) / (4 + 4) = 0.75.
        (3.0, 4.0, 0.75),
        # (0 + 3) / (6 + 4) = 0.3
        (0.0, 6.0, 0.3),
        # No record: the portfolio's rate, (0 + 3) / (0 + 4).
        (np.nan, np.nan, 0.75),
        # (10 + 3) / (10 + 4)
        (10.0, 10.0, 13 / 14),
    ],
)
def test_a_customers_kept_share_is_shrunk_to_the_portfolios_rate(kept, resolved, expected):
    config = SimpleNamespace(promises=SimpleNamespace(prior_strength=4.0))
    got = promise_kept_probability(np.array([kept]), np.array([resolved]), 0.75, config)
    assert got[0] == pytest.approx(expected)


def test_the_scenario_reads_reported_reminders_the_instalment_a_broken_promise_and_a_dispute():
    due = np.array([TODAY - 40] * 5, dtype="int64")
    scored = {
        "reminders_sent": np.array([1.0, 3.0, np.nan, 1.0, 0.0]),
        "due_date": due.astype("datetime64[D]"),
        "disputed": np.array([False, False, False, False, True]),
        "other": np.arange(5),
    }
    state = _state(
        5,
        reminders_reported=[2.0, 1.0, np.nan, np.nan, np.nan],
        plan_due_day=[NO_DAY, NO_DAY, TODAY - 3, NO_DAY, NO_DAY],
        plan_reminders=[np.nan, np.nan, 1.0, np.nan, np.nan],
        promise_day=[NO_DAY, NO_DAY, NO_DAY, TODAY - 2, NO_DAY],
        dispute_day=[NO_DAY, TODAY, NO_DAY, NO_DAY, NO_DAY],
    )
    got = scenario_inputs(scored, state, np.full(5, NO_CONTACT), TODAY)
    # The more of sent and reported; on a plan, the plan's count; a broken promise one more.
    assert got["reminders_sent"].tolist() == [2.0, 3.0, 1.0, 2.0, 0.0]
    assert got["due_date"].astype("int64").tolist() == [TODAY - 40, TODAY - 40, TODAY - 3,
                                                         TODAY - 40, TODAY - 40]  # fmt: skip
    assert got["disputed"].tolist() == [False, True, False, False, True]
    assert got["other"].tolist() == [0, 1, 2, 3, 4]


def test_under_a_plan_the_next_contact_asks_for_the_instalment_or_what_is_left():
    state = _state(3, plan_due_day=[TODAY, TODAY, NO_DAY], plan_amount=[100.0, 500.0, 100.0])
    got = amount_due(np.array([300.0, 200.0, 300.0]), state)
    assert got.tolist() == [100.0, 200.0, 300.0]


# constrain(): one invoice per customer, each alone in its case, the shipped policy (a gap of 5
# days between contacts; a courtesy e-mail 1 working day before a promised date, a collector's
# check-in 3 working days before when P(kept) is below 0.5). Monday 3 March 2025; no French
# public holiday in March 2025.
MONDAY = int(np.datetime64("2025-03-03", "D").astype("int64"))


def _day(text: str) -> int:
    return int(np.datetime64(text, "D").astype("int64"))


CASES = {
    # name: (state fields, planned action, planned day, due day, P(kept), last contact)
    "nothing known": ({}, "remind", "2025-03-08", "2025-02-11", 0.9, None),
    "hold": ({"hold_until_day": "2025-03-05"}, "remind", "2025-03-03", "2025-02-11", 0.9, None),
    "promise kept likely": ({"promise_day": "2025-03-14"}, "remind", "2025-03-03", "2025-02-11",
                            0.9, None),
    "promise at risk": ({"promise_day": "2025-03-14"}, "remind", "2025-03-03", "2025-02-11",
                        0.3, None),
    "promise tomorrow": ({"promise_day": "2025-03-04"}, "remind", "2025-03-03", "2025-02-11",
                         0.9, None),
    "promise tomorrow, contacted Friday": ({"promise_day": "2025-03-04"}, "remind", "2025-03-03",
                                           "2025-02-11", 0.9, "2025-02-28"),
    "promise Wednesday, contacted Friday": ({"promise_day": "2025-03-05"}, "remind", "2025-03-03",
                                            "2025-02-11", 0.9, "2025-02-28"),
    "broken promise": ({"promise_day": "2025-02-27"}, "remind", "2025-03-06", "2025-02-11", 0.9,
                       None),
    "direct debit": ({"direct_debit": 1.0}, "remind", "2025-03-03", "2025-03-12", 0.9, None),
    "promise at even odds": ({"promise_day": "2025-03-14"}, "remind", "2025-03-03", "2025-02-11",
                             0.5, None),
    "promise at risk on Thursday": ({"promise_day": "2025-03-06"}, "remind", "2025-03-03",
                                    "2025-02-11", 0.3, None),
    "a wait before a promise": ({"promise_day": "2025-03-14"}, "wait", "2025-03-03", "2025-02-11",
                                0.9, None),
    "plan": ({"plan_due_day": "2025-03-01"}, "remind", "2025-03-07", "2025-03-01", 0.9, None),
    "dispute in a hold": ({"hold_until_day": "2025-03-05"}, "dispute_resolution", "2025-03-03",
                          "2025-02-11", 0.9, None),
}  # fmt: skip


def _constrained():
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.dunning import CustomerCodes
    from payrisk.policy.state import constrain

    names = list(CASES)
    n = len(names)
    state = DunningState.empty(n)
    for i, name in enumerate(names):
        for field, value in CASES[name][0].items():
            getattr(state, field)[i] = _day(value) if field.endswith("_day") else value
    actions = {
        "action": np.array([CASES[k][1] for k in names], dtype=object),
        "channel": np.array(["letter"] * n, dtype=object),
        "template": np.array(["second_reminder"] * n, dtype=object),
        "actor": np.array(["collector"] * n, dtype=object),
        "step": np.full(n, 2.0),
        "action_date": np.array([CASES[k][2] for k in names], dtype="datetime64[ns]"),
    }
    customers = CustomerCodes.of(np.array([f"C{i:02d}" for i in range(n)], dtype=object))
    contacted = np.array([NO_CONTACT if CASES[k][5] is None else _day(CASES[k][5])
                          for k in names])  # fmt: skip
    planned = {name: values.copy() for name, values in actions.items()}
    out = constrain(
        actions, state, customers, contacted, np.array([_day(CASES[k][3]) for k in names]),
        np.full(n, NO_CONTACT), np.array([CASES[k][4] for k in names]), MONDAY,
        load_dunning_config(),
    )  # fmt: skip
    for name, values in planned.items():  # the caller's plan is not written over
        assert actions[name].tolist() == values.tolist(), name
    days = out["action_date"].astype("datetime64[D]").astype(str)
    return {name: {**{k: v[i] for k, v in out.items()}, "day": days[i]}
            for i, name in enumerate(names)}  # fmt: skip


@pytest.mark.parametrize(
    ("case", "action", "channel", "template", "actor", "day", "reason"),
    [
        # No state: the plan exactly, even on a Saturday.
        ("nothing known", "remind", "letter", "second_reminder", "collector", "2025-03-08", None),
        # Held through Wednesday: Thursday.
        ("hold", "remind", "letter", "second_reminder", "collector", "2025-03-06", "hold"),
        # Promised for Friday the 14th: a courtesy e-mail 1 working day before (Thursday).
        ("promise kept likely", "remind", "email", "promise_courtesy", "automatic", "2025-03-13",
         "promise"),
        # Likely broken: the collector calls 3 working days before (Tuesday the 11th).
        ("promise at risk", "remind", "phone", "promise_check_in", "collector", "2025-03-11",
         "promise_check_in"),
        # Promised for Tuesday: the courtesy e-mail is due today, and today may still be used.
        ("promise tomorrow", "remind", "email", "promise_courtesy", "automatic", "2025-03-03",
         "promise"),
        # Contacted Friday the 28th: nothing before Wednesday the 5th (the gap), too late for the
        # courtesy e-mail; the scenario's step the day after the promised date, Wednesday.
        ("promise tomorrow, contacted Friday", "remind", "letter", "second_reminder", "collector",
         "2025-03-05", "promise"),
        # Promised for Wednesday the 5th, the first day the gap allows (too late for the e-mail,
        # due Tuesday): the scenario's step the day after the promised date, Thursday.
        ("promise Wednesday, contacted Friday", "remind", "letter", "second_reminder",
         "collector", "2025-03-06", "promise"),
        # Promised for Thursday the 27th, still open, no reminder since: at once (today).
        ("broken promise", "remind", "letter", "second_reminder", "collector", "2025-03-03",
         "broken_promise"),
        # Collected by direct debit on its due date, Wednesday the 12th.
        ("direct debit", "direct_debit", None, None, "automatic", "2025-03-12", "direct_debit"),
        # Not below 0.5: a courtesy e-mail, no check-in.
        ("promise at even odds", "remind", "email", "promise_courtesy", "automatic", "2025-03-13",
         "promise"),
        # Promised for Thursday the 6th, likely broken: 3 working days before is today.
        ("promise at risk on Thursday", "remind", "phone", "promise_check_in", "collector",
         "2025-03-03", "promise_check_in"),
        # The policy would wait: the promise's courtesy e-mail all the same.
        ("a wait before a promise", "remind", "email", "promise_courtesy", "automatic",
         "2025-03-13", "promise"),
        # On its plan, planned for Friday: it stays on Friday (nothing pulls it earlier).
        ("plan", "remind", "letter", "second_reminder", "collector", "2025-03-07",
         "payment_plan"),
        # A dispute is no contact: the hold does not move it and the reason stays the dispute.
        ("dispute in a hold", "dispute_resolution", "letter", "second_reminder", "collector",
         "2025-03-03", "dispute"),
    ],
)  # fmt: skip
def test_the_state_rules_shape_each_next_action(case, action, channel, template, actor, day,
                                                reason):  # fmt: skip
    got = _constrained()[case]
    assert (got["action"], got["channel"], got["template"], got["actor"]) == (
        action, channel, template, actor
    )  # fmt: skip
    assert (got["day"], got["state_reason"]) == (day, reason)
    # Courtesy contacts and direct debit are no step of the scenario; the rest keep theirs.
    courtesy = template in ("promise_courtesy", "promise_check_in") or action == "direct_debit"
    assert np.isnan(got["step"]) if courtesy else got["step"] == 2.0


def test_without_any_state_only_a_dispute_has_a_reason_and_nothing_moves():
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.dunning import CustomerCodes
    from payrisk.policy.state import constrain

    actions = {
        "action": np.array(["remind", "dispute_resolution"], dtype=object),
        "action_date": np.array(["2025-03-08", "2025-03-08"], dtype="datetime64[ns]"),
    }
    out = constrain(
        actions, DunningState.empty(2), CustomerCodes.of(np.array(["A", "A"], dtype=object)),
        np.array([NO_CONTACT]), np.full(2, MONDAY), np.full(2, NO_CONTACT), np.full(2, 0.9),
        MONDAY, load_dunning_config(),
    )  # fmt: skip
    assert out["state_reason"].tolist() == [None, "dispute"]
    assert out["action_date"].tolist() == actions["action_date"].tolist()


@pytest.mark.parametrize(
    ("fields", "contacted", "expected"),
    [
        # Held through Tuesday the 4th: the held invoice may not join the other's contact today
        # (Monday); it waits for the first working day 5 days after it (Saturday 8th -> Monday).
        ({"hold_until_day": "2025-03-04"}, None, ["2025-03-03", "2025-03-10"]),
        # Contacted Friday 28 February: nothing before Wednesday the 5th; a promise for that
        # Wednesday (too late for its courtesy e-mail, due Tuesday) keeps its invoice off that
        # day's contact: the first working day 5 days after it, Monday the 10th.
        ({"promise_day": "2025-03-05"}, "2025-02-28", ["2025-03-05", "2025-03-10"]),
    ],
)
def test_a_paused_invoice_never_joins_its_customers_earlier_contact(fields, contacted, expected):
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.dunning import CustomerCodes
    from payrisk.policy.state import constrain

    state = DunningState.empty(2)
    for field, value in fields.items():
        getattr(state, field)[1] = _day(value)
    actions = {
        "action": np.array(["remind", "remind"], dtype=object),
        "channel": np.array(["letter", "letter"], dtype=object),
        "template": np.array(["second_reminder"] * 2, dtype=object),
        "actor": np.array(["collector"] * 2, dtype=object),
        "step": np.full(2, 2.0),
        "action_date": np.array(["2025-03-03"] * 2, dtype="datetime64[ns]"),
    }
    last = np.array([NO_CONTACT if contacted is None else _day(contacted)])
    out = constrain(
        actions, state, CustomerCodes.of(np.array(["A", "A"], dtype=object)), last,
        np.full(2, _day("2025-02-11")), np.full(2, NO_CONTACT), np.full(2, 0.9), MONDAY,
        load_dunning_config(),
    )  # fmt: skip
    assert out["action_date"].astype("datetime64[D]").astype(str).tolist() == expected


def test_a_token_promise_pauses_nothing_whichever_path_brought_it():
    """promises.min_share 0.5 of what is left: 400 of 1,000 is a token, 500 a promise; a
    promise without an amount is one; the rule is the state's, for batch and online alike."""
    state = _state(
        4,
        promise_made_day=[TODAY - 2] * 3 + [NO_DAY],
        promise_day=[TODAY + 5] * 3 + [NO_DAY],
        promise_amount=[400.0, 500.0, np.nan, np.nan],
    )
    token = state.token_promises(np.full(4, 1000.0), 0.5)
    assert token.tolist() == [True, False, False, False]
    kept = state.without(token)
    assert kept.open_promise(TODAY).tolist() == [False, True, True, False]
    assert kept.promise_made_day[0] == NO_DAY and np.isnan(kept.promise_amount[0])
    assert state.without(np.zeros(4, dtype=bool)) is state


def test_a_plan_short_of_the_open_amount_has_no_current_instalment():
    from payrisk.policy.state import current_instalments

    # Two invoices, open 1,000 each: plan A 600 + 400 covers it, plan B 600 + 399.99 does not.
    row = np.array([0, 0, 1, 1])
    due = np.array([TODAY + 10, TODAY + 40, TODAY + 10, TODAY + 40])
    found, day, left, _ = current_instalments(
        row, due, np.full(4, TODAY - 5), np.array([600.0, 400.0, 600.0, 399.99]),
        np.array([1000.0, 1000.0]),
    )  # fmt: skip
    assert found.tolist() == [0] and day.tolist() == [TODAY + 10] and left.tolist() == [600.0]
