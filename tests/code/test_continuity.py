"""Plans that persist (issue 25): a plan sent back is kept until an event changes it, and the
events are named; plan ids are read strictly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from payrisk.policy.continuity import (
    EVENT_HOLD,
    EVENT_PAYMENT,
    EVENT_PROMISE,
    EVENT_PROMISE_BROKEN,
    EVENT_REMINDER,
    bases,
    basis_of,
    changed_events,
)
from payrisk.policy.state import DunningState
from payrisk.serving.errors import RefusedRequestError
from payrisk.serving.plan_ids import plan_id, planned_actions, read_plan_id

TODAY = 20_400
ACTION = {"a": "remind", "c": "phone", "s": 3, "t": "reminder_call", "w": "collector",
          "p": "rules", "d": TODAY + 2}  # fmt: skip


def _basis(open_amount, state, today) -> list[dict[str, int]]:
    found = bases(open_amount, state, today)
    return [basis_of(found, k) for k in range(len(open_amount))]


def _state(**fields) -> DunningState:
    return replace(DunningState.empty(1), **{k: np.array([v]) for k, v in fields.items()})


def test_nothing_changed_means_no_event():
    state = _state()
    assert changed_events(_basis([100.0], state, TODAY)[0], _basis([100.0], state, TODAY)[0]) == []


@pytest.mark.parametrize(
    ("before", "after", "events"),
    [
        ((100.0, {}), (60.0, {}), [EVENT_PAYMENT]),
        ((100.0, {}), (100.0, {"reminders_reported": 2.0, "last_reminder_day": TODAY}),
         [EVENT_REMINDER]),
        ((100.0, {}), (100.0, {"hold_until_day": TODAY + 5}), [EVENT_HOLD]),
        ((100.0, {}), (100.0, {"promise_made_day": TODAY, "promise_day": TODAY + 3}),
         [EVENT_PROMISE]),
    ],
)  # fmt: skip
def test_each_event_is_named(before, after, events):
    old = _basis([before[0]], _state(**before[1]), TODAY)[0]
    new = _basis([after[0]], _state(**after[1]), TODAY)[0]
    assert changed_events(old, new) == events


def test_a_hold_that_runs_out_ends_without_any_report():
    hold = {"hold_until_day": TODAY}
    last_day = _basis([100.0], _state(**hold), TODAY)[0]
    after = _basis([100.0], _state(**hold), TODAY + 1)[0]
    assert changed_events(last_day, after) == ["hold_ended"]


def test_a_promise_whose_day_passes_is_broken_without_any_report():
    promise = {"promise_made_day": TODAY - 10, "promise_day": TODAY}
    on_the_day = _basis([100.0], _state(**promise), TODAY)[0]
    the_day_after = _basis([100.0], _state(**promise), TODAY + 1)[0]
    assert changed_events(on_the_day, the_day_after) == [EVENT_PROMISE_BROKEN]


def test_a_plan_id_reads_back_as_it_was_written():
    basis = _basis([100.0], _state(), TODAY)[0]
    action, read = read_plan_id(plan_id(ACTION, basis), "invoices[0].planned")
    assert action == ACTION and read == basis


@pytest.mark.parametrize(
    "value",
    [
        "p1.garbage!",
        "p2." + plan_id(ACTION, {})[3:],
        plan_id({**ACTION, "a": "sue"}, {}),
        plan_id({**ACTION, "w": "the_ceo"}, {}),
        plan_id({**ACTION, "d": 10**9}, {}),
        plan_id({**ACTION, "s": "3"}, {}),
        plan_id(ACTION, {"not_an_event": 1}),
        plan_id(ACTION, {"payment": "ab12"}),
    ],
)
def test_anything_but_a_plan_id_of_this_service_is_refused_by_position(value):
    with pytest.raises(RefusedRequestError, match=r"invoices\[4\]\.planned is not a plan_id"):
        read_plan_id(value, "invoices[4].planned")


def _actions(action="email", day=TODAY + 10):
    return {
        "action": np.array(["remind"], dtype=object),
        "channel": np.array([action], dtype=object),
        "template": np.array(["friendly_reminder"], dtype=object),
        "actor": np.array(["automatic"], dtype=object),
        "step": np.array([2.0]),
        "action_date": np.array([day], dtype="int64").astype("datetime64[D]").astype("M8[ns]"),
    }


def test_a_kept_plan_is_restored_on_its_day_and_an_unreported_one_stays_due():
    workdays = np.busdaycalendar()
    kept = planned_actions([ACTION], 1).over(_actions(), TODAY, workdays, "kept")
    assert (kept["channel"][0], kept["step"][0]) == ("phone", 3)
    day = int(kept["action_date"].astype("datetime64[D]").astype("int64")[0])
    assert day == np.busday_offset(np.datetime64(TODAY + 2, "D"), 0, roll="forward").astype(int)
    overdue = planned_actions([{**ACTION, "d": TODAY - 3}], 1)
    day = overdue.over(_actions(), TODAY, workdays, "kept")["action_date"]
    expected = np.busday_offset(np.datetime64(TODAY, "D"), 0, roll="forward")
    assert day.astype("datetime64[D]")[0] == expected


def test_a_planned_wait_ends_on_its_day():
    wait = {**ACTION, "a": "wait", "c": None, "s": None, "d": TODAY}
    out = planned_actions([wait], 1).over(_actions(), TODAY, np.busdaycalendar(), "kept")
    assert out["action"][0] == "remind" and out["channel"][0] == "email"
