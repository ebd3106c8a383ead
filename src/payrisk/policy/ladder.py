"""The escalation ladder: the one law every dunning policy obeys, applied in one place.

French practice (DOMAIN.md) orders a case's steps: reminders (e-mail, SMS, call, letter), then the
formal notice (mise en demeure: a registered letter claiming the amount and the penalties with a
deadline), and only after that deadline the legal rung (collection agency, injonction de payer, or
the credit manager's write-off review). Skipping the notice weakens every later step. So, whatever
a policy chose (the rules table, the learned policy, the oracle, a broken promise one step firmer):

- a rung is never skipped: the formal notice needs a reminder sent before it, the legal rung a
  formal notice sent before it, and not before the notice's deadline has passed; a notice is
  sent once (after it comes the legal rung);
- an invoice under an agreed payment plan that is not broken, or an open promise, stays on
  reminders (its own track): no formal notice or harder;
- what was sent is read for what it was (its channel), not from its step number: "step 4, e-mail"
  is a reminder even where the scenario's step 4 is the formal notice;
- a customer hears one voice a day: contacts of different rungs never share a day, and a contact
  pushed off a day waits the contact gap (never moves earlier).

`lawful` applies the first three to a plan's next actions (a plain-array dict, as `plan_arrays`
builds them); `one_contact_a_day` the last. Where the ladder changed an action, `ladder_reason`
says why. Vectorised over invoices: the service calls this for every request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from payrisk.core.days import NEVER as NO_DAY
from payrisk.data.contract import CHANNELS
from payrisk.policy.workdays import next_working_day

# Escalation levels of channels (the learned policy's finer scale inside the ladder: friendly
# before firm reminders), and the ladder's rungs they belong to.
LEVEL = {"email": 1, "sms": 1, "phone": 2, "letter": 2, "formal_notice": 3, "agency": 4}
LEVEL_NOTICE = LEVEL["formal_notice"]
LEVEL_LEGAL = LEVEL["agency"]
NOTICE_CHANNEL = "formal_notice"
LEGAL_CHANNEL = "agency"

RUNG_NONE, RUNG_REMINDER, RUNG_NOTICE, RUNG_LEGAL = 0, 1, 2, 3
_RUNG_OF_LEVEL = np.array([RUNG_NONE, RUNG_REMINDER, RUNG_REMINDER, RUNG_NOTICE, RUNG_LEGAL])

# Actions on the legal rung: the agency or court, and the credit manager's reviews that decide
# write-off (a scenario that ran out ends there too).
LEGAL_ACTIONS = ("escalate", "write_off_review", "credit_manager_review")
REVIEW_ACTIONS = ("write_off_review", "credit_manager_review")

# Why the ladder changed a next action (None: it did not).
LADDER_NOTICE_FIRST = "notice_before_legal"  # a legal step became the formal notice
LADDER_REMINDER_FIRST = "reminder_before_notice"  # a notice or legal step became a reminder
LADDER_ON_TRACK = "plan_or_promise_on_track"  # an unbroken plan or open promise: reminders only
LADDER_NOTICE_DEADLINE = "notice_deadline"  # the legal step waits for the notice's deadline
LADDER_LEGAL_AFTER_NOTICE = "legal_after_notice"  # the scenario ran out: its legal step now
LADDER_REVIEWED = "reviewed"  # a review reported done: the next one after the review interval
LADDER_REASONS = (
    LADDER_NOTICE_FIRST,
    LADDER_REMINDER_FIRST,
    LADDER_ON_TRACK,
    LADDER_NOTICE_DEADLINE,
    LADDER_LEGAL_AFTER_NOTICE,
    LADDER_REVIEWED,
)


def level_of(channels: np.ndarray) -> np.ndarray:
    """Escalation level of channel names (0: none)."""
    return np.array([LEVEL.get(c, 0) for c in np.asarray(channels, dtype=object)], dtype="int64")


def rung_of_level(levels: np.ndarray) -> np.ndarray:
    """The ladder's rung of escalation levels (0: nothing sent)."""
    return _RUNG_OF_LEVEL[np.clip(np.asarray(levels, dtype="int64"), 0, LEVEL_LEGAL)]


def action_levels(action: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Escalation level of next actions: a reminder's channel's, the legal level for the agency
    and the reviews, 0 for what reaches nobody (wait, dispute resolution, direct debit)."""
    action = np.asarray(action, dtype=object)
    levels = np.where(np.isin(action, LEGAL_ACTIONS), LEVEL_LEGAL, level_of(channel))
    return np.where(np.isin(action, ("remind", *LEGAL_ACTIONS)), levels, 0)


def highest_level(top_level_sent: np.ndarray, on_track: np.ndarray) -> np.ndarray:
    """The hardest level the ladder allows next: any reminder first, the formal notice once a
    reminder was sent, the legal rung once a notice was sent; reminders only on an unbroken plan
    or an open promise."""
    top = np.nan_to_num(np.asarray(top_level_sent, dtype="float64")).astype("int64")
    cap = np.where(top >= LEVEL_NOTICE, LEVEL_LEGAL, np.where(top >= 1, LEVEL_NOTICE, 2))
    return np.where(np.asarray(on_track, dtype=bool), np.minimum(cap, 2), cap)


def allowed_levels(levels: np.ndarray, top_level_sent: np.ndarray) -> np.ndarray:
    """Decisions x levels: which escalation levels the ladder allows next (a notice only once),
    for a policy that weighs channels (the learned policy, the oracle)."""
    top = np.nan_to_num(np.asarray(top_level_sent, dtype="float64")).astype("int64")[:, None]
    levels = np.asarray(levels)[None, :]
    cap = highest_level(top[:, 0], np.zeros(len(top), dtype=bool))[:, None]
    return (levels <= cap) & ~((levels == LEVEL_NOTICE) & (top >= LEVEL_NOTICE))


@dataclass(frozen=True)
class LadderSteps:
    """Per scenario: the step the ladder substitutes at each rung (its own where it has one, a
    plain default where it has not), as arrays indexed by scenario code."""

    notice_template: np.ndarray
    notice_actor: np.ndarray
    reminder_channel: np.ndarray  # its firmest reminder before the notice
    reminder_template: np.ndarray
    reminder_actor: np.ndarray
    legal_template: np.ndarray
    legal_actor: np.ndarray

    @classmethod
    def of(cls, scenarios: dict) -> LadderSteps:
        names = list(scenarios)
        n = len(names)
        out = {
            "notice_template": np.full(n, "formal_notice", dtype=object),
            "notice_actor": np.full(n, "collector", dtype=object),
            "reminder_channel": np.full(n, "letter", dtype=object),
            "reminder_template": np.full(n, "second_reminder_penalties", dtype=object),
            "reminder_actor": np.full(n, "collector", dtype=object),
            "legal_template": np.full(n, "collection_agency", dtype=object),
            "legal_actor": np.full(n, "credit_manager", dtype=object),
        }
        for row, name in enumerate(names):
            steps = scenarios[name].steps
            reminders = [s for s in steps if LEVEL[s.channel] < LEVEL_NOTICE]
            for step in reversed(steps):  # the first notice of the scenario wins
                if step.channel == NOTICE_CHANNEL:
                    out["notice_template"][row] = step.template
                    out["notice_actor"][row] = step.actor
                if step.channel == LEGAL_CHANNEL:
                    out["legal_template"][row] = step.template
                    out["legal_actor"][row] = step.actor
            if reminders:
                top = max(LEVEL[s.channel] for s in reminders)
                firmest = [s for s in reminders if LEVEL[s.channel] == top][-1]
                out["reminder_channel"][row] = firmest.channel
                out["reminder_template"][row] = firmest.template
                out["reminder_actor"][row] = firmest.actor
        return cls(**out)


def lawful(
    actions: dict[str, np.ndarray],
    scenario_code: np.ndarray,
    steps: LadderSteps,
    top_level_sent: np.ndarray,
    notice_day: np.ndarray,
    review_day: np.ndarray,
    on_track: np.ndarray,
    worth_it: np.ndarray,
    steps_sent: np.ndarray,
    not_before: np.ndarray,
    notice_days: int,
    review_every_days: int,
    workdays: np.busdaycalendar,
) -> dict[str, np.ndarray]:
    """The next actions with the ladder applied (see the module's docstring), and
    `ladder_reason` per invoice. `actions` holds action, channel, template, actor, step and
    action_date (datetime64); the other arrays are per invoice: the hardest level sent so far
    (reported or in the history), the formal notice's day and the last review reported (NO_DAY
    where none), whether an unbroken plan or an open promise holds it to reminders, whether
    legal action is worth its costs, the steps counted as sent (what the scenario ran on), and
    the first day a new contact may be sent (the contact gap, a hold, a promised date): a review
    the ladder turns into a contact waits for it."""
    out = {name: np.array(values, copy=True) for name, values in actions.items()}
    action, channel = out["action"], out["channel"]
    template, actor, step = out["template"], out["actor"], out["step"]
    day = np.asarray(out["action_date"], dtype="datetime64[D]").astype("int64")
    n = len(action)
    reason = np.full(n, None, dtype=object)
    top = np.nan_to_num(np.asarray(top_level_sent, dtype="float64")).astype("int64")
    on_track = np.asarray(on_track, dtype=bool)
    cap = highest_level(top, on_track)
    code = np.maximum(np.asarray(scenario_code, dtype="int64"), 0)

    # A scenario that ran out before its legal rung was reached, the notice sent: the legal step;
    # so does a second formal notice (a notice is sent once: it fixes the date of the demand).
    again = (action == "remind") & (channel == NOTICE_CHANNEL) & (top >= LEVEL_NOTICE)
    ran_out = (action == "credit_manager_review") & (top < LEVEL_LEGAL)
    ran_out = (ran_out | again) & (cap >= LEVEL_LEGAL)
    worth = np.asarray(worth_it, dtype=bool)
    to_agency = ran_out & worth
    action[to_agency], channel[to_agency] = "escalate", LEGAL_CHANNEL
    template[to_agency] = steps.legal_template[code[to_agency]]
    actor[to_agency] = steps.legal_actor[code[to_agency]]
    review = ran_out & ~worth
    action[review], channel[review], template[review], actor[review] = (
        "write_off_review", None, None, "credit_manager"
    )  # fmt: skip
    reason[ran_out] = LADDER_LEGAL_AFTER_NOTICE

    was_contact = np.isin(np.asarray(actions["action"], dtype=object), ("remind", "escalate"))
    level = action_levels(action, channel)
    too_hard = level > cap
    to_notice = too_hard & (cap == LEVEL_NOTICE)
    to_reminder = too_hard & (cap < LEVEL_NOTICE)
    action[to_notice], channel[to_notice] = "remind", NOTICE_CHANNEL
    template[to_notice] = steps.notice_template[code[to_notice]]
    actor[to_notice] = steps.notice_actor[code[to_notice]]
    reason[to_notice] = LADDER_NOTICE_FIRST
    action[to_reminder] = "remind"
    channel[to_reminder] = steps.reminder_channel[code[to_reminder]]
    template[to_reminder] = steps.reminder_template[code[to_reminder]]
    actor[to_reminder] = steps.reminder_actor[code[to_reminder]]
    reason[to_reminder] = np.where(on_track[to_reminder], LADDER_ON_TRACK, LADDER_REMINDER_FIRST)
    # A step the ladder or a policy put where none was (a review that ran out, a contact the
    # learned policy chose there) comes after those sent.
    numbered = (ran_out | too_hard | np.isin(action, ("remind", "escalate"))) & np.isnan(step)
    step[numbered] = np.nan_to_num(np.asarray(steps_sent, dtype="float64"))[numbered] + 1

    # The legal rung waits for the notice's deadline; a review for the review interval.
    notice_day = np.asarray(notice_day, dtype="int64")
    legal = np.isin(action, LEGAL_ACTIONS)
    deadline = np.where(notice_day != NO_DAY, notice_day + notice_days + 1, day)
    waits = legal & (deadline > day)
    review_day = np.asarray(review_day, dtype="int64")
    review = np.isin(action, REVIEW_ACTIONS) & (review_day != NO_DAY)
    again = np.where(review, review_day + review_every_days, day)
    reviewed = review & (again > day)
    became_contact = ~was_contact & np.isin(action, ("remind", "escalate"))
    held_back = np.where(became_contact, np.asarray(not_before, dtype="int64"), day)
    moved = waits | reviewed | (held_back > day)
    if moved.any():
        later = next_working_day(np.maximum.reduce([day, deadline, again, held_back]), workdays)
        day = np.where(moved, later, day)
        reason[waits & (reason == None)] = LADDER_NOTICE_DEADLINE  # noqa: E711 (elementwise)
        reason[reviewed & (reason == None)] = LADDER_REVIEWED  # noqa: E711
    out["action_date"] = day.astype("datetime64[D]").astype("datetime64[ns]")
    out["ladder_reason"] = reason
    return out


def one_contact_a_day(
    customer_codes: np.ndarray,
    action: np.ndarray,
    channel: np.ndarray,
    day: np.ndarray,
    gap: int,
    workdays: np.busdaycalendar,
) -> np.ndarray:
    """Contact days such that each customer's contacts of a day are all of one rung (the
    hardest planned that day wins it) and a contact pushed off waits until the first working day
    `gap` days later. Never moves a contact earlier; one round per distinct day of a customer."""
    day = np.asarray(day, dtype="int64").copy()
    contact = np.isin(np.asarray(action, dtype=object), ("remind", "escalate"))
    if not contact.any():
        return day
    rung = rung_of_level(action_levels(action, channel))
    codes = np.asarray(customer_codes, dtype="int64")
    size = int(codes.max()) + 1
    todo = contact.copy()
    while todo.any():
        first = np.full(size, np.iinfo(np.int64).max)
        np.minimum.at(first, codes[todo], day[todo])
        anchor = first[codes]
        on_anchor = todo & (day == anchor)
        hardest = np.zeros(size, dtype="int64")
        np.maximum.at(hardest, codes[on_anchor], rung[on_anchor])
        stays = on_anchor & (rung == hardest[codes])
        todo &= ~stays
        pushed = todo & (day < anchor + gap)
        if pushed.any():
            day[pushed] = next_working_day(anchor[pushed] + gap, workdays)
    return day


assert set(LEVEL) == set(CHANNELS), "every channel has a level on the ladder"
