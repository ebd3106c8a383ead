"""The world a dunning policy acts in: how customers answer reminders, as the generator knows it.

A real ledger hides this; the generator (and the policy simulator) play it. An invoice is paid on
its *natural* day unless a reminder makes the customer pay sooner. A reminder on a channel works
with a probability that depends on the customer's hidden archetype and the channel, less before
the due date for those who do not merely forget, and less when the customer was reminded many
times lately (fatigue). A reminder that works brings the payment to a few days after it.

Every random draw is made once per invoice up front (the k-th reminder of an invoice uses the k-th
draw whatever its channel), so two policies played on the same world differ only by what they do:
common random numbers. `play` runs a policy over calendar batches, vectorised over invoices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from payrisk.core.days import NEVER, next_business_day
from payrisk.data.contract import Channel

CHANNEL_CODES: tuple[Channel, ...] = tuple(Channel)
EMAIL, SMS, PHONE, LETTER, FORMAL_NOTICE, AGENCY = range(len(CHANNEL_CODES))
NO_CHANNEL = -1

# Probability that a reminder on a channel makes the customer pay, by archetype (rows: punctual,
# forgetful, slow, seasonal, deteriorating, disputer) and channel (columns, in the order of
# Channel: email, sms, phone, letter, formal_notice, agency).
RESPONSE_PROBABILITY = np.array(
    [
        [0.60, 0.60, 0.70, 0.50, 0.80, 0.80],  # punctual
        [0.65, 0.88, 0.75, 0.45, 0.80, 0.80],  # forgetful: e-mail and above all SMS work
        [0.05, 0.04, 0.35, 0.10, 0.50, 0.50],  # slow: only a call or a formal notice moves them
        [0.15, 0.10, 0.35, 0.20, 0.45, 0.45],  # seasonal: a call helps negotiate
        [0.03, 0.02, 0.08, 0.04, 0.12, 0.20],  # deteriorating: barely responds
        [0.20, 0.15, 0.40, 0.20, 0.40, 0.40],  # disputer
    ]
)
# Days from a reminder that works to the payment (uniform, inclusive), by archetype.
RESPONSE_LAG_DAYS = np.array([[1, 4], [1, 4], [3, 10], [3, 12], [5, 15], [2, 8]])
# A courtesy reminder before the due date catches the forgetful; it hardly moves a customer who
# pays late by habit or for lack of cash. Multiplies the response probability, by archetype.
PRE_DUE_RESPONSE_FACTOR = np.array([0.9, 1.0, 0.3, 0.4, 0.2, 0.5])
# Fatigue: each reminder the customer received in the last FATIGUE_WINDOW_DAYS multiplies the
# response probability of a new one by FATIGUE_FACTOR.
FATIGUE_WINDOW_DAYS = 30
FATIGUE_FACTOR = 0.95
# Promises (a play that `plays_promises`: the policy simulator's period, not the history): a call
# that brings no payment brings a promise to pay by a date with this probability, by archetype;
# the promise is kept (paid on that day) with the second; the date is a few days ahead. Until
# that day, reminders move nothing: the customer has said when it pays.
PROMISE_PROBABILITY = np.array([0.50, 0.55, 0.45, 0.55, 0.35, 0.30])
PROMISE_KEPT_PROBABILITY = np.array([0.95, 0.90, 0.60, 0.75, 0.20, 0.50])
PROMISE_LEAD_DAYS = (5, 15)
MAX_REMINDERS = 10  # draws per invoice; a policy never sends more reminders for one invoice
BATCH_DAYS = 7  # a play's batches: the dunning system's weekly run


def batch_start_of(day: int | np.ndarray, batch_days: int = BATCH_DAYS) -> int | np.ndarray:
    """The aligned start of the batch holding `day` (fatigue is counted from there)."""
    return day - day % batch_days


@dataclass(frozen=True)
class WorldInvoices:
    """What the world knows of each invoice: its customer, dates, natural payment and draws."""

    customer: np.ndarray  # row of the customer
    archetype: np.ndarray
    key_account: np.ndarray
    issue_day: np.ndarray
    due_day: np.ndarray
    amount_cents: np.ndarray
    natural_day: np.ndarray  # paid on this day without any reminder (NEVER: never)
    dispute_day: np.ndarray  # NEVER: not disputed
    failure_day: np.ndarray  # the customer's failure: nothing is paid from then on
    response_draw: np.ndarray  # invoices x MAX_REMINDERS, uniform [0, 1)
    lag_draw: np.ndarray  # invoices x MAX_REMINDERS, uniform [0, 1)
    # invoices x MAX_REMINDERS x 3 (promise made, its lead, kept), uniform [0, 1); None: a world
    # without promises
    promise_draw: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.due_day)


def response_probability(
    archetype: np.ndarray, channel: np.ndarray, before_due: np.ndarray, recent: np.ndarray
) -> np.ndarray:
    """True probability that a reminder works (channel codes; NO_CHANNEL gives 0)."""
    sent = channel >= 0
    base = RESPONSE_PROBABILITY[archetype, np.where(sent, channel, 0)]
    factor = np.where(before_due, PRE_DUE_RESPONSE_FACTOR[archetype], 1.0)
    return np.where(sent, base * factor * FATIGUE_FACTOR ** np.asarray(recent), 0.0)


def response_days(
    world: WorldInvoices,
    rows: np.ndarray,
    day: np.ndarray,
    channel: np.ndarray,
    ordinal: np.ndarray,
    recent: np.ndarray,
) -> np.ndarray:
    """The payment day a reminder brings (NEVER where it does not work), with the invoice's
    `ordinal`-th draws."""
    archetype = world.archetype[rows]
    p = response_probability(archetype, channel, day < world.due_day[rows], recent)
    works = world.response_draw[rows, ordinal] < p
    low, high = RESPONSE_LAG_DAYS[archetype, 0], RESPONSE_LAG_DAYS[archetype, 1]
    lag = low + np.floor(world.lag_draw[rows, ordinal] * (high - low + 1)).astype(np.int64)
    answer = next_business_day(day + lag)
    works &= answer < world.failure_day[rows]
    return np.where(works, answer, NEVER)


def true_paid_within(
    world: WorldInvoices,
    rows: np.ndarray,
    day: np.ndarray,
    channel: np.ndarray,
    recent: np.ndarray,
    within_days: int,
) -> np.ndarray:
    """True probability that the invoice is paid in full within `within_days` after `day` if
    `channel` (NO_CHANNEL: nothing) is sent that day and nothing else happens: the value an
    off-policy estimate is checked against."""
    archetype = world.archetype[rows]
    horizon = day + within_days
    natural = world.natural_day[rows] <= horizon
    p = response_probability(archetype, channel, day < world.due_day[rows], recent)
    low, high = RESPONSE_LAG_DAYS[archetype, 0], RESPONSE_LAG_DAYS[archetype, 1]
    in_time = np.zeros(len(rows))
    for lag in range(int(RESPONSE_LAG_DAYS.min()), int(RESPONSE_LAG_DAYS.max()) + 1):
        possible = (lag >= low) & (lag <= high)
        answer = next_business_day(day + lag)
        counted = possible & (answer <= horizon) & (answer < world.failure_day[rows])
        in_time += np.where(counted, 1.0 / (high - low + 1), 0.0)
    return np.where(natural, 1.0, p * in_time)


@dataclass(frozen=True)
class Actions:
    """Reminders a policy wants sent: invoice rows, days, channel codes, scenario steps."""

    rows: np.ndarray
    day: np.ndarray
    channel: np.ndarray
    step: np.ndarray

    @classmethod
    def none(cls) -> Actions:
        empty = np.zeros(0, dtype=np.int64)
        return cls(empty, empty, empty, empty)


class Policy(Protocol):
    """Decides, for a batch of days, which open invoices get a reminder, when and how."""

    def __call__(self, state: PlayState, start: int, end: int) -> Actions: ...


@dataclass
class PlayState:
    """Where a play stands: each invoice's payment day so far and the reminders sent."""

    world: WorldInvoices
    paid_day: np.ndarray
    sent_count: np.ndarray  # reminders sent per invoice
    plays_promises: bool = False  # calls bring promises (`PROMISE_PROBABILITY`)
    promise_made: np.ndarray | None = None  # per invoice: the day of its latest promise (NEVER)
    promise_day: np.ndarray | None = None  # per invoice: the day it promised to pay (NEVER)
    log_rows: list[np.ndarray] = field(default_factory=list)
    log_day: list[np.ndarray] = field(default_factory=list)
    log_channel: list[np.ndarray] = field(default_factory=list)
    log_step: list[np.ndarray] = field(default_factory=list)
    log_recent: list[np.ndarray] = field(default_factory=list)

    def copy(self) -> PlayState:
        """An independent state of the same world (to play several policies from one past)."""
        log = self.reminders()
        return PlayState(
            self.world,
            self.paid_day.copy(),
            self.sent_count.copy(),
            self.plays_promises,
            None if self.promise_made is None else self.promise_made.copy(),
            None if self.promise_day is None else self.promise_day.copy(),
            [log["row"].copy()],
            [log["day"].copy()],
            [log["channel"].copy()],
            [log["step"].copy()],
            [log["recent"].copy()],
        )

    def with_promises(self) -> PlayState:
        """A copy whose calls bring promises from now on (the world must have promise draws)."""
        if self.world.promise_draw is None:
            raise ValueError("this world has no promise draws")
        state = self.copy()
        state.plays_promises = True
        n = len(self.world)
        state.promise_made = np.full(n, NEVER, dtype=np.int64)
        state.promise_day = np.full(n, NEVER, dtype=np.int64)
        return state

    def reminders(self) -> dict[str, np.ndarray]:
        """The reminders sent so far, in the order sent: row, day, channel, step, recent."""
        if not self.log_rows:
            empty = np.zeros(0, dtype=np.int64)
            return {k: empty for k in ("row", "day", "channel", "step", "recent")}
        logs = (self.log_rows, self.log_day, self.log_channel, self.log_step, self.log_recent)
        for log in logs:  # consolidated in place: later calls concatenate only what is new
            if len(log) > 1:
                log[:] = [np.concatenate(log)]
        return dict(
            zip(("row", "day", "channel", "step", "recent"), (x[0] for x in logs), strict=False)
        )

    def recent_counts(self, customers: np.ndarray, start: int) -> np.ndarray:
        """Reminders each customer received in the fatigue window before `start`."""
        if not self.log_rows:
            return np.zeros(len(customers), dtype=np.int64)
        log = self.reminders()
        recent = (log["day"] >= start - FATIGUE_WINDOW_DAYS) & (log["day"] < start)
        counts = np.bincount(
            self.world.customer[log["row"][recent]],
            minlength=int(self.world.customer.max()) + 1 if len(self.world) else 0,
        )
        return counts[customers]


def play(
    world: WorldInvoices,
    policy: Policy,
    start: int,
    end: int,
    batch_days: int = BATCH_DAYS,
    state: PlayState | None = None,
) -> PlayState:
    """Run `policy` over days [start, end] in batches of `batch_days` (the policy sees the state
    at the start of each batch). A reminder is sent only while its invoice is unpaid and not
    disputed; several reminders of one invoice in a batch are sent in day order.

    Batches are aligned on multiples of `batch_days` (day numbers) and fatigue is counted at the
    aligned start, so a play split in two (a past, then a continuation) answers exactly as one.
    """
    if state is None:
        state = PlayState(world, world.natural_day.copy(), np.zeros(len(world), dtype=np.int64))
    boundaries = range(start - start % batch_days + batch_days, end + 1, batch_days)
    for batch_start, batch_end in zip([start, *boundaries], [*boundaries, end + 1], strict=True):
        aligned = batch_start_of(batch_start, batch_days)
        actions = policy(state, batch_start, batch_end)
        rows, day = actions.rows, actions.day
        pending = np.flatnonzero(
            (day >= batch_start)
            & (day < batch_end)
            & (day >= world.issue_day[rows])
            & (actions.channel >= 0)
        )
        pending = pending[np.lexsort((day[pending], rows[pending]))]
        recent = state.recent_counts(world.customer[rows[pending]], aligned)
        while len(pending):
            first = np.ones(len(pending), dtype=bool)
            first[1:] = rows[pending][1:] != rows[pending][:-1]
            _send(state, actions, pending[first], recent[first])
            pending, recent = pending[~first], recent[~first]
    return state


def _send(state: PlayState, actions: Actions, chosen: np.ndarray, recent: np.ndarray) -> None:
    """Send the chosen actions (one per invoice) that are still due, and play the answers."""
    world = state.world
    rows, day = actions.rows[chosen], actions.day[chosen]
    due = (
        (day < state.paid_day[rows])
        & (day < world.dispute_day[rows])
        & (state.sent_count[rows] < MAX_REMINDERS)
    )
    rows, day, recent = rows[due], day[due], recent[due]
    if not len(rows):
        return
    channel, step = actions.channel[chosen][due], actions.step[chosen][due]
    answer = response_days(world, rows, day, channel, state.sent_count[rows], recent)
    if state.plays_promises:
        answer = _promised(state, rows, day, channel, answer)
    state.paid_day[rows] = np.minimum(state.paid_day[rows], answer)
    state.sent_count[rows] += 1
    state.log_rows.append(rows)
    state.log_day.append(day)
    state.log_channel.append(channel)
    state.log_step.append(step)
    state.log_recent.append(recent)


def _promised(
    state: PlayState, rows: np.ndarray, day: np.ndarray, channel: np.ndarray, answer: np.ndarray
) -> np.ndarray:
    """A reminder while a promise is open moves nothing (the customer pays on the day it said,
    if at all); otherwise a call that brings no payment may bring a promise (recorded in the
    state): kept, it is the payment day. The invoice's `sent_count`-th promise draws decide, as
    for answers."""
    world = state.world
    promised_day = state.promise_day[rows]  # type: ignore[index]
    waiting = (promised_day != NEVER) & (promised_day >= day)
    answer = np.where(waiting, NEVER, answer)
    draw = world.promise_draw[rows, state.sent_count[rows]]  # type: ignore[index]
    archetype = world.archetype[rows]
    promises = (
        (channel == PHONE) & (answer == NEVER) & (draw[:, 0] < PROMISE_PROBABILITY[archetype])
    )
    low, high = PROMISE_LEAD_DAYS
    lead = low + np.floor(draw[:, 1] * (high - low + 1)).astype(np.int64)
    promised = next_business_day(day + lead)
    state.promise_made[rows[promises]] = day[promises]  # type: ignore[index]
    state.promise_day[rows[promises]] = promised[promises]  # type: ignore[index]
    kept = (
        promises
        & (draw[:, 2] < PROMISE_KEPT_PROBABILITY[archetype])
        & (promised < world.failure_day[rows])
    )
    return np.where(kept, promised, answer)
