"""Plans that persist: what was planned stays planned until an event changes it.

A dunning system asks every day. Scores drift a little each day (an invoice ages), and a plan
recomputed from scratch can move a step that was due today to next week, or drop it: a plan nobody
can follow. So each answer's next action carries the facts it was decided on (a digest per kind of
event: a payment, a reminder or review reported, a promise made or broken, a plan agreed or an
instalment missed, a hold set or ended, a dispute, the customer contacted, direct debit); when the
caller sends that plan back, it is kept as long as none of those facts changed, and otherwise the
answer names the events that changed it. A planned wait ends on its day (the policy decides again).

Kept actions go back under the ladder and the one-contact-a-day rule like any other: the law never
bends to continuity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from payrisk.policy.state import NO_DAY, DunningState
from payrisk.policy.workdays import next_working_day

# The events that can change a plan, each with the state it reads.
EVENT_PAYMENT = "payment"
EVENT_REMINDER = "reminder_reported"
EVENT_REVIEW = "review_reported"
EVENT_PROMISE = "promise"
EVENT_PROMISE_BROKEN = "promise_broken"
EVENT_PLAN = "payment_plan"
EVENT_INSTALMENT_MISSED = "instalment_missed"
EVENT_HOLD = "hold"
EVENT_HOLD_ENDED = "hold_ended"
EVENT_DISPUTE = "dispute"
EVENT_CONTACT = "customer_contact"
EVENT_DIRECT_DEBIT = "direct_debit"
EVENT_DECISION_DAY = "decision_day"  # a planned wait reached its day: the policy decides again
# Another invoice of the customer changed its plan, and this contact moved to keep the customer's
# one voice a day and the contact gap (its own facts did not change).
EVENT_CUSTOMER_PLAN = "customer_plan"
EVENTS = (
    EVENT_PAYMENT,
    EVENT_REMINDER,
    EVENT_REVIEW,
    EVENT_PROMISE,
    EVENT_PROMISE_BROKEN,
    EVENT_PLAN,
    EVENT_INSTALMENT_MISSED,
    EVENT_HOLD,
    EVENT_HOLD_ENDED,
    EVENT_DISPUTE,
    EVENT_CONTACT,
    EVENT_DIRECT_DEBIT,
    EVENT_DECISION_DAY,
    EVENT_CUSTOMER_PLAN,
)


_MIX = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime


def _digest(*arrays: np.ndarray) -> np.ndarray:
    """A 32-bit digest of each row's values across `arrays` (FNV-1a over their 64-bit words),
    vectorised: the same facts give the same number, any change another (but by rare chance)."""
    h = np.full(len(arrays[0]), np.uint64(0xCBF29CE484222325))
    for values in arrays:
        values = np.asarray(values)
        words = (
            values.astype("float64").view("uint64")
            if values.dtype.kind in "fb"
            else values.astype("int64").view("uint64")
        )
        with np.errstate(over="ignore"):
            h = (h ^ words) * _MIX
    return ((h >> np.uint64(32)) ^ (h & np.uint64(0xFFFFFFFF))).astype("int64")


def bases(open_amount: np.ndarray, state: DunningState, today: int) -> dict[str, np.ndarray]:
    """What each invoice's plan is decided on: per event kind, a digest of the facts it reads
    (one number per invoice)."""
    cents = np.round(np.asarray(open_amount, dtype="float64") * 100)
    broken = (state.promise_day != NO_DAY) & (state.promise_day < today)
    missed = state.on_plan() & (state.plan_due_day < today)
    return {
        EVENT_PAYMENT: _digest(cents),
        EVENT_REMINDER: _digest(
            np.nan_to_num(state.reminders_reported, nan=-1),
            state.last_reminder_day,
            np.nan_to_num(state.top_level_sent, nan=-1),
            state.notice_day,
        ),
        EVENT_REVIEW: _digest(state.review_day),
        EVENT_PROMISE: _digest(
            state.promise_made_day, state.promise_day, np.nan_to_num(state.promise_amount, nan=-1)
        ),
        EVENT_PROMISE_BROKEN: _digest(broken),
        EVENT_PLAN: _digest(
            state.plan_due_day, np.nan_to_num(state.plan_amount, nan=-1), state.plan_since_day
        ),
        EVENT_INSTALMENT_MISSED: _digest(missed),
        EVENT_HOLD: _digest(state.hold_until_day),
        EVENT_HOLD_ENDED: _digest((state.hold_until_day != NO_DAY) & ~state.held(today)),
        EVENT_DISPUTE: _digest(state.dispute_day),
        EVENT_CONTACT: _digest(state.customer_contact_day),
        EVENT_DIRECT_DEBIT: _digest(
            np.nan_to_num(state.direct_debit, nan=-1), state.debit_failed_day
        ),
    }


def basis_of(basis: dict[str, np.ndarray], row: int) -> dict[str, int]:
    """One invoice's basis, as a plan id carries it."""
    return {name: int(values[row]) for name, values in basis.items()}


def changed_events(before: dict[str, int], now: dict[str, int]) -> list[str]:
    """The events whose facts differ between a plan's basis and today's, in EVENTS order."""
    return [name for name in EVENTS if name in now and before.get(name) != now[name]]


def moved_by_others(
    planned: PlannedActions,
    actions: dict[str, np.ndarray],
    rows: int,
    today: int,
    workdays: np.busdaycalendar,
) -> np.ndarray:
    """Which of the first `rows` kept plans did not come out as restored (another invoice's plan
    moved them: `EVENT_CUSTOMER_PLAN`)."""
    keep = planned.live(today)[:rows]
    due = next_working_day(np.maximum(planned.day[:rows], today), workdays)
    day = np.asarray(actions["action_date"][:rows], dtype="datetime64[D]").astype("int64")
    same = (day == due) & (np.asarray(actions["action"][:rows]) == planned.action[:rows])
    same &= np.asarray(actions["channel"][:rows]) == planned.channel[:rows]
    return keep & ~same


@dataclass(frozen=True)
class PlannedActions:
    """Next actions a caller sent back (per planned invoice; `keep` where no event changed
    them): restored over a new decision by `over`."""

    keep: np.ndarray  # bool
    action: np.ndarray  # object
    channel: np.ndarray  # object
    step: np.ndarray  # float (NaN: none)
    template: np.ndarray  # object
    actor: np.ndarray  # object
    policy: np.ndarray  # object
    day: np.ndarray  # int64

    def live(self, today: int) -> np.ndarray:
        """The plans kept today: all sent back unchanged but a wait that reached its day."""
        return self.keep & ~((self.action == "wait") & (self.day <= today))

    def over(
        self,
        actions: dict[str, np.ndarray],
        today: int,
        workdays: np.busdaycalendar,
        kept_words: str,
    ) -> dict[str, np.ndarray]:
        """`actions` with the kept plans restored: the same action on its day (today's next
        working day if that day has passed unreported). A wait that reached its day is not
        kept: the policy decides again."""
        keep = self.live(today)
        if not keep.any():
            return actions
        out = {name: np.array(values, copy=True) for name, values in actions.items()}
        for name in ("action", "channel", "template", "actor", "step"):
            out[name][keep] = getattr(self, name)[keep]
        day = np.asarray(out["action_date"], dtype="datetime64[D]").astype("int64")
        day[keep] = next_working_day(np.maximum(self.day[keep], today), workdays)
        out["action_date"] = day.astype("datetime64[D]").astype("datetime64[ns]")
        if "policy" in out:
            out["policy"][keep] = self.policy[keep]
            out["policy_reason"][keep] = kept_words
            out["response_probability"][keep] = np.nan
            out["expected_effect"][keep] = np.nan
            for row in np.flatnonzero(keep):
                out["alternatives"][row] = []
        return out
