"""Each dunning rule on hand-made scored invoices."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import yaml

from payrisk.core.config import default_config
from payrisk.core.days import day_number, to_days
from payrisk.policy.config import load_dunning_config
from payrisk.policy.dunning import (
    ACTION_DISPUTE,
    ACTION_ESCALATE,
    ACTION_REMIND,
    ACTION_SCENARIO_DONE,
    ACTION_WRITE_OFF_REVIEW,
    NO_CONTACT,
    frame,
    plan_arrays,
)

AS_OF = pd.Timestamp("2026-03-10")
DEFAULT_DUNNING = default_config("dunning.yaml")
POLICY = load_dunning_config(DEFAULT_DUNNING)  # the shipped configs/dunning.yaml


def invoice(invoice_id: str, customer_id: str = "C1", **overrides) -> dict:
    row = {
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "issue_date": pd.Timestamp("2026-02-01"),
        "due_date": pd.Timestamp("2026-03-03"),
        "open_amount": 1000.0,
        "disputed": False,
        "key_account": False,
        "late_probability": 0.4,
        "default_probability": 0.05,
        "expected_days_late": 5.0,
        "reminders_sent": 0,
    }
    row.update(overrides)
    return row


def plan(rows: list[dict], last_contact: dict | None = None, policy=POLICY):
    scored = pd.DataFrame(rows)
    contacts = pd.Series(last_contact or {}, dtype="datetime64[ns]")
    contacted = contacts.reindex(scored["customer_id"].to_numpy(dtype=object))
    last = np.where(contacted.isna(), NO_CONTACT, to_days(contacted))
    result = plan_arrays(scored, last, day_number(AS_OF), policy)
    invoices, customers = frame(result.invoices, scored.index), frame(result.customers)
    return pd.concat([scored, invoices], axis=1).set_index("invoice_id"), customers.set_index(
        "customer_id"
    )


def test_segments_follow_the_first_matching_rule():
    _, customers = plan(
        [
            invoice("A", "risky", default_probability=0.5, late_probability=0.9),
            invoice("B", "key", key_account=True),
            invoice("C", "late", late_probability=0.8),
            invoice("D", "good", late_probability=0.05, default_probability=0.01),
            invoice("E", "usual"),
        ]
    )
    assert customers["scenario"].to_dict() == {
        "key": "key_account",
        "late": "firm",
        "good": "light",
        "risky": "protective",
        "usual": "standard",
    }


def test_one_scenario_per_customer_from_its_amount_weighted_risk():
    invoices, customers = plan(
        [
            invoice("A", late_probability=0.9, open_amount=100.0),
            invoice("B", late_probability=0.3, open_amount=9900.0),
        ]
    )
    assert customers.loc["C1", "late_probability"] == pytest.approx(0.306)
    assert set(invoices["scenario"]) == {"standard"}


def test_disputed_invoices_leave_dunning():
    invoices, customers = plan([invoice("A", disputed=True), invoice("B")])
    assert invoices.loc["A", "action"] == ACTION_DISPUTE
    assert invoices.loc["A", "channel"] is None
    assert invoices.loc["B", "action"] == ACTION_REMIND
    assert customers.loc["C1", "disputed_invoices"] == 1
    assert customers.loc["C1", "next_contact_invoices"] == 1


def test_no_reminder_before_the_invoice_exists_or_in_the_past():
    rows = [
        invoice(
            f"I{issue_ago}-{terms}",
            f"C{issue_ago}-{terms}",
            issue_date=AS_OF - pd.Timedelta(days=issue_ago),
            due_date=AS_OF - pd.Timedelta(days=issue_ago) + pd.Timedelta(days=terms),
            late_probability=late,
        )
        for issue_ago in (0, 1, 5, 40, 100)
        for terms in (0, 2, 10, 30, 60)
        for late in (0.05, 0.5, 0.9)
        if not (issue_ago == 0 and late != 0.5)
    ]
    invoices, _ = plan(rows)
    assert (invoices["action_date"] >= invoices["issue_date"]).all()
    assert (invoices["action_date"] >= AS_OF).all()
    # A courtesy step that can still happen before the due date is planned for its day.
    fresh = invoices.loc["I0-10"]
    assert fresh["step"] == 1
    assert fresh["action_date"] == fresh["due_date"] + pd.Timedelta(
        days=POLICY.scenarios[fresh["scenario"]].steps[0].offset_days
    )


def test_steps_advance_one_at_a_time_and_skip_passed_courtesy_steps():
    invoices, _ = plan(
        [
            invoice("new", "C1", reminders_sent=0),  # 7 days past due: courtesy step passed
            invoice("two", "C2", reminders_sent=2),
            invoice("done", "C3", reminders_sent=6),
        ]
    )
    standard = POLICY.scenarios["standard"].steps
    assert (
        invoices.loc["new", "step"] == 2 and invoices.loc["new", "channel"] == standard[1].channel
    )
    assert (
        invoices.loc["two", "step"] == 3 and invoices.loc["two", "channel"] == standard[2].channel
    )
    assert invoices.loc["done", "action"] == ACTION_SCENARIO_DONE
    assert invoices.loc["done", "actor"] == "credit_manager"


def test_no_two_contacts_closer_than_the_minimum_gap():
    gap = POLICY.contact.min_days_between_contacts
    invoices, customers = plan([invoice("A")], last_contact={"C1": AS_OF - pd.Timedelta(days=1)})
    allowed = AS_OF - pd.Timedelta(days=1) + pd.Timedelta(days=gap)
    # The first day allowed is a Saturday (2026-03-14): the contact waits for Monday.
    assert allowed.day_name() == "Saturday"
    assert invoices.loc["A", "action_date"] == allowed + pd.Timedelta(days=2)
    assert customers.loc["C1", "next_contact_date"] == invoices.loc["A", "action_date"]


def test_what_falls_due_within_a_contact_is_bundled_into_it():
    gap = POLICY.contact.min_days_between_contacts
    invoices, customers = plan(
        [
            invoice("now"),
            invoice(
                "soon",
                due_date=AS_OF + pd.Timedelta(days=1),
                issue_date=AS_OF - pd.Timedelta(days=20),
            ),
            invoice("later", due_date=AS_OF + pd.Timedelta(days=40), issue_date=AS_OF),
        ]
    )
    assert invoices.loc["soon", "action_date"] == invoices.loc["now", "action_date"]
    assert invoices.loc["later", "action_date"] >= invoices.loc[
        "now", "action_date"
    ] + pd.Timedelta(days=gap)
    assert customers.loc["C1", "next_contact_invoices"] == 2


def test_agency_only_when_expected_recovery_covers_legal_costs():
    last_step = len(POLICY.scenarios["protective"].steps) - 1
    common = {
        "default_probability": 0.6,
        "late_probability": 0.95,
        "reminders_sent": last_step,
        "due_date": AS_OF - pd.Timedelta(days=60),
    }
    invoices, _ = plan(
        [
            invoice("small", "C1", open_amount=500.0, **common),
            invoice("large", "C2", open_amount=50000.0, **common),
        ]
    )
    assert invoices.loc["large", "channel"] == "agency"
    assert invoices.loc["large", "action"] == ACTION_ESCALATE
    assert invoices.loc["small", "action"] == ACTION_WRITE_OFF_REVIEW
    assert invoices.loc["small", "channel"] is None


def test_collectors_work_the_largest_expected_loss_first():
    invoices, _ = plan(
        [
            invoice("A", "C1", open_amount=1000.0, default_probability=0.10),
            invoice("B", "C2", open_amount=5000.0, default_probability=0.05),
            invoice("C", "C3", open_amount=100.0, default_probability=0.90),
        ]
    )
    assert invoices["priority_rank"].sort_values().index.tolist() == ["B", "A", "C"]
    assert invoices.loc["B", "expected_loss"] == 250.0


def test_a_policy_whose_last_segment_has_conditions_is_refused(tmp_path):
    from payrisk.core.config import ConfigError

    text = tmp_path / "d.yaml"
    text.write_text(
        "scenarios: {s: {steps: [{offset_days: 1, channel: email, template: t, actor: automatic}]}}"
        "\n"
        "segments: [{scenario: s, min_late_probability: 0.5}]\n"
    )
    with pytest.raises(ConfigError, match="last segment"):
        load_dunning_config(text)
    text.write_text(
        "scenarios: {s: {steps: [{offset_days: 1, channel: owl, template: t, actor: automatic}]}}"
        "\n"
        "segments: [{scenario: s}]\n"
    )
    with pytest.raises(ConfigError, match=r"scenarios\.s\.steps\.0\.channel"):
        load_dunning_config(text)
    text.write_text("promises: {courtesy_channel: owl}\n")  # the same check for every channel
    with pytest.raises(ConfigError, match=r"promises\.courtesy_channel.*unknown channel 'owl'"):
        load_dunning_config(text)


def test_no_action_on_a_weekend_or_a_public_holiday():
    """Steps that fall on a Saturday, Sunday or French public holiday wait for the next working
    day; working days are left alone."""
    from payrisk.policy.workdays import french_public_holidays

    rows = [
        invoice(
            f"I{k}",
            f"C{k}",
            issue_date=AS_OF,
            due_date=AS_OF + pd.Timedelta(days=3 + k),  # courtesy e-mail 3 days before due
            late_probability=0.4,
        )
        for k in range(70)
    ]
    invoices, customers = plan(rows)
    days = invoices["action_date"]
    holidays = {pd.Timestamp(d) for d in french_public_holidays(2026)}
    assert not days.dt.day_name().isin(["Saturday", "Sunday"]).any()
    assert not days.isin(holidays).any()
    assert not customers["next_contact_date"].dt.day_name().isin(["Saturday", "Sunday"]).any()
    nominal = invoices["due_date"] - pd.Timedelta(days=3)
    moved = days != nominal
    assert moved.any() and (days[moved] > nominal[moved]).all()
    assert ((days[moved] - nominal[moved]).dt.days <= 4).all()  # the next working day, no later
    # Easter Monday 2026-04-06 and 1 May (a Friday) are closed.
    easter_monday = nominal == pd.Timestamp("2026-04-06")
    assert days[easter_monday].eq(pd.Timestamp("2026-04-07")).all() and easter_monday.any()
    may_day = nominal == pd.Timestamp("2026-05-01")
    assert days[may_day].eq(pd.Timestamp("2026-05-04")).all() and may_day.any()


def test_working_days_and_holidays_come_from_the_policy():
    saturday = AS_OF + pd.Timedelta(days=(5 - AS_OF.weekday()) % 7)
    row = invoice("A", issue_date=AS_OF, due_date=saturday + pd.Timedelta(days=3))
    six_days = POLICY.model_copy(
        update={
            "calendar": POLICY.calendar.model_copy(
                update={"working_days": ("mon", "tue", "wed", "thu", "fri", "sat")}
            )
        }
    )
    assert plan([row], policy=six_days)[0].loc["A", "action_date"] == saturday
    assert plan([row])[0].loc["A", "action_date"] == saturday + pd.Timedelta(days=2)
    closed_monday = POLICY.model_copy(
        update={
            "calendar": POLICY.calendar.model_copy(
                update={"holidays": ((saturday + pd.Timedelta(days=2)).date(),)}
            )
        }
    )
    assert plan([row], policy=closed_monday)[0].loc["A", "action_date"] == saturday + pd.Timedelta(
        days=3
    )


def test_a_calendar_without_working_days_is_refused(tmp_path):
    from payrisk.core.config import ConfigError, load_yaml

    content = load_yaml(DEFAULT_DUNNING)
    content["calendar"] = {"working_days": []}
    text = tmp_path / "d.yaml"
    text.write_text(yaml.safe_dump(content))
    with pytest.raises(ConfigError, match=r"calendar\.working_days"):
        load_dunning_config(text)
    content["calendar"] = {"working_days": ["mon", "funday"]}
    text.write_text(yaml.safe_dump(content))
    with pytest.raises(ConfigError, match=r"calendar\.working_days"):
        load_dunning_config(text)


def test_planned_actions_group_into_contacts_that_name_their_invoices():
    """What falls due together is one contact (the hardest step's channel), listing every
    invoice it is about; reviews stay apart; the customer plan counts the same invoices."""
    from payrisk.policy.dunning import action_groups

    invoices, customers = plan(
        [
            invoice("now"),
            invoice("soon", due_date=AS_OF + pd.Timedelta(days=1),
                    issue_date=AS_OF - pd.Timedelta(days=20)),
            invoice("two", reminders_sent=2, due_date=AS_OF - pd.Timedelta(days=20)),
            invoice("done", reminders_sent=6),
            invoice("disputed", disputed=True),
            invoice("other", "C2"),
        ]
    )  # fmt: skip
    groups = action_groups(invoices.reset_index())
    mine = groups.loc[groups["customer_id"] == "C1"]
    contacts = mine.loc[mine["action"] == ACTION_REMIND]
    assert len(contacts) == 1
    (contact,) = contacts.to_dict("records")
    assert sorted(contact["invoice_ids"]) == ["now", "soon", "two"]
    assert contact["channel"] == invoices.loc["two", "channel"]  # the hardest step of the three
    assert contact["step"] == invoices.loc["two", "step"]
    assert contact["open_amount"] == 3000.0
    assert customers.loc["C1", "next_contact_invoices"] == len(contact["invoice_ids"])
    reviews = set(mine.loc[mine["action"] != ACTION_REMIND, "action"])
    assert reviews == {ACTION_SCENARIO_DONE, ACTION_DISPUTE}
    ids = [i for ids in groups["invoice_ids"] for i in ids]
    assert sorted(ids) == sorted(invoices.index)  # every invoice in exactly one group
    assert groups["priority_rank"].is_monotonic_increasing


def test_a_bundled_contact_speaks_for_its_most_advanced_invoice():
    """The learned policy may pick a harder channel for a courtesy reminder (an SMS before the
    due date) than for an overdue invoice's next step (an e-mail): the customer's one contact
    that day is the overdue invoice's step, channel and template, not a courtesy message."""
    from payrisk.policy.dunning import action_group_arrays

    day = np.datetime64("2026-11-02", "ns")
    columns = {
        "customer_id": np.array(["C1", "C1", "C2"], dtype=object),
        "invoice_id": np.array(["soon", "late", "other"], dtype=object),
        "action": np.array([ACTION_REMIND] * 3, dtype=object),
        "channel": np.array(["sms", "email", "phone"], dtype=object),
        "actor": np.array(["collector"] * 3, dtype=object),
        "step": np.array([1.0, 3.0, 2.0]),
        "template": np.array(["courtesy_before_due", "reminder_3", "call_2"], dtype=object),
        "scenario": np.array(["standard"] * 3, dtype=object),
        "action_date": np.array([day, day, day]),
        "open_amount": np.array([100.0, 200.0, 300.0]),
        "expected_loss": np.array([1.0, 2.0, 3.0]),
        "priority_rank": np.array([2, 1, 3]),
    }
    groups = action_group_arrays(columns)
    (mine,) = np.flatnonzero(groups["customer_id"] == "C1")
    assert sorted(groups["invoice_ids"][mine]) == ["late", "soon"]
    assert (groups["channel"][mine], groups["step"][mine], groups["template"][mine]) == (
        "email",
        3.0,
        "reminder_3",
    )


def _courtesy_on(invoice_id: str, day: str) -> dict:
    """An invoice of C1 whose courtesy step (3 days before due, standard scenario) is `day`."""
    due = pd.Timestamp(day) + pd.Timedelta(days=3)
    return invoice(invoice_id, due_date=due, issue_date=AS_OF - pd.Timedelta(days=20))


def test_a_step_exactly_the_gap_after_the_first_contact_is_a_contact_of_its_own() -> None:
    """Gap of 5 days, first contact Wednesday 2026-03-11: a step on Sunday the 15th (4 days
    after) joins it; a step on Monday the 16th (5 days after) is allowed on its own day."""
    assert POLICY.contact.min_days_between_contacts == 5
    invoices, customers = plan(
        [
            _courtesy_on("first", "2026-03-11"),
            _courtesy_on("inside", "2026-03-15"),
            _courtesy_on("edge", "2026-03-16"),
        ]
    )
    assert set(invoices["scenario"]) == {"standard"} and set(invoices["step"]) == {1.0}
    days = invoices["action_date"].dt.date.astype(str).to_dict()
    assert days == {
        "first": "2026-03-11",
        "inside": "2026-03-11",  # bundled into the first contact
        "edge": "2026-03-16",
    }
    assert customers.loc["C1", "next_contact_invoices"] == 2


def test_no_two_planned_contacts_of_a_customer_are_closer_than_the_gap() -> None:
    invoices, _ = plan(
        [
            _courtesy_on("first", "2026-03-11"),
            _courtesy_on("edge", "2026-03-16"),
            _courtesy_on("after", "2026-03-18"),  # 2 days after the second contact
        ]
    )
    contacts = sorted(set(invoices["action_date"]))
    gaps = [(b - a).days for a, b in itertools.pairwise(contacts)]
    assert min(gaps) >= POLICY.contact.min_days_between_contacts, contacts


def test_a_contact_that_cannot_join_waits_the_whole_gap_after_the_first_one() -> None:
    """A step that may not move before its own day (a promise until Thursday) and falls within
    the gap after the customer's first contact (Thursday 2026-03-12) waits for the first working
    day 5 days after that contact: Tuesday the 17th (not Monday the 16th, 4 days after)."""
    from payrisk.policy.dunning import CustomerCodes, bundle_contacts

    def number(text: str) -> int:
        return int(day_number(pd.Timestamp(text)))

    action = np.array([ACTION_REMIND] * 4, dtype=object)
    days = np.array([number(d) for d in ("2026-03-12", "2026-03-13", "2026-03-13", "2026-03-13")])
    not_before = np.array(
        [number(d) for d in ("2026-03-10", "2026-03-13", "2026-03-10", "2026-03-12")]
    )
    out = bundle_contacts(
        action,
        days,
        days,
        CustomerCodes.of(np.array(["C1"] * 4, dtype=object)),
        POLICY.contact.min_days_between_contacts,
        POLICY.calendar.business_days,
        not_before,
    )
    assert [str(np.datetime64(int(d), "D")) for d in out] == [
        "2026-03-12",
        "2026-03-17",  # waits: it could not join the 12th
        "2026-03-12",  # free to join: bundled
        "2026-03-12",  # may not move before the 12th: the 12th itself is fine
    ]


@pytest.mark.parametrize(
    ("open_amount", "expected_recovery", "action"),
    [
        # open amount x P(default) 0.5 x recovery rate 0.6 against legal costs of 1,500
        (4000.0, 1200.0, ACTION_WRITE_OFF_REVIEW),  # 2,000 at risk, but only 1,200 recovered
        (5500.0, 1650.0, ACTION_ESCALATE),
        (4900.0, 1470.0, ACTION_WRITE_OFF_REVIEW),
        (5100.0, 1530.0, ACTION_ESCALATE),
    ],
)
def test_the_agency_weighs_what_legal_action_recovers_not_the_amount_at_risk(
    open_amount: float, expected_recovery: float, action: str
) -> None:
    assert (POLICY.escalation.legal_costs, POLICY.escalation.recovery_rate) == (1500.0, 0.6)
    last_step = len(POLICY.scenarios["protective"].steps) - 1
    invoices, _ = plan(
        [
            invoice(
                "A",
                open_amount=open_amount,
                default_probability=0.5,
                late_probability=0.95,
                reminders_sent=last_step,
                due_date=AS_OF - pd.Timedelta(days=60),
            )
        ]
    )
    assert invoices.loc["A", "scenario"] == "protective"
    assert invoices.loc["A", "expected_recovery"] == pytest.approx(expected_recovery)
    assert invoices.loc["A", "action"] == action


def test_legal_action_exactly_covering_its_costs_is_not_worth_it() -> None:
    """ "Exceeds the legal costs": a recovery equal to them is not enough (values exact in
    binary: 6,000 x 0.5 x 0.5 = 1,500)."""
    rules = POLICY.escalation.model_copy(update={"recovery_rate": 0.5})
    worth = rules.worth_it(np.array([6000.0, 6000.02, 12000.0]), np.array([0.5, 0.5, 0.25]))
    np.testing.assert_array_equal(worth, [False, True, False])
    np.testing.assert_array_equal(
        rules.expected_recovery(np.array([6000.0, 1000.0]), np.array([0.5, 0.1])), [1500.0, 50.0]
    )


def test_a_courtesy_step_is_skipped_only_once_its_day_has_passed() -> None:
    """Standard scenario, courtesy e-mail 3 days before due (2026-03-10 is a Tuesday)."""
    invoices, _ = plan(
        [
            invoice("today", "C1", due_date=AS_OF + pd.Timedelta(days=3)),  # courtesy today
            invoice("yesterday", "C2", due_date=AS_OF + pd.Timedelta(days=2)),  # it was yesterday
        ]
    )
    assert invoices.loc["today", "step"] == 1
    assert invoices.loc["today", "action_date"] == AS_OF
    assert invoices.loc["yesterday", "step"] == 2  # the friendly reminder, 3 days after due
    assert invoices.loc["yesterday", "action_date"] == pd.Timestamp("2026-03-16")  # 15th: Sunday


def test_a_step_on_the_due_date_is_not_a_courtesy_step_and_is_never_skipped() -> None:
    """A scenario whose first step is on the due date itself: 5 days past due, nothing sent,
    that step is still due (today), not skipped like a passed courtesy step."""
    standard = POLICY.scenarios["standard"]
    friendly, *rest = standard.steps[1:]
    on_due = POLICY.model_copy(
        update={
            "scenarios": {
                **POLICY.scenarios,
                "standard": standard.model_copy(
                    update={"steps": (friendly.model_copy(update={"offset_days": 0}), *rest)}
                ),
            }
        }
    )
    assert POLICY.scenarios["standard"].steps[1].offset_days == 3  # the shipped one untouched
    invoices, _ = plan([invoice("A", due_date=AS_OF - pd.Timedelta(days=5))], policy=on_due)
    assert invoices.loc["A", "step"] == 1 and invoices.loc["A", "action_date"] == AS_OF
    assert invoices.loc["A", "template"] == friendly.template


def test_only_the_agency_step_escalates_however_much_is_at_stake() -> None:
    """Recovery would cover the legal costs many times over, but the scenario's next step is a
    call: a reminder, not an escalation. Disputed and finished invoices have no step."""
    invoices, _ = plan(
        [
            invoice("big", "C1", open_amount=1_000_000.0, default_probability=0.5,
                    reminders_sent=1, due_date=AS_OF - pd.Timedelta(days=10)),
            invoice("disputed", "C2", disputed=True),
            invoice("done", "C3", reminders_sent=6),
            invoice("cents", "C4", open_amount=1000.01, default_probability=0.5),
        ]
    )  # fmt: skip
    assert invoices.loc["big", "scenario"] == "protective"
    assert invoices.loc["big", "channel"] == "phone"
    assert invoices.loc["big", "action"] == ACTION_REMIND
    assert np.isnan(invoices.loc["disputed", "step"]) and np.isnan(invoices.loc["done", "step"])
    assert invoices.loc["cents", "expected_recovery"] == 300.0  # 1,000.01 x 0.5 x 0.6 = 300.003


def test_expected_loss_counts_what_is_recovered() -> None:
    from payrisk.policy.dunning import priority_arrays

    amounts, risk, days = np.array([1000.0, 400.0]), np.array([0.1, 0.5]), np.array([5.0, 1.0])
    plain = priority_arrays(amounts, risk, days)
    assert plain["expected_loss"].tolist() == [100.0, 200.0]  # nothing recovered by default
    assert plain["priority_rank"].tolist() == [2, 1]
    recovered = priority_arrays(amounts, risk, days, recovery=0.25)
    assert recovered["expected_loss"].tolist() == [75.0, 150.0]
    cents = priority_arrays(np.array([1234.567]), np.array([0.5]), np.array([0.0]))
    assert cents["expected_loss"].tolist() == [617.28]  # 617.2835 to the cent
