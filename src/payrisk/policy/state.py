"""The dunning state: what the dunning system sent, what the customer promised or agreed, and what
a collector paused, as per-invoice arrays, and the rules by which it shapes the next action.

The same arrays come from a request (`/v1/score`, merged over the snapshot's: what the request says
wins) or from the contract tables (`promises`, `payment_plans`, `holds`, `customers.direct_debit`,
dated disputes on `invoices`) for batch scoring, so that both paths plan alike. Rules:

- a hold (of the invoice or its customer) until a day: no contact until the day after;
- an open promise to pay: no contact before the day after the promised date, but a courtesy nudge
  `courtesy_days_before` working days before it, and a collector's check-in a few working days
  before when the promise is likely to be broken (predicted P(kept) below `check_in_below`);
- a broken promise (its date passed, the invoice still open, no reminder since): one step firmer
  than the scenario's next step, at once (as soon as the contact gap allows);
- a payment plan: the scenario runs on the current instalment (its due date, its amount), its steps
  counted from the reminders sent since the previous instalment fell due;
- direct debit: no reminder unless a collection failed;
- an open dispute: dispute resolution (the rules already take disputed invoices out);
- reminders the request reports count as sent (the step and the customer's last contact), whether
  or not the snapshot knows them yet.

Everything is vectorised over invoices: the service calls this for every request.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from payrisk.core.days import NEVER, to_dates, to_days
from payrisk.data.loading import Dataset
from payrisk.features.history import known_at
from payrisk.features.promises import promise_outcomes
from payrisk.policy.config import DunningConfig
from payrisk.policy.dunning import (
    ACTION_DIRECT_DEBIT,
    ACTION_DISPUTE,
    ACTION_REMIND,
    ACTION_WAIT,
    CustomerCodes,
    bundle_contacts,
    earliest_contact,
    is_contact,
)
from payrisk.policy.ladder import NOTICE_CHANNEL, level_of
from payrisk.policy.workdays import next_working_day, working_days_before

NO_DAY = NEVER  # no such day (no promise, no hold...)

# Why the next action is what it is, when the dunning state decided it (None: the scenario).
STATE_HOLD = "hold"
STATE_PROMISE = "promise"
STATE_PROMISE_CHECK_IN = "promise_check_in"
STATE_BROKEN_PROMISE = "broken_promise"
STATE_PAYMENT_PLAN = "payment_plan"
STATE_DIRECT_DEBIT = "direct_debit"
STATE_DISPUTE = "dispute"
STATE_REASONS = (
    STATE_HOLD,
    STATE_PROMISE,
    STATE_PROMISE_CHECK_IN,
    STATE_BROKEN_PROMISE,
    STATE_PAYMENT_PLAN,
    STATE_DIRECT_DEBIT,
    STATE_DISPUTE,
)

TEMPLATE_PROMISE_COURTESY = "promise_courtesy"
TEMPLATE_PROMISE_CHECK_IN = "promise_check_in"


def latest_day(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The later of two days per invoice, either NO_DAY where not known (an invoice's own hold
    and its customer's: the later end holds)."""
    return np.where(
        first == NO_DAY, second, np.where(second == NO_DAY, first, np.maximum(first, second))
    )


@dataclass(frozen=True)
class DunningState:
    """Per invoice (the planned invoices' order); days are day numbers, NO_DAY where none.

    Float fields use NaN for "not said"; `direct_debit` is 1.0, 0.0 or NaN.
    """

    reminders_reported: np.ndarray  # float: reminders of the invoice reported (count or top step)
    last_reminder_day: np.ndarray  # int64: the invoice's latest reported reminder
    customer_contact_day: np.ndarray  # int64: the customer's last contact reported
    promise_made_day: np.ndarray  # int64
    promise_day: np.ndarray  # int64: promised payment date
    promise_amount: np.ndarray  # float
    plan_due_day: np.ndarray  # int64: the current (first not fully paid) instalment's due date
    plan_amount: np.ndarray  # float: what is left of it
    plan_since_day: np.ndarray  # int64: previous instalment's due date (or the plan's agreement)
    plan_reminders: np.ndarray  # float: reminders sent since plan_since_day
    hold_until_day: np.ndarray  # int64: latest day of an active hold (invoice or customer)
    direct_debit: np.ndarray  # float 1/0/NaN
    debit_failed_day: np.ndarray  # int64: a direct-debit collection failed on that day
    dispute_day: np.ndarray  # int64: an open dispute raised that day
    top_level_sent: np.ndarray  # float: the hardest level sent (ladder.LEVEL), read by channel
    notice_day: np.ndarray  # int64: the invoice's formal notice was sent that day
    review_day: np.ndarray  # int64: a credit manager's review of the invoice was reported done

    def __len__(self) -> int:
        return len(self.reminders_reported)

    @classmethod
    def empty(cls, n: int) -> DunningState:
        """Nothing known of any of `n` invoices."""
        values = {}
        for item in fields(cls):
            if item.name.endswith("_day"):
                values[item.name] = np.full(n, NO_DAY, dtype="int64")
            else:
                values[item.name] = np.full(n, np.nan, dtype="float64")
        return cls(**values)

    def over(self, base: DunningState) -> DunningState:
        """This state where it says something, `base` (the snapshot's) elsewhere; field by field,
        the plan's fields together (a plan the request sends replaces the snapshot's)."""
        together = {name: self.plan_due_day for name in PLAN_FIELDS} | {
            name: self.promise_day for name in PROMISE_FIELDS
        }  # a field that says whether the group is given
        out = {}
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(base, item.name)
            if item.name in SENT_FIELDS:  # what was sent is never forgotten: the later, the harder
                out[item.name] = _latest(mine, theirs)
                continue
            given = _given(together.get(item.name, mine))
            out[item.name] = np.where(given, mine, theirs)
        return DunningState(**out)

    def given(self) -> np.ndarray:
        """Per invoice: whether anything is known of it beyond the ledger (what was sent, by
        channel, is the ledger's: the ladder reads it, the state rules do not)."""
        known = np.zeros(len(self), dtype=bool)
        for item in fields(self):
            if item.name in SENT_FIELDS:
                continue
            values = getattr(self, item.name)
            known |= _given(values) & ~((item.name == "direct_debit") & (values == 0))
        return known

    def any(self) -> bool:
        """Whether anything is known beyond the ledger."""
        return bool(self.given().any())

    def decides(self, today: int, last_reminder_day: np.ndarray) -> np.ndarray:
        """Invoices whose next action the state rules decide (the learned policy stays out)."""
        return (
            self.held(today)
            | self.open_promise(today)
            | self.broken_promise(today, last_reminder_day)
            | self.on_plan()
            | self.collected_by_debit()
            | self.disputed(today)
        )

    # What the rules read, derived once.
    def held(self, today: int) -> np.ndarray:
        return (self.hold_until_day != NO_DAY) & (self.hold_until_day >= today)

    def open_promise(self, today: int) -> np.ndarray:
        return (self.promise_day != NO_DAY) & (self.promise_day >= today)

    def token_promises(self, open_amount: np.ndarray, min_share: float) -> np.ndarray:
        """Promises of less than `min_share` of what is left to pay (`promises.min_share`):
        a token payment, not a promise: they pause nothing, batch and online alike."""
        amount = np.asarray(self.promise_amount, dtype="float64")
        promised = (self.promise_day != NO_DAY) & ~np.isnan(amount)
        return promised & (np.nan_to_num(amount) < min_share * np.asarray(open_amount))

    def without(self, promises: np.ndarray) -> DunningState:
        """The state with the `promises` (a mask) dropped."""
        if not promises.any():
            return self
        return replace(
            self,
            promise_made_day=np.where(promises, NO_DAY, self.promise_made_day),
            promise_day=np.where(promises, NO_DAY, self.promise_day),
            promise_amount=np.where(promises, np.nan, self.promise_amount),
        )

    def broken_promise(
        self, today: int, last_reminder_day: np.ndarray, due_day: np.ndarray | None = None
    ) -> np.ndarray:
        """The promised date has passed with the invoice still open, and no reminder since; with
        `due_day`, only once the invoice is past due (a promise to pay early that slips is not a
        reason to dun before the due date)."""
        passed = (self.promise_day != NO_DAY) & (self.promise_day < today)
        broken = passed & ~(np.asarray(last_reminder_day) > self.promise_day)
        if due_day is not None:
            broken &= np.asarray(due_day, dtype="int64") < today
        return broken

    def on_plan(self) -> np.ndarray:
        return self.plan_due_day != NO_DAY

    def paused_until(self, today: int) -> np.ndarray:
        """The last day no new contact may be sent: an active hold's end, an open promise's
        date (the later), else the day before `today`."""
        held = np.where(self.held(today), self.hold_until_day, today - 1)
        promised = np.where(self.open_promise(today), self.promise_day, today - 1)
        return np.maximum(held, promised)

    def on_track(self, today: int) -> np.ndarray:
        """An agreed plan whose current instalment is not yet missed, or an open promise: the
        invoice stays on reminders (ladder)."""
        plan_kept = self.on_plan() & (self.plan_due_day >= today)
        return plan_kept | self.open_promise(today)

    def collected_by_debit(self) -> np.ndarray:
        """Under direct debit and no failed collection: nothing to remind."""
        return (np.nan_to_num(self.direct_debit) > 0) & (self.debit_failed_day == NO_DAY)

    def disputed(self, today: int) -> np.ndarray:
        return (self.dispute_day != NO_DAY) & (self.dispute_day <= today)


PLAN_FIELDS = ("plan_due_day", "plan_amount", "plan_since_day", "plan_reminders")
SENT_FIELDS = ("top_level_sent", "notice_day", "review_day")  # merged by the latest, not replaced
PROMISE_FIELDS = ("promise_made_day", "promise_day", "promise_amount")


def _latest(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """The later day (or higher level) of two, either unknown (NO_DAY, NaN) where not said."""
    if mine.dtype == np.int64:
        return latest_day(mine, theirs)
    return np.fmax(mine, theirs)


def _given(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.int64:
        return values != NO_DAY
    return ~np.isnan(values)


def promise_kept_probability(
    kept: np.ndarray, resolved: np.ndarray, portfolio_rate: float, config: DunningConfig
) -> np.ndarray:
    """P(promise kept): the customer's kept share shrunk to the portfolio's rate, which counts
    for `prior_strength` promises (a beta-binomial posterior mean: calibrated on average, and a
    customer with no record gets the portfolio's rate)."""
    strength = config.promises.prior_strength
    kept = np.nan_to_num(np.asarray(kept, dtype="float64"))
    resolved = np.nan_to_num(np.asarray(resolved, dtype="float64"))
    return (kept + strength * portfolio_rate) / (resolved + strength)


def scenario_inputs(
    scored: dict[str, np.ndarray],
    state: DunningState,
    last_reminder_day: np.ndarray,
    today: int,
) -> dict[str, np.ndarray]:
    """What the scenario rules read, with the dunning state folded in: a plan's instalment as the
    due date, reminders reported as sent, a broken promise one step further, an open dispute as
    disputed."""
    out = dict(scored)
    sent = np.nan_to_num(np.asarray(scored["reminders_sent"], dtype="float64"))
    reported = np.nan_to_num(state.reminders_reported)
    sent = np.maximum(sent, reported)
    on_plan = state.on_plan()
    sent = np.where(on_plan, np.nan_to_num(state.plan_reminders), sent)
    due = np.asarray(scored["due_date"], dtype="datetime64[D]").astype("int64")
    due = np.where(on_plan, state.plan_due_day, due)
    sent = sent + state.broken_promise(today, last_reminder_day, due)
    out["reminders_sent"] = sent
    out["due_date"] = due.astype("datetime64[D]")
    out["disputed"] = np.asarray(scored["disputed"], dtype=bool) | state.disputed(today)
    return out


def amount_due(open_amount: np.ndarray, state: DunningState) -> np.ndarray:
    """What the next contact asks for: the current instalment under a plan, else the open
    amount."""
    open_amount = np.asarray(open_amount, dtype="float64")
    return np.where(state.on_plan(), np.minimum(state.plan_amount, open_amount), open_amount)


def constrain(
    actions: dict[str, np.ndarray],
    state: DunningState,
    customers: CustomerCodes,
    contacted: np.ndarray,
    due_day: np.ndarray,
    last_reminder_day: np.ndarray,
    promise_kept: np.ndarray,
    today: int,
    config: DunningConfig,
) -> dict[str, np.ndarray]:
    """The next actions with the dunning state's rules applied (see the module's docstring).

    `actions` are the scenario's (and the learned policy's) next actions; `contacted` is each
    customer's last contact (NO_CONTACT if none) with the reported reminders in; `due_day` the
    due date the scenario ran on (the instalment's under a plan); `promise_kept` the predicted
    P(promise kept) per invoice. Adds `state_reason` (why the state decided, or None). Only the
    customers with some state are re-planned (their contacts bundled again, the gap kept).
    """
    n = len(state)
    if not state.any():
        reason = np.where(actions["action"] == ACTION_DISPUTE, STATE_DISPUTE, None)
        return {**actions, "state_reason": reason.astype(object)}
    out = {name: np.array(values, copy=True) for name, values in actions.items()}
    action, channel, template, actor = out["action"], out["channel"], out["template"], out["actor"]
    step = out["step"]
    day = to_days(out["action_date"])
    workdays = config.calendar.business_days
    gap = config.contact.min_days_between_contacts
    codes = customers.codes
    reason = np.full(n, None, dtype=object)
    contact = is_contact(action)
    disputed = action == ACTION_DISPUTE
    reason[disputed] = STATE_DISPUTE  # a dated dispute, a disputed flag, the ledger's dispute

    # The first day anything may be sent: after the customer's contact gap and any hold.
    gap_day = earliest_contact(contacted, today, gap)[codes]
    held = state.held(today) & ~disputed
    allowed = np.maximum(gap_day, np.where(held, state.hold_until_day + 1, today))
    allowed = next_working_day(np.maximum(allowed, today), workdays)

    on_plan = state.on_plan() & ~disputed
    reason[on_plan] = STATE_PAYMENT_PLAN

    broken = state.broken_promise(today, last_reminder_day, due_day) & ~disputed
    day = np.where(broken & contact, allowed, day)  # one step firmer, at once
    reason[broken] = STATE_BROKEN_PROMISE

    promise = state.open_promise(today) & ~disputed & (contact | (action == ACTION_WAIT))
    not_before = np.where(held, state.hold_until_day + 1, today)
    not_before = np.where(promise, np.maximum(not_before, state.promise_day + 1), not_before)
    reason[promise] = STATE_PROMISE
    promised = np.where(promise, state.promise_day, today)
    rules = config.promises
    check_day = working_days_before(promised, rules.check_in_days_before, workdays)
    likely_broken = np.nan_to_num(promise_kept, nan=1.0) < rules.check_in_below
    check_in = promise & likely_broken & (check_day >= allowed)
    nudge = np.zeros(n, dtype=bool)
    if rules.courtesy_days_before is not None:
        nudge_day = working_days_before(promised, rules.courtesy_days_before, workdays)
        nudge = promise & ~check_in & (nudge_day >= allowed)
        day = np.where(nudge, nudge_day, day)
        action[nudge], channel[nudge] = ACTION_REMIND, rules.courtesy_channel
        actor[nudge], template[nudge] = "automatic", TEMPLATE_PROMISE_COURTESY
    day = np.where(check_in, check_day, day)
    action[check_in], channel[check_in], actor[check_in] = ACTION_REMIND, "phone", "collector"
    template[check_in] = TEMPLATE_PROMISE_CHECK_IN
    reason[check_in] = STATE_PROMISE_CHECK_IN
    courtesy = nudge | check_in
    step[courtesy] = np.nan
    # After the promised date (if still unpaid), the scenario's step; a pause never moves
    # anything earlier.
    waiting = promise & ~courtesy
    day = np.where(waiting, np.maximum(day, state.promise_day + 1), day)

    debit = state.collected_by_debit() & ~disputed
    action[debit], channel[debit], template[debit], actor[debit] = (
        ACTION_DIRECT_DEBIT, None, None, "automatic"
    )  # fmt: skip
    step[debit] = np.nan
    day = np.where(debit, np.maximum(np.asarray(due_day, dtype="int64"), today), day)
    reason[debit] = STATE_DIRECT_DEBIT

    contact = is_contact(action)
    reason[held & ~debit] = STATE_HOLD
    day = np.where(contact, np.maximum(day, allowed), day)
    not_before = np.where(courtesy, day, not_before)
    day = next_working_day(day, workdays)  # bundling keeps working days working days
    day = bundle_contacts(action, day, day, customers, gap, workdays, not_before)
    # Customers without any state keep their plan exactly (the same with or without others').
    touched = np.bincount(codes, weights=state.given().astype("float64"), minlength=len(customers))
    day = np.where(touched[codes] > 0, day, to_days(actions["action_date"]))
    out["action_date"] = day.astype("datetime64[D]").astype("datetime64[ns]")
    out["state_reason"] = reason
    return out


STATE_PREFIX = "state_"


def _column_name(field_name: str) -> str:
    name = field_name[: -len("_day")] + "_date" if field_name.endswith("_day") else field_name
    return STATE_PREFIX + name


STATE_COLUMNS = {f.name: _column_name(f.name) for f in fields(DunningState)}


def state_columns(state: DunningState) -> dict[str, np.ndarray]:
    """The state as frame columns (`state_...`; days as dates, NaT where none): what batch files
    and the snapshot's bundle carry, so that the service reads the same state back."""
    out = {}
    for name, column in STATE_COLUMNS.items():
        values = getattr(state, name)
        if name.endswith("_day"):
            out[column] = to_dates(values, values != NO_DAY)
        else:
            out[column] = values
    return out


def state_of_columns(columns, rows: np.ndarray | None = None) -> DunningState | None:
    """The state from frame columns (`state_columns`), None if they are absent."""
    if STATE_COLUMNS["promise_day"] not in columns:
        return None
    values = {}
    for name, column in STATE_COLUMNS.items():
        data = columns[column]
        data = np.asarray(data if rows is None else np.asarray(data)[rows])
        if name.endswith("_day"):
            values[name] = to_days(data)  # NaT: NEVER, which is NO_DAY
        else:
            values[name] = data.astype("float64")
    return DunningState(**values)


def state_of_dataset(
    dataset: Dataset, open_frame: pd.DataFrame, as_of: pd.Timestamp
) -> DunningState:
    """The dunning state of the open invoices in `open_frame` (with their `dispute_date` where
    the ledger has one) at the start of `as_of`, from the contract tables: each invoice's latest
    promise (dropped once kept), its latest payment plan's current instalment, the holds active
    that day (its own and its customer's), the customer's direct debit. Reminders come from the
    history itself (the features)."""
    n = len(open_frame)
    state = DunningState.empty(n)
    ids = pd.Index(open_frame["invoice_id"].astype("str"))
    values: dict[str, np.ndarray] = {}

    promises = dataset.promises.loc[
        (dataset.promises["made_date"] < as_of)
        & dataset.promises["invoice_id"].astype("str").isin(ids)  # only open invoices' matter
    ]
    if len(promises):
        known = known_at(dataset, as_of)
        outcomes = promise_outcomes(promises, known.invoices, known.payments)
        latest = (
            outcomes.assign(made_day=to_days(promises["made_date"]))
            .sort_values(["invoice_id", "made_day", "promised_day"], kind="stable")
            .drop_duplicates("invoice_id", keep="last")
        )
        over = latest["kept"].to_numpy(bool)  # kept (even early): over
        latest = latest.loc[~over]
        rows = ids.get_indexer(latest["invoice_id"].astype("str"))
        hit = rows >= 0
        for name, column in (
            ("promise_made_day", "made_day"),
            ("promise_day", "promised_day"),
        ):
            array = state.promise_day.copy()
            array[rows[hit]] = latest[column].to_numpy("int64")[hit]
            values[name] = array
        amount = state.promise_amount.copy()
        amount[rows[hit]] = latest["amount"].to_numpy("float64", na_value=np.nan)[hit]
        values["promise_amount"] = amount

    plans = dataset.payment_plans.loc[dataset.payment_plans["agreed_date"] < as_of]
    if len(plans):
        values.update(_plan_state(plans, dataset.reminders, open_frame, ids, as_of, state))

    holds = dataset.holds.loc[
        (dataset.holds["start_date"] <= as_of) & (dataset.holds["until_date"] >= as_of)
    ]
    if len(holds):
        until = pd.Series(to_days(holds["until_date"]))
        whole = holds["invoice_id"].isna().to_numpy()
        held = _max_by(
            until[whole], holds["customer_id"].to_numpy()[whole], open_frame["customer_id"]
        )
        own = _max_by(until[~whole], holds["invoice_id"].to_numpy()[~whole], ids)
        values["hold_until_day"] = latest_day(own, held)

    if "dispute_date" in open_frame and "disputed" in open_frame:
        # An open dated dispute (the ledger's): its day, as a request would send it.
        raised = open_frame["dispute_date"]
        raised = raised.where(raised < as_of)
        days = to_days(raised)
        values["dispute_day"] = np.where(
            open_frame["disputed"].fillna(False).to_numpy(bool) & (days != NEVER), days, NO_DAY
        )

    values.update(_sent_state(dataset.reminders, ids, as_of, state))

    customers = dataset.customers.drop_duplicates("customer_id")
    if "direct_debit" in customers and customers["direct_debit"].any():
        flags = customers["direct_debit"].astype("float64").reset_index(drop=True)
        found = pd.Index(customers["customer_id"].astype("str")).get_indexer(
            open_frame["customer_id"].astype("str")
        )
        values["direct_debit"] = np.where(
            found >= 0, flags.to_numpy()[np.maximum(found, 0)], np.nan
        )
    return replace(state, **values)


def _sent_state(
    reminders: pd.DataFrame, ids: pd.Index, as_of: pd.Timestamp, state: DunningState
) -> dict[str, np.ndarray]:
    """Per open invoice, the hardest level its reminders reached before `as_of` and the day of
    its latest formal notice, read from each reminder's channel (not its step number)."""
    known = reminders.loc[reminders["sent_date"] < as_of]
    rows = ids.get_indexer(known["invoice_id"].astype("str"))
    hit = rows >= 0
    if not hit.any():
        return {}
    rows, known = rows[hit], known.loc[hit]
    level = level_of(known["channel"].to_numpy(dtype=object)).astype("float64")
    top = np.zeros(len(ids))
    np.maximum.at(top, rows, level)
    notice = known["channel"].to_numpy(dtype=object) == NOTICE_CHANNEL
    notice_day = state.notice_day.copy()
    if notice.any():
        day = np.full(len(ids), np.iinfo(np.int64).min)
        np.maximum.at(day, rows[notice], to_days(known["sent_date"])[notice])
        notice_day = np.where(day > np.iinfo(np.int64).min, day, NO_DAY)
    return {"top_level_sent": np.where(top > 0, top, np.nan), "notice_day": notice_day}


def _max_by(days: pd.Series, keys: np.ndarray, wanted) -> np.ndarray:
    """The latest of `days` per key, for each of `wanted` (NO_DAY where it has none)."""
    out = np.full(len(wanted), NO_DAY, dtype="int64")
    if not len(days):
        return out
    latest = days.reset_index(drop=True).groupby(pd.Series(keys).astype("str").to_numpy()).max()
    found = pd.Index(latest.index).get_indexer(pd.Index(wanted).astype("str"))
    return np.where(found >= 0, latest.to_numpy()[np.maximum(found, 0)], out)


def plan_covers(total: np.ndarray, open_amount: np.ndarray) -> np.ndarray:
    """Whether a plan's instalments (`total`) cover the open amount, to the cent."""
    return np.asarray(total) >= np.asarray(open_amount) - 0.005


def current_instalments(
    row: np.ndarray,
    due_day: np.ndarray,
    agreed_day: np.ndarray,
    amount: np.ndarray,
    open_amount: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The current instalment of each invoice on a plan, batch and online alike: the plan's
    total minus the invoice's open amount has been paid, covering instalments in order.

    Instalments come sorted by invoice `row`, then due day (`agreed_day` is their plan's);
    `open_amount` is per invoice, in the same currency as `amount`. Returns, for each invoice
    with an instalment still to pay: its row, that instalment's due day, what is left of it, and
    the day its reminders count from (the previous instalment's due day, else the agreement).
    A plan that does not cover the open amount has none (`plan_covers`)."""
    total = np.bincount(row, weights=amount, minlength=len(open_amount))
    paid = np.clip(total - open_amount, 0, None)[row]
    running = pd.Series(amount).groupby(row, sort=False).cumsum().to_numpy()
    same_plan = np.r_[False, row[1:] == row[:-1]]
    # A plan that does not cover what is left to pay is not applied (the invoice is dunned on its
    # normal track for all of it).
    current = (running > paid + 0.005) & plan_covers(total, open_amount)[row]
    first = current & ~(same_plan & np.r_[False, current[:-1]])
    since = np.where(same_plan, np.r_[NO_DAY, due_day[:-1]], agreed_day)
    return row[first], due_day[first], np.round(running[first] - paid[first], 2), since[first]


def _plan_state(
    plans: pd.DataFrame,
    reminders: pd.DataFrame,
    open_frame: pd.DataFrame,
    ids: pd.Index,
    as_of: pd.Timestamp,
    state: DunningState,
) -> dict[str, np.ndarray]:
    """The current instalment of each open invoice's latest plan, and the reminders since."""
    latest_agreed = plans.groupby("invoice_id")["agreed_date"].transform("max")
    plans = plans.loc[plans["agreed_date"] == latest_agreed]
    rows = ids.get_indexer(plans["invoice_id"].astype("str"))
    plans = plans.loc[rows >= 0].assign(row=rows[rows >= 0])
    plans = plans.sort_values(["row", "due_date"], kind="stable")
    at, due, left, since = current_instalments(
        plans["row"].to_numpy(),
        to_days(plans["due_date"]),
        to_days(plans["agreed_date"]),
        plans["amount"].to_numpy("float64"),
        open_frame["open_amount"].to_numpy("float64"),
    )
    out = {
        "plan_due_day": state.plan_due_day.copy(),
        "plan_amount": state.plan_amount.copy(),
        "plan_since_day": state.plan_since_day.copy(),
        "plan_reminders": state.plan_reminders.copy(),
    }
    out["plan_due_day"][at] = due
    out["plan_amount"][at] = left
    out["plan_since_day"][at] = since
    sent = np.zeros(len(ids))
    if len(reminders) and len(at):
        known = reminders.loc[reminders["sent_date"] < as_of]
        where = ids.get_indexer(known["invoice_id"].astype("str"))
        day = to_days(known["sent_date"])
        since = out["plan_since_day"][np.maximum(where, 0)]
        counted = (where >= 0) & (since != NO_DAY) & (day > since)
        sent = np.bincount(where[counted], minlength=len(ids)).astype("float64")
    out["plan_reminders"][at] = sent[at]
    return out
