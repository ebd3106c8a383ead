"""The escalation ladder is law (issue 25): reminders, then the formal notice, then legal action,
whatever policy chose the step; one voice per customer per day. Expected values are worked by hand
from the rules (levels: e-mail/SMS 1, call/letter 2, formal notice 3, agency 4)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payrisk.core.days import NEVER, day_number
from payrisk.policy.config import DunningConfig, load_dunning_config
from payrisk.policy.dunning import StepTable, plan_arrays
from payrisk.policy.ladder import (
    LADDER_LEGAL_AFTER_NOTICE,
    LADDER_NOTICE_DEADLINE,
    LADDER_NOTICE_FIRST,
    LADDER_ON_TRACK,
    LADDER_REMINDER_FIRST,
    LADDER_REVIEWED,
    LEVEL,
    action_levels,
    lawful,
    one_contact_a_day,
)

POLICY = load_dunning_config()
WORKDAYS = POLICY.calendar.business_days
STEPS = StepTable.of(POLICY)
FIRM = STEPS.names.index("firm")
MONDAY = day_number(date(2026, 11, 2))  # a working Monday


def _actions(action, channel, day, step=3.0, template="t", actor="collector"):
    n = len(action)
    return {
        "action": np.array(action, dtype=object),
        "channel": np.array(channel, dtype=object),
        "template": np.full(n, template, dtype=object),
        "actor": np.full(n, actor, dtype=object),
        "step": np.full(n, step, dtype="float64"),
        "action_date": np.array(day, dtype="int64")
        .astype("datetime64[D]")
        .astype("datetime64[ns]"),
    }


def _lawful(
    actions, top, notice=NEVER, review=NEVER, on_track=False, worth=True, sent=2, not_before=0
):
    n = len(actions["action"])
    return lawful(
        actions,
        np.full(n, FIRM),
        STEPS.ladder,
        np.full(n, top, dtype="float64"),
        np.full(n, notice, dtype="int64"),
        np.full(n, review, dtype="int64"),
        np.full(n, on_track),
        np.full(n, worth),
        np.full(n, sent),
        np.full(n, not_before),
        POLICY.escalation.formal_notice_days,
        POLICY.escalation.review_every_days,
        WORKDAYS,
    )


def _day(out) -> int:
    return int(out["action_date"].astype("datetime64[D]").astype("int64")[0])


def test_the_agency_without_a_formal_notice_becomes_the_formal_notice():
    out = _lawful(_actions(["escalate"], ["agency"], [MONDAY], step=5.0), top=2)
    assert out["action"][0] == "remind"
    assert out["channel"][0] == "formal_notice"
    assert out["template"][0] == "formal_notice"  # the firm scenario's own notice step
    assert out["step"][0] == 5  # its place in the count: never one already sent
    assert out["ladder_reason"][0] == LADDER_NOTICE_FIRST
    assert _day(out) == MONDAY


@pytest.mark.parametrize("action", ["write_off_review", "credit_manager_review"])
def test_a_review_that_would_end_the_case_waits_for_a_formal_notice(action):
    out = _lawful(_actions([action], [None], [MONDAY], step=np.nan), top=1, sent=4)
    assert (out["action"][0], out["channel"][0]) == ("remind", "formal_notice")
    assert out["step"][0] == 5  # after the four counted as sent


def test_a_formal_notice_is_never_the_first_contact():
    out = _lawful(_actions(["remind"], ["formal_notice"], [MONDAY]), top=0)
    # The firm scenario's firmest reminder before its notice: the letter with penalties.
    assert (out["channel"][0], out["template"][0]) == ("letter", "second_reminder_penalties")
    assert out["ladder_reason"][0] == LADDER_REMINDER_FIRST


def test_an_unbroken_plan_or_open_promise_gets_reminders_only():
    notice = _lawful(_actions(["remind"], ["formal_notice"], [MONDAY]), top=2, on_track=True)
    legal = _lawful(_actions(["escalate"], ["agency"], [MONDAY]), top=3, on_track=True)
    for out in (notice, legal):
        assert out["action"][0] == "remind"
        assert LEVEL[out["channel"][0]] <= 2
        assert out["ladder_reason"][0] == LADDER_ON_TRACK


def test_legal_action_waits_for_the_notice_deadline_then_goes_on():
    # Notice sent on Monday 2 November; 8 days' deadline: legal action from Wednesday the 11th,
    # a public holiday (Armistice), so Thursday the 12th.
    out = _lawful(_actions(["escalate"], ["agency"], [MONDAY + 3]), top=3, notice=MONDAY)
    assert out["action"][0] == "escalate"
    assert _day(out) == day_number(date(2026, 11, 12))
    assert out["ladder_reason"][0] == LADDER_NOTICE_DEADLINE
    later = _lawful(_actions(["escalate"], ["agency"], [MONDAY + 16]), top=3, notice=MONDAY)
    assert _day(later) == MONDAY + 16 and later["ladder_reason"][0] is None


def test_a_scenario_that_ran_out_before_legal_action_plans_its_legal_step():
    worth = _lawful(_actions(["credit_manager_review"], [None], [MONDAY], step=np.nan), top=3)
    assert (worth["action"][0], worth["channel"][0]) == ("escalate", "agency")
    assert worth["ladder_reason"][0] == LADDER_LEGAL_AFTER_NOTICE
    assert worth["step"][0] == 3
    small = _lawful(
        _actions(["credit_manager_review"], [None], [MONDAY], step=np.nan), top=3, worth=False
    )
    assert small["action"][0] == "write_off_review"
    done = _lawful(_actions(["credit_manager_review"], [None], [MONDAY], step=np.nan), top=4)
    assert done["action"][0] == "credit_manager_review"  # the agency was sent: the review


def test_a_review_reported_done_comes_back_after_the_review_interval():
    out = _lawful(
        _actions(["credit_manager_review"], [None], [MONDAY], step=np.nan), top=4, review=MONDAY
    )
    # 30 days after Monday 2 November is Wednesday 2 December, a working day.
    assert _day(out) == MONDAY + 30
    assert out["ladder_reason"][0] == LADDER_REVIEWED


def test_what_is_already_lawful_is_left_alone():
    actions = _actions(
        ["remind", "remind", "escalate", "wait", "dispute_resolution"],
        ["email", "letter", "agency", None, None],
        [MONDAY] * 5,
    )
    out = _lawful(actions, top=3, notice=MONDAY - 20)
    for name in ("action", "channel", "template", "actor"):
        assert out[name].tolist() == actions[name].tolist()
    assert (out["action_date"] == actions["action_date"]).all()
    assert out["ladder_reason"].tolist() == [None] * 5


def test_one_customer_hears_one_voice_a_day():
    # Customer 0: a formal notice and a friendly reminder planned on Monday; customer 1 alone.
    day = one_contact_a_day(
        np.array([0, 0, 1]),
        np.array(["remind", "remind", "remind"], dtype=object),
        np.array(["formal_notice", "email", "email"], dtype=object),
        np.array([MONDAY, MONDAY, MONDAY]),
        5,
        WORKDAYS,
    )
    # The notice keeps Monday; the reminder waits the five-day gap: Saturday, so Monday 9th.
    assert day.tolist() == [MONDAY, MONDAY + 7, MONDAY]


def test_reminders_of_one_rung_share_the_day():
    day = one_contact_a_day(
        np.array([0, 0]),
        np.array(["remind", "remind"], dtype=object),
        np.array(["phone", "email"], dtype=object),
        np.array([MONDAY, MONDAY]),
        5,
        WORKDAYS,
    )
    assert day.tolist() == [MONDAY, MONDAY]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    ("remind", "email"),
                    ("remind", "phone"),
                    ("remind", "letter"),
                    ("remind", "formal_notice"),
                    ("escalate", "agency"),
                    ("write_off_review", None),
                    ("credit_manager_review", None),
                    ("wait", None),
                ]
            ),
            st.integers(0, 4),  # hardest level sent
            st.booleans(),  # on track
            st.integers(0, 20),  # day offset
            st.integers(0, 3),  # customer
        ),
        min_size=1,
        max_size=12,
    )
)
def test_no_policy_choice_ever_breaks_the_ladder(rows):
    kinds, top, on_track, offset, customer = zip(*rows, strict=True)
    action, channel = zip(*kinds, strict=True)
    top = np.array(top, dtype="float64")
    notice = np.where(top >= 3, MONDAY - 30, NEVER)
    actions = _actions(list(action), list(channel), MONDAY + np.array(offset))
    n = len(rows)
    out = lawful(
        actions, np.full(n, FIRM), STEPS.ladder, top, notice, np.full(n, NEVER),
        np.array(on_track), np.ones(n, bool), np.full(n, 2), np.zeros(n, "int64"), 8, 30, WORKDAYS,
    )  # fmt: skip
    level = action_levels(out["action"], out["channel"])
    legal = level == LEVEL["agency"]
    assert not (legal & (top < LEVEL["formal_notice"])).any(), "legal step without a notice"
    notice_now = level == LEVEL["formal_notice"]
    assert not (notice_now & (top < 1)).any(), "a formal notice as the first contact"
    assert not ((level >= LEVEL["formal_notice"]) & np.array(on_track)).any()
    before = actions["action_date"].astype("datetime64[D]").astype("int64")
    after = out["action_date"].astype("datetime64[D]").astype("int64")
    assert (after >= before).all(), "the ladder never moves an action earlier"
    day = one_contact_a_day(np.array(customer), out["action"], out["channel"], after, 5, WORKDAYS)
    assert (day >= after).all()
    frame = pd.DataFrame({"c": customer, "d": day, "level": level})
    contacts = frame.loc[np.isin(out["action"], ("remind", "escalate"))]
    rungs = contacts.assign(rung=np.select([contacts.level >= 4, contacts.level >= 3], [3, 2], 1))
    assert (rungs.groupby(["c", "d"])["rung"].nunique() == 1).all(), "two voices on one day"


def _scenario_config(steps: list[dict]) -> dict:
    content = POLICY.model_dump(mode="json")
    content["scenarios"] = {"only": {"steps": steps}}
    content["segments"] = [{"scenario": "only"}]
    return content


def test_a_scenario_with_the_agency_before_a_formal_notice_is_refused_naming_the_step():
    content = _scenario_config(
        [
            {"offset_days": 1, "channel": "email", "template": "a", "actor": "automatic"},
            {"offset_days": 20, "channel": "agency", "template": "b", "actor": "credit_manager"},
        ]
    )
    with pytest.raises(
        ValueError, match=r"(?s)scenarios.only.steps.*step 2: the agency comes only after"
    ):
        DunningConfig.model_validate(content)


def test_a_scenario_opening_with_a_formal_notice_is_refused():
    content = _scenario_config(
        [{"offset_days": 1, "channel": "formal_notice", "template": "a", "actor": "collector"}]
    )
    with pytest.raises(ValueError, match="never the first contact"):
        DunningConfig.model_validate(content)


def _scored(**columns) -> dict:
    n = 1
    base = {
        "invoice_id": np.array(["I1"], dtype=object),
        "customer_id": np.array(["C1"], dtype=object),
        "issue_date": np.array(["2026-06-01"], dtype="datetime64[D]"),
        "due_date": np.array(["2026-07-01"], dtype="datetime64[D]"),
        "open_amount": np.full(n, 50_000.0),
        "disputed": np.zeros(n, dtype=bool),
        "key_account": np.zeros(n, dtype=bool),
        "late_probability": np.full(n, 0.9),
        "default_probability": np.full(n, 0.2),  # firm: 0.6 <= late, default < 0.25
        "expected_days_late": np.full(n, 60.0),
        "reminders_sent": np.full(n, 4.0),
    }
    return base | columns


def test_the_rules_table_reads_what_was_sent_by_its_channel_not_its_step_number():
    today = MONDAY
    # Four steps counted as sent: the firm scenario's step 5 is the agency. Sent by channel,
    # the hardest was a call (level 2): no notice yet, so the notice comes first.
    plan = plan_arrays(
        _scored(top_level_sent=np.array([2.0])), np.array([today - 10]), today, POLICY
    ).invoices
    assert plan["scenario"][0] == "firm"
    assert (plan["action"][0], plan["channel"][0]) == ("remind", "formal_notice")
    assert plan["ladder_reason"][0] == LADDER_NOTICE_FIRST
    # With the notice sent 20 days ago (its deadline passed), the agency step stands.
    sent = plan_arrays(
        _scored(top_level_sent=np.array([3.0]), notice_day=np.array([today - 20])),
        np.array([today - 10]),
        today,
        POLICY,
    ).invoices
    assert (sent["action"][0], sent["channel"][0]) == ("escalate", "agency")


def test_a_review_the_ladder_turns_into_a_contact_waits_for_the_hold_or_gap():
    # A scenario that ran out under a customer hold until Friday 6 November: its formal notice
    # goes on the next working day after the hold, Monday the 9th.
    out = _lawful(
        _actions(["credit_manager_review"], [None], [MONDAY], step=np.nan),
        top=2,
        not_before=MONDAY + 5,
    )
    assert (out["action"][0], out["channel"][0]) == ("remind", "formal_notice")
    assert _day(out) == MONDAY + 7
    # A contact the policy planned keeps its day: the rules before the ladder placed it.
    kept = _lawful(_actions(["remind"], ["phone"], [MONDAY]), top=1, not_before=MONDAY + 5)
    assert _day(kept) == MONDAY


def test_a_formal_notice_is_sent_once_then_comes_the_legal_rung():
    again = _actions(["remind"], ["formal_notice"], [MONDAY + 20], step=5.0)
    out = _lawful(again, top=3, notice=MONDAY)
    assert (out["action"][0], out["channel"][0]) == ("escalate", "agency")
    assert out["ladder_reason"][0] == LADDER_LEGAL_AFTER_NOTICE
    small = _lawful(again, top=3, notice=MONDAY, worth=False)
    assert (small["action"][0], small["channel"][0]) == ("write_off_review", None)
    assert small["actor"][0] == "credit_manager"


def test_a_policy_weighing_channels_is_offered_only_what_the_ladder_allows():
    from payrisk.policy.ladder import allowed_levels

    levels = np.array([1, 2, 3, 4])
    allowed = allowed_levels(levels, np.array([0.0, 2.0, 3.0, 4.0]))
    assert allowed.tolist() == [
        [True, True, False, False],  # nothing sent: reminders only
        [True, True, True, False],  # reminded: the notice, not yet legal action
        [True, True, False, True],  # noticed: legal action, never a second notice
        [True, True, False, True],
    ]


def test_a_scenario_run_out_goes_to_the_agency_only_where_the_policy_finds_it_pays():
    from payrisk.policy.dunning import NO_CONTACT, CustomerCodes, under_the_ladder

    # The notice sent 20 days ago; expected recovery 50,000 x 0.2 x 0.6 = 6,000 > 1,500 costs.
    scored = _scored(top_level_sent=np.array([3.0]), notice_day=np.array([MONDAY - 20]))
    review = _actions(["credit_manager_review"], [None], [MONDAY], step=np.nan)
    review["scenario"] = np.array(["firm"], dtype=object)
    customers = CustomerCodes.of(scored["customer_id"])

    def ladder(**verdict) -> dict:
        return under_the_ladder(
            {**review, **verdict}, scored, customers, np.array([NO_CONTACT]), MONDAY, POLICY
        )

    assert (ladder()["action"][0], ladder()["channel"][0]) == ("escalate", "agency")
    # The learned policy weighed the agency's effect against its fee: it does not pay.
    left = ladder(legal_pays=np.array([False]))
    assert (left["action"][0], left["channel"][0]) == ("write_off_review", None)
    assert left["ladder_reason"][0] == LADDER_LEGAL_AFTER_NOTICE
    assert "legal_pays" not in left  # a verdict, not a column of the plan
    assert ladder(legal_pays=np.array([True]))["channel"][0] == "agency"
